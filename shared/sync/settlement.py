"""Settle a queue message by what its handler did: domain policy, not transport.

* the handler returns: the message completes;
* ``PermanentError``: the message is parked in the dead-letter store with the
  error's reason and text, audited on its booking, then completes (a Python
  trigger cannot dead-letter its own message with a reason, see
  docs/architecture.md);
* ``TransientError`` (crosswalk or bus briefly unreachable, a lost optimistic
  concurrency race): a copy is scheduled for later instead of throwing, so
  outages and races never burn delivery counts; only when even that fails, or
  after ``TRANSIENT_RETRY_LIMIT`` copies, does the exception reach the host
  (which redelivers).

Triggers turn their transport's message into a `QueueMessage` and call `settle`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from shared import telemetry
from shared.crosswalk.repository import AuditRecord, Crosswalk
from shared.errors import IntegrationError, PermanentError, TransientError
from shared.messages import TARGET_OF_QUEUE
from shared.queue.port import DeadLetter, MessageBus, OutboundMessage
from shared.telemetry_names import LOGGER_NAME

log = logging.getLogger(f"{LOGGER_NAME}.settlement")

TRANSIENT_RETRY_DELAY = dt.timedelta(seconds=30)
TRANSIENT_RETRY_LIMIT = 50  # ~25 minutes of outage before the host's redelivery takes over
TRANSIENT_RETRIES_PROPERTY = "transientRetries"


@dataclass(frozen=True)
class QueueMessage:
    """A received queue message, as plain values."""

    queue: str
    body: bytes
    session_id: str
    message_id: str
    properties: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SettlementPorts:
    bus: MessageBus
    crosswalk: Crosswalk
    clock: Callable[[], dt.datetime]


def settle(
    message: QueueMessage, handle: Callable[[bytes], object], ports: SettlementPorts
) -> None:
    """Run ``handle`` on the message body and settle the message by its outcome.

    Raises:
        TransientError: a transient failure whose retry copy could not be
            scheduled either, or that kept failing past the limit (the host
            redelivers the message).
    """
    try:
        handle(message.body)
    except PermanentError as error:
        park(message, error, ports)
    except TransientError as error:
        retry_later(message, error, ports)


def park(message: QueueMessage, error: PermanentError, ports: SettlementPorts) -> None:
    """Dead-letter ``message`` with the error's reason and note it on its booking."""
    ports.bus.dead_letter(
        DeadLetter(
            source_queue=message.queue,
            body=message.body,
            session_id=message.session_id,
            message_id=message.message_id,
            reason=error.reason,
            description=str(error),
            properties=dict(message.properties),
        )
    )
    telemetry.dead_lettered(error.reason)
    _audit_dead_letter(message, error, ports)
    log.warning(
        "dead-lettered %s message %s: %s (see: .venv/bin/python -m tools.ops deadletters list)",
        message.queue,
        message.message_id,
        error.reason,
    )


def retry_later(message: QueueMessage, error: TransientError, ports: SettlementPorts) -> None:
    """Schedule a copy of ``message`` for later; raise ``error`` past the limit."""
    properties = dict(message.properties)
    retries = int(properties.get(TRANSIENT_RETRIES_PROPERTY, "0")) + 1
    if retries > TRANSIENT_RETRY_LIMIT:
        raise error
    properties[TRANSIENT_RETRIES_PROPERTY] = str(retries)
    copy = OutboundMessage(
        queue=message.queue,
        body=message.body,
        session_id=message.session_id,
        # A new id, or duplicate detection would drop the copy of a recent message.
        message_id=f"{message.message_id}~t{retries}",
        scheduled_at=ports.clock() + TRANSIENT_RETRY_DELAY,
        properties=properties,
    )
    ports.bus.send([copy])  # if the bus is down too, this raises: the host redelivers
    log.warning(
        "transient failure on %s message %s (%s); retry %s scheduled in %s s",
        message.queue,
        message.message_id,
        type(error).__name__,
        retries,
        int(TRANSIENT_RETRY_DELAY.total_seconds()),
    )


def _audit_dead_letter(
    message: QueueMessage, error: PermanentError, ports: SettlementPorts
) -> None:
    """Note the dead letter in the booking's audit trail, so the per-booking trace
    (tools.ops) shows it without reading the dead-letter queue. Best effort: the
    dead letter itself is what matters, and it is already parked."""
    target = TARGET_OF_QUEUE.get(message.queue)
    record = AuditRecord(
        kind="dead-lettered",
        at=ports.clock(),
        target=target.value if target else "",
        reason=error.reason,
        detail=message.queue,
        extra={"messageId": message.message_id},
    )
    with contextlib.suppress(IntegrationError):
        ports.crosswalk.audit(message.session_id or "-", record)
