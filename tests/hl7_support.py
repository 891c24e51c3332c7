"""What the HL7 tests and benchmarks share: which target each trigger event serves."""

from __future__ import annotations

from shared.hl7.triggers import Trigger
from shared.targets import Target

TARGET_OF: dict[Trigger, Target] = {
    Trigger.A05: Target.ENCOUNTER,
    Trigger.A08: Target.ENCOUNTER,
    Trigger.A38: Target.ENCOUNTER,
    Trigger.A14: Target.BED,
    Trigger.A27: Target.BED,
    Trigger.S12: Target.APPOINTMENT,
    Trigger.S13: Target.APPOINTMENT,
    Trigger.S14: Target.APPOINTMENT,
    Trigger.S15: Target.APPOINTMENT,
}
