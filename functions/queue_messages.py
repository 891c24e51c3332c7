"""What every queue trigger does around its handler: settle by outcome.

* the handler returns: the message completes;
* ``PermanentError``: the message is parked in the dead-letter store with the
  error's reason and text, then completes (a Python trigger cannot dead-letter
  its own message with a reason, see docs/architecture.md);
* ``TransientError`` (crosswalk or bus briefly unreachable): a copy is scheduled
  for later instead of throwing, so outages never burn delivery counts; only
  when even that fails does the exception reach the host (which redelivers).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Callable

import azure.functions as func

from shared import telemetry
from shared.crosswalk.repository import AuditRecord, Crosswalk
from shared.errors import IntegrationError, PermanentError, TransientError
from shared.messages import TARGET_OF_QUEUE
from shared.queue.port import DeadLetter, OutboundMessage
from shared.services import Services, get_services

log = logging.getLogger(__name__)

TRANSIENT_RETRY_DELAY = dt.timedelta(seconds=30)
TRANSIENT_RETRY_LIMIT = 50  # ~25 minutes of outage before the host's redelivery takes over

Handler = Callable[[bytes, Services], object]


def settle(message: func.ServiceBusMessage, queue: str, handler: Handler) -> None:
    """Run ``handler`` on the message body and settle the message by its outcome."""
    services = get_services()
    body = message.get_body()
    properties = _string_properties(message)
    with telemetry.consumer_span(
        queue,
        properties,
        booking_id=message.session_id or "",
        message_id=message.message_id or "",
    ):
        try:
            handler(body, services)
        except PermanentError as error:
            services.bus.dead_letter(_dead_letter(message, queue, body, error))
            telemetry.dead_lettered(error.reason)
            _audit_dead_letter(services, message, queue, error)
            log.warning("dead-lettered %s message %s: %s", queue, message.message_id, error.reason)
        except TransientError as error:
            _retry_later(message, queue, body, services, error)


def _audit_dead_letter(
    services: Services, message: func.ServiceBusMessage, queue: str, error: PermanentError
) -> None:
    """Note the dead letter in the booking's audit trail, so the per-booking trace
    (tools.ops) shows it without reading the dead-letter queue. Best effort: the
    dead letter itself is what matters, and it is already parked."""
    record = AuditRecord(
        kind="dead-lettered",
        at=services.clock(),
        target=target.value if (target := TARGET_OF_QUEUE.get(queue)) else "",
        reason=error.reason,
        detail=queue,
        extra={"messageId": message.message_id or ""},
    )
    with contextlib.suppress(IntegrationError):
        Crosswalk(services.store).audit(message.session_id or "-", record)


def _dead_letter(
    message: func.ServiceBusMessage, queue: str, body: bytes, error: PermanentError
) -> DeadLetter:
    return DeadLetter(
        source_queue=queue,
        body=body,
        session_id=message.session_id or "",
        message_id=message.message_id or "",
        reason=error.reason,
        description=str(error),
        properties=_string_properties(message),
    )


def _retry_later(
    message: func.ServiceBusMessage,
    queue: str,
    body: bytes,
    services: Services,
    error: TransientError,
) -> None:
    properties = _string_properties(message)
    retries = int(properties.get("transientRetries", "0")) + 1
    if retries > TRANSIENT_RETRY_LIMIT:
        raise error
    properties["transientRetries"] = str(retries)
    copy = OutboundMessage(
        queue=queue,
        body=body,
        session_id=message.session_id or "",
        # A new id, or duplicate detection would drop the copy of a recent message.
        message_id=f"{message.message_id}~t{retries}",
        scheduled_at=services.clock() + TRANSIENT_RETRY_DELAY,
        properties=properties,
    )
    services.bus.send([copy])  # if the bus is down too, this raises: the host redelivers
    log.warning(
        "transient failure on %s message %s (%s); retry %s scheduled",
        queue,
        message.message_id,
        type(error).__name__,
        retries,
    )


def _string_properties(message: func.ServiceBusMessage) -> dict[str, str]:
    properties = message.application_properties or {}
    return {str(key): str(value) for key, value in properties.items()}
