"""One local run per data folder (issue 12: a second run, or a demo, worked on
another run's data folder)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from localrun.lock import DataFolderInUse, DataFolderLock, running_run


def test_a_second_holder_is_refused_naming_the_folder_and_the_process(tmp_path: Path) -> None:
    first = DataFolderLock(tmp_path).acquire()
    first.describe({"baseUrl": "http://127.0.0.1:40001"})
    try:
        with pytest.raises(DataFolderInUse) as refused:
            DataFolderLock(tmp_path).acquire()
        message = str(refused.value)
        assert str(tmp_path) in message
        assert f"process {os.getpid()}, http://127.0.0.1:40001" in message
        assert running_run(tmp_path) == {"pid": os.getpid(), "baseUrl": "http://127.0.0.1:40001"}
    finally:
        first.release()
    assert running_run(tmp_path) is None
    DataFolderLock(tmp_path).acquire().release()  # free again after the release


def test_a_lock_file_left_by_a_dead_run_does_not_block(tmp_path: Path) -> None:
    (tmp_path / "localrun.lock").write_text('{"pid": 999999, "baseUrl": "http://x"}')
    assert running_run(tmp_path) is None
    DataFolderLock(tmp_path).acquire().release()
