"""What only the SQLite adapter promises, beyond the shared contract.

* a committed write survives the process being killed with SIGKILL;
* the file keeps its tables and data across reopening; WAL journal;
* reads do not queue behind the writers' connection.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from shared.crosswalk.sqlite import SqliteTableStore
from shared.errors import ConcurrencyConflict, StoreError, TransientError

REPO_ROOT = Path(__file__).resolve().parents[2]
PK = "OB-2026-000123"


@pytest.fixture
def store(tmp_path: Path) -> SqliteTableStore:
    store = SqliteTableStore(tmp_path / "crosswalk.sqlite3")
    store.create_tables(["bookings"])
    return store


def test_sqlite_reinserted_entity_does_not_accept_the_old_etag(store: SqliteTableStore) -> None:
    old = store.insert("bookings", PK, "intent", {"msh10": "ORB1"})
    store.delete("bookings", PK, "intent")
    store.insert("bookings", PK, "intent", {"msh10": "ORB2"})

    with pytest.raises(ConcurrencyConflict):
        store.update("bookings", PK, "intent", {"msh10": "ORB3"}, old.etag)


def test_sqlite_foreign_etag_is_a_conflict(store: SqliteTableStore) -> None:
    store.insert("bookings", PK, "snapshot", {"version": 1})

    with pytest.raises(ConcurrencyConflict):
        store.update("bookings", PK, "snapshot", {"version": 2}, "W/\"datetime'2026'\"")


def test_sqlite_reopened_file_keeps_tables_and_data(tmp_path: Path) -> None:
    path = tmp_path / "crosswalk.sqlite3"
    first = SqliteTableStore(path)
    first.create_tables(["bookings"])
    written = first.insert("bookings", PK, "snapshot", {"version": 1, "name": "Åsa"})
    first.close()

    reopened = SqliteTableStore(path)

    assert reopened.get("bookings", PK, "snapshot") == written  # no create_tables needed
    reopened.close()


def test_sqlite_uses_the_wal_journal(tmp_path: Path) -> None:
    path = tmp_path / "crosswalk.sqlite3"
    store = SqliteTableStore(path)
    store.create_tables(["bookings"])
    store.insert("bookings", PK, "snapshot", {})

    assert (tmp_path / "crosswalk.sqlite3-wal").exists()
    store.close()


_WRITE_THEN_DIE = """
import os, signal, sys
from shared.crosswalk.sqlite import SqliteTableStore
store = SqliteTableStore(sys.argv[1])
store.create_tables(["bookings"])
store.insert("bookings", "OB-1", "snapshot", {"version": 1})
store.insert("bookings", "OB-1", "audit-0001", {"code": "AA"})
print("written", flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_sqlite_committed_writes_survive_kill_9(tmp_path: Path) -> None:
    path = tmp_path / "crosswalk.sqlite3"

    died = subprocess.run(
        [sys.executable, "-c", _WRITE_THEN_DIE, str(path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    assert died.returncode == -signal.SIGKILL, died.stderr
    assert died.stdout == "written\n"
    store = SqliteTableStore(path)
    assert [e.row_key for e in store.query("bookings", "OB-1")] == ["audit-0001", "snapshot"]
    store.close()


def test_sqlite_memory_store_is_shared_by_threads() -> None:
    store = SqliteTableStore(":memory:")
    store.create_tables(["bookings"])

    def write(worker: int) -> None:
        for i in range(200):
            store.upsert("bookings", f"OB-{worker}", f"audit-{i:04}", {"i": i})

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(1 for _ in store.scan("bookings")) == 800
    store.close()


def test_sqlite_scan_pages_through_large_tables(tmp_path: Path) -> None:
    store = SqliteTableStore(tmp_path / "crosswalk.sqlite3", scan_page_size=7)
    store.create_tables(["bookings"])
    # 20 partitions of 10 rows: many pages; only partitions 5..19 have a snapshot
    for pk in range(20):
        for i in range(10):
            store.insert("bookings", f"OB-{pk:02}", f"r{i:02}", {"i": i})
        if pk >= 5:
            store.insert("bookings", f"OB-{pk:02}", "snapshot", {})

    keys = [(e.partition_key, e.row_key) for e in store.scan("bookings")]
    snapshots = [e.partition_key for e in store.scan("bookings", row_key="snapshot")]

    assert len(keys) == 20 * 10 + 15
    assert keys == sorted(set(keys))  # every entity once, in key order
    assert snapshots == [f"OB-{pk:02}" for pk in range(5, 20)]
    store.close()


def test_sqlite_busy_database_is_a_transient_error(tmp_path: Path) -> None:
    path = tmp_path / "crosswalk.sqlite3"
    store = SqliteTableStore(path, busy_timeout_seconds=0.05)
    store.create_tables(["bookings"])
    blocker = SqliteTableStore(path)
    blocker._conn.execute("BEGIN IMMEDIATE")  # another writer holds the lock

    with pytest.raises(TransientError, match="unavailable"):
        store.insert("bookings", PK, "snapshot", {})

    blocker._conn.execute("ROLLBACK")
    store.insert("bookings", PK, "snapshot", {})  # usable again
    blocker.close()
    store.close()


def test_sqlite_unreadable_file_raises_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "not-a-database.sqlite3"
    path.write_bytes(os.urandom(4096))

    with pytest.raises(StoreError):
        store = SqliteTableStore(path)
        store.create_tables(["bookings"])


def test_sqlite_reads_do_not_wait_for_the_writers_connection(store: SqliteTableStore) -> None:
    """While a writer holds the shared connection, other threads still read (and
    see every committed write)."""
    store.insert("bookings", PK, "snapshot", {"version": 1})
    store.insert("bookings", PK, "target|encounter", {"seq": 1})
    read: list[object] = []

    def reader() -> None:
        read.append(store.get("bookings", PK, "snapshot"))
        read.append(len(store.query("bookings", PK, "target|")))
        read.append(sum(1 for _ in store.scan("bookings")))

    with store._lock:  # a writer mid-statement
        thread = threading.Thread(target=reader)
        thread.start()
        thread.join(timeout=10)
        finished = not thread.is_alive()
    thread.join()
    assert finished, "a read waited for the writers' connection"
    assert read[1:] == [1, 2]
