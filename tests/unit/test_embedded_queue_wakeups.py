"""A message wakes one waiting receiver, not every one.

Four receivers wait on a queue with their poll set to a minute, so a receiver
looks at the file again only when it is woken. Every look is a write transaction;
waking all four for one message made three of them look in vain (6.8 empty
receives per delivered message in the local run, 1.05 after).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import shared.queue.embedded.queue as queue_module
from shared.queue.embedded import EmbeddedQueue, ReceivedMessage
from shared.queue.embedded.doorbell import arrivals_of, ring_datagram
from shared.queue.embedded.receive import Sessions
from shared.queue.embedded.wakeups import Wakeups
from shared.queue.port import OutboundMessage
from tests.waiting import wait_for

Q = "sync-encounter"
RECEIVERS = 4


class CountingSessions(Sessions):
    """Counts the looks (receive transactions) at the queue."""

    def __init__(self, sessions: Sessions) -> None:
        self.__dict__.update(sessions.__dict__)
        self.looks = 0
        self._guard = threading.Lock()

    def take(self, *args: object, **kwargs: object) -> list[ReceivedMessage]:
        with self._guard:
            self.looks += 1
        return super().take(*args, **kwargs)  # type: ignore[arg-type]


@pytest.fixture()
def queue(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[EmbeddedQueue]:
    monkeypatch.setattr(queue_module, "CROSS_PROCESS_POLL", 60.0)
    queue = EmbeddedQueue(tmp_path / "queue.sqlite3")
    queue._sessions = CountingSessions(queue._sessions)
    yield queue
    queue.close()


def _looks(queue: EmbeddedQueue) -> int:
    return queue._sessions.looks  # type: ignore[attr-defined, no-any-return]


def _message(n: int, session: str | None = None) -> OutboundMessage:
    return OutboundMessage(queue=Q, body=b"{}", session_id=session or f"OB-{n}", message_id=f"m{n}")


class Receivers:
    """Threads that each receive once, waiting up to a minute."""

    def __init__(self, queue: EmbeddedQueue, count: int) -> None:
        self.received: list[ReceivedMessage] = []
        self._guard = threading.Lock()
        self._threads = [
            threading.Thread(target=self._receive, args=(queue,), daemon=True) for _ in range(count)
        ]
        for thread in self._threads:
            thread.start()

    def _receive(self, queue: EmbeddedQueue) -> None:
        got = queue.receive(Q, wait=60.0)
        with self._guard:
            self.received += got

    def join(self) -> None:
        for thread in self._threads:
            thread.join(30)
        assert not any(thread.is_alive() for thread in self._threads)


def test_one_message_wakes_one_of_the_waiting_receivers(queue: EmbeddedQueue) -> None:
    receivers = Receivers(queue, RECEIVERS)
    assert wait_for(lambda: _looks(queue) == RECEIVERS, 10), "receivers never looked"
    time.sleep(0.1)  # inside their waits
    queue.send([_message(1)])
    assert wait_for(lambda: len(receivers.received) == 1, 10)
    # A woken receiver looks within milliseconds; give the other three a second.
    wait_for(lambda: _looks(queue) > RECEIVERS + 1, 1.0)
    assert _looks(queue) == RECEIVERS + 1
    queue.send([_message(n) for n in range(2, RECEIVERS + 1)])  # one each for the rest
    receivers.join()
    assert sorted(m.message_id for m in receivers.received) == ["m1", "m2", "m3", "m4"]


def test_completing_a_sessions_last_message_wakes_nobody(queue: EmbeddedQueue) -> None:
    queue.send([_message(1)])
    taken = queue.receive(Q)
    receivers = Receivers(queue, 1)
    assert wait_for(lambda: _looks(queue) == 2, 10)
    time.sleep(0.1)
    queue.complete_many(taken)
    wait_for(lambda: _looks(queue) > 2, 1.0)
    assert _looks(queue) == 2, "a receiver looked although nothing became receivable"
    queue.send([_message(2)])
    receivers.join()


def test_completing_hands_the_sessions_next_message_to_a_waiting_receiver(
    queue: EmbeddedQueue,
) -> None:
    queue.send([_message(1, "OB-1"), _message(2, "OB-1")])
    taken = queue.receive(Q)  # locks the session: its second message waits
    receivers = Receivers(queue, 1)
    assert wait_for(lambda: _looks(queue) == 2, 10)
    time.sleep(0.1)
    queue.complete_many(taken)
    receivers.join()
    assert [m.message_id for m in receivers.received] == ["m2"]


def test_wake_counts_per_queue_and_ignores_counts_below_one() -> None:
    wakeups = Wakeups()
    before = {q: wakeups.generation(q) for q in ("a", "b")}
    wakeups.wake({"a": 2, "b": 0})
    assert wakeups.generation("a") == before["a"] + 1
    assert wakeups.generation("b") == before["b"]


def test_a_ring_carries_the_counts_and_tolerates_a_bare_queue_name() -> None:
    arrivals = {"orbit-events": 1, "sync-bed": 3}
    assert arrivals_of(ring_datagram(arrivals)) == arrivals
    assert arrivals_of(b"sync-bed\nsync-bed 2\n") == {"sync-bed": 3}


def test_a_ring_never_exceeds_a_datagram_and_cuts_whole_lines() -> None:
    arrivals = {f"queue-{n:04d}": n for n in range(1000)}
    datagram = ring_datagram(arrivals)
    assert 0 < len(datagram) <= 4096
    assert all(arrivals[q] == n for q, n in arrivals_of(datagram).items())
