"""Taking SQLite's write lock when another process may hold it, without long naps.

SQLite's own busy handler retries in steps of 1, 2, 5, 10 … up to 100 ms, so a
webhook in the local run waited tens of milliseconds whenever a worker process
had just taken the write lock of the same file for a transaction of a fraction of
a millisecond. Here the lock is retried after naps of 0.1 ms doubling to 2 ms,
up to the connection's usual busy timeout.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Mapping, Sequence

FIRST_NAP_SECONDS = 0.0001
LONGEST_NAP_SECONDS = 0.002


def execute_taking_the_write_lock(
    db: sqlite3.Connection,
    statement: str,
    params: Sequence[object] | Mapping[str, object] = (),
    *,
    timeout_seconds: float,
) -> sqlite3.Cursor:
    """Execute a statement that takes the write lock (``BEGIN IMMEDIATE``, or a write
    in autocommit mode), retrying while another connection holds it.

    ``db`` must be used by this thread alone meanwhile (its busy timeout is switched
    off for the attempt and put back to ``timeout_seconds`` after).

    Raises:
        sqlite3.OperationalError: still locked after ``timeout_seconds``, or any other
            operational error at once.
        sqlite3.Error: as ``db.execute`` raises.
    """
    deadline = time.monotonic() + timeout_seconds
    nap = FIRST_NAP_SECONDS
    db.execute("PRAGMA busy_timeout = 0")
    try:
        while True:
            try:
                return db.execute(statement, params)
            except sqlite3.OperationalError as error:
                if not _is_busy(error) or time.monotonic() + nap > deadline:
                    raise
            time.sleep(nap)
            nap = min(nap * 2, LONGEST_NAP_SECONDS)
    finally:
        db.execute(f"PRAGMA busy_timeout = {int(timeout_seconds * 1000)}")


def _is_busy(error: sqlite3.OperationalError) -> bool:
    name = getattr(error, "sqlite_errorname", "")
    return name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED"))
