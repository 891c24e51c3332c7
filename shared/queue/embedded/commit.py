"""How writes reach the queue file: one thread at a time, and group commit.

Threads of one process share one connection behind a lock (SQLite would make them
sleep-poll each other otherwise). Processes are serialised by SQLite's file lock
(worker processes and operator tools open the file too), taken in short naps
(`shared.sqlite_locks`).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Generic, TypeVar, cast

from shared.errors import QueueUnavailable
from shared.sqlite_locks import execute_taking_the_write_lock

T = TypeVar("T")


class Database:
    """The queue file's one connection, used by one thread at a time."""

    def __init__(self, connection: sqlite3.Connection, *, busy_timeout_seconds: float) -> None:
        self._db = connection
        self._lock = threading.RLock()
        self._timeout = busy_timeout_seconds

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def guarded(self) -> Iterator[sqlite3.Connection]:
        """The connection, for this thread alone; SQLite trouble → QueueUnavailable.

        Raises:
            QueueUnavailable: the file stayed locked past the busy timeout or could
                not be written.
        """
        with self._lock:
            try:
                yield self._db
            except sqlite3.OperationalError as exc:
                raise QueueUnavailable(f"embedded queue file unavailable: {exc}") from exc

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; IMMEDIATE so two processes never both read-then-lock.
        An exception rolls it back and is raised again.

        Raises:
            QueueUnavailable: as ``guarded``.
        """
        with self.guarded() as db:
            execute_taking_the_write_lock(db, "BEGIN IMMEDIATE", timeout_seconds=self._timeout)
            try:
                yield db
            except BaseException:
                if db.in_transaction:  # SQLite may have rolled back already (disk full)
                    db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")


class GroupCommit:
    """Runs the write operations of concurrent threads in shared transactions.

    A commit is what a message costs (its page writes and file locks), so while one
    thread commits, the operations other threads submit meanwhile are queued and the
    next thread to get the lock runs them all in one transaction ("group commit").
    Each caller still returns only after its operation is committed. An operation
    must not raise on purpose (return a result instead): an exception rolls back the
    whole group and is raised in every caller of it.
    """

    def __init__(self, database: Database) -> None:
        self._database = database
        self._pending: list[_Operation[Any]] = []
        self._pending_guard = threading.Lock()
        self._leader = threading.Lock()

    def run(self, operation: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``operation`` in a write transaction (maybe shared); its result.

        Raises:
            QueueUnavailable: the group's transaction could not be committed.
        """
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
            with self._database.write() as db:
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
