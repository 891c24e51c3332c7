"""Live before backlog: a go-live of 2,000 bookings drains while live changes
keep converging, each of them long before the backlog is gone.

The go-live is the backlog lane: its kicks come due at ``pace`` bookings a
second, so the queue never holds thousands of ready go-live kicks in front of a
live change. Figures (latency p50/p99, drain rate) are the benchmark's job
(``python -m bench.link``); this test checks the order of events.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from localrun.app import LocalRun, local_settings
from shared.webhook.signature import new_secret
from tests.e2e.backlog import drain_with_live_changes, profiles_with_sas_in_jumpout, shadow_backlog
from tests.e2e.conftest import FAST_RETRIES

pytestmark = pytest.mark.e2e
BACKLOG = 2000
LIVE = 8


@pytest.fixture
def run_with_sas_shadowed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[LocalRun, Path]]:
    profiles = profiles_with_sas_in_jumpout(tmp_path / "profiles")
    monkeypatch.setenv("ORBIT_WEBHOOK_SECRETS", new_secret())
    monkeypatch.setenv("LOCAL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ADMINISTRATION_PROFILES", str(profiles))
    settings = dataclasses.replace(local_settings(), host_port=0, mllp_port=0)
    run = LocalRun(
        settings, simulator_http_port=0, retry=FAST_RETRIES, durable_simulator=False
    ).start()
    run.simulator.faults.latency_ms = 2
    yield run, profiles
    run.stop()


def test_live_changes_converge_while_a_go_live_backlog_drains(
    run_with_sas_shadowed: tuple[LocalRun, Path],
) -> None:
    run, profiles = run_with_sas_shadowed
    backlog = shadow_backlog(run, BACKLOG)
    result = drain_with_live_changes(
        run, profiles, backlog=backlog, pace=40, live=LIVE, interval=2.0, timeout=240
    )
    assert len(result.live_latencies) == LIVE, "a live change did not converge"
    # Every live change converged while much of the backlog was still to go.
    assert all(left > 0 for left in result.backlog_left_at_live)
    assert result.backlog_left_at_live[0] > BACKLOG // 2
    stats = run.simulator.stats()
    assert stats["duplicate_creates"] == 0 and stats["by_ack"].keys() == {"AA"}
