"""Settlement of queue messages, through the real trigger functions.

Each test calls a registered Service Bus trigger with a `func.ServiceBusMessage`
as the host would, and checks how the message was settled: completed, parked
in the dead-letter store with a reason, or copied for a later retry. An
exception that leaves the trigger makes the host redeliver at once and burns a
delivery count, so for anything but a failed retry copy none may leave it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.functions.servicebus import ServiceBusMessage

from functions.sync_workers import orbit_event_intake, sync_encounter
from shared.crosswalk.repository import Crosswalk, StoredSnapshot
from shared.crosswalk.sqlite import SqliteTableStore
from shared.errors import ConcurrencyConflict, PermanentError, TransientError
from shared.messages import EventMessage, Kick, KickCause
from shared.names import ALL_TABLES, QUEUE_ENCOUNTER, QUEUE_EVENTS
from shared.profiles import load_profiles
from shared.services import ServiceOverrides, Services, build_services, use_services
from shared.settings import read_settings
from shared.sync.settlement import (
    TRANSIENT_RETRY_DELAY,
    TRANSIENT_RETRY_LIMIT,
    QueueMessage,
    SettlementPorts,
    settle,
)
from shared.targets import Target
from tests.builders import make_snapshot
from tests.fakes import FixedClock, RecordingBus
from tests.sync_fakes import ScriptedMillennium

NOW = dt.datetime(2026, 11, 22, 8, 0, tzinfo=dt.UTC)
PROFILES = load_profiles(str(Path(__file__).resolve().parents[2] / "profiles"))


class RacingStore:
    """A `TableStore` whose conditional updates always lose the race (as if
    another worker kept changing the row); inserts succeed."""

    def __init__(self, store: Any) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def update(self, *args: Any, **kwargs: Any) -> Any:
        raise ConcurrencyConflict("the entity changed since it was read (test)")


@dataclasses.dataclass
class World:
    services: Services
    bus: RecordingBus
    store: Any


def _world(store: Any, **overrides: Any) -> Iterator[World]:
    bus = RecordingBus()
    services = build_services(
        read_settings(),
        ServiceOverrides(
            store=store,
            bus=bus,
            profiles=PROFILES,
            clock=FixedClock(NOW),
            **overrides,
        ),
    )
    use_services(services)
    yield World(services, bus, store)
    use_services(None)


def _sqlite() -> SqliteTableStore:
    store = SqliteTableStore(":memory:")
    store.create_tables(ALL_TABLES)
    return store


@pytest.fixture
def world() -> Iterator[World]:
    yield from _world(_sqlite(), link=ScriptedMillennium())


def sb_message(body: bytes, message_id: str, session_id: str, **properties: str) -> Any:
    """A message as the Functions host hands it to a Python trigger."""
    return ServiceBusMessage(
        body=body,
        message_id=message_id,
        session_id=session_id,
        application_properties=dict(properties),
        user_properties=dict(properties),
    )


def kick_message(booking_id: str = "OB-2026-000123", target: Target = Target.ENCOUNTER) -> Any:
    kick = Kick(booking_id=booking_id, target=target, cause=KickCause.EVENT, note="v1")
    return sb_message(
        kick.model_dump_json().encode(),
        f"{booking_id}:{target}:event:v1",
        booking_id,
        correlationId="c-1",
    )


def event_message(snapshot: Any) -> Any:
    event = EventMessage(
        event_id="e-1",
        event_type="se.vgr.orbit.booking.created.v1",
        webhook_id="w-1",
        correlation_id="c-1",
        received_at=NOW,
        snapshot=snapshot,
    )
    return sb_message(
        event.model_dump_json().encode(),
        f"{snapshot.administration}:{snapshot.booking_id}:v{snapshot.version}",
        snapshot.booking_id,
    )


def store_snapshot(store: Any, snapshot: Any) -> None:
    Crosswalk(store).save_snapshot(StoredSnapshot(snapshot, NOW, "e-1", "c-1"), None)


# --- regressions ---------------------------------------------------------------


def test_a_lost_concurrency_race_in_the_worker_is_retried_later_not_redelivered() -> None:
    """Regression: ConcurrencyConflict escaped settle() and burned a delivery count."""
    store = _sqlite()
    store_snapshot(store, make_snapshot())
    for world in _world(RacingStore(store), link=ScriptedMillennium()):
        sync_encounter(kick_message())  # must not raise
        copies = world.bus.on_queue(QUEUE_ENCOUNTER)
        assert [copy.message_id for copy in copies] == ["OB-2026-000123:encounter:event:v1~t1"]
        assert copies[0].scheduled_at == NOW + TRANSIENT_RETRY_DELAY
        assert world.bus.dead_letters == []


def test_a_lost_concurrency_race_at_intake_is_retried_later_not_redelivered() -> None:
    store = _sqlite()
    snapshot = make_snapshot(version=2)
    store_snapshot(store, make_snapshot(version=1))
    for world in _world(RacingStore(store), link=ScriptedMillennium()):
        orbit_event_intake(event_message(snapshot))  # must not raise
        assert [copy.message_id for copy in world.bus.on_queue(QUEUE_EVENTS)] == [
            f"SU:{snapshot.booking_id}:v2~t1"
        ]


def test_an_mllp_frame_byte_in_a_stored_text_is_escaped_and_the_booking_is_sent() -> None:
    """Regression: a 0x0B in a text raised FramingError out of sync_target, leaving
    the target unsent, unblocked and without a dead letter, on every delivery. The
    webhook refuses such text now; a snapshot stored before that may still hold it,
    and the renderer escapes it, so the message goes out without a frame byte."""
    snapshot = make_snapshot()
    patient = snapshot.patient.model_copy(update={"family_name": "Åker\x0bström"})
    snapshot = snapshot.model_copy(update={"patient": patient})
    store = _sqlite()
    store_snapshot(store, snapshot)
    millennium = ScriptedMillennium()
    for world in _world(store, link=millennium):
        sync_encounter(kick_message())  # must not raise
        assert world.bus.dead_letters == []
        (sent,) = millennium.sent
        assert "\x0b" not in sent.message and "\x1c" not in sent.message
        state = Crosswalk(store).load_targets(snapshot.booking_id)[Target.ENCOUNTER]
        assert state.confirmed is not None and state.blocked is None


def test_bytes_that_could_not_be_framed_are_refused_before_anything_is_recorded() -> None:
    """The HL7 channel's last guard: should a frame byte ever reach the bytes, the
    operation fails permanently (blocked, dead-lettered) instead of being stuck."""
    from shared.errors import UnsendableText
    from shared.hl7.channel import _check_frameable

    with pytest.raises(UnsendableText, match="0x1C at offset 3"):
        _check_frameable(b"MSH\x1c|", "ADT^A05", "KEY")
    _check_frameable(b"MSH|^~\\&|", "ADT^A05", "KEY")  # nothing to refuse


# --- the settlement policy as a plain function ---------------------------------------


def message(**overrides: Any) -> QueueMessage:
    values: dict[str, Any] = {
        "queue": QUEUE_ENCOUNTER,
        "body": b"{}",
        "session_id": "OB-1",
        "message_id": "OB-1:encounter:event:v1",
        "properties": {"correlationId": "c-1"},
    }
    return QueueMessage(**{**values, **overrides})


def ports(bus: RecordingBus) -> SettlementPorts:
    return SettlementPorts(bus, Crosswalk(_sqlite()), FixedClock(NOW))


def fail(error: BaseException) -> Any:
    def handle(body: bytes) -> object:
        raise error

    return handle


def test_a_handled_message_completes_with_nothing_sent() -> None:
    bus = RecordingBus()
    settle(message(), lambda body: None, ports(bus))
    assert bus.sent == [] and bus.dead_letters == []


def test_a_permanent_error_parks_the_message_with_its_reason_and_audits_it() -> None:
    bus = RecordingBus()
    settlement = ports(bus)
    error = PermanentError("booking OB-1: cannot be expressed (test)")
    settle(message(), fail(error), settlement)
    (letter,) = bus.dead_letters
    assert (letter.reason, letter.description) == ("permanent-error", str(error))
    assert (letter.session_id, letter.properties) == ("OB-1", {"correlationId": "c-1"})
    trail = settlement.crosswalk.audit_trail("OB-1")
    assert [(row["kind"], row["target"]) for row in trail] == [("dead-lettered", "encounter")]


def test_a_transient_error_schedules_a_copy_that_counts_its_retries() -> None:
    bus = RecordingBus()
    settle(message(properties={"transientRetries": "3"}), fail(TransientError("x")), ports(bus))
    (copy,) = bus.sent
    assert copy.message_id == "OB-1:encounter:event:v1~t4"
    assert copy.properties["transientRetries"] == "4"
    assert copy.scheduled_at == NOW + TRANSIENT_RETRY_DELAY


def test_past_the_retry_limit_the_transient_error_reaches_the_host() -> None:
    bus = RecordingBus()
    exhausted = message(properties={"transientRetries": str(TRANSIENT_RETRY_LIMIT)})
    with pytest.raises(TransientError):
        settle(exhausted, fail(TransientError("x")), ports(bus))
    assert bus.sent == []


def test_when_the_bus_is_down_too_the_error_reaches_the_host() -> None:
    bus = RecordingBus()
    bus.down = True
    with pytest.raises(TransientError):
        settle(message(), fail(TransientError("x")), ports(bus))


def test_a_malformed_body_is_dead_lettered_as_malformed(world: World) -> None:
    malformed = sb_message(b"not json", "m-1", "OB-1")
    sync_encounter(malformed)
    (letter,) = world.bus.dead_letters
    assert letter.reason == "malformed-message"


def test_a_kick_on_the_wrong_queue_is_dead_lettered_as_malformed(world: World) -> None:
    sync_encounter(kick_message(target=Target.BED))
    (letter,) = world.bus.dead_letters
    assert (letter.reason, letter.description) == (
        "malformed-message",
        "kick for bed arrived on the encounter queue",
    )
