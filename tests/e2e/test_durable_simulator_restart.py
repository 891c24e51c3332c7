"""The local run with its own (durable) simulator, killed with SIGKILL mid-stream and
started again: Millennium still holds what it confirmed, a resend of an applied
MSH-10 is recognised, nothing is created twice and everything converges."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx
import pytest

from localrun.hospital_day import hospital_day
from tests.e2e.harness import Orbit, wait_converged
from tests.e2e.test_new_user_path import LocalWorld

pytestmark = pytest.mark.e2e


def test_kill_9_with_the_simulator_inside_loses_nothing_and_duplicates_nothing(
    tmp_path: Path,
) -> None:
    world = LocalWorld(tmp_path)
    try:
        first = world.start()
        simulator = first["simulator"]
        httpx.post(f"{simulator}/faults", json={"latency_ms": 2})  # keep work in flight
        orbit = Orbit(first["baseUrl"], world.secrets()["ORBIT_WEBHOOK_SECRETS"])
        events = list(hospital_day(60, seed=12))
        for index, event in enumerate(events):
            assert orbit.post(event).status_code == 202
            if index == len(events) // 2:
                held = httpx.get(f"{simulator}/state").json()["counts"]["encounters"]
        world.stop(signal.SIGKILL)
        second = world.start()
        stats = httpx.get(f"{second['simulator']}/stats").json()
        assert stats["replayed"] > 0 and held > 0
        assert wait_converged(second["simulator"], orbit.latest.values(), timeout=60) == []
        stats = httpx.get(f"{second['simulator']}/stats").json()
        assert stats["duplicate_creates"] == 0 and stats["unknown_references"] == 0
        letters = world.json("tools.ops", "deadletters", "list")
        assert letters == []
    finally:
        world.stop()
