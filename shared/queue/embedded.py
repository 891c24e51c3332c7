"""An embedded durable queue with Service Bus semantics, for the local run.

One SQLite file (WAL, ``synchronous=NORMAL``) holds every queue. A ``send`` that
returned survives ``kill -9`` of the process; a batch is one transaction, so it is
stored whole or not at all. What it mimics from Service Bus:

* **Duplicate detection**: a ``message_id`` seen on the same queue within
  ``duplicate_window`` seconds is dropped silently.
* **Scheduled messages**: ``scheduled_at`` keeps a message invisible until then; it
  then queues behind what was already there (like Service Bus activation).
* **Sessions**: a session's messages are delivered in order, one receiver at a
  time. A ``receive`` locks a session; the lock is held until every message it
  handed out is settled (``complete``/``abandon``) or the lock expires.
* **Peek-lock and delivery count**: ``abandon`` or an expired lock makes the message
  receivable again; after ``max_delivery_count`` deliveries it moves to the queue's
  dead-letter sub-queue with reason ``MaxDeliveryCountExceeded``.

How it is stored (why it stays cheap with a large backlog): ``messages`` holds the
active and scheduled messages; ``sessions`` holds one row per session that has
messages, with its lock and the time it is next due (see ``_SCHEMA``). A receive
takes the first due session from an index, so it never scans locked sessions or
other sessions' messages. A message costs three small commits (send, receive,
complete), and a commit costs about one page write per b-tree it touches.

Threads of one process share one connection behind a lock (SQLite would make them
sleep-poll each other otherwise), and operations that threads submit while another
commits are committed together (``_GroupCommit``). ``receive(max_sessions=…)`` and
``complete_many`` share one commit among many messages explicitly. Processes are
serialised by SQLite's file lock (an operator tool may open the file meanwhile).
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Generic, TypeVar, cast

from shared.errors import PermanentError, QueueUnavailable, TransientError
from shared.queue.port import DeadLetter, OutboundMessage

MAX_DELIVERY_COUNT_EXCEEDED = "MaxDeliveryCountExceeded"
"""Reason Service Bus gives a message it dead-lettered after too many deliveries."""

MAX_ID_LENGTH = 128
"""Service Bus rejects longer MessageIds and SessionIds; we fail the same way locally."""

T = TypeVar("T")

_RESUBMIT_MARK = "|resubmit:"
_CROSS_PROCESS_POLL = 0.25
"""A send from another process cannot wake our waiters, so waiting re-checks this often."""
_BUSY_TIMEOUT_MS = 10_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    queue          TEXT NOT NULL,
    session_id     TEXT NOT NULL,
    seq            INTEGER NOT NULL,
    message_id     TEXT NOT NULL,
    body           BLOB NOT NULL,
    properties     TEXT NOT NULL,
    enqueued_at    REAL NOT NULL,
    visible_at     REAL NOT NULL,
    delivery_count INTEGER NOT NULL DEFAULT 0,
    lock_token     TEXT,
    PRIMARY KEY (queue, session_id, seq)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS sessions (
    queue      TEXT NOT NULL,
    session_id TEXT NOT NULL,
    due_at     REAL NOT NULL,
    lock_token TEXT,
    PRIMARY KEY (queue, session_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sessions_by_due ON sessions (queue, due_at);

CREATE TABLE IF NOT EXISTS recent_message_ids (
    queue      TEXT NOT NULL,
    message_id TEXT NOT NULL,
    sent_at    REAL NOT NULL,
    PRIMARY KEY (queue, message_id)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT OR IGNORE INTO counters (name, value) VALUES ('sequence', 0);

CREATE TABLE IF NOT EXISTS dead_letters (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    queue            TEXT NOT NULL,
    session_id       TEXT NOT NULL,
    message_id       TEXT NOT NULL,
    body             BLOB NOT NULL,
    properties       TEXT NOT NULL,
    reason           TEXT NOT NULL,
    description      TEXT NOT NULL,
    delivery_count   INTEGER NOT NULL,
    enqueued_at      REAL NOT NULL,
    dead_lettered_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS dead_letters_by_message ON dead_letters (queue, message_id);
"""
"""Why so few indexes: every b-tree is another page written at each commit, and the
commit is what a message costs (hence also WITHOUT ROWID: the key is the table).
A session's messages sit together under (queue, session_id); it has few, so sorting
them by (visible_at, seq) when receiving is cheap. ``sessions.due_at`` does double duty: for an
unlocked session it is when its first message becomes visible, for a locked one
when the lock expires. Either way "due_at <= now" means "a receiver may take it",
so one index finds ready sessions and expired locks alike, never scanning sessions
that are locked. A message's ``seq`` is its sequence number, from the
``counters`` table: unique and growing (with gaps), like Service Bus's."""


class LockLost(TransientError):
    """A settle came too late: the session lock expired or the message was settled.

    The message is (or will be) delivered again; level-triggered handlers make that
    harmless, so a dispatcher logs this and moves on.
    """


class DeadLetterNotFound(PermanentError):
    """No dead letter has this id (already resubmitted or purged?)."""


@dataclass(frozen=True)
class ReceivedMessage:
    """A peek-locked message; settle it with ``complete`` or ``abandon``."""

    queue: str
    body: bytes
    session_id: str
    message_id: str
    properties: Mapping[str, str]
    delivery_count: int
    """1 on the first delivery, as the Functions trigger reports it."""
    enqueued_at: dt.datetime
    sequence_number: int
    lock_token: str
    """Shared by the messages of one receive; it is the session's lock."""


@dataclass(frozen=True)
class ParkedLetter:
    """A dead-lettered message as an operator sees it."""

    id: int
    queue: str
    reason: str
    description: str
    message_id: str
    session_id: str
    body: bytes
    properties: Mapping[str, str]
    delivery_count: int
    enqueued_at: dt.datetime
    dead_lettered_at: dt.datetime


@dataclass(frozen=True)
class QueueCounts:
    """Messages of one queue. ``active`` includes locked ones, as Service Bus counts."""

    active: int = 0
    scheduled: int = 0
    dead_lettered: int = 0
    locked: int = 0


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
        self._lock_duration = lock_duration
        self._max_delivery_count = max_delivery_count
        self._duplicate_window = duplicate_window
        self._clock = clock
        self._db_lock = threading.RLock()
        self._wakeups: dict[str, threading.Condition] = {}
        self._generations: dict[str, int] = {}
        self._wakeup_guard = threading.Lock()
        self._last_prune = float("-inf")
        # Lock tokens: unique across processes (random prefix) without a system call
        # per receive (uuid4 costs one, and a receive is otherwise ~30 µs).
        self._token_prefix = uuid.uuid4().hex[:16]
        self._token_counter = itertools.count(1)
        self._db = _open(Path(path))
        self._commits = _GroupCommit(self._write)

    def close(self) -> None:
        """Close the file; the queue object cannot be used afterwards."""
        with self._db_lock:
            self._db.close()

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
                characters, or a property is not a string.
            QueueUnavailable: the file could not be written; nothing was stored.
        """
        if not messages:
            return
        # Checked and encoded before the transaction, which other threads may share.
        prepared = [_prepare(message) for message in messages]

        def store(db: sqlite3.Connection) -> None:
            now = self._clock()
            self._prune_recent_ids(db, now)
            sequence = _reserve_sequence_numbers(db, len(prepared))
            for seq, message in zip(sequence, prepared, strict=True):
                if self._is_new_message_id(db, message.queue, message.message_id, now):
                    _insert_message(db, message, seq, now)

        self._commits.run(store)
        self._wake(message.queue for message in prepared)

    def dead_letter(self, letter: DeadLetter) -> None:
        """Park ``letter`` in its source queue's dead-letter sub-queue.

        A letter whose source queue and message id are already parked is dropped, as
        duplicate detection drops it on Service Bus's ``dead-letters`` queue (a worker
        that crashed between parking and completing parks it again).

        Raises:
            QueueUnavailable: the file could not be written.
        """
        now = self._clock()
        with self._write() as db:
            already = db.execute(
                "SELECT 1 FROM dead_letters WHERE queue = ? AND message_id = ?",
                (letter.source_queue, letter.message_id),
            ).fetchone()
            if already is None:
                db.execute(
                    "INSERT INTO dead_letters (queue, session_id, message_id, body, properties,"
                    " reason, description, delivery_count, enqueued_at, dead_lettered_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?)",
                    (
                        letter.source_queue,
                        letter.session_id,
                        letter.message_id,
                        letter.body,
                        _dump_properties(letter.properties),
                        letter.reason,
                        letter.description,
                        now,
                        now,
                    ),
                )

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
        while True:
            generation = self._generation(queue)
            received = self._receive_now(queue, max_messages, max_sessions)
            remaining = deadline - time.monotonic()
            if received or remaining <= 0:
                return received
            due = self.next_due(queue)
            nap = min(remaining, _CROSS_PROCESS_POLL, due if due is not None else remaining)
            # Never a zero nap: another process may take the due message first.
            self._wait_for_change(queue, generation, max(nap, 0.001))

    def wait_for_message(self, queue: str, timeout: float) -> bool:
        """Block until a send, settle or resubmit in this process touches ``queue``,
        or ``timeout`` seconds pass. Returns whether something changed; then try
        ``receive`` (another receiver may be faster). ``receive(wait=…)`` does this."""
        return self._wait_for_change(queue, self._generation(queue), timeout)

    def complete(self, message: ReceivedMessage) -> None:
        """Remove a received message for good.

        Raises:
            LockLost: the session lock expired or the message was already settled.
            QueueUnavailable: the file could not be written.
        """
        if self.complete_many([message]):
            raise LockLost(f"message {message.sequence_number} on {message.queue}")

    def complete_many(self, messages: Sequence[ReceivedMessage]) -> list[ReceivedMessage]:
        """Complete several received messages in one commit.

        Returns the messages that could not be completed because their lock was
        lost (they are, or will be, delivered again).

        Raises:
            QueueUnavailable: the file could not be written; nothing was completed.
        """

        def settle(db: sqlite3.Connection) -> list[ReceivedMessage]:
            now = self._clock()
            lost: list[ReceivedMessage] = []
            for message in messages:
                deleted = db.execute(
                    "DELETE FROM messages WHERE queue = ? AND session_id = ? AND seq = ?"
                    " AND lock_token = ?"
                    " AND EXISTS (SELECT 1 FROM sessions WHERE queue = ? AND session_id = ?"
                    " AND lock_token = ? AND due_at > ?)",
                    _lock_args(message, now),
                ).rowcount
                if deleted == 0:
                    lost.append(message)
                else:
                    _release_session_if_idle(db, message.queue, message.session_id, now)
            return lost

        lost = self._commits.run(settle)
        self._wake(message.queue for message in messages)
        return lost

    def abandon(self, message: ReceivedMessage) -> None:
        """Give a received message back; it is delivered again (same order), or
        dead-lettered with ``MaxDeliveryCountExceeded`` after its last allowed delivery.

        Raises:
            LockLost: the session lock expired or the message was already settled.
            QueueUnavailable: the file could not be written.
        """

        def give_back(db: sqlite3.Connection) -> bool:
            now = self._clock()
            row = db.execute(
                "UPDATE messages SET lock_token = NULL"
                " WHERE queue = ? AND session_id = ? AND seq = ? AND lock_token = ?"
                " AND EXISTS (SELECT 1 FROM sessions WHERE queue = ? AND session_id = ?"
                " AND lock_token = ? AND due_at > ?) RETURNING delivery_count",
                _lock_args(message, now),
            ).fetchone()
            if row is None:
                return False
            if row[0] >= self._max_delivery_count:
                self._dead_letter_exhausted(
                    db, message.queue, message.session_id, message.sequence_number, now
                )
            _release_session_if_idle(db, message.queue, message.session_id, now)
            return True

        if not self._commits.run(give_back):
            raise LockLost(f"message {message.sequence_number} on {message.queue}")
        self._wake([message.queue])

    def renew_lock(self, message: ReceivedMessage) -> None:
        """Extend the lock of the message's session to ``lock_duration`` from now.

        Raises:
            LockLost: the session lock already expired or was released.
            QueueUnavailable: the file could not be written.
        """
        now = self._clock()
        with self._write() as db:
            renewed = db.execute(
                "UPDATE sessions SET due_at = ?"
                " WHERE queue = ? AND session_id = ? AND lock_token = ? AND due_at > ?",
                (
                    now + self._lock_duration,
                    message.queue,
                    message.session_id,
                    message.lock_token,
                    now,
                ),
            ).rowcount
            if renewed == 0:
                raise LockLost(f"session lock on {message.queue}")

    # --- operator API ------------------------------------------------------------

    def dead_letters(self, queue: str | None = None) -> list[ParkedLetter]:
        """Every parked letter (of ``queue``, or of all queues), oldest first.

        Raises:
            QueueUnavailable: the file could not be read.
        """
        with self._write() as db:
            self._expire_all_locks(db, self._clock())
            rows = db.execute(
                "SELECT id, queue, reason, description, message_id, session_id, body,"
                " properties, delivery_count, enqueued_at, dead_lettered_at"
                " FROM dead_letters WHERE ?1 IS NULL OR queue = ?1 ORDER BY id",
                (queue,),
            ).fetchall()
        return [_parked_letter(row) for row in rows]

    def resubmit_dead_letter(self, letter_id: int) -> None:
        """Move a dead letter back to its queue, at the end of its session, with a
        fresh message id (so duplicate detection lets it through) and no deliveries.

        Raises:
            DeadLetterNotFound: no letter has this id.
            QueueUnavailable: the file could not be written.
        """
        now = self._clock()
        with self._write() as db:
            row = db.execute(
                "DELETE FROM dead_letters WHERE id = ?"
                " RETURNING queue, session_id, message_id, body, properties",
                (letter_id,),
            ).fetchone()
            if row is None:
                raise DeadLetterNotFound(f"dead letter {letter_id}")
            queue, session_id, message_id, body, properties = row
            message = _Prepared(
                queue, session_id, resubmitted_message_id(message_id), body, properties, None
            )
            self._is_new_message_id(db, queue, message.message_id, now)
            (seq,) = _reserve_sequence_numbers(db, 1)
            _insert_message(db, message, seq, now)
        self._wake([queue])

    def purge_dead_letter(self, letter_id: int) -> None:
        """Delete a dead letter for good.

        Raises:
            DeadLetterNotFound: no letter has this id.
            QueueUnavailable: the file could not be written.
        """
        with self._write() as db:
            deleted = db.execute("DELETE FROM dead_letters WHERE id = ?", (letter_id,)).rowcount
            if deleted == 0:
                raise DeadLetterNotFound(f"dead letter {letter_id}")

    def counts(self) -> dict[str, QueueCounts]:
        """Active, scheduled, locked and dead-lettered messages of every queue that
        has any (a queue missing from the result is empty). A lock that expired
        counts as locked until a receiver takes the session back.

        This scans the whole file (about 0.1 s with 176,000 messages waiting): for
        operators and tests. To poll for work, use ``has_work``.

        Raises:
            QueueUnavailable: the file could not be read.
        """
        now = self._clock()
        with self._guarded() as db:
            live = db.execute(
                "SELECT queue, SUM(visible_at <= ?1), SUM(visible_at > ?1),"
                " SUM(lock_token IS NOT NULL) FROM messages GROUP BY queue",
                (now,),
            ).fetchall()
            dead = db.execute("SELECT queue, COUNT(*) FROM dead_letters GROUP BY queue").fetchall()
        result = {
            queue: QueueCounts(active=active, scheduled=scheduled, locked=locked)
            for queue, active, scheduled, locked in live
        }
        for queue, dead_count in dead:
            base = result.get(queue, QueueCounts())
            result[queue] = QueueCounts(base.active, base.scheduled, dead_count, base.locked)
        return result

    def has_work(self, queue: str, *, include_scheduled: bool = False) -> bool:
        """Whether ``queue`` has a message receivable now or held by a receiver (and,
        with ``include_scheduled``, one waiting for its time). Index probes only, so
        cheap enough to poll, unlike ``counts``.

        Raises:
            QueueUnavailable: the file could not be read.
        """
        now = self._clock()
        with self._guarded() as db:
            if include_scheduled:
                row = db.execute("SELECT 1 FROM sessions WHERE queue = ? LIMIT 1", (queue,))
            else:
                # Due now, or locked: a lock ends within lock_duration, so only that
                # slice of the index needs a look at the lock column.
                row = db.execute(
                    "SELECT 1 FROM sessions WHERE queue = ?1 AND due_at <= ?3"
                    " AND (due_at <= ?2 OR lock_token IS NOT NULL) LIMIT 1",
                    (queue, now, now + self._lock_duration),
                )
            return row.fetchone() is not None

    def next_due(self, queue: str | None = None) -> float | None:
        """Seconds until something becomes receivable without a new send: a scheduled
        message of an idle session, or a session lock that expires. ``0.0`` when
        something is receivable now; ``None`` when no session has messages.

        Raises:
            QueueUnavailable: the file could not be read.
        """
        now = self._clock()
        with self._guarded() as db:
            if queue is None:
                row = db.execute("SELECT MIN(due_at) FROM sessions").fetchone()
            else:
                row = db.execute(
                    "SELECT MIN(due_at) FROM sessions WHERE queue = ?", (queue,)
                ).fetchone()
        if row[0] is None:
            return None
        return max(0.0, float(row[0]) - now)

    # --- internals ---------------------------------------------------------------

    def _receive_now(
        self, queue: str, max_messages: int, max_sessions: int
    ) -> list[ReceivedMessage]:

        def take(db: sqlite3.Connection) -> list[ReceivedMessage]:
            now = self._clock()
            received: list[ReceivedMessage] = []
            for _ in range(max_sessions):
                locked = self._lock_next_session(db, queue, now)
                if locked is None:
                    break
                session_id, token = locked
                received += _take_messages(db, queue, session_id, token, now, max_messages)
            return received

        return self._commits.run(take)

    def _lock_next_session(
        self, db: sqlite3.Connection, queue: str, now: float
    ) -> tuple[str, str] | None:
        """Lock the first due session; returns (session id, lock token), or None."""
        while True:
            row = db.execute(
                "SELECT session_id, lock_token FROM sessions"
                " WHERE queue = ? AND due_at <= ? ORDER BY due_at LIMIT 1",
                (queue, now),
            ).fetchone()
            if row is None:
                return None
            session_id, expired_token = row
            if expired_token is not None:
                # Its receiver went quiet past the lock (died or hung): take it back,
                # then look again (the session may now be empty or not yet visible).
                self._expire_session(db, queue, session_id, expired_token, now)
                continue
            token = f"{self._token_prefix}-{next(self._token_counter)}"
            db.execute(
                "UPDATE sessions SET lock_token = ?, due_at = ? WHERE queue = ? AND session_id = ?",
                (token, now + self._lock_duration, queue, session_id),
            )
            return session_id, token

    def _expire_session(
        self, db: sqlite3.Connection, queue: str, session_id: str, token: str, now: float
    ) -> None:
        released = db.execute(
            "UPDATE messages SET lock_token = NULL"
            " WHERE queue = ? AND session_id = ? AND lock_token = ?"
            " RETURNING seq, delivery_count",
            (queue, session_id, token),
        ).fetchall()
        for seq, delivery_count in released:
            if delivery_count >= self._max_delivery_count:
                self._dead_letter_exhausted(db, queue, session_id, seq, now)
        _release_session_if_idle(db, queue, session_id, now)

    def _expire_all_locks(self, db: sqlite3.Connection, now: float) -> None:
        """Take back every expired lock, so operator views show the consequences
        (the ``MaxDeliveryCountExceeded`` letters). Scans every due session."""
        expired = db.execute(
            "SELECT queue, session_id, lock_token FROM sessions"
            " WHERE due_at <= ? AND lock_token IS NOT NULL",
            (now,),
        ).fetchall()
        for queue, session_id, token in expired:
            self._expire_session(db, queue, session_id, token, now)

    def _dead_letter_exhausted(
        self, db: sqlite3.Connection, queue: str, session_id: str, seq: int, now: float
    ) -> None:
        db.execute(
            "INSERT INTO dead_letters (queue, session_id, message_id, body, properties,"
            " reason, description, delivery_count, enqueued_at, dead_lettered_at)"
            " SELECT queue, session_id, message_id, body, properties, ?, ?,"
            " delivery_count, enqueued_at, ? FROM messages"
            " WHERE queue = ? AND session_id = ? AND seq = ?",
            (
                MAX_DELIVERY_COUNT_EXCEEDED,
                f"Message could not be consumed after {self._max_delivery_count}"
                " delivery attempts.",
                now,
                queue,
                session_id,
                seq,
            ),
        )
        db.execute(
            "DELETE FROM messages WHERE queue = ? AND session_id = ? AND seq = ?",
            (queue, session_id, seq),
        )

    def _is_new_message_id(
        self, db: sqlite3.Connection, queue: str, message_id: str, now: float
    ) -> bool:
        """Record the id; False when it was already seen within the window."""
        recorded = db.execute(
            "INSERT INTO recent_message_ids (queue, message_id, sent_at) VALUES (?, ?, ?)"
            " ON CONFLICT (queue, message_id) DO UPDATE SET sent_at = excluded.sent_at"
            " WHERE sent_at <= ?",
            (queue, message_id, now, now - self._duplicate_window),
        ).rowcount
        return recorded == 1

    def _prune_recent_ids(self, db: sqlite3.Connection, now: float) -> None:
        """Forget ids older than the window now and then, so the table stays small.
        A full scan, but rare: cheaper than an index written at every send."""
        if now - self._last_prune < self._duplicate_window / 10:
            return
        self._last_prune = now
        db.execute(
            "DELETE FROM recent_message_ids WHERE sent_at <= ?", (now - self._duplicate_window,)
        )

    @contextmanager
    def _guarded(self) -> Iterator[sqlite3.Connection]:
        """The connection, for this thread alone; SQLite trouble → QueueUnavailable."""
        with self._db_lock:
            try:
                yield self._db
            except sqlite3.OperationalError as exc:
                raise QueueUnavailable(f"embedded queue file unavailable: {exc}") from exc

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; IMMEDIATE so two processes never both read-then-lock."""
        with self._guarded() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                if db.in_transaction:  # SQLite may have rolled back already (disk full)
                    db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def _condition(self, queue: str) -> threading.Condition:
        with self._wakeup_guard:
            condition = self._wakeups.get(queue)
            if condition is None:
                condition = self._wakeups[queue] = threading.Condition(threading.Lock())
            return condition

    def _generation(self, queue: str) -> int:
        return self._generations.get(queue, 0)

    def _wait_for_change(self, queue: str, generation: int, timeout: float) -> bool:
        condition = self._condition(queue)
        with condition:
            return condition.wait_for(lambda: self._generation(queue) != generation, timeout)

    def _wake(self, queues: Iterable[str]) -> None:
        for queue in set(queues):
            condition = self._condition(queue)
            with condition:
                self._generations[queue] = self._generation(queue) + 1
                condition.notify_all()


class _GroupCommit:
    """Runs the write operations of concurrent threads in shared transactions.

    A commit is what a message costs (its page writes and file locks), so while one
    thread commits, the operations other threads submit meanwhile are queued and the
    next thread to get the lock runs them all in one transaction ("group commit").
    Each caller still returns only after its operation is committed. An operation
    must not raise on purpose (return a result instead): an exception rolls back the
    whole group and is raised in every caller of it.
    """

    def __init__(self, write: Callable[[], AbstractContextManager[sqlite3.Connection]]) -> None:
        self._write = write
        self._pending: list[_Operation[Any]] = []
        self._pending_guard = threading.Lock()
        self._leader = threading.Lock()

    def run(self, operation: Callable[[sqlite3.Connection], T]) -> T:
        item = _Operation(operation)
        with self._pending_guard:
            self._pending.append(item)
        with self._leader:
            if not item.done:  # nobody took it along yet: lead a group
                with self._pending_guard:
                    group, self._pending = self._pending, []
                self._commit(group)
        if item.error is not None:
            raise item.error
        return cast(T, item.result)

    def _commit(self, group: list[_Operation[Any]]) -> None:
        try:
            with self._write() as db:
                for item in group:
                    item.result = item.operation(db)
        except BaseException as error:
            for item in group:
                item.error = error
        for item in group:
            item.done = True


class _Operation(Generic[T]):
    def __init__(self, operation: Callable[[sqlite3.Connection], T]) -> None:
        self.operation = operation
        self.result: T | None = None
        self.error: BaseException | None = None
        self.done = False


def _lock_args(message: ReceivedMessage, now: float) -> tuple[object, ...]:
    """Parameters of 'this message is locked by this receiver, and the lock holds'."""
    return (
        message.queue,
        message.session_id,
        message.sequence_number,
        message.lock_token,
        message.queue,
        message.session_id,
        message.lock_token,
        now,
    )


def _open(path: Path) -> sqlite3.Connection:
    """Open (and if needed create) the queue file.

    Raises:
        QueueUnavailable: the file could not be opened or created.
    """
    try:
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        db.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")
        # Measured: a 64 MiB page cache and rarer checkpoints (each rewrites pages and
        # syncs twice) halve the cost of a commit with a backlog of 100,000 messages.
        db.execute("PRAGMA cache_size = -65536")
        db.execute("PRAGMA wal_autocheckpoint = 10000")
        db.execute("PRAGMA temp_store = MEMORY")
        db.execute("BEGIN IMMEDIATE")
        for statement in _SCHEMA.split(";"):
            if statement.strip():
                db.execute(statement)
        db.execute("COMMIT")
    except sqlite3.Error as exc:
        raise QueueUnavailable(f"embedded queue file could not be opened: {exc}") from exc
    return db


def _reserve_sequence_numbers(db: sqlite3.Connection, count: int) -> range:
    (last,) = db.execute(
        "UPDATE counters SET value = value + ? WHERE name = 'sequence' RETURNING value",
        (count,),
    ).fetchone()
    return range(last - count + 1, last + 1)


@dataclass(frozen=True)
class _Prepared:
    """A message checked and encoded for storage."""

    queue: str
    session_id: str
    message_id: str
    body: bytes
    properties: str
    scheduled_at: float | None


def _prepare(message: OutboundMessage) -> _Prepared:
    """Raises: ValueError: an id is empty or too long, or a property is not a string."""
    _check_ids(message.message_id, message.session_id)
    if not all(isinstance(v, str) for v in message.properties.values()):
        raise ValueError("application properties must be strings")
    scheduled_at = None if message.scheduled_at is None else _timestamp(message.scheduled_at)
    return _Prepared(
        queue=message.queue,
        session_id=message.session_id,
        message_id=message.message_id,
        body=bytes(message.body),
        properties=_dump_properties(message.properties),
        scheduled_at=scheduled_at,
    )


def _insert_message(db: sqlite3.Connection, message: _Prepared, seq: int, now: float) -> None:
    visible_at = now if message.scheduled_at is None else message.scheduled_at
    db.execute(
        "INSERT INTO messages (queue, session_id, seq, message_id, body, properties,"
        " enqueued_at, visible_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            message.queue,
            message.session_id,
            seq,
            message.message_id,
            message.body,
            message.properties,
            now,
            visible_at,
        ),
    )
    # A new message sorts after the session's others unless it is visible earlier (it
    # overtakes scheduled ones), hence MIN. A locked session stays due at lock expiry.
    db.execute(
        "INSERT INTO sessions (queue, session_id, due_at) VALUES (?, ?, ?)"
        " ON CONFLICT (queue, session_id) DO UPDATE SET due_at ="
        " CASE WHEN lock_token IS NULL THEN MIN(due_at, excluded.due_at) ELSE due_at END",
        (message.queue, message.session_id, visible_at),
    )


def _take_messages(
    db: sqlite3.Connection,
    queue: str,
    session_id: str,
    token: str,
    now: float,
    max_messages: int,
) -> list[ReceivedMessage]:
    """Lock the session's first visible messages under ``token``, in session order."""
    rows = db.execute(
        "SELECT seq, message_id, body, properties, delivery_count, enqueued_at FROM messages"
        " WHERE queue = ? AND session_id = ? AND visible_at <= ?"
        " ORDER BY visible_at, seq LIMIT ?",
        (queue, session_id, now, max_messages),
    ).fetchall()
    db.executemany(
        "UPDATE messages SET lock_token = ?, delivery_count = delivery_count + 1"
        " WHERE queue = ? AND session_id = ? AND seq = ?",
        [(token, queue, session_id, row[0]) for row in rows],
    )
    return [
        ReceivedMessage(
            queue=queue,
            body=body,
            session_id=session_id,
            message_id=message_id,
            properties=json.loads(properties),
            delivery_count=delivery_count + 1,
            enqueued_at=_utc(enqueued_at),
            sequence_number=seq,
            lock_token=token,
        )
        for seq, message_id, body, properties, delivery_count, enqueued_at in rows
    ]


def _release_session_if_idle(
    db: sqlite3.Connection, queue: str, session_id: str, now: float
) -> None:
    """Unlock the session once none of its handed-out messages is outstanding; it is
    then due when its first message is visible, or forgotten when it has none."""
    first = db.execute(
        "SELECT visible_at, lock_token IS NOT NULL FROM messages"
        " WHERE queue = ? AND session_id = ? ORDER BY visible_at, seq LIMIT 1",
        (queue, session_id),
    ).fetchone()
    if first is None:
        db.execute("DELETE FROM sessions WHERE queue = ? AND session_id = ?", (queue, session_id))
        return
    visible_at, head_is_locked = first
    if head_is_locked or _has_locked_message(db, queue, session_id):
        return
    db.execute(
        "UPDATE sessions SET lock_token = NULL, due_at = ? WHERE queue = ? AND session_id = ?",
        (visible_at, queue, session_id),
    )


def _has_locked_message(db: sqlite3.Connection, queue: str, session_id: str) -> bool:
    row = db.execute(
        "SELECT 1 FROM messages WHERE queue = ? AND session_id = ? AND lock_token IS NOT NULL"
        " LIMIT 1",
        (queue, session_id),
    ).fetchone()
    return row is not None


def resubmitted_message_id(message_id: str) -> str:
    """A fresh id that still shows the original (an earlier resubmit mark is replaced,
    so repeated resubmits do not grow the id past Service Bus's limit)."""
    original = message_id.split(_RESUBMIT_MARK, 1)[0]
    suffix = f"{_RESUBMIT_MARK}{uuid.uuid4().hex[:12]}"
    return original[: MAX_ID_LENGTH - len(suffix)] + suffix


def _check_ids(message_id: str, session_id: str) -> None:
    for label, value in (("message id", message_id), ("session id", session_id)):
        if not value or len(value) > MAX_ID_LENGTH:
            raise ValueError(f"{label} must be 1..{MAX_ID_LENGTH} characters, got {len(value)}")


def _timestamp(when: dt.datetime) -> float:
    """A naive time is taken as UTC (``datetime.timestamp`` would take local time)."""
    return (when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when).timestamp()


def _dump_properties(properties: Mapping[str, str]) -> str:
    return json.dumps(dict(properties), separators=(",", ":")) if properties else "{}"


def _utc(timestamp: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(timestamp, tz=dt.UTC)


def _parked_letter(row: Any) -> ParkedLetter:
    return ParkedLetter(
        id=row[0],
        queue=row[1],
        reason=row[2],
        description=row[3],
        message_id=row[4],
        session_id=row[5],
        body=row[6],
        properties=json.loads(row[7]),
        delivery_count=row[8],
        enqueued_at=_utc(row[9]),
        dead_lettered_at=_utc(row[10]),
    )
