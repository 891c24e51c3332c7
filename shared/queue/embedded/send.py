"""Sending: checking and storing a batch, sequence numbers, duplicate detection.

* **Duplicate detection**: a MessageId seen on the same queue within the duplicate
  window is dropped silently, even if the first one was completed meanwhile.
* **Scheduled messages**: ``scheduled_at`` keeps a message invisible until then; it
  then queues behind what was already there (like Service Bus activation).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from shared.queue.embedded.values import check_ids, dump_properties, timestamp
from shared.queue.port import OutboundMessage


@dataclass(frozen=True)
class Prepared:
    """A message checked and encoded for storage."""

    queue: str
    session_id: str
    message_id: str
    body: bytes
    properties: str
    scheduled_at: float | None


def prepare(message: OutboundMessage) -> Prepared:
    """Check and encode ``message``; done before the transaction, which other
    threads' operations may share (so it must not fail inside it).

    Raises:
        ValueError: an id is empty or too long, or a property is not a string.
    """
    check_ids(message.message_id, message.session_id)
    if not all(isinstance(v, str) for v in message.properties.values()):
        raise ValueError("application properties must be strings")
    scheduled_at = None if message.scheduled_at is None else timestamp(message.scheduled_at)
    return Prepared(
        queue=message.queue,
        session_id=message.session_id,
        message_id=message.message_id,
        body=bytes(message.body),
        properties=dump_properties(message.properties),
        scheduled_at=scheduled_at,
    )


class RecentIds:
    """The MessageIds sent within the duplicate window, per queue."""

    def __init__(self, window: float) -> None:
        self._window = window
        self._last_prune = float("-inf")

    def is_new(self, db: sqlite3.Connection, queue: str, message_id: str, now: float) -> bool:
        """Record the id; False when it was already seen within the window."""
        recorded = db.execute(
            "INSERT INTO recent_message_ids (queue, message_id, sent_at) VALUES (?, ?, ?)"
            " ON CONFLICT (queue, message_id) DO UPDATE SET sent_at = excluded.sent_at"
            " WHERE sent_at <= ?",
            (queue, message_id, now, now - self._window),
        ).rowcount
        return recorded == 1

    def prune(self, db: sqlite3.Connection, now: float) -> None:
        """Forget ids older than the window now and then, so the table stays small.
        A full scan, but rare: cheaper than an index written at every send."""
        if now - self._last_prune < self._window / 10:
            return
        self._last_prune = now
        db.execute("DELETE FROM recent_message_ids WHERE sent_at <= ?", (now - self._window,))


def store_batch(
    db: sqlite3.Connection, batch: Sequence[Prepared], recent: RecentIds, now: float
) -> None:
    """Store the messages of ``batch`` whose ids are new, in order."""
    recent.prune(db, now)
    sequence = _reserve_sequence_numbers(db, len(batch))
    for seq, message in zip(sequence, batch, strict=True):
        if recent.is_new(db, message.queue, message.message_id, now):
            _insert_message(db, message, seq, now)


def _reserve_sequence_numbers(db: sqlite3.Connection, count: int) -> range:
    (last,) = db.execute(
        "UPDATE counters SET value = value + ? WHERE name = 'sequence' RETURNING value",
        (count,),
    ).fetchone()
    return range(last - count + 1, last + 1)


def _insert_message(db: sqlite3.Connection, message: Prepared, seq: int, now: float) -> None:
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
