"""A go-live backlog draining while live bookings arrive: the scenario of the
live-before-backlog test and of ``bench.link``.

SAS (a copy of the profiles, so the real ones stay untouched) starts in
``jumpout`` mode with ``bookings`` stored, shadowed snapshots. It is switched to
``integrated`` (the profile file is edited; the app reloads it) and its go-live
is run at ``pace`` bookings a second. Meanwhile a live SU booking is posted
through the webhook every ``interval`` seconds; each one's latency runs from its
202 to the moment the crosswalk records it converged (every target AA).
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from localrun.app import LocalRun
from shared.crosswalk.repository import Crosswalk, StoredSnapshot
from shared.golive import go_live
from tests.builders import make_patient, make_snapshot
from tests.e2e.harness import Orbit

ROOT = Path(__file__).resolve().parents[2]
CET = dt.timezone(dt.timedelta(hours=1))


def profiles_with_sas_in_jumpout(folder: Path) -> Path:
    """A copy of the shipped profiles with SAS in jumpout mode."""
    shutil.copytree(ROOT / "profiles", folder)
    sas = folder / "SAS.toml"
    sas.write_text(re.sub(r'(?m)^mode = ".*"$', 'mode = "jumpout"', sas.read_text()))
    return folder


def switch_sas_to_integrated(folder: Path) -> None:
    sas = folder / "SAS.toml"
    sas.write_text(re.sub(r'(?m)^mode = ".*"$', 'mode = "integrated"', sas.read_text()))


@dataclass
class BacklogResult:
    backlog: int
    live_latencies: list[float] = field(default_factory=list)
    backlog_left_at_live: list[int] = field(default_factory=list)  # unconverged SAS bookings
    drain_seconds: float = 0.0
    messages: int = 0

    @property
    def drain_messages_per_second(self) -> float:
        return self.messages / self.drain_seconds if self.drain_seconds else 0.0


def shadow_backlog(run: LocalRun, count: int) -> list[str]:
    """Store ``count`` future SAS snapshots as a jumpout-mode intake would have."""
    assert run.services is not None
    crosswalk = Crosswalk(run.services.store)
    now = dt.datetime.now(dt.UTC)
    ids = []
    for n in range(count):
        start = dt.datetime(2027, 1, 11, 8, tzinfo=CET) + dt.timedelta(minutes=15 * n)
        snapshot = make_snapshot(
            administration="SAS",
            booking_id=f"OB-SAS-{n:06d}",
            patient=make_patient(1000 + n),
            planned_start=start,
            planned_end=start + dt.timedelta(hours=1),
            admission={"type": "outpatient"},
        )
        crosswalk.save_snapshot(StoredSnapshot(snapshot, now, f"e-sas-{n}", "c-backlog"), None)
        ids.append(snapshot.booking_id)
    return ids


def converged(crosswalk: Crosswalk, booking_id: str) -> bool:
    return bool(crosswalk.convergences(booking_id))


def drain_with_live_changes(
    run: LocalRun,
    profiles: Path,
    *,
    backlog: list[str],
    pace: float,
    live: int,
    interval: float,
    timeout: float,
) -> BacklogResult:
    assert run.services is not None
    crosswalk = Crosswalk(run.services.store)
    orbit = Orbit(run.base_url, run.settings.orbit_webhook_secrets[0])
    result = BacklogResult(backlog=len(backlog))
    received_before = int(run.simulator.stats()["received"])
    switch_sas_to_integrated(profiles)
    assert run.services.profiles.get("SAS").mode.value == "integrated"
    started = time.monotonic()
    go_live("SAS", run.services.sync_ports(), dry_run=False, bookings_per_second=pace)
    deadline = started + timeout
    pending: dict[str, float] = {}
    sent = 0
    next_live = started + interval
    remaining = list(backlog)
    while (remaining or pending or sent < live) and time.monotonic() < deadline:
        now = time.monotonic()
        if sent < live and now >= next_live:
            booking_id = f"OB-LIVE-{sent:04d}"
            begin = dt.datetime(2026, 12, 14, 8, tzinfo=CET) + dt.timedelta(hours=sent)
            snapshot = make_snapshot(
                booking_id=booking_id,
                patient=make_patient(5000 + sent),
                planned_start=begin,
                planned_end=begin + dt.timedelta(hours=2),
            )
            assert orbit.send(snapshot).status_code == 202
            pending[booking_id] = time.monotonic()
            sent += 1
            next_live += interval
        for booking_id, posted in list(pending.items()):
            if converged(crosswalk, booking_id):
                result.live_latencies.append(time.monotonic() - posted)
                del pending[booking_id]
                remaining = [b for b in remaining if not converged(crosswalk, b)]
                result.backlog_left_at_live.append(len(remaining))
        if remaining and not pending:
            remaining = [b for b in remaining[:200] if not converged(crosswalk, b)] + remaining[
                200:
            ]
        time.sleep(0.02)
    result.drain_seconds = time.monotonic() - started
    result.messages = int(run.simulator.stats()["received"]) - received_before
    return result
