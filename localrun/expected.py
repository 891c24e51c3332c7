"""Compare what Millennium holds with what Orbit's last snapshots describe.

Used by the demo and the end-to-end tests to decide convergence: for every
booking, the encounter, appointment and pending admit exist exactly when the
snapshot wants them, for the right person (and name), place and time. Differences name
booking ids and fields only, never personal data.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from shared.booking import AdmissionType, BookingSnapshot, BookingStatus
from shared.targets import booking_of_alias

Records = dict[str, list[dict[str, Any]]]


def millennium_differences(
    snapshots: Iterable[BookingSnapshot], state: dict[str, Any]
) -> list[str]:
    """Every way the simulator's ``/state`` differs from the snapshots' wishes."""
    # A corrected patient's records carry a later generation's alias
    # ("OB-1:1"): group every record by the booking its alias belongs to.
    by_booking = {kind: _by_booking(state[kind]) for kind in _KINDS}
    differences: list[str] = []
    for snapshot in snapshots:
        differences.extend(_booking_differences(snapshot, state, by_booking))
    return differences


_KINDS = ("encounters", "appointments", "pending_admits")


def _by_booking(records: dict[str, dict[str, Any]]) -> Records:
    grouped: Records = defaultdict(list)
    for alias, record in records.items():
        grouped[booking_of_alias(alias)].append(record)
    return grouped


def _booking_differences(
    snapshot: BookingSnapshot, state: dict[str, Any], by_booking: dict[str, Records]
) -> list[str]:
    visit = snapshot.booking_id
    found = {kind: by_booking[kind].get(visit, []) for kind in _KINDS}
    duplicates = [
        f"{visit}: {len(records)} {kind} in Millennium"
        for kind, records in found.items()
        if len(records) > 1
    ]
    if duplicates:
        return duplicates
    encounter, appointment, admit = (next(iter(found[kind]), None) for kind in _KINDS)
    if snapshot.status is BookingStatus.CANCELLED:
        return [
            f"{visit}: {name} still exists after cancellation"
            for name, record in (
                ("encounter", encounter),
                ("appointment", appointment),
                ("bed", admit),
            )
            if record is not None
        ]
    wants_bed = snapshot.admission.type is AdmissionType.INPATIENT
    problems = [
        f"{visit}: {name} missing"
        for name, record, wanted in (
            ("encounter", encounter, True),
            ("appointment", appointment, True),
            ("bed", admit, wants_bed),
        )
        if wanted and record is None
    ]
    if admit is not None and not wants_bed:
        problems.append(f"{visit}: bed booking exists for a {snapshot.admission.type} booking")
    value = snapshot.patient.identifier.value
    for name, record in (("encounter", encounter), ("appointment", appointment), ("bed", admit)):
        if record is not None and _person_value(state, record["person_id"]) != value:
            problems.append(f"{visit}: {name} belongs to another person")
    if encounter is not None and _person_name(state, encounter["person_id"]) != (
        snapshot.patient.family_name,
        snapshot.patient.given_name,
    ):
        problems.append(f"{visit}: the encounter's patient name differs")  # e.g. A08 to come
    # HL7 times are to the second.
    planned_start = snapshot.planned_start.replace(microsecond=0)
    if appointment is not None and _instant(appointment["start"]) != planned_start:
        problems.append(f"{visit}: appointment start differs")
    return problems


def _instant(value: str) -> dt.datetime | None:
    """An HL7 time ``YYYYMMDDHHMMSS±HHMM`` as an aware datetime (None if it is not one)."""
    try:
        return dt.datetime.strptime(value, "%Y%m%d%H%M%S%z")
    except ValueError:
        return None


def _person_name(state: dict[str, Any], person_id: str) -> tuple[str, str]:
    person = state["persons"].get(person_id) or {}
    return str(person.get("family_name", "")), str(person.get("given_name", ""))


def _person_value(state: dict[str, Any], person_id: str) -> str:
    person = state["persons"].get(person_id)
    return str(person["value"]) if person else ""
