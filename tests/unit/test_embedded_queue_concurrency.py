"""The embedded queue under threads: one receiver per session at a time, sessions in
parallel, every message exactly once and in order; waiting receivers wake on send."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from pathlib import Path

import pytest

from shared.queue.embedded import EmbeddedQueue
from shared.queue.port import OutboundMessage
from tests.queue_file import queue_counts

Q = "sync-appointment"
SESSIONS = 30
PER_SESSION = 5
THREADS = 6
WAIT = 10.0


def kick(session: int, number: int) -> OutboundMessage:
    return OutboundMessage(
        queue=Q,
        body=f"{session}:{number}".encode(),
        session_id=f"booking-{session}",
        message_id=f"booking-{session}:kick-{number}",
    )


class Observer:
    """Records what the receivers did, and any overlap within one session."""

    def __init__(self) -> None:
        self.guard = threading.Lock()
        self.holders: dict[str, int] = defaultdict(int)
        self.overlaps_within_a_session = 0
        self.most_sessions_at_once = 0
        self.order: dict[str, list[int]] = defaultdict(list)
        self.processed = 0

    def start(self, session: str) -> None:
        with self.guard:
            self.holders[session] += 1
            if self.holders[session] > 1:
                self.overlaps_within_a_session += 1
            busy = sum(1 for count in self.holders.values() if count)
            self.most_sessions_at_once = max(self.most_sessions_at_once, busy)

    def finish(self, session: str, number: int) -> None:
        with self.guard:
            self.holders[session] -= 1
            self.order[session].append(number)
            self.processed += 1


def test_sessions_run_in_parallel_but_each_one_serially_and_in_order(tmp_path: Path) -> None:
    path = tmp_path / "queue.sqlite3"
    queue = EmbeddedQueue(path)
    # Interleaved batches: each carries the next message of every session.
    for number in range(PER_SESSION):
        queue.send([kick(session, number) for session in range(SESSIONS)])
    observer = Observer()
    total = SESSIONS * PER_SESSION

    def receiver() -> None:
        while observer.processed < total:
            for message in queue.receive(Q, wait=0.05):
                observer.start(message.session_id)
                time.sleep(0.002)  # the "work": lets other threads run meanwhile
                observer.finish(message.session_id, int(message.body.split(b":")[1]))
                assert queue.complete_many([message]) == []

    threads = [threading.Thread(target=receiver) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert observer.processed == total
    assert observer.overlaps_within_a_session == 0
    assert observer.most_sessions_at_once > 1
    assert all(order == list(range(PER_SESSION)) for order in observer.order.values())
    assert len(observer.order) == SESSIONS
    assert queue_counts(path, time.time()) == {}
    queue.close()


def test_a_waiting_receiver_wakes_when_another_thread_sends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No re-check within the wait: only the in-process wake-up can end it early.
    monkeypatch.setattr("shared.queue.embedded.queue.CROSS_PROCESS_POLL", 3600.0)
    queue = EmbeddedQueue(tmp_path / "queue.sqlite3")
    assert queue.receive(Q, wait=0.01) == []  # nothing came: the wait ends empty
    received: list[str] = []
    waited: list[float] = []

    def waiter() -> None:
        started = time.monotonic()
        received.extend(m.message_id for m in queue.receive(Q, wait=WAIT))
        waited.append(time.monotonic() - started)

    thread = threading.Thread(target=waiter)
    thread.start()
    timer = threading.Timer(0.05, lambda: queue.send([kick(1, 0)]))
    timer.start()
    thread.join(timeout=WAIT + 30)
    timer.join()

    assert received == ["booking-1:kick-0"]
    assert waited[0] < WAIT  # woken by the send, not by the end of the wait
    queue.close()


def test_a_receiver_in_another_instance_finds_messages_by_polling(tmp_path: Path) -> None:
    path = tmp_path / "queue.sqlite3"
    sender, receiver = EmbeddedQueue(path), EmbeddedQueue(path)
    timer = threading.Timer(0.05, lambda: sender.send([kick(1, 0)]))
    timer.start()

    received = receiver.receive(Q, wait=30)

    timer.join()
    assert [m.message_id for m in received] == ["booking-1:kick-0"]
    sender.close()
    receiver.close()


def test_concurrent_senders_each_get_their_batch_stored_whole(tmp_path: Path) -> None:
    # Sends from several threads share transactions (group commit); each must still
    # be stored completely and be visible once its send returned.
    queue = EmbeddedQueue(tmp_path / "queue.sqlite3")
    seen_after_return: list[bool] = []

    def sender(thread: int) -> None:
        for batch in range(50):
            session = thread * 1000 + batch
            queue.send([kick(session, number) for number in range(3)])
            seen_after_return.append(queue.next_due(Q) is not None)

    threads = [threading.Thread(target=sender, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert all(seen_after_return) and len(seen_after_return) == 400
    per_session: dict[str, int] = defaultdict(int)
    while received := queue.receive(Q, max_messages=10, max_sessions=50):
        for message in received:
            per_session[message.session_id] += 1
        assert not queue.complete_many(received)
    assert len(per_session) == 400
    assert set(per_session.values()) == {3}
    queue.close()
