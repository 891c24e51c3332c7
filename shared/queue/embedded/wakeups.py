"""Waking receivers of this process when a queue changes.

A send, an abandon, or a complete that hands a session's next message on, bumps
the queue's generation and wakes as many of the threads waiting on it as there
are messages that may have become receivable: one receiver takes a session, so
waking every waiter for one message only made the others look in vain, each in a
transaction of its own, on the thread that the message was waiting for. A thread
that is not waiting (busy with a message) looks again when it is done. A change
made by another process wakes them through the doorbell (``doorbell``); as a
datagram may be lost, a waiting receive also re-checks every
``CROSS_PROCESS_POLL`` seconds.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

CROSS_PROCESS_POLL = 0.25
"""The doorbell's datagram from another process is only a hint, so waiting re-checks this often."""


class Wakeups:
    """A generation counter and a condition per queue."""

    def __init__(self) -> None:
        self._conditions: dict[str, threading.Condition] = {}
        self._generations: dict[str, int] = {}
        self._guard = threading.Lock()

    def generation(self, queue: str) -> int:
        """Take it before looking at the queue; ``wait_for_change`` then cannot miss
        a change made between the look and the wait."""
        return self._generations.get(queue, 0)

    def wait_for_change(self, queue: str, generation: int, timeout: float) -> bool:
        """Block until ``queue`` changed since ``generation`` or ``timeout`` seconds
        passed; whether it changed."""
        condition = self._condition(queue)
        with condition:
            return condition.wait_for(lambda: self.generation(queue) != generation, timeout)

    def wake(self, arrivals: Mapping[str, int]) -> None:
        """For each queue, wake up to that many waiting receivers (a count below 1
        wakes none and leaves the generation as it is)."""
        for queue, count in arrivals.items():
            if count < 1:
                continue
            condition = self._condition(queue)
            with condition:
                self._generations[queue] = self.generation(queue) + 1
                condition.notify(count)

    def _condition(self, queue: str) -> threading.Condition:
        with self._guard:
            condition = self._conditions.get(queue)
            if condition is None:
                condition = self._conditions[queue] = threading.Condition(threading.Lock())
            return condition
