"""Bodies of the queue messages, and their deterministic ids.

* ``orbit-events``: an accepted webhook event (the whole snapshot). MessageId
  ``<administration>:<bookingId>:v<version>``, so Service Bus drops a second copy
  of one version, but not another administration's event for the same booking id
  (the intake parks that one as ``administration-mismatch``).
* ``sync-*``: a *kick*, meaning "target T of booking X may be out of sync". It
  carries no state: the worker reads the newest snapshot and the confirmed state.

Session id is always the Orbit booking id: ordering per booking, never global.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from shared.booking import BookingSnapshot
from shared.names import QUEUE_APPOINTMENT, QUEUE_BED, QUEUE_ENCOUNTER, QUEUE_EVENTS
from shared.queue.port import OutboundMessage
from shared.targets import Target

QUEUE_OF_TARGET: dict[Target, str] = {
    Target.ENCOUNTER: QUEUE_ENCOUNTER,
    Target.APPOINTMENT: QUEUE_APPOINTMENT,
    Target.BED: QUEUE_BED,
}
TARGET_OF_QUEUE: dict[str, Target] = {queue: target for target, queue in QUEUE_OF_TARGET.items()}


class _Body(BaseModel):
    model_config = ConfigDict(frozen=True)


class EventMessage(_Body):
    """An Orbit event accepted by the webhook, on its way to the intake worker."""

    event_id: str
    event_type: str
    webhook_id: str
    correlation_id: str
    received_at: dt.datetime
    snapshot: BookingSnapshot


class KickCause(StrEnum):
    EVENT = "event"  # a newer snapshot was stored
    DEPENDENCY = "dependency"  # another target of the booking changed
    RETRY = "retry"  # scheduled retry after a transient failure or in-doubt send
    RESUBMIT = "resubmit"  # an operator resubmitted a dead letter
    GO_LIVE = "go-live"  # the administration switched to integrated


class Kick(_Body):
    booking_id: str
    target: Target
    cause: KickCause
    correlation_id: str = ""
    note: str = ""  # what triggered it (e.g. "v3", "encounter#4", "retry#2"); no personal data


def event_outbound(
    message: EventMessage, properties: dict[str, str] | None = None
) -> OutboundMessage:
    snapshot = message.snapshot
    return OutboundMessage(
        queue=QUEUE_EVENTS,
        body=message.model_dump_json().encode(),
        session_id=snapshot.booking_id,
        message_id=f"{snapshot.administration}:{snapshot.booking_id}:v{snapshot.version}",
        properties={"correlationId": message.correlation_id, **(properties or {})},
    )


def kick_outbound(
    kick: Kick,
    *,
    scheduled_at: dt.datetime | None = None,
    properties: dict[str, str] | None = None,
) -> OutboundMessage:
    """A kick whose MessageId names its cause, so a repeated kick for the same cause is
    dropped by duplicate detection while a kick for a new cause always gets through."""
    return OutboundMessage(
        queue=QUEUE_OF_TARGET[kick.target],
        body=kick.model_dump_json().encode(),
        session_id=kick.booking_id,
        message_id=f"{kick.booking_id}:{kick.target}:{kick.cause}:{kick.note}",
        scheduled_at=scheduled_at,
        properties={"correlationId": kick.correlation_id, **(properties or {})},
    )
