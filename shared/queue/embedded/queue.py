"""``EmbeddedQueue``: the queue's public face, composing the modules of this package.

Each method runs one step of ``send``, ``receive``, ``deadletters`` or
``inspection`` in a transaction. The operations a dispatcher and the webhook run
all the time (send, receive, complete, abandon) go through the group commit
(``commit.GroupCommit``); the rare operator ones take a transaction of their own.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType

from shared.queue.embedded import deadletters, inspection
from shared.queue.embedded.commit import Database, GroupCommit
from shared.queue.embedded.doorbell import Doorbell
from shared.queue.embedded.receive import Sessions
from shared.queue.embedded.schema import BUSY_TIMEOUT_MS, open_queue_file
from shared.queue.embedded.send import RecentIds, prepare, store_batch
from shared.queue.embedded.values import Limits, LockLost, ParkedLetter, ReceivedMessage
from shared.queue.embedded.wakeups import CROSS_PROCESS_POLL, Wakeups
from shared.queue.port import DeadLetter, OutboundMessage
from shared.sqlite_checkpoints import keep_checkpointed

log = logging.getLogger("orbitsync.queue")


class EmbeddedQueue:
    """A durable SQLite queue implementing ``MessageBus`` plus a session receiver.

    Every method that touches the file raises ``QueueUnavailable`` when the file
    stays locked by another process past the busy timeout or cannot be written.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        lock_duration: float = 30.0,
        max_delivery_count: int = 10,
        duplicate_window: float = 600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Open (or create) the queue file.

        Raises:
            ValueError: ``lock_duration`` or ``max_delivery_count`` is not positive.
            QueueUnavailable: the file could not be opened or created.
        """
        if lock_duration <= 0 or max_delivery_count < 1:
            raise ValueError("lock_duration and max_delivery_count must be positive")
        self._limits = Limits(lock_duration, max_delivery_count, duplicate_window)
        self._clock = clock
        self._recent_ids = RecentIds(duplicate_window)
        self._sessions = Sessions(self._limits)
        self._wakeups = Wakeups()
        self._database = Database(
            open_queue_file(Path(path)), busy_timeout_seconds=BUSY_TIMEOUT_MS / 1000
        )
        self._release_checkpoints = keep_checkpointed(path, self)
        self._commits = GroupCommit(self._database)
        self._doorbell = Doorbell(self._database, self._wakeups.wake)
        self._doorbell_failed = False

    def close(self) -> None:
        """Close the file; the queue object cannot be used afterwards."""
        self._doorbell.close()
        self._database.close()
        self._release_checkpoints()

    def __enter__(self) -> EmbeddedQueue:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- MessageBus port ---------------------------------------------------------

    def send(self, messages: Sequence[OutboundMessage]) -> None:
        """Store the batch atomically; duplicates (by queue + message id) are dropped.

        Raises:
            ValueError: a message id or session id is empty or longer than 128
                characters, or a property is not a string; nothing was stored.
            QueueUnavailable: the file could not be written; nothing was stored.
        """
        if not messages:
            return
        batch = [prepare(message) for message in messages]
        self._commits.run(lambda db: store_batch(db, batch, self._recent_ids, self._clock()))
        self._changed(Counter(message.queue for message in batch))

    def dead_letter(self, letter: DeadLetter) -> None:
        """Park ``letter`` in its source queue's dead-letter sub-queue; a letter of
        the same source queue and message id that is already parked is dropped.

        Raises:
            QueueUnavailable: the file could not be written.
        """
        now = self._clock()
        with self._database.write() as db:
            deadletters.park(db, letter, now)

    # --- receiving ---------------------------------------------------------------

    def receive(
        self,
        queue: str,
        *,
        max_messages: int = 1,
        wait: float = 0.0,
        max_sessions: int = 1,
    ) -> list[ReceivedMessage]:
        """Lock the next due session of ``queue`` and return up to ``max_messages`` of
        its messages, in order; waits up to ``wait`` seconds for one to be due.

        With ``max_sessions`` > 1 it locks up to that many sessions in one commit
        (each a separate lock, as if that many receivers had asked), returning each
        session's messages together and in order. Returns ``[]`` if nothing was due.

        Raises:
            QueueUnavailable: the file could not be written.
        """
        deadline = time.monotonic() + wait
        if wait > 0:
            self._listen_for_other_processes()
        while True:
            generation = self._wakeups.generation(queue)
            received = self._commits.run(
                lambda db: self._sessions.take(
                    db, queue, self._clock(), max_sessions=max_sessions, max_messages=max_messages
                )
            )
            remaining = deadline - time.monotonic()
            if received or remaining <= 0:
                return received
            due = self.next_due(queue)
            nap = min(remaining, CROSS_PROCESS_POLL, due if due is not None else remaining)
            # Never a zero nap: another process may take the due message first.
            self._wakeups.wait_for_change(queue, generation, max(nap, 0.001))

    def complete_many(self, messages: Sequence[ReceivedMessage]) -> list[ReceivedMessage]:
        """Remove received messages for good, in one commit.

        Returns the messages that could not be completed because their lock was
        lost (the session lock expired, or the message was already settled); they
        are, or will be, delivered again.

        Raises:
            QueueUnavailable: the file could not be written; nothing was completed.
        """
        completed = self._commits.run(
            lambda db: self._sessions.complete(db, messages, self._clock())
        )
        self._changed(completed.reopened)
        return completed.lost

    def abandon(self, message: ReceivedMessage) -> None:
        """Give a received message back; it is delivered again (same order), or
        dead-lettered with ``MaxDeliveryCountExceeded`` after its last allowed delivery.

        Raises:
            LockLost: the session lock expired or the message was already settled.
            QueueUnavailable: the file could not be written.
        """
        if not self._commits.run(lambda db: self._sessions.abandon(db, message, self._clock())):
            raise LockLost(f"message {message.sequence_number} on {message.queue}")
        self._changed({message.queue: 1})

    def _listen_for_other_processes(self) -> None:
        """Ring this process's doorbell on other processes' changes; without one
        (no loopback UDP), waiting receivers still poll the file."""
        try:
            self._doorbell.listen()
        except OSError as error:
            if not self._doorbell_failed:
                self._doorbell_failed = True
                log.warning("no doorbell for the embedded queue (%s); receivers poll", error)

    def _changed(self, arrivals: Mapping[str, int]) -> None:
        """Wake receivers of the queues that got messages someone may now receive
        (how many, per queue): this process's, and other processes'."""
        arrivals = {queue: count for queue, count in arrivals.items() if count > 0}
        if not arrivals:
            return
        self._wakeups.wake(arrivals)
        self._doorbell.ring(arrivals)

    # --- dead letters (the operator tools) ---------------------------------------

    def dead_letters(self) -> list[ParkedLetter]:
        """Every parked letter of every queue, oldest first; it first takes back the
        expired locks, so messages past their last delivery are among them.

        Raises:
            QueueUnavailable: the file could not be read.
        """
        with self._database.write() as db:
            self._sessions.expire_all_locks(db, self._clock())
            return deadletters.parked_letters(db)

    def purge_dead_letter(self, letter_id: int) -> None:
        """Delete a dead letter for good.

        Raises:
            DeadLetterNotFound: no letter has this id.
            QueueUnavailable: the file could not be written.
        """
        with self._database.write() as db:
            deadletters.purge(db, letter_id)

    # --- inspection ----------------------------------------------------------------

    def listening_processes(self) -> set[int]:
        """Process ids of the processes whose receivers wait on this file.

        Raises:
            QueueUnavailable: the file could not be read.
        """
        return self._doorbell.listening_processes()

    def has_work(self, queue: str, *, include_scheduled: bool = False) -> bool:
        """Whether ``queue`` has a message receivable now or held by a receiver (and,
        with ``include_scheduled``, one waiting for its time). Cheap enough to poll.

        Raises:
            QueueUnavailable: the file could not be read.
        """
        now = self._clock()
        with self._database.guarded() as db:
            return inspection.has_work(
                db,
                queue,
                now,
                lock_duration=self._limits.lock_duration,
                include_scheduled=include_scheduled,
            )

    def next_due(self, queue: str) -> float | None:
        """Seconds until something of ``queue`` becomes receivable without a new
        send (a scheduled message, or a lock that expires); ``0.0`` when something
        is receivable now, ``None`` when it has no messages.

        Raises:
            QueueUnavailable: the file could not be read.
        """
        now = self._clock()
        with self._database.guarded() as db:
            return inspection.next_due(db, queue, now)
