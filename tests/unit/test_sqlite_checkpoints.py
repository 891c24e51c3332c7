"""WAL checkpoints run on a thread of their own, not in a booking's commit."""

from __future__ import annotations

import gc
import sqlite3
from pathlib import Path

from shared.crosswalk.sqlite import SqliteTableStore
from shared.names import TABLE_BOOKINGS
from shared.queue.embedded import EmbeddedQueue
from shared.sqlite_checkpoints import BACKSTOP_PAGES, checkpoint_now, keep_checkpointed, watched
from tests.waiting import wait_for

ROWS = 300  # about 300 pages of log: below SQLite's default threshold (1,000)


class _Owner:
    """Stands for a store: something a weak reference can point at."""


def _database_bytes(path: Path) -> int:
    return path.stat().st_size


def test_a_crosswalk_file_is_checkpointed_by_the_thread_not_by_its_commits(tmp_path: Path) -> None:
    """Before: SQLite checkpointed inside the commit that crossed 1,000 pages, and the
    booking whose step made that commit waited for it (the end-to-end p99)."""
    path = tmp_path / "crosswalk.sqlite3"
    store = SqliteTableStore(path)
    store.create_tables([TABLE_BOOKINGS])
    try:
        (limit,) = store._conn.execute("PRAGMA wal_autocheckpoint").fetchone()
        assert limit == BACKSTOP_PAGES
        empty = _database_bytes(path)
        for n in range(ROWS):
            store.insert(TABLE_BOOKINGS, f"OB-{n}", "snapshot", {"text": "x" * 3000})
        checkpoint_now()
        assert wait_for(lambda: _database_bytes(path) > empty + ROWS * 3000, timeout=10)
    finally:
        store.close()
    assert str(path.resolve()) not in watched()


def test_the_queue_file_is_watched_while_it_is_open(tmp_path: Path) -> None:
    path = tmp_path / "queue.sqlite3"
    queue = EmbeddedQueue(path)
    assert str(path.resolve()) in watched()
    queue.close()
    assert str(path.resolve()) not in watched()


def test_a_removed_file_is_dropped_and_never_created_again(tmp_path: Path) -> None:
    path = tmp_path / "gone.sqlite3"
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("CREATE TABLE t (x)")
    db.close()
    owner = _Owner()
    release = keep_checkpointed(path, owner)
    try:
        assert str(path.resolve()) in watched()
        path.unlink()
        checkpoint_now()
        assert wait_for(lambda: str(path.resolve()) not in watched(), timeout=10)
        assert not path.exists()
    finally:
        release()


def test_a_file_opened_twice_stays_watched_until_both_let_go(tmp_path: Path) -> None:
    path = tmp_path / "twice.sqlite3"
    sqlite3.connect(path).close()
    owner = _Owner()
    first, second = keep_checkpointed(path, owner), keep_checkpointed(path, owner)
    first()
    first()  # a second release of the same registration changes nothing
    assert str(path.resolve()) in watched()
    second()
    assert str(path.resolve()) not in watched()


def test_a_store_that_was_never_closed_is_let_go_when_it_is_garbage(tmp_path: Path) -> None:
    path = tmp_path / "forgotten.sqlite3"
    store = SqliteTableStore(path)
    assert str(path.resolve()) in watched()
    del store
    gc.collect()
    assert str(path.resolve()) not in watched()
