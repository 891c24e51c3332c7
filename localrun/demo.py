"""`make demo`: replay a synthetic hospital day against the local run.

The demo uses the local run that holds the data folder (``LOCAL_DATA_DIR``), on
whatever ports it listens; when none does, it starts one in this process.
Events are signed with the local webhook secret and posted to the webhook; then
the demo waits, showing progress, until Millennium (the simulator) holds what the
last snapshot of every booking of an integrated administration describes. It
prints what Millennium holds and the figures: webhook latency, events/s and HL7
messages/s, and says plainly when something did not converge or when its events
changed nothing because the data folder already held them.

Bookings of an administration in ``jumpout`` mode (SKAS in the shipped
profiles) are kept in shadow and not sent: the demo says how to rehearse their
go-live.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from localrun.expected import millennium_differences
from localrun.hospital_day import hospital_day
from shared.booking import BookingSnapshot
from shared.webhook.signature import sign

WAIT_SECONDS = 120.0
PROGRESS_EVERY_SECONDS = 5.0
STOCKHOLM = ZoneInfo("Europe/Stockholm")
SHADOW_FIRST_INDEX = 900_001
"""Booking numbers of the jump-out administration's day (apart from the main day's)."""


def post_event(client: httpx.Client, secret: str, event: dict[str, Any]) -> httpx.Response:
    body = json.dumps(event, ensure_ascii=False).encode()
    headers = sign(secret, f"msg_{uuid.uuid4().hex}", int(time.time()), body)
    headers["content-type"] = "application/cloudevents+json"
    return client.post("/api/orbit/events", content=body, headers=headers)


@dataclass
class DemoResult:
    """What the demo did and found (printed as text, or as JSON with --json)."""

    events: int = 0
    kinds: dict[str, int] = field(default_factory=dict)
    answers: dict[int, int] = field(default_factory=dict)
    latency_p50_ms: float = 0.0
    latency_p99_ms: float = 0.0
    events_per_second: float = 0.0
    seconds: float = 0.0
    converged: bool = False
    bookings: int = 0  # bookings of integrated administrations, checked in Millennium
    differing: list[str] = field(default_factory=list)  # booking ids + what differs
    already_known: int = 0  # bookings stored at these versions before the demo
    shadow: dict[str, int] = field(default_factory=dict)  # jumpout administration → bookings
    hl7_messages: int = 0
    by_type: dict[str, int] = field(default_factory=dict)
    by_ack: dict[str, int] = field(default_factory=dict)
    duplicate_creates: int = 0
    millennium_holds: dict[str, int] = field(default_factory=dict)


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=".venv/bin/python -m localrun.demo",
        description="Replay a synthetic hospital day against the local run (make demo) and "
        "check that Millennium (the simulator) converges to Orbit's last snapshots.",
    )
    parser.add_argument(
        "--bookings",
        type=int,
        default=180,
        help="bookings in the day (default 180; events are ~1.6 per booking)",
    )
    parser.add_argument(
        "--first-booking",
        type=int,
        default=1,
        metavar="N",
        help="number of the first booking id, OB-2026-<N> (default 1). The same N replays "
        "the same day; a data folder that already has it changes nothing",
    )
    parser.add_argument(
        "--shadow-bookings",
        type=int,
        default=20,
        help="bookings for each administration in jumpout mode (default 20; kept, not sent)",
    )
    parser.add_argument(
        "--wait",
        type=float,
        default=WAIT_SECONDS,
        metavar="SECONDS",
        help=f"how long to wait for convergence (default {WAIT_SECONDS:.0f})",
    )
    parser.add_argument(
        "--json", action="store_true", help="print the result as JSON (progress goes to stderr)"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _arguments(argv)  # --help exits here, before anything starts
    from localrun.app import LocalRun, local_settings
    from localrun.lock import DataFolderInUse, running_run

    out = sys.stderr if args.json else sys.stdout
    settings = local_settings()
    data_dir = Path(settings.local_data_dir)
    run: LocalRun | None = None
    holder = running_run(data_dir)
    if holder and holder.get("baseUrl"):
        base_url, simulator_url = holder["baseUrl"], holder.get("simulatorUrl", "")
        print(
            f"Using the local run on {base_url} (process {holder.get('pid')}, "
            f"data folder {data_dir}).",
            file=out,
        )
    else:
        print(f"No local run holds the data folder {data_dir}: starting one here.", file=out)
        try:
            run = LocalRun(settings).start()
        except DataFolderInUse as error:
            print(f"Cannot start the local run: {error}", file=sys.stderr)
            return 2
        except OSError as error:
            print(
                f"Cannot start the local run: {error.strerror or error}. Something else listens "
                f"on the ports (perhaps a local run on another data folder: the demo only uses "
                f"the run of its own, {data_dir}). Stop it, or choose free ports with HOST_PORT, "
                "MILLENNIUM_MLLP_PORT and SIMULATOR_HTTP_PORT (0 picks a free one).",
                file=sys.stderr,
            )
            return 2
        base_url = run.base_url
        simulator_url = run.simulator.http_url if run.simulator else ""
    if not simulator_url:
        print(
            "The local run has SIMULATOR=off: the demo checks Millennium through the "
            "simulator. Start the local run with SIMULATOR=on.",
            file=sys.stderr,
        )
        return 2
    try:
        result = replay(
            base_url,
            simulator_url,
            settings.orbit_webhook_secrets[0],
            data_dir=data_dir,
            profiles_dir=settings.profiles_dir,
            bookings=args.bookings,
            first_booking=args.first_booking,
            shadow_bookings=args.shadow_bookings,
            wait=args.wait,
            progress=lambda line: print(line, file=out, flush=True),
        )
    finally:
        if run is not None:
            run.stop()
    if args.json:
        print(json.dumps(asdict(result), ensure_ascii=False, indent=2))
    else:
        print(report_text(result, first_booking=args.first_booking))
    return 0 if result.converged else 1


def replay(
    base_url: str,
    simulator_url: str,
    secret: str,
    *,
    data_dir: Path,
    profiles_dir: str,
    bookings: int = 180,
    first_booking: int = 1,
    shadow_bookings: int = 20,
    wait: float = WAIT_SECONDS,
    progress: Callable[[str], None] = lambda line: None,
) -> DemoResult:
    """Post the day's events, wait for convergence and gather the figures."""
    from shared.profiles import Mode, load_profiles

    profiles = load_profiles(profiles_dir)
    shadowed = [code for code in profiles.codes() if profiles.get(code).mode is Mode.JUMPOUT]
    events = list(hospital_day(bookings, first_index=first_booking))
    for index, code in enumerate(shadowed):
        events += shadow_day(code, index, shadow_bookings)
    result = DemoResult(events=len(events))
    result.kinds = dict(Counter(e["type"].split(".")[4] for e in events))
    last_versions = {e["data"]["bookingId"]: int(e["data"]["version"]) for e in events}
    result.already_known = _already_known(data_dir, last_versions)
    latest: dict[str, BookingSnapshot] = {}
    latencies: list[float] = []
    answers: Counter[int] = Counter()
    before = httpx.get(f"{simulator_url}/stats").json()
    progress(f"Posting {len(events)} Orbit events to {base_url}/api/orbit/events ...")
    started = time.perf_counter()
    with httpx.Client(base_url=base_url, timeout=10) as client:
        for event in events:
            t0 = time.perf_counter()
            response = post_event(client, secret, event)
            latencies.append((time.perf_counter() - t0) * 1000)
            answers[response.status_code] += 1
            if response.status_code == 202:
                snapshot = BookingSnapshot.model_validate(event["data"])
                latest[snapshot.booking_id] = snapshot
    posted = time.perf_counter() - started
    integrated = [s for s in latest.values() if s.administration not in shadowed]
    result.shadow = dict(
        Counter(s.administration for s in latest.values() if s.administration in shadowed)
    )
    result.bookings = len(integrated)
    result.answers = dict(answers)
    quantiles = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    result.latency_p50_ms, result.latency_p99_ms = quantiles[49], quantiles[98]
    result.events_per_second = len(events) / posted if posted else 0.0
    result.differing = wait_converged(
        lambda: dict(httpx.get(f"{simulator_url}/state").json()), integrated, wait, progress
    )
    result.converged = not result.differing
    result.seconds = time.perf_counter() - started
    after = httpx.get(f"{simulator_url}/stats").json()
    result.hl7_messages = int(after.get("received", 0)) - int(before.get("received", 0))
    result.by_type = after.get("by_type", {})
    result.by_ack = after.get("by_ack", {})
    result.duplicate_creates = int(after.get("duplicate_creates", 0))
    result.millennium_holds = httpx.get(f"{simulator_url}/state").json()["counts"]
    return result


def shadow_day(code: str, index: int, bookings: int) -> list[dict[str, Any]]:
    """The jump-out administration's bookings: tomorrow, so that its go-live, which
    brings only bookings not yet over into Millennium, has something to bring."""
    tomorrow = dt.datetime.now(STOCKHOLM).date() + dt.timedelta(days=1)
    first = SHADOW_FIRST_INDEX + index * 10_000
    return list(hospital_day(bookings, administrations=(code,), first_index=first, day=tomorrow))


def _already_known(data_dir: Path, last_versions: dict[str, int]) -> int:
    """Bookings the crosswalk already holds at (or beyond) the demo's last version."""
    from shared.crosswalk.repository import Crosswalk
    from shared.crosswalk.sqlite import SqliteTableStore

    store = SqliteTableStore(data_dir / "crosswalk.sqlite3")
    try:
        crosswalk = Crosswalk(store)
        known = 0
        for booking_id, version in last_versions.items():
            stored = crosswalk.load_snapshot(booking_id)
            known += stored is not None and stored.version >= version
        return known
    finally:
        store.close()


def wait_converged(
    read_state: Callable[[], dict[str, Any]],
    snapshots: list[BookingSnapshot],
    timeout: float,
    progress: Callable[[str], None],
    every: float = PROGRESS_EVERY_SECONDS,
) -> list[str]:
    """Wait until Millennium (``read_state``: the simulator's ``/state``) holds what the
    snapshots describe, saying every ``every`` seconds how far it got; the differences
    left when ``timeout`` ran out (none: converged)."""
    started = time.monotonic()
    deadline = started + timeout
    next_progress = started + every
    while True:
        differences = millennium_differences(snapshots, read_state())
        now = time.monotonic()
        if not differences or now >= deadline:
            return differences
        if now >= next_progress:
            waiting = len({line.split(":")[0] for line in differences})
            progress(
                f"  waiting: {len(snapshots) - waiting} of {len(snapshots)} bookings as Orbit "
                f"last sent them ({now - started:.0f} s; gives up after {timeout:.0f} s)"
            )
            next_progress = now + every
        time.sleep(0.25 if every >= 1 else every / 4)


def report_text(result: DemoResult, *, first_booking: int = 1) -> str:
    """The demo's report, as ``make demo`` prints it."""
    kinds = ", ".join(f"{count} {kind}" for kind, count in sorted(result.kinds.items()))
    answers = ", ".join(f"{count}× {status}" for status, count in sorted(result.answers.items()))
    lines = [
        "",
        f"Replayed {result.events} Orbit events ({kinds})",
        f"Webhook answers: {answers}",
        f"Webhook latency: p50 {result.latency_p50_ms:.1f} ms, p99 {result.latency_p99_ms:.1f} ms"
        f"; {result.events_per_second:.0f} events/s accepted",
        f"HL7 messages to Millennium: {result.hl7_messages} "
        f"({result.hl7_messages / result.seconds:.0f}/s end to end)"
        if result.seconds
        else f"HL7 messages to Millennium: {result.hl7_messages}",
        f"By message type: {_pairs(result.by_type)}; by ACK: {_pairs(result.by_ack)}",
        f"Duplicate creates in Millennium: {result.duplicate_creates}",
        f"Millennium now holds: {_pairs(result.millennium_holds)}",
    ]
    if result.already_known:
        lines += [
            f"Note: {result.already_known} of the day's bookings were already stored at these "
            "versions (an earlier demo on this data folder), so their events changed nothing "
            "(ignored as stale or duplicates). For a new day: make reset (wipes the local "
            f"world), or --first-booking {first_booking + 100_000}.",
        ]
    for code, count in sorted(result.shadow.items()):
        lines.append(
            f"{code} is in jumpout mode: {count} bookings kept in shadow, nothing sent. "
            f'Rehearse its go-live: set mode = "integrated" in profiles/{code}.toml (the '
            f"running app rereads it), then: .venv/bin/python -m shared.golive {code} --dry-run"
        )
    if result.converged:
        lines.append(
            f"Converged: all {result.bookings} bookings are in Millennium as Orbit last sent "
            f"them ({result.seconds:.1f} s)."
        )
    else:
        lines.append(
            f"NOT CONVERGED after {result.seconds:.1f} s: {len(result.differing)} differences "
            f"in {len({d.split(':')[0] for d in result.differing})} of {result.bookings} "
            "bookings:"
        )
        lines += [f"  {line}" for line in result.differing[:20]]
        lines.append(
            "Look at one: .venv/bin/python -m tools.ops booking <id>; dead letters: "
            ".venv/bin/python -m tools.ops deadletters list"
        )
        if result.already_known:
            lines.append(
                "The crosswalk already held these bookings: if the simulator's Millennium was "
                "reset (SIMULATOR_RESET), the integration believes them sent and will not send "
                "them again. make reset starts both empty."
            )
    return "\n".join(lines)


def _pairs(counts: dict[str, Any]) -> str:
    return ", ".join(f"{name} {value}" for name, value in counts.items()) or "nothing"


if __name__ == "__main__":
    sys.exit(main())
