"""Benchmark: what a booking change costs in Azure, counted in the local run.

    python -m bench.cost [--bookings 1000] [--growth 1000,4000,16000] [--write]
    python -m bench.cost --estimate-only [--prices bench/prices/<sheet>.json] [--write]

Counts, per booking created and per rebooking or cancellation, what Azure bills:
function executions by trigger and their wall time, Service Bus operations by
kind, Table transactions and bytes stored, blob operations of the link's
leases (`bench.costing.run`). Prices them with a price sheet and SU's and VGR's
volumes into a monthly estimate per stamp (`bench.costing.estimate`).

``--write`` rewrites the marked sections of docs/cost.md and keeps the counts in
``bench/costing/measured.json``, so ``--estimate-only`` can reprice them (a new
price sheet, other volumes) without running anything. ``--growth`` runs each
size on a fresh local run and reports cost per booking (target: flat within
15 % from 1k to 16k bookings; 16k takes several minutes).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bench.costing.estimate import (
    BLOB_LEASE_OPERATIONS,
    BLOB_WRITE_OPERATIONS,
    BUS_OPERATIONS,
    TABLE_TRANSACTIONS,
    Measured,
    Rates,
    StampEstimate,
    Volume,
    estimate_stamp,
    month_of,
    volume_lines,
)
from bench.costing.prices import DEFAULT_SHEET, PriceSheet, load_prices
from bench.costing.stamps import Stamp, load_stamps
from bench.report import write_figures

ROOT = Path(__file__).resolve().parents[1]
COST_DOC = ROOT / "docs" / "cost.md"
MEASURED = ROOT / "bench" / "costing" / "measured.json"
SU_BOOKINGS_PER_YEAR = 44_000
SU_CHANGES_PER_YEAR = 13_000
SU_SOURCE = "brief §1 (SU, 2019: 44,000 operations, 13,000 rebookings/cancellations)"
SU_MIX = SU_CHANGES_PER_YEAR / SU_BOOKINGS_PER_YEAR
ONE_BOOKING = Volume("SU", 12.0, 12.0 * SU_MIX, "one booking a month, with SU's mix of changes")
GROWTH_TOLERANCE = 0.15


# --- measuring ---


def measured_of(measurement: Any) -> dict[str, Any]:
    """The JSON form of a `bench.costing.run.Measurement`: rates per create and
    per change, bytes stored per booking, the registered functions."""
    triggers = {f.name: f.trigger for f in measurement.functions}
    timers = {
        f.name: str(f.binding.get("schedule", ""))
        for f in measurement.functions
        if f.trigger == "timerTrigger"
    }
    stored_bytes = sum(s.bytes for s in measurement.stored.values())
    return {
        "bookings": measurement.bookings,
        "creates": measurement.creates,
        "changes": measurement.changes,
        "elapsed_s": round(measurement.elapsed_s, 1),
        "differences": measurement.differences,
        "duplicate_creates": measurement.duplicate_creates,
        "per_create": _per(measurement.on_create, measurement.creates),
        "per_change": _per(measurement.on_change, measurement.changes),
        "stored": {
            table: {"entities": s.entities, "bytes": s.bytes}
            for table, s in measurement.stored.items()
        },
        "stored_bytes_per_booking": stored_bytes / measurement.bookings,
        "triggers": triggers,
        "timer_schedules": timers,
    }


def _per(usage: Any, n: int) -> dict[str, dict[str, float]]:
    return {
        "counts": {k: v / n for k, v in sorted(usage.counts.items())},
        "seconds": {k: v / n for k, v in sorted(usage.seconds.items())},
    }


def measured_from(data: Mapping[str, Any]) -> Measured:
    return Measured(
        per_create=Rates(data["per_create"]["counts"], data["per_create"]["seconds"]),
        per_change=Rates(data["per_change"]["counts"], data["per_change"]["seconds"]),
        stored_bytes_per_booking=float(data["stored_bytes_per_booking"]),
        triggers=data["triggers"],
        timer_schedules=data.get("timer_schedules", {}),
    )


# --- volumes ---


def volumes(stamps: Sequence[Stamp], prices: PriceSheet) -> dict[str, Volume]:
    """SU's volume from the brief; every other administration a share of it (an
    assumption of the price sheet: no source gives their volumes)."""
    share = prices.assumed("other_administrations_volume_share_of_su")
    result = {}
    for stamp in stamps:
        if stamp.administration == "SU":
            result["SU"] = Volume("SU", SU_BOOKINGS_PER_YEAR, SU_CHANGES_PER_YEAR, SU_SOURCE)
        else:
            result[stamp.administration] = Volume(
                stamp.administration,
                SU_BOOKINGS_PER_YEAR * share,
                SU_CHANGES_PER_YEAR * share,
                f"assumption: {share:g} × SU (the price sheet's assumption)",
            )
    return result


# --- reporting ---


def _fmt(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def count_lines(data: Mapping[str, Any]) -> list[str]:
    """What one booking change asks of each billed service (the measured counts)."""
    create, change = data["per_create"], data["per_change"]
    bookings, creates, changes = data["bookings"], data["creates"], data["changes"]

    def total(name: str, seconds: bool = False) -> float:
        key = "seconds" if seconds else "counts"
        return float(create[key].get(name, 0) * creates + change[key].get(name, 0) * changes)

    def per_booking(name: str, seconds: bool = False) -> str:
        return _fmt(total(name, seconds) / bookings * (1000 if seconds else 1))

    def per_event(name: str, seconds: bool = False) -> str:
        return _fmt(total(name, seconds) / (creates + changes) * (1000 if seconds else 1))

    rows = [
        f"Synthetic day: {bookings} bookings, {creates} created and {changes} rebooked or "
        f"cancelled (posted in two phases), converged in {data['elapsed_s']:.0f} s; "
        f"{data['differences']} differences from Orbit in Millennium, "
        f"{data['duplicate_creates']} duplicate creates.",
        "",
        "| billed operation | per booking created | per rebooking/cancellation | "
        "per booking change (either) | per booking (this day's mix) |",
        "|---|---|---|---|---|",
    ]
    names = [
        *(f"exec.{name}" for name in data["triggers"]),
        *(f"bus.{op}" for op in BUS_OPERATIONS),
        *(f"table.{op}" for op in TABLE_TRANSACTIONS),
        *(f"blob.{op}" for op in (*BLOB_LEASE_OPERATIONS, *BLOB_WRITE_OPERATIONS)),
    ]
    for name in names:
        a, b = create["counts"].get(name, 0), change["counts"].get(name, 0)
        if a or b:
            label = _label(name, data["triggers"])
            rows.append(
                f"| {label} | {_fmt(a)} | {_fmt(b)} | {per_event(name)} | {per_booking(name)} |"
            )
    for name in data["triggers"]:
        key = f"exec.{name}"
        a, b = create["seconds"].get(key, 0), change["seconds"].get(key, 0)
        if a or b:
            rows.append(
                f"| wall time, {name} (ms) | {_fmt(a * 1000)} | {_fmt(b * 1000)} | "
                f"{per_event(key, seconds=True)} | {per_booking(key, seconds=True)} |"
            )
    stored = ", ".join(
        f"{table} {_fmt(s['bytes'] / bookings)} B ({_fmt(s['entities'] / bookings)} entities)"
        for table, s in data["stored"].items()
        if s["entities"]
    )
    rows += ["", f"Bytes stored at the end, per booking (Azure's entity size formula): {stored}."]
    return rows


def _label(name: str, triggers: Mapping[str, str]) -> str:
    service, op = name.split(".", 1)
    if service == "exec":
        return f"executions, {op} ({triggers.get(op, '?')})"
    return {"bus": "Service Bus", "table": "Table", "blob": "Blob"}[service] + f" {op}"


def estimate_lines(
    measured: Measured, stamps: Sequence[Stamp], prices: PriceSheet
) -> tuple[list[str], list[StampEstimate]]:
    by_admin = volumes(stamps, prices)
    estimates = [estimate_stamp(measured, by_admin[s.administration], s, prices) for s in stamps]
    rows = [
        f"Prices: `{prices.path.relative_to(ROOT)}` ({prices.currency}, read "
        f"{prices.read_on}; many figures are assumptions, see the sheet). "
        "Volume-driven lines are priced through the tiers (Service Bus Standard's "
        "included 13 million operations a month cover these volumes).",
        "",
    ]
    su = next(e for e in estimates if e.stamp.administration == "SU")
    rows += _stamp_table(su)
    rows += ["", "All stamps (one per administration, infra/params):", ""]
    rows += [
        f"| stamp | Service Bus | bookings/month | volume-driven {prices.currency}/month | "
        f"fixed {prices.currency}/month | total | per booking |",
        "|---|---|---|---|---|---|---|",
    ]
    for e in estimates:
        rows.append(
            f"| {e.stamp.administration} ({_basis(e.volume)}) | "
            f"{e.stamp.service_bus_tier} | {_fmt(e.bookings_per_month)} | "
            f"{_fmt(e.cost('volume'))} | {_fmt(e.cost('fixed'))} | {_fmt(e.cost())} | "
            f"{_fmt(e.cost() / e.bookings_per_month)} |"
        )
    volume = sum(e.cost("volume") for e in estimates)
    fixed = sum(e.cost("fixed") for e in estimates)
    bookings = sum(e.bookings_per_month for e in estimates)
    rows.append(
        f"| **VGR, all {len(estimates)}** | | {_fmt(bookings)} | {_fmt(volume)} | "
        f"{_fmt(fixed)} | **{_fmt(volume + fixed)}** | {_fmt((volume + fixed) / bookings)} |"
    )
    return rows, estimates


def _basis(volume: Volume) -> str:
    return "volume: brief" if volume.source == SU_SOURCE else "volume assumed"


def _stamp_table(e: StampEstimate) -> list[str]:
    rows = [
        f"SU's stamp ({e.stamp.service_bus_tier} Service Bus, "
        f"{e.stamp.private_endpoints} private endpoints, {e.stamp.always_ready_instances} "
        f"always-ready instances of {e.stamp.instance_memory_gb:g} GB), "
        f"{_fmt(e.bookings_per_month)} bookings and "
        f"{_fmt(e.volume.changes_per_year / 12)} changes a month:",
        "",
        "| line | kind | quantity a month | cost a month |",
        "|---|---|---|---|",
    ]
    for line in e.lines:
        rows.append(
            f"| {line.component} | {line.kind} | {_fmt(line.quantity)} {line.unit} | "
            f"{_fmt(line.monthly)} |"
        )
    rows.append(
        f"| **total** | volume {_fmt(e.cost('volume'))}, fixed {_fmt(e.cost('fixed'))} | | "
        f"**{_fmt(e.cost())}** |"
    )
    return rows


def marginal_cost_per_booking(measured: Measured, stamp: Stamp, prices: PriceSheet) -> float:
    """Volume-driven cost of one booking with SU's mix of changes, every quantity
    at its first paid price (nothing included for free): the figure that must
    stay flat as bookings grow."""
    month = month_of(measured, ONE_BOOKING)
    lines = volume_lines(month, measured, ONE_BOOKING, stamp, prices, marginal=True)
    return sum(line.monthly for line in lines)


def growth_lines(
    results: Sequence[Mapping[str, Any]], stamp: Stamp, prices: PriceSheet
) -> list[str]:
    rows = [
        "| bookings | operations per booking (Service Bus, Table, blob) | executions per booking "
        "| wall time per booking (ms) | volume-driven cost per booking, marginal list prices "
        f"({prices.currency}) | run (s) |",
        "|---|---|---|---|---|---|",
    ]
    costs, operations, walls = [], [], []
    for data in results:
        measured = measured_from(data)
        month = month_of(measured, ONE_BOOKING)
        ops = (
            month.sum("bus", BUS_OPERATIONS)
            + month.sum("table", TABLE_TRANSACTIONS)
            + month.sum("blob", (*BLOB_LEASE_OPERATIONS, *BLOB_WRITE_OPERATIONS))
        )
        runs = sum(v for k, v in month.counts.items() if k.startswith("exec."))
        seconds = sum(month.seconds.values())
        cost = marginal_cost_per_booking(measured, stamp, prices)
        costs.append(cost)
        operations.append(ops)
        walls.append(seconds)
        rows.append(
            f"| {data['bookings']} | {_fmt(ops)} | {_fmt(runs)} | {_fmt(seconds * 1000)} | "
            f"{cost:.6f} | {data['elapsed_s']:.0f} |"
        )
    spread = _spread(costs)
    verdict = "within" if spread <= GROWTH_TOLERANCE else "NOT within"
    rows += [
        "",
        f"Operations per booking differ by {_spread(operations):.1%} between the runs and "
        f"wall time per booking by {_spread(walls):.1%} (noisy on a shared machine, and "
        "it includes the local SQLite's lock waits, which Azure does not have).",
        "",
        f"Cost per booking differs by {spread:.1%} between the cheapest and the dearest run: "
        f"{verdict} the 15 % target (SU's mix: {SU_MIX:.2f} changes per booking).",
    ]
    return rows


def _spread(values: Sequence[float]) -> float:
    """Largest ÷ smallest − 1 (0 for none)."""
    return max(values) / min(values) - 1 if values and min(values) > 0 else 0.0


# --- the command ---


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.cost", description=(__doc__ or "").split("\n")[0]
    )
    parser.add_argument("--bookings", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument(
        "--growth", default="", help="comma-separated sizes, e.g. 1000,4000,16000 (slow)"
    )
    parser.add_argument("--prices", type=Path, default=DEFAULT_SHEET)
    parser.add_argument(
        "--estimate-only",
        action="store_true",
        help=f"reprice the counts in {MEASURED.relative_to(ROOT)} without running",
    )
    parser.add_argument("--write", action="store_true", help="write docs/cost.md (and the counts)")
    args = parser.parse_args(argv)
    prices = load_prices(args.prices)
    stamps = load_stamps()
    if args.estimate_only:
        if not MEASURED.exists():
            parser.error(f"no stored counts in {MEASURED}: run python -m bench.cost --write first")
        data = json.loads(MEASURED.read_text())
    else:
        data = _measure(args.bookings, args.clients)
    counts = count_lines(data)
    estimate, _ = estimate_lines(measured_from(data), stamps, prices)
    print("\n".join([*counts, "", *estimate]))
    growth: list[str] = []
    if args.growth:
        sizes = [int(size) for size in args.growth.split(",")]
        results = [
            data if size == data["bookings"] else _measure(size, args.clients) for size in sizes
        ]
        su = next(s for s in stamps if s.administration == "SU")
        growth = growth_lines(results, su, prices)
        print("\n".join(["", *growth]))
    if args.write:
        if not args.estimate_only:
            MEASURED.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
            write_figures("cost-counts", counts, COST_DOC)
        write_figures("cost-estimate", estimate, COST_DOC)
        if growth:
            write_figures("cost-growth", growth, COST_DOC)


def _measure(bookings: int, clients: int) -> dict[str, Any]:
    from bench.costing.run import measure  # starts the local run: only when measuring

    return measured_of(measure(bookings, clients))


if __name__ == "__main__":
    main()
