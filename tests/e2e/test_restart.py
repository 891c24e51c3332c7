"""A local run killed with SIGKILL and started again loses nothing and duplicates nothing.

The local run is a separate process (`python -m localrun`) with `SIMULATOR=off`,
pointed at a simulator in this process standing in for "another MLLP listener",
so the Millennium state survives the kill and can be checked for duplicates.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from localrun.hospital_day import hospital_day
from shared.webhook.signature import new_secret
from simulator import start_simulator
from tests.e2e.harness import Orbit, wait_converged

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_local_run(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [sys.executable, "-m", "localrun"],
        cwd=ROOT,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", int(env["HOST_PORT"]))) == 0:
                return process
        time.sleep(0.1)
    process.kill()
    raise AssertionError(f"the local run did not start; see {log}")


def test_kill_9_mid_stream_loses_no_accepted_event_and_creates_nothing_twice(tmp_path):
    simulator = start_simulator(seed=5)
    simulator.faults.latency_ms = 2  # keep work in flight when the kill lands
    env = {
        **os.environ,
        "SIMULATOR": "off",
        "MILLENNIUM_MLLP_HOST": "127.0.0.1",
        "MILLENNIUM_MLLP_PORT": str(simulator.mllp_port),
        "HOST_PORT": str(free_port()),
        "LOCAL_DATA_DIR": str(tmp_path / "data"),
        "ORBIT_WEBHOOK_SECRETS": new_secret(),
    }
    log = tmp_path / "localrun.log"
    orbit = Orbit(f"http://127.0.0.1:{env['HOST_PORT']}", env["ORBIT_WEBHOOK_SECRETS"])
    events = list(hospital_day(60, seed=21))
    process = start_local_run(env, log)
    try:
        for index, event in enumerate(events):
            if index == len(events) // 2:
                process.send_signal(signal.SIGKILL)
                process.wait(10)
                process = start_local_run(env, log)
            response = orbit.post(event)
            assert response.status_code == 202
        assert wait_converged(simulator.http_url, orbit.latest.values(), timeout=60) == []
        stats = simulator.stats()
        assert stats["duplicate_creates"] == 0
        assert stats["control_id_conflicts"] == 0
    finally:
        process.kill()
        process.wait(10)
        simulator.stop()
    text = log.read_text(errors="replace")
    assert "Orbit webhook" in text  # the banner of both starts was captured
    leaked = [datum for datum in orbit.personal_data if datum in text]
    assert not leaked, f"{len(leaked)} personal data items in the local run's output"
