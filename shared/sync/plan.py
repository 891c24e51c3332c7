"""Decide the next operation for one target: a pure function of state.

Given the desired facts (from the newest snapshot) and the confirmed facts of
all three targets, return the one neutral operation (create, update,
reschedule, remove) that brings the target closer to the snapshot, a reason to
wait for another target, or None when in sync. Which message carries it is the
channel's business (shared.sync.channel). Because
the decision reads state rather than deltas, duplicated, reordered or replayed
kicks are harmless.

Ordering rules (brief §5): the encounter exists before the appointment and the
bed booking are sent (the bed booking: as an inpatient encounter); on
cancellation (or a patient correction) those two are removed before the
encounter. A patient correction is a new patient generation
(shared.targets): everything confirmed under the old one is removed and created
again under new identifiers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from shared.booking import AdmissionType, BookingSnapshot
from shared.sync.channel import Channels, Operation, OperationKind
from shared.targets import (
    AppointmentFacts,
    BedFacts,
    EncounterFacts,
    Facts,
    PatientFacts,
    Target,
    desired_facts,
)


@dataclass(frozen=True)
class Wait:
    """The target cannot move until ``on`` does; ``on``'s worker will kick it."""

    on: Target
    why: str


Decision = Operation | Wait | None

DEPENDENTS: tuple[Target, ...] = (Target.APPOINTMENT, Target.BED)


def same_patient(a: PatientFacts, b: PatientFacts) -> bool:
    """Whether two facts concern the same person (names may be corrected)."""
    return (a.system, a.value) == (b.system, b.value)


def same_subject(a: Facts, b: Facts) -> bool:
    """Whether two facts are about the same person under the same identifiers."""
    return a.generation == b.generation and same_patient(a.patient, b.patient)


def _must_remove(confirmed: Facts | None, desired: Facts | None) -> bool:
    if confirmed is None:
        return False
    return desired is None or not same_subject(confirmed, desired)


def plan(
    target: Target,
    desired: Facts | None,
    confirmed: Mapping[Target, Facts | None],
    *,
    updates_in_place: bool = True,
) -> Decision:
    """The next operation for ``target``; ``confirmed`` holds every target's
    confirmed facts; ``updates_in_place`` is the target channel's capability."""
    if target is Target.ENCOUNTER:
        return _plan_encounter(desired, confirmed, updates_in_place)
    return _plan_dependent(target, desired, confirmed, updates_in_place)


def plan_snapshot(
    target: Target,
    snapshot: BookingSnapshot,
    generation: int,
    confirmed: Mapping[Target, Facts | None],
    channels: Channels,
) -> Decision:
    """``plan`` for ``target`` as ``snapshot`` (patient ``generation``) wants it,
    with its channel's capability: what that target's worker would do next."""
    return plan(
        target,
        desired_facts(snapshot, target, generation),
        confirmed,
        updates_in_place=channels[target].updates_in_place,
    )


def _create(target: Target, desired: Facts) -> Operation:
    return Operation(target, OperationKind.CREATE, desired, desired)


def _remove(target: Target, current: Facts) -> Operation:
    return Operation(target, OperationKind.REMOVE, current, None)


def _change(target: Target, current: Facts, desired: Facts, in_place: bool) -> Operation:
    if not in_place:
        return _remove(target, current)  # then, on the next step, create it again
    moved = (
        isinstance(current, AppointmentFacts)
        and isinstance(desired, AppointmentFacts)
        and not current.same_time_as(desired)
    )
    kind = OperationKind.RESCHEDULE if moved else OperationKind.UPDATE
    return Operation(target, kind, desired, desired, replaces=current)


def _plan_encounter(
    desired: Facts | None, confirmed: Mapping[Target, Facts | None], in_place: bool
) -> Decision:
    current = confirmed[Target.ENCOUNTER]
    if current is not None and _must_remove(current, desired):
        for dependent in DEPENDENTS:
            if confirmed[dependent] is not None:
                return Wait(dependent, "removed before the encounter")
        return _remove(Target.ENCOUNTER, current)
    if desired is None:
        return None
    if current is None:
        return _create(Target.ENCOUNTER, desired)
    return _change(Target.ENCOUNTER, current, desired, in_place) if current != desired else None


def _plan_dependent(
    target: Target, desired: Facts | None, confirmed: Mapping[Target, Facts | None], in_place: bool
) -> Decision:
    current = confirmed[target]
    if current is not None and _must_remove(current, desired):
        return _remove(target, _with_newest_names(current, desired, confirmed))
    if desired is None:
        return None
    encounter = confirmed[Target.ENCOUNTER]
    if encounter is None or not same_subject(encounter, desired):
        return Wait(Target.ENCOUNTER, "the encounter must exist first")
    if current is None and target is Target.BED and not _inpatient(encounter):
        # A pending admit belongs to an inpatient encounter: after a switch from day
        # surgery, the bed is booked once Millennium has the encounter's A08.
        return Wait(Target.ENCOUNTER, "the encounter must be an inpatient one first")
    if current is None:
        return _create(target, desired)
    if current == desired:  # BedFacts compare equal when only names differ
        return None
    return _change(target, _with_newest_names(current, desired, confirmed), desired, in_place)


def _inpatient(encounter: Facts) -> bool:
    return isinstance(encounter, EncounterFacts) and (
        encounter.admission_type is AdmissionType.INPATIENT
    )


def _with_newest_names(
    current: Facts, desired: Facts | None, confirmed: Mapping[Target, Facts | None]
) -> Facts:
    """A bed booking's removal names the person as Millennium now knows them.

    The confirmed bed facts keep the names of their A14 (a name correction does
    not rebook the bed), so the A27 takes the newer names of the same person
    from the snapshot or the confirmed encounter, never older ones that would
    undo the encounter's A08.
    """
    if not isinstance(current, BedFacts):
        return current
    for newer in (desired, confirmed[Target.ENCOUNTER]):
        if newer is not None and same_subject(newer, current):
            return current.model_copy(update={"patient": newer.patient})
    return current
