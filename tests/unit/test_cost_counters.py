"""The cost benchmark's counting wrappers count what the adapters do, as Azure bills it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import azure.functions as func
import pytest

from bench.costing.counters import (
    CountingLeases,
    CountingQueue,
    CountingTableStore,
    Tally,
    entity_size,
    registered,
    stored,
    timed_functions,
)
from shared.crosswalk.port import Entity
from shared.crosswalk.sqlite import SqliteTableStore
from shared.errors import EntityExists
from shared.link.sqlite_leases import SqliteLeases
from shared.queue.port import OutboundMessage


@pytest.fixture
def tally() -> Tally:
    return Tally()


@pytest.fixture
def store(tmp_path: Path, tally: Tally) -> CountingTableStore:
    inner = SqliteTableStore(tmp_path / "crosswalk.sqlite3")
    inner.create_tables(["bookings"])
    return CountingTableStore(inner, tally)


def test_a_query_is_one_transaction_per_page_of_1000(
    store: CountingTableStore, tally: Tally
) -> None:
    for n in range(2500):
        store.inner.insert("bookings", "OB-1", f"audit|{n:05d}", {"n": n})
    for n in range(1000):
        store.inner.insert("bookings", "OB-2", f"audit|{n:05d}", {"n": n})

    assert len(store.query("bookings", "OB-1")) == 2500
    assert tally.usage().counts["table.query"] == 3
    assert len(store.query("bookings", "OB-2")) == 1000
    assert tally.usage().counts["table.query"] == 4
    assert store.query("bookings", "OB-none") == []  # an empty answer is a transaction too
    assert tally.usage().counts["table.query"] == 5

    assert sum(1 for _ in store.scan("bookings")) == 3500
    assert tally.usage().counts["table.scan"] == 4


def test_every_single_entity_call_is_one_transaction_refused_ones_too(
    store: CountingTableStore, tally: Tally
) -> None:
    first = store.insert("bookings", "OB-1", "snapshot", {"version": 1})
    with pytest.raises(EntityExists):
        store.insert("bookings", "OB-1", "snapshot", {"version": 1})
    store.update("bookings", "OB-1", "snapshot", {"version": 2}, first.etag)
    store.upsert("bookings", "OB-1", "target|bed", {"state": "x"})
    assert store.get("bookings", "OB-1", "snapshot") is not None
    assert store.get("bookings", "OB-1", "nothing") is None
    store.delete("bookings", "OB-1", "target|bed")

    counts = tally.usage().counts
    assert (counts["table.insert"], counts["table.update"], counts["table.upsert"]) == (2, 1, 1)
    assert (counts["table.get"], counts["table.delete"]) == (2, 1)


def test_entity_size_follows_the_published_formula() -> None:
    entity = Entity("OB-1", "snap", {"status": "booked", "version": 3, "big": 2**40, "x": True}, "")
    keys = 2 * len("OB-1snap")
    status = 8 + 2 * len("status") + 4 + 2 * len("booked")
    version = 8 + 2 * len("version") + 4  # Int32
    big = 8 + 2 * len("big") + 8  # Int64
    flag = 8 + 2 * len("x") + 1
    assert entity_size(entity) == 4 + keys + status + version + big + flag


def test_bytes_stored_are_summed_per_table(store: CountingTableStore) -> None:
    store.insert("bookings", "OB-1", "a", {"v": "x"})
    store.insert("bookings", "OB-1", "b", {"v": "yy"})
    expected = entity_size(Entity("OB-1", "a", {"v": "x"}, "")) + entity_size(
        Entity("OB-1", "b", {"v": "yy"}, "")
    )
    kept = stored(store.inner, ["bookings"])["bookings"]
    assert (kept.entities, kept.bytes) == (2, expected)


def test_the_queue_counts_service_bus_operations(tmp_path: Path, tally: Tally) -> None:
    queue = CountingQueue(tmp_path / "queue.sqlite3", lock_duration=30, tally=tally)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    queue.send(
        [
            OutboundMessage("q", b"kick", "OB-1", "m1"),
            OutboundMessage("q", b"x" * 100_000, "OB-2", "m2"),  # two 64 KB units
            OutboundMessage("q", b"later", "OB-3", "m3", scheduled_at=later),
        ]
    )
    first = queue.receive("q", max_sessions=4)
    assert len(first) == 2
    queue.complete_many(first[:1])
    queue.abandon(first[1])

    counts = tally.usage().counts
    assert counts["bus.send"] == 3 and counts["bus.schedule"] == 1
    assert counts["bus.receive"] == 3 and counts["bus.session-accept"] == 2
    assert counts["bus.session-idle-receive"] == 2
    assert counts["bus.complete"] == 1 and counts["bus.abandon"] == 1
    queue.close()


def test_the_leases_count_blob_operations(tmp_path: Path, tally: Tally) -> None:
    leases = CountingLeases(SqliteLeases(tmp_path / "leases.sqlite3"), tally)
    lease = leases.try_acquire(0)
    assert lease is not None
    assert leases.try_acquire(0) is None  # refused, and billed
    assert leases.renew(0, lease)
    leases.want(0)
    leases.wanted_at(0)
    leases.release(0, lease)
    counts = tally.usage().counts
    assert counts["blob.lease-acquire"] == 2
    assert (counts["blob.lease-renew"], counts["blob.lease-release"]) == (1, 1)
    assert (counts["blob.put"], counts["blob.get-properties"]) == (1, 1)


def test_every_registered_function_is_timed_whatever_its_trigger(tally: Tally) -> None:
    app = func.FunctionApp()

    @app.timer_trigger(schedule="0 0 3 * * *", arg_name="timer")
    def cleanup(timer: func.TimerRequest) -> None:
        return None

    @app.service_bus_queue_trigger(arg_name="msg", queue_name="q", connection="SB")
    def worker(msg: func.ServiceBusMessage) -> None:
        return None

    functions = app.get_functions()
    assert {(f.name, f.trigger) for f in registered(functions)} == {
        ("cleanup", "timerTrigger"),
        ("worker", "serviceBusTrigger"),
    }
    timed = {
        f.get_function_name(): f.get_user_function() for f in timed_functions(functions, tally)
    }
    timed["cleanup"](timer=None)
    timed["worker"](msg=None)
    timed["worker"](msg=None)
    usage = tally.usage()
    assert (usage.counts["exec.cleanup"], usage.counts["exec.worker"]) == (1, 2)
    assert usage.seconds["exec.worker"] >= 0
