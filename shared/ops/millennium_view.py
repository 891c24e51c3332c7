"""What Millennium itself holds for a booking, beside what the crosswalk says it holds.

The crosswalk records what Millennium *confirmed* (AA). Normally that is what
Millennium holds, but not when Millennium lost or gained records behind the
integration's back: a restored Millennium test domain, records cancelled by
hand, or locally a simulator started empty (``SIMULATOR_RESET``). The workers
trust the crosswalk (they converge to it), so such a booking looks "in sync"
and nothing is ever resent. The booking trace and the go-live therefore ask,
where they can, a ``MillenniumView`` and say when the two disagree.

A view answers per alias (the visit number: the booking id, or after a patient
correction ``<bookingId>:<generation>``, shared/targets.py) which records
Millennium holds, or None when it cannot tell. Locally the view reads the simulator's
holdings (``localrun.millennium_view``); in Azure there is none yet, and the
tools say so ("not checked") rather than imply agreement.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from shared.crosswalk.repository import TargetState
from shared.targets import Target, millennium_alias


@dataclass(frozen=True)
class MillenniumHolds:
    """Which of a booking's records Millennium holds."""

    encounter: bool
    appointment: bool
    bed: bool

    def of(self, target: Target) -> bool:
        return {
            Target.ENCOUNTER: self.encounter,
            Target.APPOINTMENT: self.appointment,
            Target.BED: self.bed,
        }[target]


NOTHING_HELD = MillenniumHolds(encounter=False, appointment=False, bed=False)

MillenniumView = Callable[[str], MillenniumHolds | None]
"""Alias → what Millennium holds under it, or None when the view cannot tell."""


def disagreements(
    view: MillenniumView, booking_id: str, generation: int, states: Mapping[Target, TargetState]
) -> list[str] | None:
    """Each target where the crosswalk's confirmed state and Millennium's holding differ
    in existence, in words an operator can act on (no personal data); None when the
    view cannot tell.

    A confirmed record is looked for under the alias it was confirmed under; a target
    with none, under the alias of the booking's current patient (``generation``).
    """
    holdings: dict[str, MillenniumHolds | None] = {}
    found = []
    for target in Target:
        confirmed = states[target].confirmed
        alias = confirmed.alias if confirmed else millennium_alias(booking_id, generation)
        if alias not in holdings:
            holdings[alias] = view(alias)
        holds = holdings[alias]
        if holds is None:
            return None
        held = holds.of(target)
        if confirmed and not held:
            found.append(f"{target.value}: confirmed in the crosswalk, but Millennium holds none")
        elif held and not confirmed:
            found.append(f"{target.value}: Millennium holds one the crosswalk does not record")
    return found
