"""Dead-letter tools: what a resubmission looks like, the embedded backend, the
Service Bus backend against a fake SDK client (no emulator exists), the commands
and the CLI's confirmations."""

from __future__ import annotations

import datetime as dt
import io
import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from azure.servicebus import NEXT_AVAILABLE_SESSION, ServiceBusSubQueue
from azure.servicebus.exceptions import OperationTimeoutError, ServiceBusConnectionError

from shared.crosswalk.repository import Blocked, Crosswalk, TargetState
from shared.crosswalk.sqlite import SqliteTableStore
from shared.deadletters.embedded import EmbeddedDeadLetters
from shared.deadletters.operations import (
    describe_body,
    find_letter,
    group_by_reason,
    purge_letters,
    resubmit_letters,
)
from shared.deadletters.port import Letter, LetterNotFound
from shared.deadletters.resubmit import (
    RESUBMITTED_FROM,
    resubmission,
    resubmitted_body,
    resubmitted_message_id,
)
from shared.deadletters.servicebus import (
    Place,
    ServiceBusDeadLetters,
    letter_from_message,
    letter_id,
    parse_letter_id,
)
from shared.errors import QueueUnavailable
from shared.messages import EventMessage, Kick, KickCause, kick_outbound
from shared.names import ALL_TABLES, QUEUE_DEAD_LETTERS, QUEUE_ENCOUNTER, QUEUE_EVENTS
from shared.ops.resubmit_check import unfixed_cause
from shared.profiles import Profiles
from shared.queue.embedded import EmbeddedQueue
from shared.queue.port import DeadLetter
from shared.targets import Target
from tests.builders import make_snapshot
from tests.fakes import RecordingBus

NOW = dt.datetime(2026, 11, 22, 8, 0, tzinfo=dt.UTC)


def kick_body(booking: str = "OB-1", cause: KickCause = KickCause.EVENT) -> bytes:
    kick = Kick(booking_id=booking, target=Target.ENCOUNTER, cause=cause, note="v1")
    return kick_outbound(kick).body


def letter(
    letter_id: str = "1",
    *,
    reason: str = "rejected-by-millennium",
    booking: str = "OB-1",
    queue: str = QUEUE_ENCOUNTER,
    body: bytes | None = None,
) -> Letter:
    return Letter(
        id=letter_id,
        source_queue=queue,
        reason=reason,
        description="Millennium rejected ADT^A05 with AR",
        booking_id=booking,
        message_id=f"{booking}:encounter:event:v1",
        body=kick_body(booking) if body is None else body,
        properties={
            "correlationId": "c-1",
            "traceparent": "00-" + "1" * 32 + "-" + "2" * 16 + "-01",
            "DeadLetterReason": reason,
            "transientRetries": "3",
        },
    )


# --- resubmission ------------------------------------------------------------------------


def test_a_resubmitted_kick_says_resubmit_and_goes_back_to_its_queue_and_session():
    message = resubmission(letter())
    kick = Kick.model_validate_json(message.body)
    assert kick.cause is KickCause.RESUBMIT
    assert (kick.booking_id, kick.target, kick.note) == ("OB-1", Target.ENCOUNTER, "v1")
    assert (message.queue, message.session_id) == (QUEUE_ENCOUNTER, "OB-1")
    assert message.message_id.startswith("OB-1:encounter:event:v1|resubmit:")
    assert message.properties == {
        "correlationId": "c-1",
        "traceparent": "00-" + "1" * 32 + "-" + "2" * 16 + "-01",
        RESUBMITTED_FROM: "OB-1:encounter:event:v1",
    }


def test_every_resubmission_gets_a_fresh_message_id_of_legal_length():
    first, second = resubmission(letter()), resubmission(letter())
    assert first.message_id != second.message_id
    long = resubmission(letter(booking="B" * 120))
    assert len(long.message_id) <= 128


def test_resubmitting_a_resubmission_replaces_the_mark_so_the_id_does_not_grow():
    once = resubmitted_message_id("m" * 128)
    twice = resubmitted_message_id(once)

    assert len(once) == len(twice) == 128
    assert once != twice
    assert twice.count("|resubmit:") == 1


def test_an_event_and_a_malformed_kick_are_resent_unchanged():
    assert resubmitted_body(QUEUE_EVENTS, b'{"any": 1}') == b'{"any": 1}'
    assert resubmitted_body(QUEUE_ENCOUNTER, b"not json") == b"not json"


def event_body(booking: str = "OB-1") -> bytes:
    event = EventMessage(
        event_id="e-1",
        event_type="se.vgr.orbit.booking.created.v1",
        webhook_id="w",
        correlation_id="c",
        received_at=NOW,
        snapshot=make_snapshot(booking_id=booking),
    )
    return event.model_dump_json().encode()


def test_an_events_body_is_described_without_its_patient():
    snapshot = make_snapshot(booking_id="OB-1")
    described = describe_body(letter(queue=QUEUE_EVENTS, body=event_body()))
    assert described["event"]["bookingId"] == snapshot.booking_id
    text = json.dumps(described, ensure_ascii=False)
    assert snapshot.patient.identifier.value not in text
    assert snapshot.patient.family_name not in text


# --- embedded backend --------------------------------------------------------------------


@pytest.fixture
def queue(tmp_path):
    with EmbeddedQueue(tmp_path / "queue.sqlite3") as q:
        yield q


def park(queue: EmbeddedQueue, booking: str, reason: str = "rejected-by-millennium") -> None:
    queue.dead_letter(
        DeadLetter(
            source_queue=QUEUE_ENCOUNTER,
            body=kick_body(booking),
            session_id=booking,
            message_id=f"{booking}:encounter:event:v1",
            reason=reason,
            description="why",
            properties={"correlationId": "c"},
        )
    )


def test_embedded_resubmit_sends_the_resubmission_and_removes_the_letter(queue):
    park(queue, "OB-1")
    park(queue, "OB-2", reason="unmapped-location")
    store = EmbeddedDeadLetters(queue)
    letters = store.letters()
    assert [(x.booking_id, x.reason) for x in letters] == [
        ("OB-1", "rejected-by-millennium"),
        ("OB-2", "unmapped-location"),
    ]
    assert store.resubmit(letters[:1]) == [letters[0].id]
    [received] = queue.receive(QUEUE_ENCOUNTER, max_messages=5, wait=0)
    assert Kick.model_validate_json(received.body).cause is KickCause.RESUBMIT
    assert received.session_id == "OB-1"
    assert [x.booking_id for x in store.letters()] == ["OB-2"]
    # Repeating it is harmless: the letter is gone, nothing more is sent.
    assert store.resubmit(letters[:1]) == []


def test_embedded_purge_removes_only_what_is_named(queue):
    park(queue, "OB-1")
    park(queue, "OB-2")
    store = EmbeddedDeadLetters(queue)
    first, second = store.letters()
    assert store.purge([first]) == [first.id]
    assert store.purge([first]) == []
    assert store.letters() == [second]


def test_commands_group_by_reason_and_write_the_audit_trail(queue):
    for booking in ("OB-1", "OB-2"):
        park(queue, booking)
    park(queue, "OB-3", reason="unmapped-location")
    store = EmbeddedDeadLetters(queue)
    groups = group_by_reason(store.letters())
    assert [(g.reason, len(g.letters)) for g in groups] == [
        ("rejected-by-millennium", 2),
        ("unmapped-location", 1),
    ]
    table = SqliteTableStore(":memory:")
    table.create_tables(ALL_TABLES)
    crosswalk = Crosswalk(table)
    done = resubmit_letters(store, groups[0].letters, crosswalk=crosswalk, clock=lambda: NOW)
    assert len(done) == 2
    purge_letters(store, groups[1].letters, crosswalk=crosswalk, clock=lambda: NOW)
    [resubmitted] = crosswalk.audit_trail("OB-1")
    assert resubmitted["kind"] == "dead-letter-resubmitted"
    assert (
        resubmitted["target"] == "encounter" and resubmitted["reason"] == "rejected-by-millennium"
    )
    assert [row["kind"] for row in crosswalk.audit_trail("OB-3")] == ["dead-letter-purged"]
    with pytest.raises(LetterNotFound, match="deadletters list"):
        find_letter(store.letters(), "1")


# --- Service Bus backend -------------------------------------------------------------------


@dataclass
class SdkMessage:
    """The attributes of azure.servicebus.ServiceBusReceivedMessage the adapter reads."""

    sequence_number: int
    session_id: str | None
    message_id: str
    body: Any
    application_properties: dict[Any, Any] = field(default_factory=dict)
    dead_letter_reason: str | None = None
    dead_letter_error_description: str | None = None
    enqueued_time_utc: dt.datetime = NOW
    delivery_count: int = 1


class FakeReceiver:
    """A receiver over a list of messages, with peek-lock semantics."""

    def __init__(
        self, messages: list[SdkMessage], log: list[str], name: str, release: Any = None
    ) -> None:
        self.messages = messages
        self.log = log
        self.name = name
        self.locked: list[SdkMessage] = []
        self.release = release

    def __enter__(self) -> FakeReceiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def peek_messages(self, max_message_count: int, sequence_number: int = 0) -> list[SdkMessage]:
        found = [m for m in self.messages if m.sequence_number >= sequence_number]
        return found[:max_message_count]

    def receive_messages(self, max_message_count: int, max_wait_time: float) -> list[SdkMessage]:
        free = [m for m in self.messages if m not in self.locked][:max_message_count]
        self.locked += free
        return free

    def complete_message(self, message: SdkMessage) -> None:
        self.messages.remove(message)
        self.locked.remove(message)
        self.log.append(f"complete {self.name} {message.sequence_number}")

    def abandon_message(self, message: SdkMessage) -> None:
        self.locked.remove(message)
        message.delivery_count += 1
        self.log.append(f"abandon {self.name} {message.sequence_number}")

    def close(self) -> None:
        self.locked.clear()
        if self.release is not None:
            self.release()


class FakeClient:
    """``get_queue_receiver`` as the SDK offers it: a queue's dead-letter sub-queue,
    a named session, or the next session that nobody holds (else a timeout)."""

    def __init__(self) -> None:
        self.sub_queues: dict[str, list[SdkMessage]] = {}
        self.sessions: dict[str, list[SdkMessage]] = {}
        self.log: list[str] = []
        self._held: set[str] = set()
        self.down = False

    def get_queue_receiver(
        self,
        queue_name: str,
        *,
        session_id: Any = None,
        sub_queue: Any = None,
        max_wait_time: float | None = None,
    ) -> Any:
        if self.down:
            raise ServiceBusConnectionError(message="no route to the namespace")
        if sub_queue is ServiceBusSubQueue.DEAD_LETTER:
            return FakeReceiver(self.sub_queues.setdefault(queue_name, []), self.log, queue_name)
        assert queue_name == QUEUE_DEAD_LETTERS
        if session_id is NEXT_AVAILABLE_SESSION:
            free = [s for s, ms in self.sessions.items() if ms and s not in self._held]
            if not free:
                return _TimesOut()
            session_id = free[0]
        self._held.add(session_id)  # a session receiver holds the session lock
        messages = self.sessions.setdefault(session_id, [])
        return FakeReceiver(messages, self.log, session_id, lambda: self._held.discard(session_id))


class _TimesOut:
    def peek_messages(self, **kwargs: Any) -> list[SdkMessage]:
        raise OperationTimeoutError(message="no session available")

    def close(self) -> None:
        return None


def parked_copy(seq: int, booking: str, reason: str = "rejected-by-millennium") -> SdkMessage:
    return SdkMessage(
        sequence_number=seq,
        session_id=booking,
        message_id=f"{QUEUE_ENCOUNTER}/{booking}:encounter:event:v1",
        body=[kick_body(booking)],  # the SDK gives a data body as an iterable of bytes
        application_properties={
            b"DeadLetterReason": reason.encode(),
            b"DeadLetterErrorDescription": b"Millennium rejected ADT^A05",
            b"SourceQueue": QUEUE_ENCOUNTER.encode(),
            b"correlationId": b"c-1",
        },
    )


def native(seq: int, booking: str) -> SdkMessage:
    return SdkMessage(
        sequence_number=seq,
        session_id=booking,
        message_id=f"{booking}:encounter:retry:x",
        body=kick_body(booking),
        application_properties={"DeadLetterReason": "MaxDeliveryCountExceeded"},
        dead_letter_reason="MaxDeliveryCountExceeded",
        dead_letter_error_description="Message could not be consumed after 5 delivery attempts.",
        delivery_count=5,
    )


def test_ids_name_the_place_and_survive_a_round_trip():
    for place in (Place(QUEUE_DEAD_LETTERS, "OB-2026-000123"), Place(QUEUE_ENCOUNTER)):
        assert parse_letter_id(letter_id(place, 42)) == (place, 42)
    assert letter_id(Place(QUEUE_ENCOUNTER), 7) == "sync-encounter/dlq:7"
    for bad in ("7", "dead-letters:OB-1", "sync-encounter/dlq:x", ""):
        with pytest.raises(LetterNotFound, match="deadletters list"):
            parse_letter_id(bad)


def test_a_parked_copy_maps_to_its_source_queue_reason_and_booking():
    message = parked_copy(3, "OB-1")
    message.body = iter(message.body)  # received bodies are generators of bytes
    mapped = letter_from_message(Place(QUEUE_DEAD_LETTERS, "OB-1"), message)
    assert mapped.id == "dead-letters:OB-1:3"
    assert mapped.source_queue == QUEUE_ENCOUNTER
    assert (mapped.reason, mapped.description) == (
        "rejected-by-millennium",
        "Millennium rejected ADT^A05",
    )
    assert mapped.properties == {"correlationId": "c-1"}
    assert Kick.model_validate_json(mapped.body).booking_id == "OB-1"


def test_a_native_dead_letter_keeps_service_bus_reason_and_its_queue():
    mapped = letter_from_message(Place(QUEUE_ENCOUNTER), native(9, "OB-2"))
    assert (mapped.id, mapped.source_queue) == ("sync-encounter/dlq:9", QUEUE_ENCOUNTER)
    assert mapped.reason == "MaxDeliveryCountExceeded"
    assert mapped.description.startswith("Message could not be consumed")
    assert mapped.delivery_count == 5


@pytest.fixture
def service_bus() -> tuple[FakeClient, RecordingBus, ServiceBusDeadLetters]:
    client = FakeClient()
    client.sessions["OB-1"] = [parked_copy(1, "OB-1"), parked_copy(4, "OB-1", "application-error")]
    client.sessions["OB-2"] = [parked_copy(2, "OB-2")]
    client.sub_queues[QUEUE_ENCOUNTER] = [native(9, "OB-3")]
    bus = RecordingBus()
    return client, bus, ServiceBusDeadLetters(client, bus, wait_seconds=0)


def test_service_bus_lists_both_kinds_of_dead_letter_by_peeking(service_bus):
    client, _, store = service_bus
    letters = store.letters()
    assert sorted(x.id for x in letters) == [
        "dead-letters:OB-1:1",
        "dead-letters:OB-1:4",
        "dead-letters:OB-2:2",
        "sync-encounter/dlq:9",
    ]
    assert client.log == []  # peeking settles nothing


def test_service_bus_resubmit_sends_completes_the_named_and_abandons_the_rest(service_bus):
    client, bus, store = service_bus
    wanted = [x for x in store.letters() if x.id in {"dead-letters:OB-1:4", "sync-encounter/dlq:9"}]
    done = store.resubmit(wanted)
    assert sorted(done) == ["dead-letters:OB-1:4", "sync-encounter/dlq:9"]
    assert sorted((m.queue, m.session_id) for m in bus.sent) == [
        (QUEUE_ENCOUNTER, "OB-1"),
        (QUEUE_ENCOUNTER, "OB-3"),
    ]
    assert all(Kick.model_validate_json(m.body).cause is KickCause.RESUBMIT for m in bus.sent)
    assert "complete OB-1 4" in client.log and "complete sync-encounter 9" in client.log
    assert "abandon OB-1 1" in client.log  # received on the way, given back
    assert sorted(x.id for x in store.letters()) == ["dead-letters:OB-1:1", "dead-letters:OB-2:2"]
    assert store.resubmit(wanted) == []  # already gone: nothing sent again
    assert len(bus.sent) == 2


def test_service_bus_purge_completes_without_sending(service_bus):
    client, bus, store = service_bus
    [two] = [x for x in store.letters() if x.booking_id == "OB-2"]
    assert store.purge([two]) == [two.id]
    assert bus.sent == [] and client.log == ["complete OB-2 2"]


def test_service_bus_outages_become_queue_unavailable(service_bus):
    client, _, store = service_bus
    client.down = True
    with pytest.raises(QueueUnavailable, match="could not connect"):
        store.letters()


# --- the CLI -------------------------------------------------------------------------------


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("LOCAL_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("QUEUE_BACKEND", "embedded")
    monkeypatch.setenv("CROSSWALK_BACKEND", "sqlite")
    monkeypatch.setenv("OPS_ADMIN_SECRETS", "ops-key")
    with EmbeddedQueue(tmp_path / "queue.sqlite3") as q:
        park(q, "OB-1")
        park(q, "OB-2", reason="unmapped-location")
    return tmp_path


def cli(*argv: str, answer: str = "yes", env: dict[str, str] | None = None) -> tuple[int, str]:
    from tools.ops.__main__ import main

    out = io.StringIO()
    code = main(list(argv), out=out, confirm=lambda _: answer, environ=env or {})
    return code, out.getvalue()


def remaining(data_dir) -> list[str]:
    with EmbeddedQueue(data_dir / "queue.sqlite3") as q:
        return [x.session_id for x in q.dead_letters()]


def test_cli_lists_grouped_by_reason_and_shows_one(data_dir):
    code, text = cli("deadletters", "list")
    assert code == 0
    assert text.index("rejected-by-millennium: 1") < text.index("unmapped-location: 1")
    code, shown = cli("deadletters", "show", "1")
    assert code == 0 and "booking:       OB-1" in shown and '"cause": "event"' in shown
    assert cli("deadletters", "show", "99")[0] == 1


def test_cli_purge_asks_first_and_does_nothing_unless_confirmed(data_dir):
    code, text = cli("deadletters", "purge", "--reason", "unmapped-location", answer="no")
    assert code == 2 and "Nothing purged" in text
    assert remaining(data_dir) == ["OB-1", "OB-2"]
    code, _ = cli("deadletters", "purge", "--reason", "unmapped-location", answer="yes")
    assert code == 0 and remaining(data_dir) == ["OB-1"]
    code, _ = cli("deadletters", "purge", "1", "--yes", answer="no")
    assert code == 0 and remaining(data_dir) == []


def block(data_dir, booking: str, target: Target = Target.ENCOUNTER) -> None:
    store = SqliteTableStore(data_dir / "crosswalk.sqlite3")
    store.create_tables(ALL_TABLES)
    blocked = Blocked(reason="rejected-by-millennium", description="AR", fingerprint="f", at=NOW)
    Crosswalk(store).save_target(booking, TargetState(target, blocked=blocked))
    store.close()


def test_cli_purge_refuses_a_letter_whose_target_is_still_blocked(data_dir):
    block(data_dir, "OB-1")
    code, text = cli("deadletters", "purge", "1", "2", answer="no")
    assert "new version" not in text and remaining(data_dir) == ["OB-1", "OB-2"]
    code, text = cli("deadletters", "purge", "1", "2", "--yes")
    assert code == 0 and "1 of 2 purged" in text
    assert (
        "NOT purged: 1 (rejected-by-millennium): booking OB-1's encounter is still blocked "
        "by this; after a purge nothing could retry it. Fix the cause and resubmit"
    ) in text
    assert remaining(data_dir) == ["OB-1"]
    code, text = cli("deadletters", "purge", "1", "--json")
    assert code == 1 and [x["id"] for x in json.loads(text)["refused"]] == ["1"]
    assert remaining(data_dir) == ["OB-1"]


def test_cli_resubmit_by_id_and_refuses_ids_with_a_reason(data_dir):
    code, text = cli("deadletters", "resubmit", "1", "--reason", "unmapped-location")
    assert code == 2 and "not both" in text
    code, text = cli("deadletters", "resubmit", "1")
    assert code == 0 and "resubmitted: 1" in text
    assert remaining(data_dir) == ["OB-2"]
    code, text = cli("deadletters", "resubmit", "--reason", "no-such-reason")
    assert code == 1


def test_cli_names_each_letter_once_however_often_it_is_typed(data_dir):
    code, text = cli("deadletters", "resubmit", "1", "1")
    assert code == 0 and "1 of 1 resubmitted" in text
    with EmbeddedQueue(data_dir / "queue.sqlite3") as q:
        assert len(q.receive(QUEUE_ENCOUNTER, max_messages=5, wait=0)) == 1
    code, text = cli("deadletters", "purge", "2", "2", "--yes")
    assert code == 0 and "1 of 1 purged" in text
    assert remaining(data_dir) == []


def test_an_administration_mismatch_is_never_resubmitted_and_says_what_to_do():
    mismatch = letter(reason="administration-mismatch", queue=QUEUE_EVENTS, body=event_body())
    crosswalk = Crosswalk(SqliteTableStore(":memory:"))
    why = unfixed_cause(mismatch, crosswalk, Profiles({}))
    assert why is not None and "Orbit's vendor" in why and "purge" in why


def test_cli_shows_a_purge_not_a_resubmit_for_an_administration_mismatch(data_dir):
    with EmbeddedQueue(data_dir / "queue.sqlite3") as q:
        q.dead_letter(
            DeadLetter(
                source_queue=QUEUE_EVENTS,
                body=event_body("OB-3"),
                session_id="OB-3",
                message_id="e-1",
                reason="administration-mismatch",
                description="booking OB-3 belongs to SAS, but event e-1 (v1) comes from SU",
                properties={},
            )
        )
    code, shown = cli("deadletters", "show", "3")
    assert code == 0 and "Resubmit:" not in shown
    assert "Purge:    .venv/bin/python -m tools.ops deadletters purge 3" in shown
    code, text = cli("deadletters", "resubmit", "3")
    assert code == 1 and "NOT resubmitted: 3 (administration-mismatch)" in text
    assert "Orbit's vendor" in text and "0 of 1 resubmitted" in text
    assert remaining(data_dir) == ["OB-1", "OB-2", "OB-3"]


def test_cli_show_patient_needs_the_operators_key(data_dir):
    code, text = cli("booking", "OB-1", "--show-patient")
    assert code == 2 and "ORBITSYNC_OPS_KEY" in text
    code, text = cli("booking", "OB-1", "--show-patient", env={"ORBITSYNC_OPS_KEY": "wrong"})
    assert code == 2
