"""Cheap questions about a queue: is there work, and when is something next due.
Index probes on ``sessions`` only, so cheap enough to poll."""

from __future__ import annotations

import sqlite3


def has_work(
    db: sqlite3.Connection,
    queue: str,
    now: float,
    *,
    lock_duration: float,
    include_scheduled: bool,
) -> bool:
    """Whether ``queue`` has a message receivable now or held by a receiver (and,
    with ``include_scheduled``, one waiting for its time)."""
    if include_scheduled:
        row = db.execute("SELECT 1 FROM sessions WHERE queue = ? LIMIT 1", (queue,))
    else:
        # Due now, or locked: a lock ends within lock_duration, so only that slice of
        # the index needs a look at the lock column.
        row = db.execute(
            "SELECT 1 FROM sessions WHERE queue = ?1 AND due_at <= ?3"
            " AND (due_at <= ?2 OR lock_token IS NOT NULL) LIMIT 1",
            (queue, now, now + lock_duration),
        )
    return row.fetchone() is not None


def next_due(db: sqlite3.Connection, queue: str, now: float) -> float | None:
    """Seconds until something of ``queue`` becomes receivable without a new send: a
    scheduled message of an idle session, or a session lock that expires. ``0.0``
    when something is receivable now; ``None`` when no session has messages."""
    (due_at,) = db.execute("SELECT MIN(due_at) FROM sessions WHERE queue = ?", (queue,)).fetchone()
    if due_at is None:
        return None
    return max(0.0, float(due_at) - now)
