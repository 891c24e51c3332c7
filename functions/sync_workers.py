"""Queue triggers: intake of Orbit events, and one worker per Millennium target.

Each trigger only hands its Service Bus message to the settlement with the plain
handler from ``shared.sync.handlers``. Sessions (id = booking id) keep one
booking's messages in order without blocking other bookings. The triggers stay
explicit decorated functions so the Functions indexer sees plain functions.
"""

from __future__ import annotations

import azure.functions as func

from functions.queue_messages import Handler, settle_message
from shared.names import (
    QUEUE_APPOINTMENT,
    QUEUE_BED,
    QUEUE_ENCOUNTER,
    QUEUE_EVENTS,
    SERVICE_BUS_CONNECTION,
)
from shared.sync.handlers import handle_event, handle_kick
from shared.targets import Target

bp = func.Blueprint()  # type: ignore[no-untyped-call]


def _intake() -> Handler:
    return lambda body, services: handle_event(body, services.sync_ports())


def _worker(target: Target) -> Handler:
    return lambda body, services: handle_kick(target, body, services.sync_ports())


@bp.function_name("orbit_event_intake")
@bp.service_bus_queue_trigger(
    arg_name="message",
    queue_name=QUEUE_EVENTS,
    connection=SERVICE_BUS_CONNECTION,
    is_sessions_enabled=True,
)
def orbit_event_intake(message: func.ServiceBusMessage) -> None:
    settle_message(message, QUEUE_EVENTS, _intake())


@bp.function_name("sync_encounter")
@bp.service_bus_queue_trigger(
    arg_name="message",
    queue_name=QUEUE_ENCOUNTER,
    connection=SERVICE_BUS_CONNECTION,
    is_sessions_enabled=True,
)
def sync_encounter(message: func.ServiceBusMessage) -> None:
    settle_message(message, QUEUE_ENCOUNTER, _worker(Target.ENCOUNTER))


@bp.function_name("sync_appointment")
@bp.service_bus_queue_trigger(
    arg_name="message",
    queue_name=QUEUE_APPOINTMENT,
    connection=SERVICE_BUS_CONNECTION,
    is_sessions_enabled=True,
)
def sync_appointment(message: func.ServiceBusMessage) -> None:
    settle_message(message, QUEUE_APPOINTMENT, _worker(Target.APPOINTMENT))


@bp.function_name("sync_bed")
@bp.service_bus_queue_trigger(
    arg_name="message",
    queue_name=QUEUE_BED,
    connection=SERVICE_BUS_CONNECTION,
    is_sessions_enabled=True,
)
def sync_bed(message: func.ServiceBusMessage) -> None:
    settle_message(message, QUEUE_BED, _worker(Target.BED))
