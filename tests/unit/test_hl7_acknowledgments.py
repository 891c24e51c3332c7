"""What Millennium's acknowledgments mean, as the HL7 channel maps them.

* an AA with ERR segments is confirmed; the warning (redacted) reaches the audit;
* a CA (commit accept) when original mode was asked for: as the profile says;
* an AE to an in-doubt *resend* whose ERR-3 code the profile lists as "applied
  already" (e.g. 205 duplicate key) confirms, instead of new MSH-10s until the
  AE limit dead-letters a booking Millennium in fact holds.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from shared.hl7.ack import Ack, message_control_id, parse_ack
from shared.hl7.channel import Hl7Channel, outcome_of
from shared.profiles import load_profiles
from shared.sync.channel import (
    Confirmed,
    InDoubt,
    Operation,
    OperationKind,
    RetryLater,
    SendContext,
)
from shared.targets import Target, desired_facts
from tests.builders import make_snapshot, synthetic_personnummer

PROFILES = load_profiles(str(Path(__file__).resolve().parents[2] / "profiles"))
SU = PROFILES.get("SU")
NOW = dt.datetime(2026, 11, 22, 8, 0, tzinfo=dt.UTC)


def ack(code: str, *errors: str, text: str = "") -> Ack:
    return Ack(code, "C1", text, tuple(errors))


def test_an_aa_with_an_err_is_confirmed_with_its_warning_redacted() -> None:
    pnr = synthetic_personnummer(4)
    outcome = outcome_of(ack("AA", "0", text=f"name differs for {pnr}"), SU, resend=False)
    assert isinstance(outcome, Confirmed)
    assert "name differs" in outcome.warning and pnr not in outcome.warning


def test_a_commit_accept_is_what_the_profile_says() -> None:
    assert isinstance(outcome_of(ack("CA"), SU, resend=False), Confirmed)
    cautious = SU.model_copy(update={"commit_accept": "in-doubt"})
    assert isinstance(outcome_of(ack("CA"), cautious, resend=False), InDoubt)


def test_a_duplicate_key_ae_to_a_resend_is_applied_already() -> None:
    assert "205" in SU.already_applied_codes
    outcome = outcome_of(ack("AE", "205", text="Duplicate key"), SU, resend=True)
    assert isinstance(outcome, Confirmed) and "applied already (ERR 205)" in outcome.warning


def test_the_same_ae_to_a_first_send_is_retried_and_other_codes_always_are() -> None:
    assert isinstance(outcome_of(ack("AE", "205"), SU, resend=False), RetryLater)
    assert isinstance(outcome_of(ack("AE", "207"), SU, resend=True), RetryLater)
    strict = SU.model_copy(update={"already_applied_codes": ()})
    assert isinstance(outcome_of(ack("AE", "205"), strict, resend=True), RetryLater)


def test_err_codes_are_read_from_err_3_and_from_v2_4_err_1() -> None:
    header = "MSH|^~\\&|M|S|O|S|20261122||ACK|A1|P|"
    v251 = header + "2.5.1\rMSA|AE|C1\rERR||PID^1^3|205^Duplicate key^HL70357|E\r"
    v24 = header + "2.4\rMSA|AE|C1\rERR|PID^1^3^207&Internal&HL70357\r"
    assert parse_ack(v251).error_codes == ("205",)
    assert parse_ack(v24).error_codes == ("207",)


@dataclass
class AnsweringLink:
    """Answers each exchange with the next of ``answers`` (for this message's MSH-10)."""

    answers: list[tuple[str, tuple[str, ...]]]
    sent: list[bytes] = field(default_factory=list)

    def exchange(self, payload: bytes, *, codec: str) -> Ack:
        self.sent.append(payload)
        code, errors = self.answers.pop(0)
        return Ack(code, message_control_id(payload.decode(codec)), "", errors)


def test_through_the_channel_a_resend_answered_duplicate_key_is_confirmed() -> None:
    link = AnsweringLink([("AE", ("205",))])
    channel = Hl7Channel(Target.ENCOUNTER, link, processing_id="T")
    facts = desired_facts(make_snapshot(), Target.ENCOUNTER)
    assert facts is not None
    prepared = channel.prepare(
        Operation(Target.ENCOUNTER, OperationKind.CREATE, facts, facts),
        SendContext("OB-2026-000123", 1, 0, SU, NOW),
    )
    assert isinstance(channel.send(prepared, attempt=2, profile=SU), Confirmed)
