"""What an embedded queue file holds, read with plain SQL beside the queue.

The tests' own view of the file: it counts the rows, so it does not trust the
queue's bookkeeping (a message left behind without its session would show here).
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class QueueCounts:
    """Messages of one queue. ``active`` includes locked ones, as Service Bus counts;
    a lock that expired counts as locked until a receiver takes the session back."""

    active: int = 0
    scheduled: int = 0
    dead_lettered: int = 0
    locked: int = 0


def queue_counts(path: Path, now: float) -> dict[str, QueueCounts]:
    """The counts of every queue that holds anything at ``now`` (seconds since the
    epoch, as the queue's clock gives them); an empty queue is missing."""
    with closing(sqlite3.connect(path)) as db:
        live = db.execute(
            "SELECT queue, SUM(visible_at <= ?1), SUM(visible_at > ?1),"
            " SUM(lock_token IS NOT NULL) FROM messages GROUP BY queue",
            (now,),
        ).fetchall()
        dead = db.execute("SELECT queue, COUNT(*) FROM dead_letters GROUP BY queue").fetchall()
    counts = {
        queue: QueueCounts(active=active, scheduled=scheduled, locked=locked)
        for queue, active, scheduled, locked in live
    }
    for queue, dead_count in dead:
        base = counts.get(queue, QueueCounts())
        counts[queue] = QueueCounts(base.active, base.scheduled, dead_count, base.locked)
    return counts
