"""Go-live through the local run: bookings shadowed in jumpout mode reach the
simulated Millennium only when the administration switches to integrated and the
go-live command runs; its dry run sends nothing."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from shared.crosswalk.repository import Crosswalk
from shared.golive import GoLiveRefused, go_live
from shared.profiles import Mode
from shared.targets import Target
from tests.builders import make_patient, make_snapshot
from tests.e2e.harness import wait_converged
from tests.e2e.launching import set_mode

pytestmark = pytest.mark.e2e


def wait_stored(local_run, booking_ids: list[str], timeout: float = 15.0) -> None:
    crosswalk = Crosswalk(local_run.services.store)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(crosswalk.load_snapshot(booking) for booking in booking_ids):
            return
        time.sleep(0.05)
    raise AssertionError("the intake did not store the snapshots in time")


def booking(booking_id: str, start: dt.datetime, n: int, **overrides):
    return make_snapshot(
        booking_id=booking_id,
        planned_start=start,
        planned_end=start + dt.timedelta(hours=2),
        patient=make_patient(n),
        **overrides,
    )


def test_switching_to_integrated_and_going_live_brings_shadowed_bookings_in(local_run, orbit):
    set_mode(local_run, "SU", Mode.JUMPOUT)
    now = dt.datetime.now(dt.UTC)
    future = [
        booking("OB-GL-1", now + dt.timedelta(days=2), 11),  # inpatient: bed booking too
        booking("OB-GL-2", now + dt.timedelta(days=5), 12, admission={"type": "daySurgery"}),
    ]
    past = booking("OB-GL-OLD", now - dt.timedelta(days=3), 13, admission={"type": "outpatient"})
    cancelled = booking("OB-GL-X", now + dt.timedelta(days=2), 14, status="cancelled")
    for snapshot in [*future, past, cancelled]:
        assert orbit.send(snapshot).status_code == 202
    wait_stored(local_run, ["OB-GL-1", "OB-GL-2", "OB-GL-OLD", "OB-GL-X"])
    ports = local_run.services.sync_ports()

    with pytest.raises(GoLiveRefused):
        go_live("SU", ports, dry_run=True)  # still jumpout: the operator switches first

    set_mode(local_run, "SU", Mode.INTEGRATED)
    ports = local_run.services.sync_ports()
    dry = go_live("SU", ports, dry_run=True)
    assert [b.booking_id for b in dry.bookings] == ["OB-GL-1", "OB-GL-2"]
    assert dry.per_target() == {Target.ENCOUNTER: 2, Target.APPOINTMENT: 2, Target.BED: 1}
    assert (dry.over, dry.cancelled) == (1, 1)
    time.sleep(0.5)  # a dry run that sent anything would show up in the simulator by now
    assert local_run.simulator.stats()["received"] == 0

    live = go_live("SU", ports, dry_run=False)
    assert live.kicked == 2
    assert wait_converged(local_run.simulator.http_url, future) == []
    encounters = local_run.simulator.state.encounters
    assert set(encounters) == {"OB-GL-1", "OB-GL-2"}
    assert set(local_run.simulator.state.pending_admits) == {"OB-GL-1"}

    # Millennium answers before the worker saves what it answered: wait for the
    # crosswalk too, or the second go-live may still see the last target unconfirmed.
    deadline = time.monotonic() + 15
    while go_live("SU", ports, dry_run=True).in_sync < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    again = go_live("SU", local_run.services.sync_ports(), dry_run=False)
    assert (again.kicked, again.in_sync) == (0, 2)
    assert local_run.simulator.stats()["duplicate_creates"] == 0
