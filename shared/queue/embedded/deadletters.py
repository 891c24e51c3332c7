"""The dead-letter table: letters a worker parked with a reason, and messages the
queue moved there itself after their last allowed delivery (one table for both,
with the fields Service Bus gives them). Ids are row ids."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from shared.queue.embedded.values import (
    MAX_DELIVERY_COUNT_EXCEEDED,
    DeadLetterNotFound,
    ParkedLetter,
    dump_properties,
    utc,
)
from shared.queue.port import DeadLetter


def park(db: sqlite3.Connection, letter: DeadLetter, now: float) -> None:
    """Park ``letter`` unless its source queue and message id are already parked
    (as duplicate detection drops it on Service Bus's ``dead-letters`` queue: a
    worker that crashed between parking and completing parks it again)."""
    already = db.execute(
        "SELECT 1 FROM dead_letters WHERE queue = ? AND message_id = ?",
        (letter.source_queue, letter.message_id),
    ).fetchone()
    if already is not None:
        return
    db.execute(
        "INSERT INTO dead_letters (queue, session_id, message_id, body, properties,"
        " reason, description, delivery_count, enqueued_at, dead_lettered_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?)",
        (
            letter.source_queue,
            letter.session_id,
            letter.message_id,
            letter.body,
            dump_properties(letter.properties),
            letter.reason,
            letter.description,
            now,
            now,
        ),
    )


def park_exhausted(
    db: sqlite3.Connection,
    queue: str,
    session_id: str,
    seq: int,
    now: float,
    max_delivery_count: int,
) -> None:
    """Move a message that was delivered ``max_delivery_count`` times to the dead
    letters, as ``MaxDeliveryCountExceeded``. The caller releases its session."""
    db.execute(
        "INSERT INTO dead_letters (queue, session_id, message_id, body, properties,"
        " reason, description, delivery_count, enqueued_at, dead_lettered_at)"
        " SELECT queue, session_id, message_id, body, properties, ?, ?,"
        " delivery_count, enqueued_at, ? FROM messages"
        " WHERE queue = ? AND session_id = ? AND seq = ?",
        (
            MAX_DELIVERY_COUNT_EXCEEDED,
            f"Message could not be consumed after {max_delivery_count} delivery attempts.",
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


def parked_letters(db: sqlite3.Connection) -> list[ParkedLetter]:
    """Every parked letter, oldest first."""
    rows = db.execute(
        "SELECT id, queue, reason, description, message_id, session_id, body,"
        " properties, delivery_count, enqueued_at, dead_lettered_at"
        " FROM dead_letters ORDER BY id"
    ).fetchall()
    return [_parked_letter(row) for row in rows]


def purge(db: sqlite3.Connection, letter_id: int) -> None:
    """Delete a dead letter for good.

    Raises:
        DeadLetterNotFound: no letter has this id.
    """
    deleted = db.execute("DELETE FROM dead_letters WHERE id = ?", (letter_id,)).rowcount
    if deleted == 0:
        raise DeadLetterNotFound(f"dead letter {letter_id}")


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
        enqueued_at=utc(row[9]),
        dead_lettered_at=utc(row[10]),
    )
