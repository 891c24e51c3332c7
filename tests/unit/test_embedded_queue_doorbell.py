"""A send in one process wakes a receiver waiting in another at once.

The receiving child's poll interval is set to a minute, so if the send did not ring
its doorbell it would only see the message after that minute; the test gives it
30 s, where the doorbell takes milliseconds.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
import time
from contextlib import closing
from pathlib import Path

from shared.queue.embedded import EmbeddedQueue
from shared.queue.embedded.doorbell import Doorbell
from shared.queue.port import OutboundMessage
from tests.waiting import wait_for

Q = "sync-encounter"
REPO_ROOT = Path(__file__).resolve().parents[2]

RECEIVER = textwrap.dedent(
    f"""
    import sys
    import shared.queue.embedded.queue as queue_module
    queue_module.CROSS_PROCESS_POLL = 60.0
    from shared.queue.embedded import EmbeddedQueue

    queue = EmbeddedQueue(sys.argv[1])
    received = queue.receive({Q!r}, wait=60.0)
    print(",".join(m.message_id for m in received), flush=True)
    queue.close()
    """
)


def _doorbell_pids(path: Path) -> set[int]:
    with closing(sqlite3.connect(path)) as db:
        return {pid for (pid,) in db.execute("SELECT pid FROM doorbells")}


def test_a_send_wakes_a_receiver_in_another_process(tmp_path: Path) -> None:
    path = tmp_path / "queue.sqlite3"
    sender = EmbeddedQueue(path)
    child = subprocess.Popen(
        [sys.executable, "-c", RECEIVER, str(path)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    try:
        assert wait_for(lambda: child.pid in _doorbell_pids(path), 30), "child never listened"
        time.sleep(0.2)  # it is inside its wait (listening comes first)
        sender.send([OutboundMessage(queue=Q, body=b"{}", session_id="OB-1", message_id="m1")])
        out, _ = child.communicate(timeout=30)
    finally:
        child.kill()
        sender.close()
    assert out.strip() == "m1"
    assert child.pid not in _doorbell_pids(path), "a closed queue leaves its bell row behind"


def test_rows_of_processes_that_are_gone_are_pruned_and_never_rung(tmp_path: Path) -> None:
    path = tmp_path / "queue.sqlite3"
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead_pid = int(gone.stdout)
    queue = EmbeddedQueue(path)
    with closing(sqlite3.connect(path)) as db, db:
        db.execute("INSERT INTO doorbells (port, pid) VALUES (1, ?)", (dead_pid,))
    rung: list[list[str]] = []
    bell = Doorbell(queue._database, lambda queues: rung.append(list(queues)))
    assert bell._other_ports() == []  # the dead row is skipped
    bell.listen()
    try:
        assert _doorbell_pids(path) == {os.getpid()}
    finally:
        bell.close()
        queue.close()
    assert _doorbell_pids(path) == set()
