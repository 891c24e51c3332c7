"""Taking SQLite's write lock held by another connection, in short naps."""

from __future__ import annotations

import sqlite3
import threading
from contextlib import closing
from pathlib import Path

import pytest

from shared.sqlite_locks import execute_taking_the_write_lock


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode = WAL")
    return db


def test_the_lock_is_taken_once_the_other_connection_lets_go(tmp_path: Path) -> None:
    path = tmp_path / "file.sqlite3"
    with closing(_connect(path)) as holder, closing(_connect(path)) as taker:
        holder.execute("CREATE TABLE t (n INTEGER)")
        holder.execute("BEGIN IMMEDIATE")
        waiting = threading.Event()

        def let_go() -> None:
            waiting.wait(10)
            holder.execute("COMMIT")

        thread = threading.Thread(target=let_go)
        thread.start()
        waiting.set()
        execute_taking_the_write_lock(taker, "INSERT INTO t VALUES (1)", timeout_seconds=10)
        thread.join()
        assert taker.execute("SELECT n FROM t").fetchall() == [(1,)]
        assert taker.execute("PRAGMA busy_timeout").fetchone() == (10_000,)


def test_a_lock_held_past_the_timeout_raises_and_restores_the_busy_timeout(
    tmp_path: Path,
) -> None:
    path = tmp_path / "file.sqlite3"
    with closing(_connect(path)) as holder, closing(_connect(path)) as taker:
        holder.execute("BEGIN IMMEDIATE")
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            execute_taking_the_write_lock(taker, "BEGIN IMMEDIATE", timeout_seconds=0.05)
        assert taker.execute("PRAGMA busy_timeout").fetchone() == (50,)
        holder.execute("ROLLBACK")


def test_other_errors_are_raised_at_once(tmp_path: Path) -> None:
    with (
        closing(_connect(tmp_path / "file.sqlite3")) as db,
        pytest.raises(sqlite3.OperationalError, match="no such table"),
    ):
        execute_taking_the_write_lock(db, "INSERT INTO missing VALUES (1)", timeout_seconds=10)
