"""Property: every snapshot the webhook contract accepts renders to valid messages.

Snapshots are generated as Orbit could send them (any Unicode text, delimiters,
decomposed characters, control characters, lengths up to and past the limits,
any UTC offset, DST nights) and put through the contract's own checks: the
pydantic models (400) and ``semantic_problems`` (422). Whatever passes must
render, for every trigger its facts allow, to a message that hl7apy validates
strictly and that the strict Millennium simulator's reader accepts. The number
of examples is bounded so that ``make test`` stays quick (raise
``HL7_PROPERTY_EXAMPLES`` to search harder).
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from docgen.hl7_validate import unexpected_warnings, validate_strict
from shared.booking import (
    NAME_LENGTH,
    TEXT_LENGTH,
    THEATRE_LENGTH,
    BookingSnapshot,
    BookingStatus,
    semantic_problems,
)
from shared.hl7.render import render_message
from shared.hl7.triggers import Trigger
from shared.targets import Target, desired_facts, removal_facts
from simulator.inbound import read_inbound
from tests.builders import (
    profile,
    synthetic_personnummer,
    synthetic_reservnummer,
    synthetic_samordningsnummer,
)

EXAMPLES = int(os.environ.get("HL7_PROPERTY_EXAMPLES", "25"))
TRIGGERS = {
    Target.ENCOUNTER: [Trigger.A05, Trigger.A08, Trigger.A38],
    Target.APPOINTMENT: [Trigger.S12, Trigger.S13, Trigger.S14, Trigger.S15],
    Target.BED: [Trigger.A14, Trigger.A27],
}
SENT_AT = dt.datetime(2026, 10, 25, 0, 59, 59, tzinfo=dt.UTC)  # a second before fall-back

# Mostly letters a Swedish name or text has, plus delimiters, combining marks,
# other scripts, and now and then a control character the contract must refuse.
_LETTERS = st.sampled_from("abcdefghijklmnopqrstuvwxyzåäöéüABCÅÄÖÉ -'.")
_SPECIAL = st.sampled_from(["|", "^", "~", "\\", "&", "\u030a", "\u0308", "Ł", "日", "\r", "\n"])
_CONTROL = st.sampled_from(["\x00", "\x0b", "\x1c", "\x1f", "\x7f", "\t"])
_CHARACTER = st.one_of(_LETTERS, _LETTERS, _LETTERS, _SPECIAL, _CONTROL)


def _text(max_size: int) -> st.SearchStrategy[str]:
    return st.lists(_CHARACTER, min_size=1, max_size=max_size).map("".join)


def _optional_text(max_size: int) -> st.SearchStrategy[str | None]:
    return st.one_of(st.none(), _text(max_size))


_OFFSETS = st.integers(min_value=-12 * 60, max_value=14 * 60).map(
    lambda minutes: dt.timezone(dt.timedelta(minutes=minutes))
)
_INSTANTS = st.one_of(
    st.datetimes(min_value=dt.datetime(2026, 1, 1), max_value=dt.datetime(2028, 12, 31)),
    # the DST nights, where a wrong offset is easiest to get
    st.sampled_from([dt.datetime(2026, 3, 29, 1, 30), dt.datetime(2026, 10, 25, 0, 30)]),
).map(lambda moment: moment.replace(tzinfo=dt.UTC, microsecond=0))


@st.composite
def _identifier(draw: st.DrawFn) -> dict[str, str]:
    system = draw(st.sampled_from(["personnummer", "samordningsnummer", "reservnummer"]))
    number = draw(st.integers(min_value=0, max_value=50_000))
    make = {
        "personnummer": synthetic_personnummer,
        "samordningsnummer": synthetic_samordningsnummer,
        "reservnummer": synthetic_reservnummer,
    }[system]
    return {"system": system, "value": make(number)}


@st.composite
def snapshots(draw: st.DrawFn) -> dict[str, Any]:
    """Snapshot data as Orbit sends it (camelCase), not yet validated."""
    code = draw(st.sampled_from(["SU", "SAS"]))
    hsa_ids = sorted(profile(code).locations)
    start = draw(_INSTANTS)
    minutes = draw(st.integers(min_value=1, max_value=24 * 60))
    admission_type = draw(st.sampled_from(["inpatient", "daySurgery", "outpatient"]))
    admission: dict[str, Any] = {"type": admission_type}
    if admission_type == "inpatient":
        admission["ward"] = {"hsaId": draw(st.sampled_from(hsa_ids))}
        admission["expectedNights"] = draw(st.one_of(st.none(), st.integers(0, 365)))
        if draw(st.booleans()):
            admission["admitAt"] = (
                start - dt.timedelta(hours=draw(st.integers(0, 48)))
            ).isoformat()
    zone = draw(_OFFSETS)
    diagnosis = draw(st.one_of(st.none(), st.just("M16.1"), st.just("S72.00")))
    status = draw(st.sampled_from(["booked", "booked", "cancelled"]))
    return {
        "bookingId": draw(st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9._-]{0,39}\Z")),
        "version": draw(st.integers(min_value=1, max_value=2**31 - 1)),
        "status": status,
        "administration": code,
        "patient": {
            "identifier": draw(_identifier()),
            "familyName": draw(_text(NAME_LENGTH + 5)),
            "givenName": draw(_text(NAME_LENGTH + 5)),
            "protectedIdentity": draw(st.booleans()),
        },
        "procedure": {
            "code": draw(st.from_regex(r"\A(?:[A-Z]{3}\d{2}|[A-Z]{2}\d{3})\Z")),
            "text": draw(_optional_text(TEXT_LENGTH + 5)),
        },
        "diagnosis": None
        if diagnosis is None
        else {"code": diagnosis, "text": draw(_optional_text(TEXT_LENGTH + 5))},
        "operatingUnit": {"hsaId": draw(st.sampled_from(hsa_ids))},
        "theatre": draw(_optional_text(THEATRE_LENGTH + 3)),
        "surgeon": draw(st.one_of(st.none(), st.just({"hsaId": "SE2321000131-P000000000456"}))),
        "plannedStart": start.astimezone(zone).isoformat(),
        "plannedEnd": (start + dt.timedelta(minutes=minutes)).astimezone(zone).isoformat(),
        "admission": admission,
        "cancellationReason": draw(_optional_text(TEXT_LENGTH + 5))
        if status == "cancelled"
        else None,
    }


def _accepted(data: dict[str, Any]) -> BookingSnapshot | None:
    """The snapshot if the contract accepts it (no 400, no 422), else None."""
    try:
        snapshot = BookingSnapshot.model_validate(data)
    except ValidationError:
        return None
    return None if semantic_problems(snapshot) else snapshot


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,  # nothing written to the work tree
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(snapshots())
def test_every_accepted_snapshot_renders_valid_messages(data: dict[str, Any]) -> None:
    snapshot = _accepted(data)
    assume(snapshot is not None)
    assert snapshot is not None
    booked = snapshot.model_copy(update={"status": BookingStatus.BOOKED})
    site = profile(snapshot.administration)
    for target, triggers in TRIGGERS.items():
        facts = desired_facts(booked, target, generation=data["version"] % 3)
        if facts is None:
            continue
        for trigger in triggers:
            sent = removal_facts(facts, snapshot) if trigger in (Trigger.S15,) else facts
            text = render_message(
                trigger, sent, site, control_id="PROPERTY1", sent_at=SENT_AT, processing_id="T"
            )
            assert unexpected_warnings(validate_strict(text)) == [], trigger
            _strict_simulator_reads(text, site.encoding)


def _strict_simulator_reads(text: str, encoding: str) -> None:
    try:
        wire = text.encode(encoding)
    except UnicodeEncodeError:
        return  # 8859/1 cannot carry it: the worker blocks it with UnencodableText
    read_inbound(wire)  # raises Rejected (the simulator's AR) when it is not acceptable
