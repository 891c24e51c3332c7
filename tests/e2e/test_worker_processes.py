"""The local run with its queue triggers in a worker process of their own.

The local run's own process serves HTTP and drives no queue; the worker process
it started receives every queue, woken through the queue file's doorbell. Bookings
converge, nothing is created twice, and stopping the run stops the process.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from pathlib import Path

import pytest

from localrun.app import LocalRun, local_settings
from shared.webhook.signature import new_secret
from tests.builders import make_patient, make_snapshot
from tests.e2e.harness import Orbit, wait_converged

pytestmark = pytest.mark.e2e
BOOKINGS = 12
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
        for n in range(BOOKINGS):
            start = dt.datetime(2026, 12, 7, 8, tzinfo=CET) + dt.timedelta(hours=n)
            snapshot = make_snapshot(
                booking_id=f"OB-2026-{n + 1:06d}",
                patient=make_patient(n + 1),
                planned_start=start,
                planned_end=start + dt.timedelta(hours=2),
            )
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
