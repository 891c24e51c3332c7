"""`make demo`: replay a synthetic hospital day against the local run.

If nothing listens on HOST_PORT, an in-process local run is started for the
demo. Events are signed with the local webhook secret, posted to the webhook,
and the demo waits until Millennium (the simulator) holds what the last
snapshot of every booking describes. It prints what Millennium holds and the
figures: webhook latency, events/s and HL7 messages/s.
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import sys
import time
import uuid
from collections import Counter
from typing import Any

import httpx

from localrun.app import LOOPBACK, LocalRun, local_settings
from localrun.expected import millennium_differences
from localrun.hospital_day import hospital_day
from shared.booking import BookingSnapshot
from shared.webhook.signature import sign


def post_event(client: httpx.Client, secret: str, event: dict[str, Any]) -> httpx.Response:
    body = json.dumps(event, ensure_ascii=False).encode()
    headers = sign(secret, f"msg_{uuid.uuid4().hex}", int(time.time()), body)
    headers["content-type"] = "application/cloudevents+json"
    return client.post("/api/orbit/events", content=body, headers=headers)


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.3)
        return probe.connect_ex((LOOPBACK, port)) == 0


def main() -> int:
    settings = local_settings()
    run: LocalRun | None = None
    if not _listening(settings.host_port):
        print("No local run on port", settings.host_port, "- starting one in this process.")
        run = LocalRun(settings).start()
    simulator_port = (
        run.simulator.http_port
        if run and run.simulator
        else int(os.environ.get("SIMULATOR_HTTP_PORT", "8090"))
    )
    try:
        return replay(
            f"http://{LOOPBACK}:{settings.host_port if run is None else run.http.port}",
            f"http://{LOOPBACK}:{simulator_port}",
            settings.orbit_webhook_secrets[0],
        )
    finally:
        if run is not None:
            run.stop()


def replay(base_url: str, simulator_url: str, secret: str, bookings: int = 180) -> int:
    events = list(hospital_day(bookings))
    latest: dict[str, BookingSnapshot] = {}
    latencies = []
    statuses: Counter[int] = Counter()
    before = httpx.get(f"{simulator_url}/stats").json()
    started = time.perf_counter()
    with httpx.Client(base_url=base_url, timeout=10) as client:
        for event in events:
            t0 = time.perf_counter()
            response = post_event(client, secret, event)
            latencies.append((time.perf_counter() - t0) * 1000)
            statuses[response.status_code] += 1
            if response.status_code == 202:
                snapshot = BookingSnapshot.model_validate(event["data"])
                latest[snapshot.booking_id] = snapshot
    posted = time.perf_counter() - started
    converged = _wait_converged(simulator_url, latest, timeout=120)
    elapsed = time.perf_counter() - started
    after = httpx.get(f"{simulator_url}/stats").json()
    messages = int(after.get("received", 0)) - int(before.get("received", 0))
    _report(events, statuses, latencies, posted, elapsed, messages, after, simulator_url)
    if not converged:
        print("NOT CONVERGED: some bookings differ from Orbit's last snapshot (see above).")
        return 1
    return 0


def _wait_converged(simulator_url: str, latest: dict[str, BookingSnapshot], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    differences: list[str] = []
    while time.monotonic() < deadline:
        state = httpx.get(f"{simulator_url}/state").json()
        differences = millennium_differences(latest.values(), state)
        if not differences:
            return True
        time.sleep(0.5)
    for line in differences[:20]:
        print("  differs:", line)
    return False


def _report(
    events: list[dict[str, Any]],
    statuses: Counter[int],
    latencies: list[float],
    posted: float,
    elapsed: float,
    messages: int,
    stats: dict[str, Any],
    simulator_url: str,
) -> None:
    state = httpx.get(f"{simulator_url}/state").json()
    quantiles = statistics.quantiles(latencies, n=100)
    kinds = dict(Counter(e["type"].split(".")[4] for e in events))
    print(f"\nReplayed {len(events)} Orbit events ({kinds})")
    print(f"Webhook answers: {dict(statuses)}")
    print(f"Webhook latency: p50 {quantiles[49]:.1f} ms, p99 {quantiles[98]:.1f} ms")
    print(f"Events/s accepted: {len(events) / posted:.0f}; all converged after {elapsed:.1f} s")
    print(f"HL7 messages to Millennium: {messages} ({messages / elapsed:.0f}/s end to end)")
    print("By message type:", stats.get("by_type"), " by ACK:", stats.get("by_ack"))
    print(f"Duplicate creates in Millennium: {stats.get('duplicate_creates')}")
    counts = {key: len(value) for key, value in state.items() if isinstance(value, dict)}
    print(f"Millennium now holds: {counts}")


if __name__ == "__main__":
    sys.exit(main())
