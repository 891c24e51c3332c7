"""Benchmark: the whole local pipeline (webhook → queues → workers → MLLP → simulator).

    python -m bench.pipeline [--bookings 2000] [--clients 4] [--e2e 200] [--write]

Measures, on the real local run in this process:

* webhook latency, warm, with the workers stopped (the HTTP path alone) and
  with them running (the path under load);
* end-to-end latency of single bookings (POST → all Millennium ACKs) with a
  simulated Millennium latency of 5 ms;
* throughput: ``--bookings`` synthetic bookings (with rebookings and
  cancellations) posted by ``--clients`` threads until Millennium holds the
  last snapshot of every booking.

Targets (brief §9): webhook p99 ≤ 20 ms warm; end-to-end p99 ≤ 250 ms with a
5 ms Millennium; 44,000 bookings in ≤ 120 s on 2 cores.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Iterable
from typing import Any

import httpx

from bench.report import write_figures
from localrun.app import LocalRun, local_settings
from localrun.expected import millennium_differences
from localrun.hospital_day import hospital_day
from shared.booking import BookingSnapshot
from tests.builders import make_snapshot
from tests.e2e.harness import Orbit, event_of


def start(tmp: str, *, workers: bool = True) -> LocalRun:
    os.environ["LOCAL_DATA_DIR"] = tmp
    settings = dataclasses.replace(local_settings(), host_port=0, mllp_port=0)
    run = LocalRun(settings, simulator_http_port=0, durable_simulator=False).start()
    if not workers:
        run.dispatcher.stop()
    return run


def quantiles(values: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(values, n=100)
    return cuts[49], cuts[98]


def webhook_latency(run: LocalRun, count: int, first: int) -> list[float]:
    orbit = Orbit(run.base_url, run.settings.orbit_webhook_secrets[0])
    latencies = []
    with httpx.Client(base_url=run.base_url) as client:
        orbit_post = _keepalive_poster(orbit, client)
        for index in range(count):
            snapshot = make_snapshot(booking_id=f"OB-2026-{first + index:06d}")
            started = time.perf_counter()
            orbit_post(event_of(snapshot))
            latencies.append((time.perf_counter() - started) * 1000)
    return latencies[count // 10 :]  # warm: drop the first tenth


def _keepalive_poster(orbit: Orbit, client: httpx.Client):  # type: ignore[no-untyped-def]
    import json
    import uuid

    from shared.webhook.signature import sign

    def post(event: dict[str, Any]) -> None:
        body = json.dumps(event, ensure_ascii=False).encode()
        headers = sign(orbit.secret, f"msg_{uuid.uuid4().hex}", int(time.time()), body)
        headers["content-type"] = "application/cloudevents+json"
        response = client.post("/api/orbit/events", content=body, headers=headers)
        assert response.status_code == 202, response.status_code

    return post


def end_to_end(run: LocalRun, count: int) -> list[float]:
    run.simulator.faults.latency_ms = 5
    orbit = Orbit(run.base_url, run.settings.orbit_webhook_secrets[0])
    state = run.simulator.state
    latencies = []
    for index in range(count):
        booking_id = f"OB-2027-{index:06d}"
        started = time.perf_counter()
        orbit.send(make_snapshot(booking_id=booking_id))
        while not (booking_id in state.encounters and _acked(run, booking_id) >= 3):
            time.sleep(0.0005)
        latencies.append((time.perf_counter() - started) * 1000)
    run.simulator.faults.latency_ms = 0
    return latencies


def _acked(run: LocalRun, booking_id: str) -> int:
    return sum(e.ack_code == "AA" for e in run.simulator.millennium.history(booking_id))


def throughput(run: LocalRun, bookings: int, clients: int) -> dict[str, float]:
    events = list(hospital_day(bookings, seed=44, administrations=("SU", "SAS")))
    shards: list[list[dict[str, Any]]] = [[] for _ in range(clients)]
    for event in events:  # one booking's events stay in order on one client
        shards[hash(event["data"]["bookingId"]) % clients].append(event)
    before = int(run.simulator.stats()["received"])
    started = time.perf_counter()
    threads = [threading.Thread(target=_post_all, args=(run, shard)) for shard in shards]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    posted = time.perf_counter() - started
    latest = _latest(events)
    while millennium_differences(latest, _state_view(run)):
        time.sleep(0.2)
    elapsed = time.perf_counter() - started
    stats = run.simulator.stats()
    return {
        "events": len(events),
        "posted_s": posted,
        "elapsed_s": elapsed,
        "messages": int(stats["received"]) - before,
        "duplicate_creates": float(stats["duplicate_creates"]),
    }


def _post_all(run: LocalRun, events: list[dict[str, Any]]) -> None:
    orbit = Orbit(run.base_url, run.settings.orbit_webhook_secrets[0])
    with httpx.Client(base_url=run.base_url, timeout=30) as client:
        post = _keepalive_poster(orbit, client)
        for event in events:
            post(event)


def _latest(events: Iterable[dict[str, Any]]) -> list[BookingSnapshot]:
    latest: dict[str, BookingSnapshot] = {}
    for event in events:
        latest[event["data"]["bookingId"]] = BookingSnapshot.model_validate(event["data"])
    return list(latest.values())


def _state_view(run: LocalRun) -> dict[str, Any]:
    view: dict[str, Any] = httpx.get(f"{run.simulator.http_url}/state", timeout=60).json()
    return view


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bookings", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--webhook", type=int, default=1000)
    parser.add_argument("--e2e", type=int, default=200)
    parser.add_argument("--write", action="store_true", help="write figures to docs/performance.md")
    args = parser.parse_args(argv)
    lines: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        run = start(tmp, workers=False)
        p50, p99 = quantiles(webhook_latency(run, args.webhook, 500_000))
        run.stop()
        lines.append(
            f"- Webhook latency, warm, workers stopped ({args.webhook} requests): "
            f"p50 {p50:.1f} ms, p99 {p99:.1f} ms"
        )
    with tempfile.TemporaryDirectory() as tmp:
        run = start(tmp)
        try:
            p50, p99 = quantiles(webhook_latency(run, args.webhook, 600_000))
            lines.append(
                f"- Webhook latency, warm, workers running ({args.webhook} requests): "
                f"p50 {p50:.1f} ms, p99 {p99:.1f} ms"
            )
            run.dispatcher.wait_idle(120)
            p50, p99 = quantiles(end_to_end(run, args.e2e))
            lines.append(
                f"- End to end, booking → all 3 Millennium ACKs, 5 ms Millennium "
                f"({args.e2e} bookings one at a time): p50 {p50:.0f} ms, p99 {p99:.0f} ms"
            )
            figures = throughput(run, args.bookings, args.clients)
        finally:
            run.stop()
    elapsed = figures["elapsed_s"]
    lines.append(
        f"- Throughput: {args.bookings} bookings ({figures['events']:.0f} events with "
        f"rebookings and cancellations, {args.clients} client threads) converged in "
        f"{elapsed:.1f} s: {figures['events'] / elapsed:.0f} events/s, "
        f"{figures['messages'] / elapsed:.0f} HL7 messages/s, "
        f"{figures['duplicate_creates']:.0f} duplicate creates; "
        f"at that rate 44,000 bookings take {44_000 / args.bookings * elapsed:.0f} s"
    )
    print("\n".join(lines))
    if args.write:
        write_figures("pipeline", lines)


if __name__ == "__main__":
    main()
