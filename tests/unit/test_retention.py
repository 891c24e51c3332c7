"""The retention clean-up: what it removes, what it never touches, and how it pages.

Rows are written by the app's own writers (webhook claims, launch codes and
audit, the crosswalk) at chosen times, into a real SQLite store; the clean-up
then runs "later". The same selections run against Azurite in the contract suite
(tests/contract/test_table_store_scan_older.py).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, NumberDataPoint

from shared import telemetry
from shared import telemetry_names as names
from shared.crosswalk.port import OlderThan, ScanPage, TableStore
from shared.crosswalk.repository import AuditRecord, Crosswalk, StoredSnapshot, TargetState
from shared.crosswalk.sqlite import SqliteTableStore
from shared.launch.audit import AuditEntry, AuditEvent, write_audit
from shared.launch.codes import CODE_LIFETIME, LaunchCodes, LaunchRecord, new_code
from shared.launch.lookup import CachedEncounter, LookupCache
from shared.names import (
    ALL_TABLES,
    TABLE_DELIVERIES,
    TABLE_LAUNCHES,
    TABLE_LOOKUP,
    TABLE_RETENTION,
)
from shared.retention.cleanup import CleanUp, RetentionPorts, clean_up
from shared.retention.policy import RetentionPolicy
from shared.retention.report import (
    STOP_DONE,
    STOP_MAX_DELETES,
    STOP_MISCONFIGURED,
    STOP_TIME_BUDGET,
    STOP_UNAVAILABLE,
    emit,
)
from shared.retention.sweeps import Kind
from shared.targets import Target
from shared.webhook.idempotency import DeliveryRecord, claim_delivery
from tests.builders import make_facts, make_snapshot, synthetic_personnummer
from tests.fakes import FixedClock, StoreOutage

NOW = dt.datetime(2036, 11, 30, 1, 17, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
YEAR = dt.timedelta(days=365)
PATIENT = synthetic_personnummer(7)
PERSON_ID = "PERSON-9001"
USER = "SE2321000131-P000000000456"


class Ticks:
    """A monotonic clock for the run's time budget: ``step`` seconds per reading."""

    def __init__(self, step: float = 0.0) -> None:
        self.now = 0.0
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteTableStore]:
    created = SqliteTableStore(tmp_path / "crosswalk.sqlite3")
    created.create_tables(ALL_TABLES)
    yield created
    created.close()


def run(store: TableStore, **command: Any) -> Any:
    ticks = command.pop("ticks", Ticks())
    options: dict[str, Any] = {"now": NOW, "policy": RetentionPolicy(), **command}
    return clean_up(CleanUp(**options), RetentionPorts(store=store, seconds=ticks))


def everything(store: TableStore) -> dict[tuple[str, str, str], dict[str, Any]]:
    """Every row of every app table (not the clean-up's own state)."""
    return {
        (table, e.partition_key, e.row_key): dict(e.data)
        for table in ALL_TABLES
        if table != TABLE_RETENTION
        for e in store.scan(table)
    }


# --- writers: the app's own, at a chosen time ---


def delivery(store: TableStore, webhook_id: str, at: dt.datetime) -> None:
    record = DeliveryRecord("evt", "OB-2026-000123", 1, "corr", "digest", at, accepted=True)
    claim_delivery(store, webhook_id, record)


def launch_code(store: TableStore, created: dt.datetime, *, followed: bool) -> str:
    clock = FixedClock(created)
    codes = LaunchCodes(store, clock)
    record = LaunchRecord(
        launch_id="L" + new_code()[:16],
        caller="orbit",
        target="millennium",
        administration="SU",
        user_hsa_id=USER,
        url=f"https://millennium.example/launch?person={PERSON_ID}",
        person_id=PERSON_ID,
        encounter_id="ENC-1",
        booking_id="OB-2026-000123",
        created_at=created,
        expires_at=created + CODE_LIFETIME,
    )
    code = new_code()
    codes.issue(record, code)
    if followed:
        clock.advance(dt.timedelta(seconds=5))
        codes.redeem(code)
    return code


def launch_request(store: TableStore, at: dt.datetime, webhook_id: str) -> None:
    assert LaunchCodes(store, FixedClock(at)).claim_request("orbit", webhook_id)


def launch_audit(store: TableStore, at: dt.datetime) -> None:
    entry = AuditEntry(
        "L1", AuditEvent.FOLLOWED, at, 302, "followed", "corr", user_hsa_id=USER,
        person_id=PERSON_ID, booking_id="OB-2026-000123",
    )  # fmt: skip
    write_audit(store, entry)


def booking(store: TableStore, booking_id: str, at: dt.datetime) -> None:
    """A booking with every kind of row: snapshot, targets, converged, audit, lookup."""
    crosswalk = Crosswalk(store)
    snapshot = make_snapshot(booking_id=booking_id)
    crosswalk.save_snapshot(StoredSnapshot(snapshot, at, "evt", "corr"), None)
    crosswalk.save_target(
        booking_id, TargetState(Target.ENCOUNTER, confirmed=make_facts(Target.ENCOUNTER))
    )
    crosswalk.mark_converged(booking_id, 1, at, 40)
    crosswalk.audit(booking_id, AuditRecord("event-stored", at, version=1, detail=PATIENT))
    cache = LookupCache(store, b"k" * 32, FixedClock(at))
    cache.remember_encounter(booking_id, CachedEncounter("ENC-1", PERSON_ID))


# --- what is removed, by age ---


def test_deliveries_older_than_their_age_are_removed_and_newer_ones_kept(store):
    delivery(store, "msg_old", NOW - 8 * DAY)
    delivery(store, "msg_recent", NOW - 6 * DAY)

    report = run(store)

    assert report.sweeps[Kind.DELIVERIES].removed == 1
    left = [e.data["acceptedAt"] for e in store.scan(TABLE_DELIVERIES)]
    assert left == [(NOW - 6 * DAY).isoformat()]


def test_the_ages_come_from_the_policy(store):
    delivery(store, "msg_old", NOW - 8 * DAY)

    report = run(store, policy=RetentionPolicy(deliveries=9 * DAY))

    assert report.sweeps[Kind.DELIVERIES].removed == 0
    assert len(list(store.scan(TABLE_DELIVERIES))) == 1


def test_unfollowed_codes_go_a_day_after_expiry_followed_ones_stay_with_the_audit(store):
    launch_code(store, NOW - 2 * DAY, followed=False)
    fresh = launch_code(store, NOW - dt.timedelta(hours=3), followed=False)
    launch_code(store, NOW - 2 * DAY, followed=True)
    launch_code(store, NOW - 11 * YEAR, followed=True)

    report = run(store)

    assert report.sweeps[Kind.UNFOLLOWED_LAUNCH_CODES].removed == 1
    assert report.sweeps[Kind.FOLLOWED_LAUNCH_CODES].removed == 1
    codes = [e.data for e in store.scan(TABLE_LAUNCHES, row_key="code")]
    assert sorted(bool(c["usedAt"]) for c in codes) == [False, True]
    # The late click on the fresh (expired) code is still told apart from nonsense.
    assert LaunchCodes(store, FixedClock(NOW)).redeem(fresh).reason.value == "expired"  # type: ignore[union-attr]


def test_signed_launch_requests_go_after_the_launch_code_age(store):
    launch_request(store, NOW - 2 * DAY, "req-old")
    launch_request(store, NOW - dt.timedelta(hours=1), "req-new")

    report = run(store)

    assert report.sweeps[Kind.LAUNCH_REQUESTS].removed == 1
    assert len(list(store.scan(TABLE_LAUNCHES, row_key="request"))) == 1


def test_audit_rows_go_only_after_the_audit_age(store):
    booking(store, "OB-OLD", NOW - 11 * YEAR)
    booking(store, "OB-KEPT", NOW - 9 * YEAR)
    launch_audit(store, NOW - 11 * YEAR)
    launch_audit(store, NOW - 9 * YEAR)

    report = run(store)

    assert report.sweeps[Kind.BOOKING_AUDIT].removed == 1
    assert report.sweeps[Kind.LAUNCH_AUDIT].removed == 1
    assert Crosswalk(store).audit_trail("OB-OLD") == []
    assert len(Crosswalk(store).audit_trail("OB-KEPT")) == 1
    audit_days = {e.partition_key for e in store.scan(TABLE_LAUNCHES) if e.row_key.count("|") == 3}
    assert audit_days == {f"audit-{(NOW - 9 * YEAR):%Y%m%d}"}


def test_audit_retention_off_keeps_every_audit_row_and_followed_code(store):
    booking(store, "OB-OLD", NOW - 30 * YEAR)
    launch_audit(store, NOW - 30 * YEAR)
    launch_code(store, NOW - 30 * YEAR, followed=True)
    delivery(store, "msg_old", NOW - 30 * YEAR)

    report = run(store, policy=RetentionPolicy(audit=None))

    for kind in (Kind.BOOKING_AUDIT, Kind.LAUNCH_AUDIT, Kind.FOLLOWED_LAUNCH_CODES):
        assert report.sweeps[kind].kept and report.sweeps[kind].removed == 0
    assert report.sweeps[Kind.DELIVERIES].removed == 1  # the rest still runs
    assert len(Crosswalk(store).audit_trail("OB-OLD")) == 1
    assert len(list(store.scan(TABLE_LAUNCHES, row_key="code"))) == 1


# --- what is never touched ---


def test_nothing_but_the_due_rows_is_touched(store):
    booking(store, "OB-ANCIENT", NOW - 20 * YEAR)  # every kind of row, all very old
    booking(store, "OB-LIVE", NOW - DAY)
    delivery(store, "msg_old", NOW - 8 * DAY)
    before = everything(store)

    run(store)

    after = everything(store)
    gone = set(before) - set(after)
    assert gone == {
        (TABLE_DELIVERIES, key[1], key[2]) for key in before if key[0] == TABLE_DELIVERIES
    } | {key for key in before if key[1] == "OB-ANCIENT" and key[2].startswith("audit|")}
    assert all(after[key] == before[key] for key in after)  # and nothing was rewritten
    kept = {key[2] for key in after if key[1] == "OB-ANCIENT"}
    assert {"snapshot", "target|encounter", "converged|0000000001"} <= kept
    assert [key for key in after if key[0] == TABLE_LOOKUP and "OB-ANCIENT" in key[1]]


def test_a_row_that_changed_after_it_was_read_is_left_alone(store):
    delivery(store, "msg_old", NOW - 8 * DAY)

    class ChangesUnderfoot:
        """Rewrites each row right after the page with it was read."""

        def __getattr__(self, name: str) -> Any:
            return getattr(store, name)

        def scan_older(self, table: str, selection: OlderThan, **kwargs: Any) -> ScanPage:
            page: ScanPage = store.scan_older(table, selection, **kwargs)
            for e in page.entities:
                store.update(table, e.partition_key, e.row_key, dict(e.data), e.etag)
            return page

    report = run(ChangesUnderfoot())

    assert report.sweeps[Kind.DELIVERIES].removed == 0
    assert report.sweeps[Kind.DELIVERIES].changed == 1
    assert len(list(store.scan(TABLE_DELIVERIES))) == 1


# --- a bounded run, resumed ---


def test_a_run_stops_at_its_delete_budget_and_the_next_runs_resume(store):
    for n in range(23):
        delivery(store, f"msg_{n}", NOW - 8 * DAY)
    booking(store, "OB-OLD", NOW - 11 * YEAR)

    runs = [run(store, max_deletes=10) for _ in range(3)]

    assert [r.sweeps[Kind.DELIVERIES].removed for r in runs] == [10, 10, 3]
    assert [r.stopped for r in runs] == [STOP_MAX_DELETES, STOP_MAX_DELETES, STOP_DONE]
    assert Kind.BOOKING_AUDIT not in runs[0].sweeps  # not reached while the budget lasted
    assert runs[2].sweeps[Kind.BOOKING_AUDIT].removed == 1
    assert list(store.scan(TABLE_DELIVERIES)) == []


def test_a_run_stops_at_its_time_budget_and_the_next_resumes_where_it_stopped(store):
    # Many fresh rows ahead of the old ones: a run cannot scan them all in its time.
    for n in range(450):
        delivery(store, f"fresh_{n}", NOW - DAY)
    for n in range(5):
        delivery(store, f"old_{n}", NOW - 8 * DAY)
    calls: list[tuple[str | None, str | None]] = []  # (resumed at, next position)

    class Recording:
        def __getattr__(self, name: str) -> Any:
            return getattr(store, name)

        def scan_older(self, table: str, selection: OlderThan, **kwargs: Any) -> ScanPage:
            page: ScanPage = store.scan_older(table, selection, **kwargs)
            if table == TABLE_DELIVERIES:
                calls.append((kwargs.get("resume"), page.resume))
            return page

    budget = dt.timedelta(seconds=2.5)  # two pages at one second a reading
    first = run(Recording(), time_budget=budget, ticks=Ticks(step=1.0))
    reached = calls[-1][1]
    pages_of_first = len(calls)
    second = run(Recording(), time_budget=budget, ticks=Ticks(step=1.0))

    assert first.stopped == second.stopped == STOP_TIME_BUDGET
    assert calls[0][0] is None and reached is not None
    # The second run starts where the first stopped, not at the beginning again.
    assert calls[pages_of_first][0] == reached
    done = [run(store) for _ in range(2)]
    removed = first.removed + second.removed + sum(r.removed for r in done)
    assert removed == 5
    assert len(list(store.scan(TABLE_DELIVERIES))) == 450


def test_a_sweep_that_reached_the_end_starts_again_from_the_beginning(store):
    delivery(store, "msg_a", NOW - 8 * DAY)
    assert run(store).sweeps[Kind.DELIVERIES].finished
    delivery(store, "msg_0", NOW - 8 * DAY)  # sorts before the position reached

    report = run(store)

    assert report.sweeps[Kind.DELIVERIES].removed == 1


# --- failures ---


def test_an_unreachable_store_stops_the_run_and_says_so(store):
    delivery(store, "msg_old", NOW - 8 * DAY)

    report = run(StoreOutage(store, {"delete"}))

    assert report.stopped == STOP_UNAVAILABLE
    assert report.problem.startswith("TransientError: the table store is unreachable")
    assert len(list(store.scan(TABLE_DELIVERIES))) == 1


def test_a_dry_run_counts_what_is_due_from_the_start_and_changes_nothing(store):
    for n in range(5):
        delivery(store, f"msg_{n}", NOW - 8 * DAY)
    booking(store, "OB-OLD", NOW - 11 * YEAR)
    run(store, max_deletes=2)  # a real run that stopped part-way (a saved position)
    before = everything(store)
    positions = list(store.scan(TABLE_RETENTION))

    report = run(store, dry_run=True)

    assert report.dry_run and report.stopped == STOP_DONE
    assert report.sweeps[Kind.DELIVERIES].removed == 3  # due; the first two are gone
    assert report.sweeps[Kind.BOOKING_AUDIT].removed == 1
    assert everything(store) == before
    assert list(store.scan(TABLE_RETENTION)) == positions


def test_a_malformed_setting_removes_nothing(store):
    delivery(store, "msg_old", NOW - 8 * DAY)

    report = run(store, problem="RETENTION_AUDIT_DAYS must be 1827 or more")

    assert report.stopped == STOP_MISCONFIGURED
    assert report.sweeps == {}
    assert len(list(store.scan(TABLE_DELIVERIES))) == 1


# --- what it says ---


@pytest.fixture
def metrics() -> Iterator[InMemoryMetricReader]:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    telemetry.use_providers(meter_provider=provider)
    yield reader
    telemetry.use_providers()
    provider.shutdown()


def removed_points(reader: InMemoryMetricReader) -> dict[str, int]:
    data = reader.get_metrics_data()
    return {
        str(dict(point.attributes or {})[names.DIM_KIND]): int(point.value)
        for resource in (data.resource_metrics if data else ())
        for scope in resource.scope_metrics
        for item in scope.metrics
        if item.name == names.RETENTION_REMOVED
        for point in item.data.data_points
        if isinstance(point, NumberDataPoint)
    }


def test_the_run_reports_counts_per_kind_without_personal_data(store, metrics, caplog):
    for n in range(3):
        delivery(store, f"msg_{n}", NOW - 8 * DAY)
    launch_code(store, NOW - 2 * DAY, followed=False)
    booking(store, "OB-2026-000777", NOW - 11 * YEAR)
    launch_audit(store, NOW - 11 * YEAR)
    every_value = {str(v) for row in everything(store).values() for v in row.values() if v}
    every_key = {key[1] for key in everything(store)}

    with caplog.at_level(logging.DEBUG):
        emit(run(store))

    assert removed_points(metrics) == {
        "deliveries": 3,
        "unfollowed-launch-codes": 1,
        "launch-audit": 1,
        "booking-audit": 1,
    }
    [line] = [r for r in caplog.records if r.name == "orbitsync.retention"]
    text = line.getMessage()
    assert "removed=6 stopped=done" in text
    assert "deliveries=3" in text and "booking-audit=1" in text
    logged = "\n".join(r.getMessage() + str(r.__dict__) for r in caplog.records)
    assert PATIENT not in logged and PERSON_ID not in logged and USER not in logged
    # Every id, key and time the rows held (values with digits: not the event names).
    ids = {v for v in every_value | every_key if len(v) > 6 and any(c.isdigit() for c in v)}
    assert len(ids) >= 20  # the scan below looks for something
    leaked = sorted(v for v in ids if v in logged)
    assert leaked == []


def test_a_run_that_could_not_finish_says_why(store, caplog):
    report = run(StoreOutage(store, {"scan_older"}))

    with caplog.at_level(logging.INFO):
        emit(report)

    [line] = [r for r in caplog.records if r.name == "orbitsync.retention"]
    assert line.levelno == logging.WARNING
    assert "stopped=store-unavailable" in line.getMessage()
    assert "problem=TransientError" in line.getMessage()


def test_the_report_as_json_names_every_sweep(store):
    report = run(store, policy=dataclasses.replace(RetentionPolicy(), audit=None))

    body = report.as_json()

    assert body["stopped"] == STOP_DONE
    assert set(body["sweeps"]) == {kind.value for kind in Kind}
    assert body["sweeps"]["booking-audit"]["kept"] is True
