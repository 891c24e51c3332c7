"""Session receive with peek-lock: locking, settling, lock expiry, delivery count.

* A session's messages are delivered in order, one receiver at a time. A receive
  locks a session; the lock is held until every message it handed out is settled
  (complete or abandon) or the lock expires.
* An abandon or an expired lock makes the message receivable again; after
  ``max_delivery_count`` deliveries it moves to the dead letters with reason
  ``MaxDeliveryCountExceeded``.

A receive takes the first due session from the ``sessions_by_due`` index, so it
never scans locked sessions or other sessions' messages (see ``schema.SCHEMA``).
Each function here runs inside a write transaction the caller holds.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from shared.queue.embedded.deadletters import park_exhausted
from shared.queue.embedded.values import Limits, ReceivedMessage, utc


@dataclass
class Completed:
    """What a ``Sessions.complete`` did."""

    lost: list[ReceivedMessage] = field(default_factory=list)
    reopened: Counter[str] = field(default_factory=Counter)


class Sessions:
    """Locks and settles the sessions of every queue in the file."""

    def __init__(self, limits: Limits) -> None:
        self._limits = limits
        # Lock tokens: unique across processes (random prefix) without a system call
        # per receive (uuid4 costs one, and a receive is otherwise ~30 µs).
        self._token_prefix = uuid.uuid4().hex[:16]
        self._token_counter = itertools.count(1)

    def take(
        self,
        db: sqlite3.Connection,
        queue: str,
        now: float,
        *,
        max_sessions: int,
        max_messages: int,
    ) -> list[ReceivedMessage]:
        """Lock up to ``max_sessions`` due sessions of ``queue`` (each its own lock)
        and hand out up to ``max_messages`` of each one's messages, in order."""
        received: list[ReceivedMessage] = []
        for _ in range(max_sessions):
            locked = self._lock_next_session(db, queue, now)
            if locked is None:
                break
            session_id, token = locked
            received += _take_messages(db, queue, session_id, token, now, max_messages)
        return received

    def complete(
        self, db: sqlite3.Connection, messages: Sequence[ReceivedMessage], now: float
    ) -> Completed:
        """Delete the messages whose lock still holds; which were not (lock lost), and
        how many sessions each queue has receivable again (their next message)."""
        completed = Completed()
        for message in messages:
            deleted = db.execute(
                "DELETE FROM messages WHERE queue = ? AND session_id = ? AND seq = ?"
                " AND lock_token = ?"
                " AND EXISTS (SELECT 1 FROM sessions WHERE queue = ? AND session_id = ?"
                " AND lock_token = ? AND due_at > ?)",
                _lock_args(message, now),
            ).rowcount
            if deleted == 0:
                completed.lost.append(message)
            elif _release_session_if_idle(db, message.queue, message.session_id, now):
                completed.reopened[message.queue] += 1
        return completed

    def abandon(self, db: sqlite3.Connection, message: ReceivedMessage, now: float) -> bool:
        """Unlock the message (dead-letter it after its last allowed delivery);
        False when its lock no longer holds."""
        row = db.execute(
            "UPDATE messages SET lock_token = NULL"
            " WHERE queue = ? AND session_id = ? AND seq = ? AND lock_token = ?"
            " AND EXISTS (SELECT 1 FROM sessions WHERE queue = ? AND session_id = ?"
            " AND lock_token = ? AND due_at > ?) RETURNING delivery_count",
            _lock_args(message, now),
        ).fetchone()
        if row is None:
            return False
        if row[0] >= self._limits.max_delivery_count:
            self._park_exhausted(
                db, message.queue, message.session_id, message.sequence_number, now
            )
        _release_session_if_idle(db, message.queue, message.session_id, now)
        return True

    def expire_all_locks(self, db: sqlite3.Connection, now: float) -> None:
        """Take back every expired lock, so operator views show the consequences
        (the ``MaxDeliveryCountExceeded`` letters). Scans every due session."""
        expired = db.execute(
            "SELECT queue, session_id, lock_token FROM sessions"
            " WHERE due_at <= ? AND lock_token IS NOT NULL",
            (now,),
        ).fetchall()
        for queue, session_id, token in expired:
            self._expire_session(db, queue, session_id, token, now)

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
                (token, now + self._limits.lock_duration, queue, session_id),
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
            if delivery_count >= self._limits.max_delivery_count:
                self._park_exhausted(db, queue, session_id, seq, now)
        _release_session_if_idle(db, queue, session_id, now)

    def _park_exhausted(
        self, db: sqlite3.Connection, queue: str, session_id: str, seq: int, now: float
    ) -> None:
        park_exhausted(db, queue, session_id, seq, now, self._limits.max_delivery_count)


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
            enqueued_at=utc(enqueued_at),
            sequence_number=seq,
            lock_token=token,
        )
        for seq, message_id, body, properties, delivery_count, enqueued_at in rows
    ]


def _release_session_if_idle(
    db: sqlite3.Connection, queue: str, session_id: str, now: float
) -> bool:
    """Unlock the session once none of its handed-out messages is outstanding; it is
    then due when its first message is visible, or forgotten when it has none.
    Whether it was unlocked with messages left (a receiver may take it)."""
    first = db.execute(
        "SELECT visible_at, lock_token IS NOT NULL FROM messages"
        " WHERE queue = ? AND session_id = ? ORDER BY visible_at, seq LIMIT 1",
        (queue, session_id),
    ).fetchone()
    if first is None:
        db.execute("DELETE FROM sessions WHERE queue = ? AND session_id = ?", (queue, session_id))
        return False
    visible_at, head_is_locked = first
    if head_is_locked or _has_locked_message(db, queue, session_id):
        return False
    db.execute(
        "UPDATE sessions SET lock_token = NULL, due_at = ? WHERE queue = ? AND session_id = ?",
        (visible_at, queue, session_id),
    )
    return True


def _has_locked_message(db: sqlite3.Connection, queue: str, session_id: str) -> bool:
    row = db.execute(
        "SELECT 1 FROM messages WHERE queue = ? AND session_id = ? AND lock_token IS NOT NULL"
        " LIMIT 1",
        (queue, session_id),
    ).fetchone()
    return row is not None


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
