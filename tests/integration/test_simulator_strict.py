"""The strict simulator (issue 9): it rejects what a Cerner interface team would.

Messages are hand-written (simulator.samples) or rendered by the integration and
then broken on purpose; each rejection is an AR whose ERR a reader understands
(ERR-2 names the position, ERR-8 says what is wrong), and ``lenient`` accepts
what the simulator accepted before.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Iterator

import pytest

from docgen.hl7_examples import booking
from shared.hl7.ack import Ack, parse_ack
from shared.hl7.render import render_message
from shared.hl7.triggers import Trigger
from shared.mllp.client import MllpClient, exchange
from shared.targets import Target, desired_facts
from simulator import SimulatorHandle
from simulator.samples import adt, siu
from tests.builders import profile, synthetic_personnummer

PNR = synthetic_personnummer(1)
OTHER_PNR = synthetic_personnummer(2)
SUMMER_SENT = dt.datetime(2026, 7, 1, 6, tzinfo=dt.UTC)
WINTER_SENT = dt.datetime(2026, 11, 22, 7, 15, tzinfo=dt.UTC)


@pytest.fixture
def client(sim: SimulatorHandle) -> Iterator[MllpClient]:
    with MllpClient("127.0.0.1", sim.mllp_port, timeout=2.0) as mllp:
        yield mllp


def send(client: MllpClient, text: str) -> Ack:
    return exchange(client, text, "utf-8")


def err_2(client: MllpClient, text: str) -> str:
    """ERR-2 of the ACK (the simulator's error location)."""
    reply = client.send(text.encode("utf-8")).decode("utf-8")
    err = next(line for line in reply.split("\r") if line.startswith("ERR|"))
    return err.split("|")[2]


def rejected_then_lenient(sim: SimulatorHandle, client: MllpClient, text: str) -> Ack:
    strict = send(client, text)
    assert strict.code == "AR", strict
    sim.faults.lenient = True
    assert send(client, text).code == "AA"
    return strict


def test_a_last_segment_without_cr_is_ar(sim, client):
    ack = rejected_then_lenient(sim, client, adt("A05", "C1", "OB-1", PNR).rstrip("\r"))
    assert "last segment" in ack.error_text


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("20261122081500+0100", "20261122071500+0000"),  # UTC, the same instant
        ("20261130180000+0100", "20261130180000+0200"),  # a summer offset in winter
    ],
)
def test_a_time_with_another_offset_than_stockholms_is_ar(sim, client, old, new):
    ack = rejected_then_lenient(sim, client, adt("A05", "C1", "OB-1", PNR).replace(old, new))
    assert "offset" in ack.error_text and "Europe/Stockholm" in ack.error_text


def test_summer_times_carry_plus_two_and_are_accepted(sim, client):
    text = adt("A05", "C1", "OB-1", PNR).replace("20261130180000+0100", "20260630180000+0200")
    assert send(client, text).code == "AA"


def test_the_error_location_is_in_err_2(sim, client):
    text = adt("A14", "C1", "OB-1", PNR).replace(
        "20261130180000+0100||3", "20261130180000+0100|||3"
    )
    send(client, adt("A05", "C0", "OB-1", PNR))
    assert err_2(client, text) == "PV2^1^11"


def test_length_of_stay_in_pv2_11_on_a_bed_booking_is_ar(sim, client):
    send(client, adt("A05", "C0", "OB-1", PNR))
    text = adt("A14", "C1", "OB-1", PNR).replace(
        "20261130180000+0100||3", "20261130180000+0100|||3"
    )
    ack = rejected_then_lenient(sim, client, text)
    assert "PV2-11" in ack.error_text and "PV2-10" in ack.error_text
    assert sim.state.pending_admits["OB-1"].expected_length_of_stay == ""


def test_expected_nights_in_pv2_10_are_stored(sim, client):
    send(client, adt("A05", "C0", "OB-1", PNR))
    assert send(client, adt("A14", "C1", "OB-1", PNR)).code == "AA"
    assert sim.state.pending_admits["OB-1"].expected_length_of_stay == "3"


def test_text_that_is_not_nfc_is_ar(sim, client):
    decomposed = unicodedata.normalize("NFD", "Åkerström")
    ack = rejected_then_lenient(sim, client, adt("A05", "C1", "OB-1", PNR, family=decomposed))
    assert "NFC" in ack.error_text


def test_a_control_character_is_ar(sim, client):
    ack = rejected_then_lenient(sim, client, adt("A05", "C1", "OB-1", PNR, family="Berg\x07"))
    assert "control characters" in ack.error_text


def test_a_field_over_its_length_is_ar(sim, client):
    ack = rejected_then_lenient(sim, client, adt("A05", "C1", "OB-1", PNR, family="A" * 200))
    assert "PID-5" in ack.error_text


def test_an_id_over_the_ei_length_is_ar(sim, client):
    send(client, adt("A05", "C0", "OB-1", PNR))
    ack = send(client, siu("S12", "C1", "X" * 80, PNR, visit_number="OB-1"))
    assert ack.code == "AR" and "SCH-1" in ack.error_text


def test_a_visit_number_never_moves_to_another_person_even_after_removal(sim, client):
    assert send(client, adt("A05", "C1", "OB-1", PNR)).code == "AA"
    assert send(client, adt("A38", "C2", "OB-1", PNR)).code == "AA"
    ack = send(client, adt("A05", "C3", "OB-1", OTHER_PNR))
    assert ack.code == "AR"
    assert "PV1-19 OB-1 belongs to another person" in ack.error_text
    assert send(client, adt("A05", "C4", "OB-1:1", OTHER_PNR)).code == "AA"


def test_an_appointment_id_never_moves_to_another_person(sim, client):
    send(client, adt("A05", "C1", "OB-1", PNR))
    send(client, siu("S12", "C2", "OB-1", PNR))
    send(client, siu("S15", "C3", "OB-1", PNR))
    send(client, adt("A38", "C4", "OB-1", PNR))
    send(client, adt("A05", "C5", "OB-1:1", OTHER_PNR))
    ack = send(client, siu("S12", "C6", "OB-1", OTHER_PNR, visit_number="OB-1:1"))
    assert ack.code == "AR" and "SCH-2 OB-1 belongs to another person" in ack.error_text


def test_persons_are_matched_by_identifier_and_assigning_authority(sim, client):
    send(client, adt("A05", "C1", "OB-1", PNR))
    other_authority = adt("A05", "C2", "OB-2", PNR).replace(
        "&1.2.752.129.2.1.3.1&ISO", "&1.2.752.129.2.1.3.3&ISO"
    )
    assert send(client, other_authority).code == "AA"
    assert len(sim.state.persons_with_value(PNR)) == 2  # another alias: another person
    send(client, adt("A05", "C3", "OB-3", PNR))
    assert len(sim.state.persons_with_value(PNR)) == 2


# --- the integration's own messages ---------------------------------------------------


def _rendered(trigger: Trigger, target: Target, **changes: object) -> str:
    facts = desired_facts(booking(1, **changes), target)
    assert facts is not None
    return render_message(
        trigger,
        facts,
        profile(),
        control_id=f"R{trigger.value[4:]}",
        sent_at=SUMMER_SENT,
        processing_id="T",
    )


def test_the_renderers_messages_in_summer_are_accepted(sim, client):
    summer = {"plannedStart": "2026-07-01T06:00:00Z", "plannedEnd": "2026-07-01T08:00:00Z"}
    admission = {
        "type": "inpatient",
        "ward": {"hsaId": "SE2321000131-E000000000202"},
        "admitAt": "2026-06-30T16:00:00Z",
        "expectedNights": 3,
    }
    for trigger, target in (
        (Trigger.A05, Target.ENCOUNTER),
        (Trigger.S12, Target.APPOINTMENT),
        (Trigger.A14, Target.BED),
    ):
        ack = send(client, _rendered(trigger, target, admission=admission, **summer))
        assert ack.code == "AA", ack.error_text


def test_a_bed_booking_with_its_own_alias_is_keyed_by_it(sim, client):
    from shared.profiles import BedBookingId  # new in issue 9 (see test_hl7_fidelity.py)

    own = profile().model_copy(update={"bed_booking_id": BedBookingId.OWN_ALIAS})
    snapshot = booking(1)
    encounter = desired_facts(snapshot, Target.ENCOUNTER)
    bed = desired_facts(snapshot, Target.BED)
    assert encounter is not None and bed is not None
    for trigger, facts, cid in ((Trigger.A05, encounter, "B1"), (Trigger.A14, bed, "B2")):
        text = render_message(
            trigger, facts, own, control_id=cid, sent_at=WINTER_SENT, processing_id="T"
        )
        assert send(client, text).code == "AA"
    assert set(sim.state.pending_admits) == {"OB-2026-000123:BED"}
    assert sim.state.pending_admits["OB-2026-000123:BED"].visit_number == "OB-2026-000123"


def test_raw_parse_of_an_ar(sim, client):
    reply = client.send(adt("A05", "C1", "OB-1", PNR).rstrip("\r").encode()).decode()
    assert parse_ack(reply).code == "AR"
