"""One local run per data folder.

Two local runs on one data folder would drive the same queue and crosswalk
with two sets of workers and two simulators, each sure it is Millennium. The
run holds an exclusive ``flock`` on ``<data folder>/localrun.lock`` for as long
as it lives; the kernel drops the lock when the process dies, even by
``kill -9``, so a crashed run never blocks the next one. The file says which
process holds it and where it listens, so the refusal can name them, and the
operator tools can find the running simulator.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from pathlib import Path
from typing import IO, Any

LOCK_FILE = "localrun.lock"


class DataFolderInUse(Exception):
    """Another local run holds the data folder; the message names the folder and process."""


class DataFolderLock:
    """The exclusive lock of a data folder, with the holder's details in the file."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / LOCK_FILE
        self._file: IO[str] | None = None

    def acquire(self) -> DataFolderLock:
        """Take the lock.

        Raises:
            DataFolderInUse: another run (this process or another) holds it.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = running_run(self.path.parent) or {}
            handle.close()
            raise DataFolderInUse(
                f"Another local run uses the data folder {self.path.parent} (process "
                f"{holder.get('pid', '?')}, {holder.get('baseUrl', 'starting')}). Stop it "
                "(Ctrl-C in its terminal), or give this one another LOCAL_DATA_DIR."
            ) from None
        self._file = handle
        self.describe({"pid": os.getpid()})
        return self

    def describe(self, details: dict[str, Any]) -> None:
        """Write who holds the lock and where it listens (read by ``running_run``)."""
        if self._file is None:
            return
        self._file.seek(0)
        self._file.truncate()
        self._file.write(json.dumps({"pid": os.getpid(), **details}))
        self._file.flush()

    def release(self) -> None:
        if self._file is None:
            return
        with contextlib.suppress(OSError):
            self._file.seek(0)
            self._file.truncate()
        fcntl.flock(self._file, fcntl.LOCK_UN)
        self._file.close()
        self._file = None


def running_run(data_dir: Path) -> dict[str, Any] | None:
    """The details of the local run that holds ``data_dir``, or None when none does."""
    path = data_dir / LOCK_FILE
    try:
        with path.open("r") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                text = handle.read()
            else:
                fcntl.flock(handle, fcntl.LOCK_UN)
                return None  # nobody holds it: a stale file from a stopped run
    except FileNotFoundError:
        return None
    try:
        details = json.loads(text)
    except ValueError:
        return {}
    return details if isinstance(details, dict) else {}
