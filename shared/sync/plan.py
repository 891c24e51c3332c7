"""Decide the next HL7 message for one target: a pure function of state.

Given the desired facts (from the newest snapshot) and the confirmed facts of
all three targets, return the one step that brings the target closer to the
snapshot, a reason to wait for another target, or None when in sync. Because
the decision reads state rather than deltas, duplicated, reordered or replayed
kicks are harmless.

Ordering rules (brief §5): the encounter exists before the appointment and the
bed booking are sent; on cancellation (or a patient correction) those two are
removed before the encounter. A patient correction is a new patient generation
(shared.targets): everything confirmed under the old one is removed and created
again under new identifiers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from shared.targets import AppointmentFacts, BedFacts, Facts, PatientFacts, Target, Trigger


@dataclass(frozen=True)
class Step:
    trigger: Trigger
    facts: Facts  # what the message is rendered from
    confirms: Facts | None  # the confirmed state once Millennium answers AA


@dataclass(frozen=True)
class Wait:
    """The target cannot move until ``on`` does; ``on``'s worker will kick it."""

    on: Target
    why: str


Decision = Step | Wait | None

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
    target: Target, desired: Facts | None, confirmed: Mapping[Target, Facts | None]
) -> Decision:
    """The next step for ``target``; ``confirmed`` holds every target's confirmed facts."""
    if target is Target.ENCOUNTER:
        return _plan_encounter(desired, confirmed)
    return _plan_dependent(target, desired, confirmed)


def _plan_encounter(desired: Facts | None, confirmed: Mapping[Target, Facts | None]) -> Decision:
    current = confirmed[Target.ENCOUNTER]
    if current is not None and _must_remove(current, desired):
        for dependent in DEPENDENTS:
            if confirmed[dependent] is not None:
                return Wait(dependent, "removed before the encounter")
        return Step(Trigger.A38, current, None)
    if desired is None:
        return None
    if current is None:
        return Step(Trigger.A05, desired, desired)
    return Step(Trigger.A08, desired, desired) if current != desired else None


def _plan_dependent(
    target: Target, desired: Facts | None, confirmed: Mapping[Target, Facts | None]
) -> Decision:
    current = confirmed[target]
    remove = Trigger.S15 if target is Target.APPOINTMENT else Trigger.A27
    if current is not None and _must_remove(current, desired):
        return Step(remove, _with_newest_names(current, desired, confirmed), None)
    if desired is None:
        return None
    encounter = confirmed[Target.ENCOUNTER]
    if encounter is None or not same_subject(encounter, desired):
        return Wait(Target.ENCOUNTER, "the encounter must exist first")
    if current is None:
        create = Trigger.S12 if target is Target.APPOINTMENT else Trigger.A14
        return Step(create, desired, desired)
    if current == desired:
        return None
    if isinstance(current, AppointmentFacts) and isinstance(desired, AppointmentFacts):
        return Step(Trigger.S14 if current.same_time_as(desired) else Trigger.S13, desired, desired)
    # A pending admit cannot be updated in place: cancel it, then book it again.
    # (BedFacts compare equal when only names differ, so a name change never gets here.)
    return Step(Trigger.A27, _with_newest_names(current, desired, confirmed), None)


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
