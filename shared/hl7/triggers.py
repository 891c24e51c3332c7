"""HL7 trigger events: which message carries each neutral operation (brief §5).

| target | create | update | reschedule | remove |
|---|---|---|---|---|
| encounter (pre-admit) | ``ADT^A05`` | ``ADT^A08`` | ``ADT^A08`` | ``ADT^A38`` |
| appointment | ``SIU^S12`` | ``SIU^S14`` | ``SIU^S13`` | ``SIU^S15`` |
| bed booking (pending admit) | ``ADT^A14`` | (none) | (none) | ``ADT^A27`` |

A pending admit cannot be changed in place, so the HL7 bed channel says
``updates_in_place = False`` and the planner removes and creates it instead.
"""

from __future__ import annotations

from enum import StrEnum

from shared.sync.channel import OperationKind
from shared.targets import Target


class Trigger(StrEnum):
    """HL7 message type^trigger event."""

    A05 = "ADT^A05"  # pre-admit: create encounter
    A08 = "ADT^A08"  # update encounter
    A38 = "ADT^A38"  # cancel pre-admit: remove encounter
    A14 = "ADT^A14"  # pending admit: create bed booking
    A27 = "ADT^A27"  # cancel pending admit: remove bed booking
    S12 = "SIU^S12"  # new appointment
    S13 = "SIU^S13"  # appointment rescheduled (time changed)
    S14 = "SIU^S14"  # appointment modified (anything else)
    S15 = "SIU^S15"  # appointment cancelled


_TRIGGERS: dict[tuple[Target, OperationKind], Trigger] = {
    (Target.ENCOUNTER, OperationKind.CREATE): Trigger.A05,
    (Target.ENCOUNTER, OperationKind.UPDATE): Trigger.A08,
    (Target.ENCOUNTER, OperationKind.RESCHEDULE): Trigger.A08,
    (Target.ENCOUNTER, OperationKind.REMOVE): Trigger.A38,
    (Target.APPOINTMENT, OperationKind.CREATE): Trigger.S12,
    (Target.APPOINTMENT, OperationKind.UPDATE): Trigger.S14,
    (Target.APPOINTMENT, OperationKind.RESCHEDULE): Trigger.S13,
    (Target.APPOINTMENT, OperationKind.REMOVE): Trigger.S15,
    (Target.BED, OperationKind.CREATE): Trigger.A14,
    (Target.BED, OperationKind.REMOVE): Trigger.A27,
}

UPDATES_IN_PLACE: dict[Target, bool] = {
    target: (target, OperationKind.UPDATE) in _TRIGGERS for target in Target
}
"""Whether HL7 v2 can change an existing record of the target."""


def trigger_for(target: Target, kind: OperationKind) -> Trigger:
    """The trigger event that carries ``kind`` for ``target``.

    Raises:
        ValueError: HL7 has no message for it (an update of a pending admit; the
            planner never asks for one, see ``UPDATES_IN_PLACE``).
    """
    try:
        return _TRIGGERS[(target, kind)]
    except KeyError:
        raise ValueError(f"HL7 v2 has no message to {kind} a {target}") from None
