"""The sync's two commands as queue bodies carry them: parse, check, handle.

Raises (both): MalformedMessage when the body is not what its queue carries
(a bug or a manual send; the settlement dead-letters it with that reason),
and whatever the handler raises.
"""

from __future__ import annotations

from pydantic import ValidationError

from shared.errors import MalformedMessage
from shared.messages import EventMessage, Kick
from shared.sync.intake import IntakeResult, store_event
from shared.sync.ports import SyncPorts
from shared.sync.worker import SyncOutcome, sync_target
from shared.targets import Target


def handle_event(body: bytes, ports: SyncPorts) -> IntakeResult:
    """An ``orbit-events`` message: store the snapshot and kick its targets."""
    try:
        event = EventMessage.model_validate_json(body)
    except ValidationError:
        raise MalformedMessage("orbit-events message is not an accepted Orbit event") from None
    return store_event(event, ports)


def handle_kick(expected: Target, body: bytes, ports: SyncPorts) -> SyncOutcome:
    """A ``sync-<target>`` message: bring that target of the booking in line."""
    try:
        kick = Kick.model_validate_json(body)
    except ValidationError:
        raise MalformedMessage(f"sync-{expected} message is not a kick") from None
    if kick.target is not expected:
        raise MalformedMessage(f"kick for {kick.target} arrived on the {expected} queue")
    return sync_target(kick, ports)
