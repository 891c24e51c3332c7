"""A monthly estimate: counted operations per booking change × prices × volumes.

The local run measures what one booking *created* and one *rebooking or
cancellation* ask of each billed service (`Rates`, from `bench.cost`). A stamp's
month is then ``bookings/12 × per create + changes/12 × per change``, priced by
the sheet (`bench.costing.prices`), plus what the stamp costs with no booking
at all (`Stamp`: Service Bus base or messaging units, always-ready instances,
private endpoints, a telemetry baseline, Key Vault reads, timer runs).

Every line says whether it is **volume**-driven (grows with bookings) or
**fixed**, so it is plain which dominates.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from bench.costing.prices import PriceSheet
from bench.costing.stamps import Stamp

TABLE_TRANSACTIONS = ("get", "insert", "update", "upsert", "delete", "query", "scan")
TABLE_WRITES = ("insert", "update", "upsert", "delete")
BUS_OPERATIONS = (
    "send",
    "schedule",
    "dead-letter",
    "receive",
    "complete",
    "abandon",
    "renew-lock",
    "session-accept",
    "session-idle-receive",
)
BLOB_LEASE_OPERATIONS = ("lease-acquire", "lease-renew", "lease-release", "get-properties")
BLOB_WRITE_OPERATIONS = ("put",)
DAYS_PER_MONTH = 365 / 12


@dataclass(frozen=True)
class Rates:
    """Counts and execution seconds per booking change of one kind (floats)."""

    counts: Mapping[str, float]
    seconds: Mapping[str, float] = field(default_factory=dict)

    def count(self, name: str) -> float:
        return self.counts.get(name, 0.0)

    def sum(self, prefix: str, names: Sequence[str]) -> float:
        return sum(self.count(f"{prefix}.{name}") for name in names)

    def plus(self, other: Rates, times: float = 1.0, own_times: float = 1.0) -> Rates:
        """``own_times`` × self + ``times`` × other."""
        counts = {k: own_times * v for k, v in self.counts.items()}
        seconds = {k: own_times * v for k, v in self.seconds.items()}
        for k, v in other.counts.items():
            counts[k] = counts.get(k, 0.0) + times * v
        for k, v in other.seconds.items():
            seconds[k] = seconds.get(k, 0.0) + times * v
        return Rates(counts, seconds)


@dataclass(frozen=True)
class Measured:
    """What the local run measured, normalised (see `bench.cost`)."""

    per_create: Rates
    per_change: Rates
    stored_bytes_per_booking: float
    triggers: Mapping[str, str]
    """Function name → trigger type, for every function the app registers."""
    timer_schedules: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Volume:
    administration: str
    bookings_per_year: float
    changes_per_year: float
    source: str


@dataclass(frozen=True)
class Line:
    component: str
    kind: str
    """``volume`` or ``fixed``."""
    quantity: float
    unit: str
    monthly: float


@dataclass(frozen=True)
class StampEstimate:
    stamp: Stamp
    volume: Volume
    lines: tuple[Line, ...]

    def cost(self, kind: str | None = None) -> float:
        return sum(line.monthly for line in self.lines if kind is None or line.kind == kind)

    @property
    def bookings_per_month(self) -> float:
        return self.volume.bookings_per_year / 12


def month_of(measured: Measured, volume: Volume) -> Rates:
    """One month's counts: bookings/12 creates and changes/12 rebookings/cancellations."""
    creates = volume.bookings_per_year / 12
    changes = volume.changes_per_year / 12
    return measured.per_create.plus(measured.per_change, times=changes, own_times=creates)


def estimate_stamp(
    measured: Measured, volume: Volume, stamp: Stamp, prices: PriceSheet
) -> StampEstimate:
    """The stamp's monthly estimate, line by line (volume lines, then fixed ones)."""
    month = month_of(measured, volume)
    lines = [
        *volume_lines(month, measured, volume, stamp, prices),
        *fixed_lines(measured, stamp, prices),
    ]
    return StampEstimate(stamp, volume, tuple(lines))


def _executions(month: Rates, measured: Measured, http: bool) -> tuple[float, float]:
    """(executions, seconds) of the HTTP functions, or of all the others."""
    count = seconds = 0.0
    for name, trigger in measured.triggers.items():
        if (trigger == "httpTrigger") == http:
            count += month.count(f"exec.{name}")
            seconds += month.seconds.get(f"exec.{name}", 0.0)
    return count, seconds


def volume_lines(
    month: Rates,
    measured: Measured,
    volume: Volume,
    stamp: Stamp,
    prices: PriceSheet,
    *,
    marginal: bool = False,
) -> list[Line]:
    """The lines that grow with bookings. ``marginal``: price every quantity at the
    first paid tier (what one more booking adds), ignoring included quantities."""

    def cost(name: str, quantity: float) -> float:
        price = prices[name]
        return quantity * price.unit_price if marginal else price.cost(quantity)

    memory = stamp.instance_memory_gb
    http_runs, http_seconds = _executions(month, measured, http=True)
    queue_runs, queue_seconds = _executions(month, measured, http=False)
    bus_ops = month.sum("bus", BUS_OPERATIONS)
    table_ops = month.sum("table", TABLE_TRANSACTIONS)
    lease_ops = month.sum("blob", BLOB_LEASE_OPERATIONS)
    blob_writes = month.sum("blob", BLOB_WRITE_OPERATIONS)
    stored_gb = (
        measured.stored_bytes_per_booking
        * volume.bookings_per_year
        * prices.assumed("retained_months")
        / 12
        / 1e9
    )
    audited_writes = month.sum("table", TABLE_WRITES) + blob_writes + lease_ops
    bus_log_bytes = (
        prices.assumed("servicebus_log_bytes_per_operation_premium") if stamp.messaging_units else 0
    )
    log_gb = (
        (http_runs + queue_runs) * prices.assumed("app_insights_bytes_per_execution")
        + audited_writes * prices.assumed("storage_audit_bytes_per_write")
        + bus_ops * bus_log_bytes
    ) / 1e9
    lines = [
        Line(
            "Function executions, HTTP (always ready)",
            "volume",
            http_runs,
            "executions",
            cost("functions.flex.always_ready.executions", http_runs / 1e6),
        ),
        Line(
            "Function executions, queue triggers (on demand)",
            "volume",
            queue_runs,
            "executions",
            cost("functions.flex.on_demand.executions", queue_runs / 1e6),
        ),
        Line(
            "Execution time, HTTP (always ready)",
            "volume",
            http_seconds * memory,
            "GB-s",
            cost("functions.flex.always_ready.execution_time", http_seconds * memory),
        ),
        Line(
            "Execution time, queue triggers (on demand)",
            "volume",
            queue_seconds * memory,
            "GB-s",
            cost("functions.flex.on_demand.execution_time", queue_seconds * memory),
        ),
        Line(
            f"Service Bus operations ({stamp.service_bus_tier})",
            "volume",
            bus_ops,
            "operations",
            0.0 if stamp.messaging_units else cost("servicebus.standard.operations", bus_ops / 1e6),
        ),
        Line(
            "Table transactions",
            "volume",
            table_ops,
            "transactions",
            cost("storage.table.transactions", table_ops / 1e4),
        ),
        Line(
            "Table capacity (a year of bookings kept)",
            "volume",
            stored_gb,
            "GB",
            cost("storage.table.capacity_gzrs", stored_gb),
        ),
        Line(
            "Blob operations, link leases (other)",
            "volume",
            lease_ops,
            "operations",
            cost("storage.blob.hot_gzrs.other_operations", lease_ops / 1e4),
        ),
        Line(
            "Blob operations, link 'want' marker (write)",
            "volume",
            blob_writes,
            "operations",
            cost("storage.blob.hot_gzrs.write_operations", blob_writes / 1e4),
        ),
        Line(
            "Log Analytics ingestion (telemetry, storage audit)",
            "volume",
            log_gb,
            "GB",
            cost("monitor.log_analytics.analytics_ingestion", log_gb),
        ),
    ]
    if stamp.private_endpoints:
        processed_gb = 2 * (month.count("table.bytes") + month.count("bus.bytes")) / 1e9
        lines.append(
            Line(
                "Private endpoint data processed (in + out)",
                "volume",
                processed_gb,
                "GB",
                cost("network.private_endpoint.data_processed", processed_gb),
            )
        )
    return lines


def fixed_lines(measured: Measured, stamp: Stamp, prices: PriceSheet) -> list[Line]:
    """What the stamp costs a month with no booking at all."""
    hours = prices.assumed("hours_per_month")
    if stamp.messaging_units:
        bus = Line(
            "Service Bus Premium messaging units",
            "fixed",
            stamp.messaging_units * hours,
            "MU-hours",
            prices["servicebus.premium.messaging_unit"].cost(stamp.messaging_units * hours),
        )
    else:
        bus = Line(
            "Service Bus Standard base charge",
            "fixed",
            hours,
            "hours",
            prices["servicebus.standard.base"].cost(hours),
        )
    baseline_gbs = stamp.always_ready_instances * stamp.instance_memory_gb * hours * 3600
    log_gb = prices.assumed("log_analytics_baseline_gb_per_day") * hours / 24
    vault_ops = prices.assumed("key_vault_operations_per_month")
    lines = [
        bus,
        Line(
            f"Always-ready baseline ({stamp.always_ready_instances} × "
            f"{stamp.instance_memory_gb:g} GB)",
            "fixed",
            baseline_gbs,
            "GB-s",
            prices["functions.flex.always_ready.baseline"].cost(baseline_gbs),
        ),
        Line(
            "Log Analytics baseline (assumed)",
            "fixed",
            log_gb,
            "GB",
            prices["monitor.log_analytics.analytics_ingestion"].cost(log_gb),
        ),
        Line(
            "Key Vault secret reads (assumed)",
            "fixed",
            vault_ops,
            "operations",
            prices["keyvault.standard.operations"].cost(vault_ops / 1e4),
        ),
    ]
    if stamp.private_endpoints:
        endpoint_hours = stamp.private_endpoints * hours
        lines.append(
            Line(
                f"Private endpoints ({stamp.private_endpoints})",
                "fixed",
                endpoint_hours,
                "endpoint-hours",
                prices["network.private_endpoint.hour"].cost(endpoint_hours),
            )
        )
    lines.extend(_timer_lines(measured, stamp, prices))
    return lines


def _timer_lines(measured: Measured, stamp: Stamp, prices: PriceSheet) -> list[Line]:
    lines = []
    for name, schedule in sorted(measured.timer_schedules.items()):
        runs = runs_per_month(schedule)
        if runs is None:
            lines.append(Line(f"Timer {name} ({schedule}: not parsed)", "fixed", 0, "runs", 0.0))
            continue
        gbs = runs * prices.assumed("timer_execution_seconds") * stamp.instance_memory_gb
        monthly = prices["functions.flex.on_demand.executions"].cost(runs / 1e6) + prices[
            "functions.flex.on_demand.execution_time"
        ].cost(gbs)
        lines.append(Line(f"Timer {name} ({schedule})", "fixed", runs, "runs", monthly))
    return lines


# --- NCRONTAB schedules of timer triggers ---

_FIELD_SIZES = (60, 60, 24, 31, 12, 7)  # second minute hour day month day-of-week


def _field_count(text: str, size: int) -> int | None:
    """How many values an NCRONTAB field matches (None if not understood)."""
    total = 0
    for part in text.split(","):
        match = re.fullmatch(r"(\*|\d+(?:-\d+)?)(?:/(\d+))?", part)
        if match is None:
            return None
        span, step = match.group(1), int(match.group(2) or 1)
        if span == "*":
            width = size
        elif "-" in span:
            low, high = (int(v) for v in span.split("-"))
            width = high - low + 1
        else:
            width = 1 if match.group(2) is None else size - int(span)
        total += math.ceil(width / step)
    return total


def runs_per_month(schedule: str) -> float | None:
    """Average runs a month of a six-field NCRONTAB schedule, or None (e.g. a
    ``%SETTING%`` reference or a name like ``MON``)."""
    fields = schedule.split()
    if len(fields) != 6:
        return None
    counts = [_field_count(text, size) for text, size in zip(fields, _FIELD_SIZES, strict=True)]
    if any(count is None for count in counts):
        return None
    second, minute, hour, day, month, weekday = (float(c or 0) for c in counts)
    per_day = second * minute * hour
    share = (day / 31 if fields[3] != "*" else 1.0) * (weekday / 7 if fields[5] != "*" else 1.0)
    return per_day * DAYS_PER_MONTH * share * month / 12
