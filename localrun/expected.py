"""Compare what Millennium holds with what Orbit's last snapshots describe.

Used by the demo and the end-to-end tests to decide convergence: for every
booking, the encounter, appointment and pending admit exist exactly when the
snapshot wants them, for the right person, place and time. Differences name
booking ids and fields only, never personal data.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from shared.booking import AdmissionType, BookingSnapshot, BookingStatus
from shared.hl7.er7 import dtm


def millennium_differences(
    snapshots: Iterable[BookingSnapshot], state: dict[str, Any]
) -> list[str]:
    """Every way the simulator's ``/state`` differs from the snapshots' wishes."""
    differences: list[str] = []
    for snapshot in snapshots:
        differences.extend(_booking_differences(snapshot, state))
    return differences


def _booking_differences(snapshot: BookingSnapshot, state: dict[str, Any]) -> list[str]:
    visit = snapshot.booking_id
    encounter = state["encounters"].get(visit)
    appointment = state["appointments"].get(visit)
    admit = state["pending_admits"].get(visit)
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
    if appointment is not None and appointment["start"] != dtm(snapshot.planned_start):
        problems.append(f"{visit}: appointment start differs")
    return problems


def _person_value(state: dict[str, Any], person_id: str) -> str:
    person = state["persons"].get(person_id)
    return str(person["value"]) if person else ""
