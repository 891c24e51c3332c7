"""WAL checkpoints off the hot path: one background thread per process copies the
write-ahead log of each registered SQLite file into the database.

Why: with SQLite's automatic checkpoint, the commit that takes the log past its
threshold copies the log into the database and syncs the file before it returns,
so whichever step of whichever booking made that commit waited tens of
milliseconds (measured: the end-to-end p99 of the local run, once every couple
of hundred bookings; the queue file's rarer, larger checkpoints took hundreds).
A PASSIVE checkpoint from a connection of its own blocks no writer and no
reader, and the file sync happens on this thread, which holds no Python lock
while SQLite works. The files' own connections keep an automatic checkpoint as
a backstop at ``BACKSTOP_PAGES``, for a process whose thread is not running.

A file is checkpointed only when its log changed since the last round, while the
store that registered it is open (or, if never closed, until it is garbage); a
file that is gone is dropped, never created again.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import weakref
from collections import Counter
from collections.abc import Callable
from pathlib import Path

INTERVAL_SECONDS = 0.5
BACKSTOP_PAGES = 10_000  # about 40 MB of log: only reached when this thread is stopped

log = logging.getLogger(__name__)

_guard = threading.Lock()
_files: Counter[str] = Counter()  # path → how many open stores want it checkpointed
_seen: dict[str, tuple[int, int]] = {}  # path → its log's (mtime, size) at the last round
_wake = threading.Event()
_thread: threading.Thread | None = None


def keep_checkpointed(path: str | Path, owner: object) -> Callable[[], None]:
    """Checkpoint ``path``'s log every INTERVAL_SECONDS from now on; returns the
    function to call when ``owner`` closes its connections to the file (called by
    itself once ``owner`` is garbage)."""
    key = str(Path(path).resolve())
    with _guard:
        _files[key] += 1
        _start_thread()
    released = threading.Event()

    def release() -> None:
        if released.is_set():
            return
        released.set()
        with _guard:
            _files[key] -= 1
            if _files[key] <= 0:
                del _files[key]
                _seen.pop(key, None)

    weakref.finalize(owner, release)
    return release


def checkpoint_now() -> None:
    """Wake the thread for a round at once (for tests and benchmarks)."""
    _wake.set()


def watched() -> set[str]:
    """The files the thread checkpoints now (resolved paths)."""
    with _guard:
        return set(_files)


def _start_thread() -> None:
    global _thread
    if _thread is None or not _thread.is_alive():
        _thread = threading.Thread(target=_run, name="sqlite-checkpoints", daemon=True)
        _thread.start()


def _run() -> None:
    while True:
        _wake.wait(INTERVAL_SECONDS)
        _wake.clear()
        with _guard:
            paths = list(_files)
        for path in paths:
            if not _log_changed(path):
                continue
            if not _checkpoint(path):
                with _guard:
                    _files.pop(path, None)


def _log_changed(path: str) -> bool:
    """Whether the file's log changed since the last round (a gone file: True, so
    that the round notices)."""
    try:
        stat = os.stat(f"{path}-wal")
    except OSError:
        return not Path(path).exists()
    now = (stat.st_mtime_ns, stat.st_size)
    if _seen.get(path) == now:
        return False
    _seen[path] = now
    return True


def _checkpoint(path: str) -> bool:
    """One PASSIVE checkpoint of ``path``; False when the file is gone."""
    try:
        # mode=rw: never create a file that a test (or an operator) removed.
        db = sqlite3.connect(f"file:{path}?mode=rw", uri=True, timeout=0, isolation_level=None)
    except sqlite3.OperationalError:
        if Path(path).exists():
            return True
        _seen.pop(path, None)
        return False
    try:
        db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
    except sqlite3.Error as error:  # busy (another process checkpoints), or gone meanwhile
        log.debug("checkpoint of %s skipped: %s", path, error)
    finally:
        db.close()
    return True
