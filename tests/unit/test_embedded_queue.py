"""The embedded queue's Service Bus semantics: sessions, peek-lock, delivery count,
dead letters, scheduled messages and duplicate detection (a fake clock; no sleeps)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from shared.errors import QueueUnavailable
from shared.queue.embedded import (
    MAX_DELIVERY_COUNT_EXCEEDED,
    DeadLetterNotFound,
    EmbeddedQueue,
    LockLost,
    ReceivedMessage,
)
from shared.queue.port import DeadLetter, OutboundMessage
from tests.queue_file import QueueCounts, queue_counts

Q = "sync-encounter"
OTHER_Q = "sync-bed"
START = 1_800_000_000.0
FILE_NAME = "queue.sqlite3"

Counts = Callable[[], dict[str, QueueCounts]]


class FakeClock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def queue(tmp_path: Path, clock: FakeClock) -> Iterator[EmbeddedQueue]:
    with EmbeddedQueue(
        tmp_path / FILE_NAME,
        lock_duration=30,
        max_delivery_count=3,
        duplicate_window=600,
        clock=clock,
    ) as opened:
        yield opened


@pytest.fixture
def counts(tmp_path: Path, clock: FakeClock) -> Counts:
    """What the ``queue`` fixture's file holds now, per queue (an empty one is missing)."""
    return lambda: queue_counts(tmp_path / FILE_NAME, clock.now)


def msg(
    message_id: str,
    session_id: str = "booking-1",
    *,
    queue: str = Q,
    scheduled_at: dt.datetime | None = None,
    properties: dict[str, str] | None = None,
) -> OutboundMessage:
    return OutboundMessage(
        queue=queue,
        body=f"body of {message_id}".encode(),
        session_id=session_id,
        message_id=message_id,
        scheduled_at=scheduled_at,
        properties=properties or {},
    )


def at(seconds_from_start: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(START + seconds_from_start, tz=dt.UTC)


def receive_one(queue: EmbeddedQueue, name: str = Q) -> ReceivedMessage:
    received = queue.receive(name)
    assert len(received) == 1, received
    return received[0]


def complete(queue: EmbeddedQueue, message: ReceivedMessage) -> None:
    """Complete one message as the dispatcher does, and check its lock held."""
    assert queue.complete_many([message]) == []


def drain_ids(queue: EmbeddedQueue, name: str = Q) -> list[str]:
    """Receive and complete everything receivable now, one at a time."""
    ids = []
    while received := queue.receive(name):
        for message in received:
            ids.append(message.message_id)
            complete(queue, message)
    return ids


# --- send and receive ---------------------------------------------------------------


def test_a_received_message_carries_what_was_sent(queue: EmbeddedQueue) -> None:
    queue.send([msg("m1", properties={"correlationId": "c-1"})])

    received = receive_one(queue)

    assert received.queue == Q
    assert received.body == b"body of m1"
    assert received.session_id == "booking-1"
    assert received.message_id == "m1"
    assert received.properties == {"correlationId": "c-1"}
    assert received.delivery_count == 1
    assert received.enqueued_at == dt.datetime.fromtimestamp(START, tz=dt.UTC)
    assert received.lock_token


def test_sequence_numbers_grow_with_every_send(queue: EmbeddedQueue) -> None:
    queue.send([msg("m1", "s1"), msg("m2", "s2")])
    queue.send([msg("m3", "s3")])

    numbers = [m.sequence_number for m in queue.receive(Q, max_sessions=3)]

    assert sorted(numbers) == numbers
    assert len(set(numbers)) == 3


def test_queues_are_separate(queue: EmbeddedQueue) -> None:
    queue.send([msg("m1", queue=Q), msg("m2", queue=OTHER_Q)])

    assert drain_ids(queue, OTHER_Q) == ["m2"]
    assert drain_ids(queue, Q) == ["m1"]


def test_receive_on_an_empty_queue_returns_nothing(queue: EmbeddedQueue) -> None:
    assert queue.receive(Q) == []


def test_a_completed_message_is_gone(queue: EmbeddedQueue, counts: Counts) -> None:
    queue.send([msg("m1")])
    complete(queue, receive_one(queue))

    assert queue.receive(Q) == []
    assert counts() == {}


def test_ids_longer_than_service_bus_allows_are_refused(
    queue: EmbeddedQueue, counts: Counts
) -> None:
    with pytest.raises(ValueError, match="message id"):
        queue.send([msg("m" * 129)])
    with pytest.raises(ValueError, match="session id"):
        queue.send([msg("m1", session_id="")])
    assert counts() == {}


def test_non_string_properties_are_refused(queue: EmbeddedQueue) -> None:
    bad = OutboundMessage(Q, b"x", "s", "m1", properties={"attempt": 3})  # type: ignore[dict-item]

    with pytest.raises(ValueError, match="properties"):
        queue.send([bad])


def test_a_batch_with_one_invalid_message_stores_nothing(queue: EmbeddedQueue) -> None:
    with pytest.raises(ValueError):
        queue.send([msg("good"), msg("x" * 200)])

    assert queue.receive(Q) == []


# --- sessions -----------------------------------------------------------------------


def test_a_session_is_delivered_in_send_order(queue: EmbeddedQueue) -> None:
    queue.send([msg("m1"), msg("m2")])
    queue.send([msg("m3")])
    queue.send([msg("m4"), msg("m5")])

    assert drain_ids(queue) == ["m1", "m2", "m3", "m4", "m5"]


def test_a_locked_session_gives_nothing_more_until_settled(queue: EmbeddedQueue) -> None:
    queue.send([msg("m1"), msg("m2")])
    first = receive_one(queue)

    assert queue.receive(Q) == []  # m2 waits for m1: same session

    complete(queue, first)
    assert receive_one(queue).message_id == "m2"


def test_other_sessions_proceed_while_one_is_locked(queue: EmbeddedQueue) -> None:
    queue.send([msg("a1", "A"), msg("a2", "A"), msg("b1", "B"), msg("c1", "C")])

    held = receive_one(queue)
    others = [receive_one(queue), receive_one(queue)]

    assert held.message_id == "a1"
    assert {m.message_id for m in others} == {"b1", "c1"}
    assert queue.receive(Q) == []


def test_max_messages_takes_several_of_one_session_in_order(queue: EmbeddedQueue) -> None:
    queue.send([msg("m1"), msg("m2"), msg("m3"), msg("x1", "other")])

    batch = queue.receive(Q, max_messages=2)

    assert [m.message_id for m in batch] == ["m1", "m2"]
    assert len({m.lock_token for m in batch}) == 1  # one session lock


def test_session_stays_locked_until_every_handed_out_message_is_settled(
    queue: EmbeddedQueue,
) -> None:
    queue.send([msg("m1"), msg("m2"), msg("m3")])
    first, second = queue.receive(Q, max_messages=2)

    complete(queue, first)
    assert queue.receive(Q) == []

    complete(queue, second)
    assert receive_one(queue).message_id == "m3"


def test_max_sessions_locks_several_sessions_in_one_receive(queue: EmbeddedQueue) -> None:
    queue.send([msg("a1", "A"), msg("a2", "A"), msg("b1", "B"), msg("c1", "C")])

    batch = queue.receive(Q, max_sessions=2)

    assert [m.message_id for m in batch] == ["a1", "b1"]
    assert batch[0].lock_token != batch[1].lock_token
    assert [m.message_id for m in queue.receive(Q, max_sessions=5)] == ["c1"]


def test_complete_many_settles_in_one_call_and_reports_lost_locks(
    queue: EmbeddedQueue, clock: FakeClock
) -> None:
    queue.send([msg("a1", "A"), msg("b1", "B")])
    early = queue.receive(Q)
    clock.advance(20)
    late = queue.receive(Q)
    clock.advance(15)  # the first lock (taken at 0) expired at 30; the second holds

    lost = queue.complete_many([*early, *late])

    assert [m.message_id for m in lost] == ["a1"]
    assert drain_ids(queue) == ["a1"]


def test_a_second_queue_instance_on_the_same_file_respects_session_locks(
    tmp_path: Path,
) -> None:
    path = tmp_path / "shared.sqlite3"
    with EmbeddedQueue(path) as one, EmbeddedQueue(path) as two:
        one.send([msg("a1", "A"), msg("a2", "A"), msg("b1", "B")])

        held = receive_one(one)
        other = receive_one(two)

        assert (held.message_id, other.message_id) == ("a1", "b1")
        assert two.receive(Q) == []
        complete(one, held)
        assert receive_one(two).message_id == "a2"


# --- duplicate detection --------------------------------------------------------------


def test_a_duplicate_within_the_window_is_dropped(queue: EmbeddedQueue, clock: FakeClock) -> None:
    queue.send([msg("m1")])
    clock.advance(599)
    queue.send([msg("m1")])

    assert drain_ids(queue) == ["m1"]


def test_a_duplicate_is_dropped_even_after_the_original_was_completed(
    queue: EmbeddedQueue, clock: FakeClock
) -> None:
    queue.send([msg("m1")])
    complete(queue, receive_one(queue))
    clock.advance(60)
    queue.send([msg("m1")])

    assert queue.receive(Q) == []


def test_a_duplicate_inside_one_batch_is_dropped(queue: EmbeddedQueue) -> None:
    queue.send([msg("m1"), msg("m1"), msg("m2")])

    assert drain_ids(queue) == ["m1", "m2"]


def test_the_same_id_after_the_window_is_accepted(queue: EmbeddedQueue, clock: FakeClock) -> None:
    queue.send([msg("m1")])
    complete(queue, receive_one(queue))
    clock.advance(601)
    queue.send([msg("m1")])  # also prunes the remembered ids

    assert drain_ids(queue) == ["m1"]


def test_duplicate_detection_is_per_queue(queue: EmbeddedQueue) -> None:
    queue.send([msg("m1", queue=Q), msg("m1", queue=OTHER_Q)])

    assert drain_ids(queue, Q) == ["m1"]
    assert drain_ids(queue, OTHER_Q) == ["m1"]


# --- scheduled messages -----------------------------------------------------------------


def test_a_scheduled_message_is_invisible_until_its_time(
    queue: EmbeddedQueue, clock: FakeClock, counts: Counts
) -> None:
    queue.send([msg("later", scheduled_at=at(90))])

    assert queue.receive(Q) == []
    assert queue.next_due(Q) == pytest.approx(90)
    assert counts()[Q] == QueueCounts(active=0, scheduled=1)

    clock.advance(89.5)
    assert queue.receive(Q) == []
    assert queue.next_due(Q) == pytest.approx(0.5)

    clock.advance(0.5)
    assert receive_one(queue).message_id == "later"


def test_messages_sent_before_activation_go_first(queue: EmbeddedQueue, clock: FakeClock) -> None:
    queue.send([msg("scheduled", scheduled_at=at(60))])
    queue.send([msg("now")])

    assert drain_ids(queue) == ["now"]
    clock.advance(60)
    queue.send([msg("after-activation")])
    assert drain_ids(queue) == ["scheduled", "after-activation"]


def test_a_naive_scheduled_time_is_taken_as_utc(queue: EmbeddedQueue, clock: FakeClock) -> None:
    naive = at(30).replace(tzinfo=None)
    queue.send([msg("m1", scheduled_at=naive)])

    clock.advance(29)
    assert queue.receive(Q) == []
    clock.advance(1)
    assert receive_one(queue).message_id == "m1"


def test_has_work_sees_ready_and_locked_messages_and_optionally_scheduled(
    queue: EmbeddedQueue, clock: FakeClock
) -> None:
    assert not queue.has_work(Q, include_scheduled=True)

    queue.send([msg("later", "A", scheduled_at=at(120))])
    assert not queue.has_work(Q)
    assert queue.has_work(Q, include_scheduled=True)

    queue.send([msg("now", "B")])
    assert queue.has_work(Q)
    held = receive_one(queue)
    assert queue.has_work(Q)  # in flight counts as work
    assert not queue.has_work(OTHER_Q)

    complete(queue, held)
    assert not queue.has_work(Q)
    clock.advance(120)
    assert queue.has_work(Q)


def test_next_due_is_none_without_messages_and_zero_when_ready(queue: EmbeddedQueue) -> None:
    assert queue.next_due(Q) is None
    queue.send([msg("m1")])
    assert queue.next_due(Q) == 0.0
    assert queue.next_due(OTHER_Q) is None


def test_next_due_includes_the_expiry_of_a_lock(queue: EmbeddedQueue, clock: FakeClock) -> None:
    queue.send([msg("m1")])
    receive_one(queue)
    clock.advance(10)

    assert queue.next_due(Q) == pytest.approx(20)  # the lock ends 30 s after receive


# --- abandon, delivery count, lock expiry ------------------------------------------------


def test_abandon_redelivers_the_same_message_first_with_a_higher_count(
    queue: EmbeddedQueue,
) -> None:
    queue.send([msg("m1"), msg("m2")])

    queue.abandon(receive_one(queue))
    again = receive_one(queue)

    assert (again.message_id, again.delivery_count) == ("m1", 2)


def test_after_the_last_delivery_abandon_dead_letters(queue: EmbeddedQueue) -> None:
    queue.send([msg("m1", properties={"correlationId": "c-9"}), msg("m2")])

    counts = []
    for _ in range(3):  # max_delivery_count=3
        received = receive_one(queue)
        counts.append(received.delivery_count)
        queue.abandon(received)

    assert counts == [1, 2, 3]
    [letter] = queue.dead_letters()
    assert (letter.queue, letter.reason) == (Q, MAX_DELIVERY_COUNT_EXCEEDED)
    assert "3 delivery attempts" in letter.description
    assert (letter.message_id, letter.session_id, letter.body) == ("m1", "booking-1", b"body of m1")
    assert letter.properties == {"correlationId": "c-9"}
    assert letter.delivery_count == 3
    assert receive_one(queue).message_id == "m2"  # the session moves on


def test_an_expired_lock_makes_the_message_receivable_again(
    queue: EmbeddedQueue, clock: FakeClock
) -> None:
    queue.send([msg("m1")])
    first = receive_one(queue)

    clock.advance(29.9)
    assert queue.receive(Q) == []
    clock.advance(0.1)
    again = receive_one(queue)

    assert (again.message_id, again.delivery_count) == ("m1", 2)
    assert again.lock_token != first.lock_token


def test_settling_after_the_lock_expired_reports_the_lock_lost(
    queue: EmbeddedQueue, clock: FakeClock
) -> None:
    queue.send([msg("m1")])
    stale = receive_one(queue)
    clock.advance(31)

    assert queue.complete_many([stale]) == [stale]
    with pytest.raises(LockLost):
        queue.abandon(stale)
    assert receive_one(queue).message_id == "m1"  # nothing was lost


def test_a_stale_receiver_cannot_settle_the_new_receivers_message(
    queue: EmbeddedQueue, clock: FakeClock, counts: Counts
) -> None:
    queue.send([msg("m1")])
    stale = receive_one(queue)
    clock.advance(31)
    current = receive_one(queue)

    assert queue.complete_many([stale]) == [stale]
    with pytest.raises(LockLost):
        queue.abandon(stale)
    assert counts() == {Q: QueueCounts(active=1, locked=1)}
    complete(queue, current)
    assert counts() == {}


def test_completing_twice_reports_the_lock_lost(queue: EmbeddedQueue) -> None:
    queue.send([msg("m1")])
    received = receive_one(queue)
    complete(queue, received)

    assert queue.complete_many([received]) == [received]
    with pytest.raises(LockLost):
        queue.abandon(received)


def test_expired_locks_count_deliveries_up_to_the_dead_letter(
    queue: EmbeddedQueue, clock: FakeClock
) -> None:
    queue.send([msg("m1")])
    for _ in range(3):
        receive_one(queue)
        clock.advance(31)  # the receiver died each time

    assert queue.receive(Q) == []
    [letter] = queue.dead_letters()
    assert (letter.reason, letter.delivery_count) == (MAX_DELIVERY_COUNT_EXCEEDED, 3)


def test_the_dead_letter_view_shows_letters_from_expired_locks_without_a_receive(
    queue: EmbeddedQueue, clock: FakeClock, counts: Counts
) -> None:
    queue.send([msg("m1")])
    for _ in range(3):
        receive_one(queue)
        clock.advance(31)

    assert [p.reason for p in queue.dead_letters()] == [MAX_DELIVERY_COUNT_EXCEEDED]
    assert counts() == {Q: QueueCounts(dead_lettered=1)}


def test_a_lock_held_by_a_closed_queue_expires_for_a_new_one(
    tmp_path: Path, clock: FakeClock
) -> None:
    path = tmp_path / "queue.sqlite3"
    with EmbeddedQueue(path, clock=clock) as crashed:
        crashed.send([msg("m1")])
        receive_one(crashed)

    with EmbeddedQueue(path, clock=clock) as restarted:
        assert restarted.receive(Q) == []
        clock.advance(30)
        again = receive_one(restarted)
    assert (again.message_id, again.delivery_count) == ("m1", 2)


# --- dead letters and the operator API ----------------------------------------------------


def letter(message_id: str = "m1", **overrides: str) -> DeadLetter:
    fields = {
        "source_queue": Q,
        "body": b"kick",
        "session_id": "booking-1",
        "message_id": message_id,
        "reason": "unmapped-location",
        "description": "HSA-id SE2321000016-1234 has no location code in profile SU",
    }
    fields.update(overrides)
    return DeadLetter(**fields, properties={"correlationId": "c-3"})  # type: ignore[arg-type]


def test_dead_letter_is_listed_with_its_reason(
    queue: EmbeddedQueue, clock: FakeClock, counts: Counts
) -> None:
    clock.advance(5)
    queue.dead_letter(letter())

    [parked] = queue.dead_letters()
    assert parked.queue == Q
    assert parked.reason == "unmapped-location"
    assert parked.description.startswith("HSA-id SE2321000016-1234")
    assert (parked.message_id, parked.session_id, parked.body) == ("m1", "booking-1", b"kick")
    assert parked.properties == {"correlationId": "c-3"}
    assert parked.dead_lettered_at == dt.datetime.fromtimestamp(START + 5, tz=dt.UTC)
    assert counts() == {Q: QueueCounts(dead_lettered=1)}


def test_parking_the_same_message_twice_keeps_one_letter(queue: EmbeddedQueue) -> None:
    queue.dead_letter(letter())
    queue.dead_letter(letter())
    queue.dead_letter(letter("m2"))

    assert [p.message_id for p in queue.dead_letters()] == ["m1", "m2"]


def test_purge_deletes_the_letter(queue: EmbeddedQueue) -> None:
    queue.dead_letter(letter())
    [parked] = queue.dead_letters()

    queue.purge_dead_letter(parked.id)

    assert queue.dead_letters() == []
    with pytest.raises(DeadLetterNotFound):
        queue.purge_dead_letter(parked.id)


def test_the_file_holds_each_queues_messages_by_state(queue: EmbeddedQueue, counts: Counts) -> None:
    queue.send([msg("a1", "A"), msg("a2", "A"), msg("b1", "B"), msg("s1", scheduled_at=at(60))])
    queue.send([msg("o1", queue=OTHER_Q)])
    queue.dead_letter(letter("gone", source_queue=OTHER_Q))
    receive_one(queue)

    assert counts() == {
        Q: QueueCounts(active=3, scheduled=1, dead_lettered=0, locked=1),
        OTHER_Q: QueueCounts(active=1, scheduled=0, dead_lettered=1, locked=0),
    }


# --- durability and errors -----------------------------------------------------------------


def test_messages_survive_closing_and_reopening(tmp_path: Path) -> None:
    path = tmp_path / "queue.sqlite3"
    with EmbeddedQueue(path) as before:
        before.send([msg("m1"), msg("m2", "other")])

    with EmbeddedQueue(path) as after:
        assert sorted(drain_ids(after)) == ["m1", "m2"]


def test_an_unopenable_file_raises_queue_unavailable(tmp_path: Path) -> None:
    with pytest.raises(QueueUnavailable):
        EmbeddedQueue(tmp_path / "missing-folder" / "queue.sqlite3")


def test_a_zero_lock_duration_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="lock_duration"):
        EmbeddedQueue(tmp_path / "queue.sqlite3", lock_duration=0)
