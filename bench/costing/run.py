"""Run a synthetic day through the local run with every billed call counted.

The local run is the real function app (``localrun.app.LocalRun``); this one
differs only in what it hands the app: the SQLite crosswalk behind a
`CountingTableStore`, the embedded queue as a `CountingQueue`, the link
budget's leases behind `CountingLeases`, and every registered function timed.

The day is posted in two phases, so a booking *created* and a *rebooking or
cancellation* are counted apart (their mix differs between the synthetic day
and SU's year): first every ``created`` event, until the app is idle, then the
rest, in order.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from bench.costing.counters import (
    CountingLeases,
    CountingQueue,
    CountingTableStore,
    RegisteredFunction,
    Stored,
    Tally,
    Usage,
    registered,
    stored,
    timed_functions,
)
from localrun.app import (
    LOCK_DURATION_SECONDS,
    MAX_DELIVERY_COUNT,
    LocalRun,
    app_functions,
    local_settings,
)
from localrun.expected import millennium_differences
from localrun.hospital_day import hospital_day
from shared.booking import BookingSnapshot
from shared.crosswalk.sqlite import SqliteTableStore
from shared.names import ALL_TABLES
from shared.services import ServiceOverrides, build_leases, build_services

IDLE_TIMEOUT_SECONDS = 1800.0


class CountingLocalRun(LocalRun):
    """`LocalRun` with counting adapters and timed functions."""

    def __init__(self, settings: Any, tally: Tally, **kwargs: Any) -> None:
        super().__init__(settings, **kwargs)
        self.tally = tally
        self.plain_store: SqliteTableStore | None = None

    def _services(self, settings: Any, profiles: Any) -> tuple[Any, CountingQueue]:
        data_dir = Path(settings.local_data_dir)
        queue = CountingQueue(
            data_dir / "queue.sqlite3",
            lock_duration=LOCK_DURATION_SECONDS,
            max_delivery_count=MAX_DELIVERY_COUNT,
            tally=self.tally,
        )
        self.plain_store = SqliteTableStore(data_dir / "crosswalk.sqlite3")
        self.plain_store.create_tables(ALL_TABLES)
        overrides = ServiceOverrides(
            store=CountingTableStore(self.plain_store, self.tally),
            bus=queue,
            retry=self._retry,
            profiles=profiles,
            leases=CountingLeases(build_leases(settings), self.tally),
        )
        return build_services(settings, overrides), queue

    def _functions(self) -> list[Any]:
        return timed_functions(app_functions(), self.tally)


@dataclasses.dataclass(frozen=True)
class Measurement:
    bookings: int
    creates: int
    changes: int
    on_create: Usage
    on_change: Usage
    stored: dict[str, Stored]
    functions: list[RegisteredFunction]
    elapsed_s: float
    differences: int
    duplicate_creates: int


def measure(bookings: int, clients: int = 2) -> Measurement:
    """Post a synthetic day of ``bookings`` through a counting local run.

    Raises:
        TimeoutError: the app did not become idle within IDLE_TIMEOUT_SECONDS.
    """
    events = list(hospital_day(bookings, seed=44, administrations=("SU", "SAS")))
    creates = [e for e in events if e["type"].endswith(".created.v1")]
    changes = [e for e in events if not e["type"].endswith(".created.v1")]
    tally = Tally()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["LOCAL_DATA_DIR"] = tmp
        settings = dataclasses.replace(local_settings(), host_port=0, mllp_port=0)
        run = CountingLocalRun(settings, tally, simulator_http_port=0, durable_simulator=False)
        run.start()
        try:
            started = time.perf_counter()
            start = tally.usage()
            _post_phase(run, creates, clients)
            after_creates = tally.usage()
            _post_phase(run, changes, clients)
            after_changes = tally.usage()
            elapsed = time.perf_counter() - started
            assert run.plain_store is not None
            kept = stored(run.plain_store, ALL_TABLES)
            differences = millennium_differences(_latest(events), _state(run))
            duplicates = int(run.simulator.stats()["duplicate_creates"])
        finally:
            run.stop()
    return Measurement(
        bookings=bookings,
        creates=len(creates),
        changes=len(changes),
        on_create=after_creates.minus(start),
        on_change=after_changes.minus(after_creates),
        stored=kept,
        functions=registered(app_functions()),
        elapsed_s=elapsed,
        differences=len(differences),
        duplicate_creates=duplicates,
    )


def _post_phase(run: LocalRun, events: Sequence[dict[str, Any]], clients: int) -> None:
    """Post ``events`` (one booking's in order, on one client) and wait until the
    app is idle, scheduled messages included."""
    shards: list[list[dict[str, Any]]] = [[] for _ in range(clients)]
    for event in events:
        shards[hash(event["data"]["bookingId"]) % clients].append(event)
    threads = [threading.Thread(target=_post_all, args=(run, shard)) for shard in shards]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if not run.dispatcher.wait_idle(IDLE_TIMEOUT_SECONDS, include_scheduled=True):
        raise TimeoutError("the local run did not become idle")


def _post_all(run: LocalRun, events: Sequence[dict[str, Any]]) -> None:
    from shared.webhook.signature import sign

    secret = run.settings.orbit_webhook_secrets[0]
    with httpx.Client(base_url=run.base_url, timeout=30) as client:
        for event in events:
            body = json.dumps(event, ensure_ascii=False).encode()
            headers = sign(secret, f"msg_{uuid.uuid4().hex}", int(time.time()), body)
            headers["content-type"] = "application/cloudevents+json"
            response = client.post("/api/orbit/events", content=body, headers=headers)
            if response.status_code != 202:
                raise RuntimeError(f"webhook answered {response.status_code}")


def _latest(events: Sequence[dict[str, Any]]) -> list[BookingSnapshot]:
    latest: dict[str, BookingSnapshot] = {}
    for event in events:
        latest[event["data"]["bookingId"]] = BookingSnapshot.model_validate(event["data"])
    return list(latest.values())


def _state(run: LocalRun) -> dict[str, Any]:
    view: dict[str, Any] = httpx.get(f"{run.simulator.http_url}/state", timeout=60).json()
    return view
