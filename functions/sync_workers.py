"""Queue triggers: intake of Orbit events, and one worker per Millennium target.

Each trigger only turns the Service Bus message into a typed command and calls a
plain handler from ``shared.sync``. Sessions (id = booking id) keep one booking's
messages in order without blocking other bookings.
"""

from __future__ import annotations

import azure.functions as func
from pydantic import ValidationError

from functions.queue_messages import settle
from shared.errors import MalformedMessage
from shared.messages import EventMessage, Kick
from shared.names import (
    QUEUE_APPOINTMENT,
    QUEUE_BED,
    QUEUE_ENCOUNTER,
    QUEUE_EVENTS,
    SERVICE_BUS_CONNECTION,
)
from shared.services import Services
from shared.sync.intake import store_event
from shared.sync.worker import sync_target
from shared.targets import Target

bp = func.Blueprint()  # type: ignore[no-untyped-call]


def handle_event(body: bytes, services: Services) -> object:
    try:
        event = EventMessage.model_validate_json(body)
    except ValidationError:
        raise MalformedMessage("orbit-events message is not an accepted Orbit event") from None
    return store_event(event, services.sync_ports())


def handle_kick(expected: Target, body: bytes, services: Services) -> object:
    try:
        kick = Kick.model_validate_json(body)
    except ValidationError:
        raise MalformedMessage(f"sync-{expected} message is not a kick") from None
    if kick.target is not expected:
        raise MalformedMessage(f"kick for {kick.target} arrived on the {expected} queue")
    return sync_target(kick, services.sync_ports())


@bp.function_name("orbit_event_intake")
@bp.service_bus_queue_trigger(
    arg_name="message",
    queue_name=QUEUE_EVENTS,
    connection=SERVICE_BUS_CONNECTION,
    is_sessions_enabled=True,
)
def orbit_event_intake(message: func.ServiceBusMessage) -> None:
    settle(message, QUEUE_EVENTS, handle_event)


@bp.function_name("sync_encounter")
@bp.service_bus_queue_trigger(
    arg_name="message",
    queue_name=QUEUE_ENCOUNTER,
    connection=SERVICE_BUS_CONNECTION,
    is_sessions_enabled=True,
)
def sync_encounter(message: func.ServiceBusMessage) -> None:
    settle(message, QUEUE_ENCOUNTER, lambda body, s: handle_kick(Target.ENCOUNTER, body, s))


@bp.function_name("sync_appointment")
@bp.service_bus_queue_trigger(
    arg_name="message",
    queue_name=QUEUE_APPOINTMENT,
    connection=SERVICE_BUS_CONNECTION,
    is_sessions_enabled=True,
)
def sync_appointment(message: func.ServiceBusMessage) -> None:
    settle(message, QUEUE_APPOINTMENT, lambda body, s: handle_kick(Target.APPOINTMENT, body, s))


@bp.function_name("sync_bed")
@bp.service_bus_queue_trigger(
    arg_name="message",
    queue_name=QUEUE_BED,
    connection=SERVICE_BUS_CONNECTION,
    is_sessions_enabled=True,
)
def sync_bed(message: func.ServiceBusMessage) -> None:
    settle(message, QUEUE_BED, lambda body, s: handle_kick(Target.BED, body, s))
