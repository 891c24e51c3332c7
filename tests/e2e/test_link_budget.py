"""The connection budget holds across worker processes of one local run.

The local run and two more worker processes (``python -m localrun.worker``) share
one data folder, so one queue, one crosswalk and one lease file. The simulator
enforces the same connection limit an interface engine would, and counts the
most connections it ever saw at once. Many bookings later: every one converged,
nothing was created twice, no connection was refused, nothing was in doubt, and
the simulator never saw more connections than the budget.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from localrun.app import LocalRun, local_settings
from shared.crosswalk.repository import Crosswalk
from shared.webhook.signature import new_secret
from tests.e2e.conftest import FAST_RETRIES
from tests.e2e.harness import Orbit, hourly_bookings, wait_converged

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
BOOKINGS = 60
WORKER_PROCESSES = 2
CET = dt.timezone(dt.timedelta(hours=1))


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [sys.executable, "-m", "localrun.worker", "--threads-per-queue", "3"],
        cwd=ROOT,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while "Workers on" not in log.read_text(errors="replace"):
        assert process.poll() is None, f"the worker exited: {log.read_text()[-2000:]}"
        assert time.monotonic() < deadline, f"the worker did not start; see {log}"
        time.sleep(0.05)
    return process


@pytest.fixture
def budgeted_run(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[LocalRun, list[Path]]]:
    budget = str(request.param)
    secret = new_secret()
    data = tmp_path / "data"
    monkeypatch.setenv("ORBIT_WEBHOOK_SECRETS", secret)
    monkeypatch.setenv("LOCAL_DATA_DIR", str(data))
    monkeypatch.setenv("MILLENNIUM_MLLP_MAX_CONNECTIONS", budget)
    settings = dataclasses.replace(
        local_settings(), host_port=0, mllp_port=0, mllp_timeout_seconds=2.0
    )
    run = LocalRun(settings, simulator_http_port=0, retry=FAST_RETRIES).start()
    run.simulator.faults.latency_ms = 1  # keep sends in flight, so processes overlap
    env = {
        **os.environ,
        "LOCAL_DATA_DIR": str(data),
        "SIMULATOR": "off",
        "MILLENNIUM_MLLP_HOST": "127.0.0.1",
        "MILLENNIUM_MLLP_PORT": str(run.settings.mllp_port),
        "MILLENNIUM_MLLP_MAX_CONNECTIONS": budget,
        "MILLENNIUM_MLLP_TIMEOUT_SECONDS": "2",
    }
    logs = [tmp_path / f"worker-{n}.log" for n in range(WORKER_PROCESSES)]
    workers = [start_worker(env, log) for log in logs]
    yield run, logs
    for worker in workers:
        worker.terminate()
    for worker in workers:
        worker.wait(timeout=30)
    run.stop()


@pytest.mark.parametrize("budgeted_run", [1, 2], indirect=True, ids=["budget-1", "budget-2"])
def test_many_bookings_through_several_processes_keep_to_the_budget(
    budgeted_run: tuple[LocalRun, list[Path]],
) -> None:
    run, worker_logs = budgeted_run
    budget = run.settings.mllp_max_connections
    orbit = Orbit(run.base_url, run.settings.orbit_webhook_secrets[0])
    for snapshot in hourly_bookings(BOOKINGS, dt.datetime(2026, 12, 1, 8, tzinfo=CET)):
        assert orbit.send(snapshot).status_code == 202

    differences = wait_converged(run.simulator.http_url, orbit.latest.values(), timeout=180)
    assert differences == []

    stats = run.simulator.stats()
    assert 1 <= stats["max_connections_seen"] <= budget
    assert stats["over_limit_connections"] == 0
    assert stats["refused_connections"] == 0
    assert stats["duplicate_creates"] == 0
    assert stats["by_ack"] == {"AA": BOOKINGS * 3}  # encounter, appointment, bed each
    crosswalk = Crosswalk(run.services.store) if run.services else None
    assert crosswalk is not None
    kinds = {row["kind"] for booking in orbit.latest for row in crosswalk.audit_trail(booking)}
    assert "in-doubt" not in kinds and "blocked" not in kinds
    # Other processes sent too, under the same budget (which ones get work is the
    # queue's choice, so not necessarily every one of them).
    assert any("hl7 " in log.read_text(errors="replace") for log in worker_logs)
