"""A second channel, as a FHIR R4 appointment channel would be: one module.

It proves the channel seam: nothing in the sync core changes to use it, and
registering it is one entry in the channels mapping the composition root builds
(``ServiceOverrides(channels=...)`` here). It keeps what it was sent instead of
calling a server; answers can be scripted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from shared.profiles import Profile
from shared.sync.channel import (
    Confirmed,
    InDoubt,
    Operation,
    Outcome,
    Prepared,
    Rejected,
    RetryLater,
    SendContext,
)


@dataclass
class FakeFhirAppointments:
    """Appointments as FHIR-like JSON; ``script`` holds outcomes to answer in turn."""

    script: list[Outcome] = field(default_factory=list)
    sent: list[tuple[str, str, int]] = field(default_factory=list)  # (label, key, attempt)
    name: str = "fake-fhir-r4"
    key_name: str = "request id"
    updates_in_place: bool = True

    def prepare(self, operation: Operation, context: SendContext) -> Prepared:
        key = f"{context.booking_id}.{context.version}.{operation.kind}.{context.refusals}"
        body = {"resourceType": "Appointment", "id": context.booking_id, "op": operation.kind}
        return Prepared(self.name, key, f"Appointment {operation.kind}", json.dumps(body))

    def send(self, prepared: Prepared, *, attempt: int, profile: Profile) -> Outcome:
        self.sent.append((prepared.label, prepared.key, attempt))
        return self.script.pop(0) if self.script else Confirmed("201")


__all__ = ["Confirmed", "FakeFhirAppointments", "InDoubt", "Rejected", "RetryLater"]
