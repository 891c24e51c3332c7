"""Lease slots in a SQLite file: the local run's connection budget.

Every process of a local run (the app and any extra worker processes on the same
data folder) opens the same file, so the budget holds across them as blob
leases hold across Azure instances. Each statement is one atomic transaction;
expiry uses wall-clock time because several processes compare it. All holders
are on this machine, so a slot whose holder process is gone (``kill -9``) is
free at once instead of after the lease's duration.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

from shared.errors import TransientError

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS link_leases "
    "(slot INTEGER PRIMARY KEY, holder TEXT, expires REAL, wanted REAL NOT NULL DEFAULT 0,"
    " pid INTEGER NOT NULL DEFAULT 0)"
)


class SqliteLeases:
    """``LeaseStore`` over one SQLite file (or ``":memory:"`` for one process)."""

    def __init__(
        self,
        path: str | Path,
        *,
        duration: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Raises TransientError: the file cannot be opened."""
        self._duration = duration
        self._clock = clock
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(
                str(path), timeout=10.0, isolation_level=None, check_same_thread=False
            )
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute(_SCHEMA)
        except sqlite3.Error as error:
            raise _unavailable(error) from None

    @property
    def duration(self) -> float:
        return self._duration

    def try_acquire(self, slot: int) -> str | None:
        lease_id = secrets.token_hex(8)
        now = self._clock()
        orphaned = self._orphaned_holder(slot)
        taken = self._run(
            "INSERT INTO link_leases (slot, holder, expires, pid) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (slot) DO UPDATE SET holder = excluded.holder, "
            "expires = excluded.expires, pid = excluded.pid "
            "WHERE link_leases.holder IS NULL OR link_leases.expires <= ? "
            "OR link_leases.holder = ?",
            (slot, lease_id, now + self._duration, os.getpid(), now, orphaned),
        )
        return lease_id if taken else None

    def _orphaned_holder(self, slot: int) -> str:
        """The holder of ``slot`` if its process no longer exists, else ``""``."""
        try:
            with self._lock:
                rows = self._db.execute(
                    "SELECT holder, pid FROM link_leases WHERE slot = ? AND holder IS NOT NULL",
                    (slot,),
                ).fetchall()
        except sqlite3.Error as error:
            raise _unavailable(error) from None
        if not rows or _alive(int(rows[0][1])):
            return ""
        return str(rows[0][0])

    def renew(self, slot: int, lease_id: str) -> bool:
        now = self._clock()
        return self._run(
            "UPDATE link_leases SET expires = ? WHERE slot = ? AND holder = ? AND expires > ?",
            (now + self._duration, slot, lease_id, now),
        )

    def release(self, slot: int, lease_id: str) -> None:
        self._run(
            "UPDATE link_leases SET holder = NULL, expires = 0 WHERE slot = ? AND holder = ?",
            (slot, lease_id),
        )

    def want(self, slot: int) -> None:
        self._run(
            "INSERT INTO link_leases (slot, holder, expires, wanted) VALUES (?, NULL, 0, ?) "
            "ON CONFLICT (slot) DO UPDATE SET wanted = excluded.wanted",
            (slot, self._clock()),
        )

    def wanted_at(self, slot: int) -> float:
        try:
            with self._lock:
                rows = self._db.execute(
                    "SELECT wanted FROM link_leases WHERE slot = ?", (slot,)
                ).fetchall()
        except sqlite3.Error as error:
            raise _unavailable(error) from None
        return float(rows[0][0]) if rows else 0.0

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _run(self, statement: str, params: tuple[object, ...]) -> bool:
        """Execute; True when a row changed."""
        try:
            with self._lock:
                return self._db.execute(statement, params).rowcount > 0
        except sqlite3.Error as error:
            raise _unavailable(error) from None


def _alive(pid: int) -> bool:
    if pid <= 0:
        return True  # unknown: wait for the lease to lapse
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _unavailable(error: sqlite3.Error) -> TransientError:
    code = getattr(error, "sqlite_errorname", type(error).__name__)
    return TransientError(f"the local link lease file is unavailable ({code})")
