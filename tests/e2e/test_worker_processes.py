"""The local run with its queue triggers in a worker process of their own.

The local run's own process serves HTTP and drives no queue; the worker process
it started receives every queue, woken through the queue file's doorbell. Bookings
converge, nothing is created twice, and stopping the run stops the process.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from localrun.app import LocalRun, local_settings
from shared.webhook.signature import new_secret
from tests.e2e.harness import Orbit, hourly_bookings, wait_converged

pytestmark = pytest.mark.e2e
BOOKINGS = 12
ROOT = Path(__file__).resolve().parents[2]
CET = dt.timezone(dt.timedelta(hours=1))


def test_bookings_converge_through_a_worker_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORBIT_WEBHOOK_SECRETS", new_secret())
    monkeypatch.setenv("LOCAL_DATA_DIR", str(tmp_path / "data"))
    settings = dataclasses.replace(local_settings(), host_port=0, mllp_port=0)
    run = LocalRun(settings, simulator_http_port=0, worker_processes=1).start()
    try:
        (worker,) = run.worker_processes.pids
        assert run.dispatcher.queues  # it watches every queue for wait_idle ...
        assert run.dispatcher.driven_queues == []  # ... and drives none of them
        orbit = Orbit(run.base_url, run.settings.orbit_webhook_secrets[0])
        for snapshot in hourly_bookings(BOOKINGS, dt.datetime(2026, 12, 7, 8, tzinfo=CET)):
            assert orbit.send(snapshot).status_code == 202
        assert wait_converged(run.simulator.http_url, orbit.latest.values(), timeout=60) == []
        stats = run.simulator.stats()
        assert stats["duplicate_creates"] == 0
        assert stats["by_ack"] == {"AA": BOOKINGS * 3}
        assert run.dispatcher.wait_idle(30)
    finally:
        run.stop()
    assert run.worker_processes is None
    with pytest.raises(ProcessLookupError):
        os.kill(worker, 0)


def test_worker_processes_stop_when_the_local_run_is_killed(tmp_path: Path) -> None:
    """``make run --worker-processes 1`` killed with SIGKILL cannot stop its workers;
    they notice and stop themselves, instead of draining the folder for ever."""
    log = tmp_path / "localrun.log"
    env = {
        **os.environ,
        "LOCAL_DATA_DIR": str(tmp_path / "data"),
        "HOST_PORT": "0",
        "MILLENNIUM_MLLP_PORT": "0",
        "SIMULATOR_HTTP_PORT": "0",
        "ORBIT_WEBHOOK_SECRETS": new_secret(),
    }
    run = subprocess.Popen(
        [sys.executable, "-m", "localrun", "--json", "--worker-processes", "1"],
        cwd=ROOT,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    try:
        details = _first_json_line(log, run)
        (worker,) = details["workerProcesses"]
        os.kill(run.pid, signal.SIGKILL)
        run.wait(30)
        assert _gone_within(worker, 30), "the worker process outlived its local run"
    finally:
        run.kill()


def _first_json_line(log: Path, process: subprocess.Popen[bytes]) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for line in log.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                details: dict[str, Any] = json.loads(line)
                return details
        assert process.poll() is None, log.read_text()[-2000:]
        time.sleep(0.05)
    raise AssertionError(f"the local run did not start: {log.read_text()[-2000:]}")


def _gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False
