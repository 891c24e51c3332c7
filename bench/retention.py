"""Benchmark: the retention clean-up over a crosswalk of N bookings.

    python -m bench.retention [--bookings 16000] [--audit-rows 12] [--azurite]

Fills a fresh store with N bookings (snapshot, three target rows, a converged
row and ``--audit-rows`` audit rows each, half of the bookings older than the
audit age), one webhook delivery per booking (half past their age) and one launch
code per booking (half never followed, long expired). Then it measures a dry run
(the scan alone: how fast the store filters the old rows out) and a real run
(scan and delete), and prints rows per second. ``--azurite`` runs it against
Azurite (Table storage's emulator, on loopback) instead of SQLite; Azurite's
speed says little about Azure's, so read those figures as the request count and
the shape, not the time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import tempfile
import time
from pathlib import Path

from shared.crosswalk.port import TableStore
from shared.crosswalk.sqlite import SqliteTableStore
from shared.names import ALL_TABLES, TABLE_BOOKINGS, TABLE_DELIVERIES, TABLE_LAUNCHES
from shared.retention.cleanup import CleanUp, RetentionPorts, clean_up
from shared.retention.policy import RetentionPolicy
from shared.retention.report import CleanUpReport

NOW = dt.datetime(2036, 11, 30, 1, 17, tzinfo=dt.UTC)
SNAPSHOT_TEXT = json.dumps({"bookingId": "OB", "padding": "x" * 1400})  # a snapshot's size


def fill(store: TableStore, bookings: int, audit_rows: int) -> int:
    """Write the world; returns the number of rows written."""
    written = 0
    for n in range(bookings):
        old = n % 2 == 0
        at = NOW - (dt.timedelta(days=4000) if old else dt.timedelta(days=30))
        booking = f"OB-2026-{n:06d}"
        store.insert(TABLE_BOOKINGS, booking, "snapshot", {"snapshot": SNAPSHOT_TEXT})
        for target in ("encounter", "appointment", "bed"):
            store.insert(TABLE_BOOKINGS, booking, f"target|{target}", {"facts": "{}"})
        store.insert(TABLE_BOOKINGS, booking, "converged|0000000001", {"at": at.isoformat()})
        for k in range(audit_rows):
            moment = at + dt.timedelta(seconds=k)
            row = f"audit|{moment:%Y%m%dT%H%M%S%f}|{k:08d}"
            store.insert(TABLE_BOOKINGS, booking, row, {"kind": "sent", "at": moment.isoformat()})
        accepted = NOW - dt.timedelta(days=10 if old else 1)
        store.insert(
            TABLE_DELIVERIES, f"{n:064x}", "delivery", {"acceptedAt": accepted.isoformat()}
        )
        expires = NOW - dt.timedelta(days=3 if old else 0, minutes=1)
        code = {"expiresAt": expires.isoformat(), "usedAt": "" if old else expires.isoformat()}
        store.insert(TABLE_LAUNCHES, f"code-{n:064x}", "code", code)
        written += 7 + audit_rows
    return written


def timed_run(store: TableStore, *, dry_run: bool) -> tuple[CleanUpReport, float]:
    command = CleanUp(
        now=NOW,
        policy=RetentionPolicy(),
        max_deletes=10**9,
        time_budget=dt.timedelta(hours=1),
        dry_run=dry_run,
    )
    started = time.perf_counter()
    report = clean_up(command, RetentionPorts(store=store, seconds=time.monotonic))
    return report, time.perf_counter() - started


def measure(store: TableStore, bookings: int, audit_rows: int, backend: str) -> None:
    store.create_tables(ALL_TABLES)
    started = time.perf_counter()
    rows = fill(store, bookings, audit_rows)
    took = time.perf_counter() - started
    print(f"{backend}: {bookings} bookings, {rows} rows written in {took:.1f} s")
    for dry_run in (True, False):
        report, seconds = timed_run(store, dry_run=dry_run)
        what = "dry run (scan only)" if dry_run else "clean-up (scan + delete)"
        per_row = rows / seconds if seconds else 0.0
        print(
            f"  {what}: {report.removed} rows due/removed in {seconds:.2f} s "
            f"({per_row:,.0f} rows scanned/s, {report.removed / seconds:,.0f} due rows/s); "
            + ", ".join(f"{k.value}={r.removed}" for k, r in report.sweeps.items())
        )
    again, seconds = timed_run(store, dry_run=True)
    print(
        f"  after it: {again.removed} rows due; a pass over the clean store takes {seconds:.2f} s"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.retention", description=__doc__)
    parser.add_argument("--bookings", type=int, default=16000)
    parser.add_argument("--audit-rows", type=int, default=12)
    parser.add_argument("--azurite", action="store_true", help="Azurite instead of SQLite")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        if not args.azurite:
            store = SqliteTableStore(Path(folder) / "crosswalk.sqlite3")
            measure(store, args.bookings, args.audit_rows, "SQLite")
            store.close()
            return
        from tests.azurite import AzuriteTable, azurite_table_store

        with AzuriteTable(Path(folder)) as azurite:
            azure = azurite_table_store(azurite.port)
            measure(azure, args.bookings, args.audit_rows, "Azurite")
            azure.close()


if __name__ == "__main__":
    main()
