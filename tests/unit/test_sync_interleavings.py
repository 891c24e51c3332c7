"""Every booking converges, whatever the interleaving of its deliveries.

A seeded scheduler (tests.interleaving) runs the intake and the three target
workers of one booking concurrently, switching between them at every port call,
while the booking's events arrive at random moments (some out of order) and the
bus, the crosswalk and Millennium fail now and then. Whatever happened, once
nothing is left to deliver every target must be in line with the newest
snapshot: no intent left in doubt, nothing blocked, nothing left to send, and
the convergence of that snapshot recorded (the sync-lag figure). A kick that
nobody sends (a lost wake-up) shows up here as a target left behind.
"""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path
from typing import Any

import pytest

from shared.messages import EventMessage
from shared.names import QUEUE_EVENTS
from shared.profiles import load_profiles
from tests.builders import CET, SU_OTHER_WARD, make_patient, make_snapshot
from tests.interleaving import Faults, Interleaving

PROFILES = load_profiles(str(Path(__file__).resolve().parents[2] / "profiles"))
BOOKING = "OB-2026-000123"
SEEDS = range(150)

_START = dt.datetime(2026, 12, 1, 8, 0, tzinfo=CET)
CHANGES: dict[str, dict[str, Any]] = {
    "reschedule": {
        "planned_start": _START + dt.timedelta(days=1),
        "planned_end": _START + dt.timedelta(days=1, hours=2),
    },
    "outpatient": {"admission": {"type": "outpatient"}},
    "other ward": {
        "admission": {
            "type": "inpatient",
            "ward": {"hsa_id": SU_OTHER_WARD},
            "admit_at": _START - dt.timedelta(hours=14),
            "expected_nights": 2,
        }
    },
    "name corrected": {"patient": make_patient(1, family_name="Berg")},
    "patient corrected": {"patient": make_patient(42)},
    "cancelled": {"status": "cancelled", "cancellation_reason": "Patienten avböjer"},
    "theatre": {"theatre": "SAL 7"},
}


def booking_history(rng: random.Random) -> list[EventMessage]:
    """A booking's events: its creation and one to three changes, each building on the
    one before, in the order Orbit sent them or with two neighbours swapped."""
    fields: dict[str, Any] = {}
    events = [_event(1, fields)]
    for version in range(2, rng.randint(2, 4) + 1):
        fields = {**fields, **CHANGES[rng.choice(sorted(CHANGES))]}
        events.append(_event(version, fields))
    if len(events) > 2 and rng.random() < 0.3:
        i = rng.randrange(1, len(events) - 1)
        events[i], events[i + 1] = events[i + 1], events[i]
    return events


def _event(version: int, fields: dict[str, Any]) -> EventMessage:
    snapshot = make_snapshot(booking_id=BOOKING, version=version, **fields)
    return EventMessage(
        event_id=f"e{version}",
        event_type="se.vgr.orbit.booking.updated.v1",
        webhook_id=f"w{version}",
        correlation_id=f"c{version}",
        received_at=dt.datetime(2026, 11, 22, 8, 0, tzinfo=dt.UTC),
        snapshot=snapshot,
    )


NO_FAULTS = Faults()


def _run(seed: int, faults: Faults = NO_FAULTS) -> Interleaving:
    rng = random.Random(seed)
    world = Interleaving(seed, PROFILES, faults)
    world.post(booking_history(rng))
    world.run()
    return world


@pytest.mark.parametrize("seed", SEEDS)
def test_every_target_converges_whatever_the_interleaving(seed: int) -> None:
    world = _run(seed)
    _assert_converged(world, seed)


@pytest.mark.parametrize("seed", SEEDS)
def test_every_target_converges_when_the_bus_fails_now_and_then(seed: int) -> None:
    world = _run(seed, Faults(bus=0.15))
    _assert_converged(world, seed)


@pytest.mark.parametrize("seed", SEEDS)
def test_every_target_converges_when_every_port_fails_now_and_then(seed: int) -> None:
    world = _run(seed, Faults(bus=0.1, store=0.05, millennium=0.1))
    _assert_converged(world, seed)


def _assert_converged(world: Interleaving, seed: int) -> None:
    assert world.unconverged(BOOKING) == {}, f"seed {seed}"
    assert world.newest_version(BOOKING) in world.converged_versions(BOOKING), f"seed {seed}"
    assert not world.queues.dead_letters


def test_the_scheduler_does_interleave_deliveries() -> None:
    """The harness itself: some seed must start a delivery while another is running
    (or the tests above would only ever see one delivery at a time)."""
    overlapping = 0
    for seed in range(20):
        world = _run(seed)
        overlapping += world.overlaps
        assert world.deliveries[QUEUE_EVENTS] >= 2
    assert overlapping > 0
