"""What every queue trigger does around its handler: translate and settle.

The trigger's `func.ServiceBusMessage` becomes a plain `QueueMessage`; the
settlement policy (complete, dead-letter with a reason, or schedule a retry
copy) is domain code in ``shared.sync.settlement``.
"""

from __future__ import annotations

from collections.abc import Callable

import azure.functions as func

from shared import telemetry
from shared.crosswalk.repository import Crosswalk
from shared.services import Services, get_services
from shared.sync.settlement import QueueMessage, SettlementPorts, settle

Handler = Callable[[bytes, Services], object]


def settle_message(message: func.ServiceBusMessage, queue: str, handler: Handler) -> None:
    """Run ``handler`` on the message body and settle the message by its outcome."""
    services = get_services()
    received = queue_message(message, queue)
    ports = SettlementPorts(services.bus, Crosswalk(services.store), services.clock)
    with telemetry.consumer_span(
        queue,
        received.properties,
        booking_id=received.session_id,
        message_id=received.message_id,
    ):
        settle(received, lambda body: handler(body, services), ports)


def queue_message(message: func.ServiceBusMessage, queue: str) -> QueueMessage:
    properties = message.application_properties or {}
    return QueueMessage(
        queue=queue,
        body=message.get_body(),
        session_id=message.session_id or "",
        message_id=message.message_id or "",
        properties={str(key): str(value) for key, value in properties.items()},
    )
