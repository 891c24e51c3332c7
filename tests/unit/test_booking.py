"""The booking snapshot and its CloudEvent envelope (shared.booking)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from pydantic import ValidationError

from shared.booking import (
    EVENT_TYPES,
    AdmissionType,
    BookingEvent,
    BookingSnapshot,
    BookingStatus,
    semantic_problems,
)
from shared.identity import IdentifierSystem
from tests.builders import make_patient, make_snapshot, synthetic_personnummer


def wire(**overrides: Any) -> dict[str, Any]:
    """A snapshot as Orbit sends it (camelCase JSON data)."""
    data = make_snapshot().model_dump(mode="json", by_alias=True)
    data.update(overrides)
    return data


def invalid_locations(data: dict[str, Any]) -> list[tuple[int | str, ...]]:
    with pytest.raises(ValidationError) as raised:
        BookingSnapshot.model_validate(data)
    return [error["loc"] for error in raised.value.errors()]


def test_the_wire_format_is_camel_case_and_round_trips() -> None:
    snapshot = make_snapshot()
    data = snapshot.model_dump(mode="json", by_alias=True)
    assert {"bookingId", "operatingUnit", "plannedStart", "plannedEnd"} <= set(data)
    assert set(data["patient"]) == {"identifier", "familyName", "givenName", "protectedIdentity"}
    assert BookingSnapshot.model_validate(data) == snapshot


def test_snapshots_are_immutable() -> None:
    snapshot = make_snapshot()
    with pytest.raises(ValidationError):
        snapshot.version = 2  # type: ignore[misc]


def test_unknown_fields_are_ignored_so_orbit_can_add_fields() -> None:
    assert BookingSnapshot.model_validate(wire(newField="x")) == make_snapshot()


def test_optional_parts_may_be_left_out() -> None:
    data = wire()
    for optional in ("diagnosis", "theatre", "surgeon", "cancellationReason"):
        del data[optional]
    data["admission"] = {"type": "outpatient"}
    snapshot = BookingSnapshot.model_validate(data)
    assert snapshot.diagnosis is None and snapshot.surgeon is None
    assert snapshot.admission.type is AdmissionType.OUTPATIENT
    assert snapshot.patient.protected_identity is False


def test_admit_at_defaults_to_the_planned_start() -> None:
    assert make_snapshot(admission={"type": "daySurgery"}).admit_at == make_snapshot().planned_start
    admit = dt.datetime(2026, 11, 30, 18, 0, tzinfo=dt.UTC)
    assert make_snapshot(admission={"type": "outpatient", "admit_at": admit}).admit_at == admit


@pytest.mark.parametrize("code", ["NFB49", "AB123"])
def test_kva_codes_are_three_letters_and_two_digits_or_two_letters_and_three(code: str) -> None:
    assert BookingSnapshot.model_validate(wire(procedure={"code": code})).procedure.code == code


@pytest.mark.parametrize("code", ["NFB4", "N1234", "nfb49", "NFBB49", ""])
def test_other_procedure_codes_are_refused(code: str) -> None:
    assert invalid_locations(wire(procedure={"code": code})) == [("procedure", "code")]


@pytest.mark.parametrize("code", ["M16.1", "M161", "S72.00", "J45", "C50.9+"])
def test_icd10_se_diagnosis_codes_are_accepted(code: str) -> None:
    assert BookingSnapshot.model_validate(wire(diagnosis={"code": code})).diagnosis is not None


@pytest.mark.parametrize("code", ["16.1", "MM16", "m16.1"])
def test_malformed_diagnosis_codes_are_refused(code: str) -> None:
    assert invalid_locations(wire(diagnosis={"code": code})) == [("diagnosis", "code")]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("bookingId", "OB/2026"),
        ("bookingId", ""),
        ("version", 0),
        ("version", 2**31),
        ("administration", "su"),
        ("status", "tentative"),
        ("plannedStart", "2026-12-01T08:00:00"),  # no offset: ambiguous
        ("operatingUnit", {"hsaId": "E000000000101"}),
    ],
)
def test_structural_rules(field: str, value: Any) -> None:
    assert invalid_locations(wire(**{field: value}))[0][0] == field


def test_identity_values_are_exactly_twelve_characters() -> None:
    patient = wire()["patient"]
    patient["identifier"]["value"] += "1"
    assert invalid_locations(wire(patient=patient)) == [("patient", "identifier", "value")]


def test_a_valid_snapshot_has_no_semantic_problems() -> None:
    assert semantic_problems(make_snapshot()) == []
    for system in IdentifierSystem:
        assert semantic_problems(make_snapshot(patient=make_patient(2, system=system.value))) == []


def test_semantic_problems_are_check_digit_end_before_start_and_ward() -> None:
    number = synthetic_personnummer(2)
    wrong = number[:-1] + str((int(number[-1]) + 1) % 10)
    patient = make_patient(2)
    patient["identifier"]["value"] = wrong
    start = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC)
    snapshot = make_snapshot(
        patient=patient, planned_start=start, planned_end=start, admission={"type": "inpatient"}
    )
    problems = semantic_problems(snapshot)
    assert [path for path, _ in problems] == [
        "data.patient.identifier.value",
        "data.plannedEnd",
        "data.admission.ward",
    ]
    assert all(wrong not in message for _, message in problems)


def test_the_envelope_accepts_the_three_event_types_and_carries_extensions() -> None:
    for event_type in EVENT_TYPES:
        status = "cancelled" if "cancelled" in event_type else "booked"
        event = BookingEvent.model_validate(
            {
                "specversion": "1.0",
                "id": "e",
                "source": "orbit://vgr/SU",
                "type": event_type,
                "traceparent": "00-x",
                "data": wire(status=status),
            }
        )
        assert event.data.status is BookingStatus(status)
        assert event.model_extra == {"traceparent": "00-x"}


def test_the_envelope_refuses_other_spec_versions_and_types() -> None:
    with pytest.raises(ValidationError) as raised:
        BookingEvent.model_validate(
            {
                "specversion": "0.3",
                "id": "e",
                "source": "orbit://vgr/SU",
                "type": "x",
                "data": wire(),
            }
        )
    assert {error["loc"] for error in raised.value.errors()} == {("specversion",), ("type",)}
