"""Fixtures shared by the simulator's integration tests: one simulator per module,
reset before each test, and an HTTP client for its inspection side."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from simulator import SimulatorHandle, start_simulator


@pytest.fixture(scope="module")
def running() -> Iterator[SimulatorHandle]:
    with start_simulator(seed=7) as handle:
        yield handle


@pytest.fixture
def sim(running: SimulatorHandle) -> SimulatorHandle:
    running.reset()
    return running


@pytest.fixture
def http(sim: SimulatorHandle) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim.http_url, timeout=5) as client:
        yield client
