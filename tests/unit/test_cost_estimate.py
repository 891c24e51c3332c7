"""The cost estimate's arithmetic (bench.costing.estimate), checked by hand.

A small price sheet, counts per booking change and a stamp; the expected
monthly figures are worked out here line by line, independently of the module.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.costing.estimate import (
    Measured,
    Rates,
    StampEstimate,
    Volume,
    estimate_stamp,
    runs_per_month,
)
from bench.costing.prices import PriceSheet, load_prices
from bench.costing.stamps import Stamp

SOURCE = "https://example.invalid/prices"


def _price(price: float, unit: str) -> dict[str, object]:
    return {
        "price": price,
        "unit": unit,
        "currency": "USD",
        "status": "assumption",
        "source": SOURCE,
        "read_on": "2026-12-01",
    }


def _assumption(value: float) -> dict[str, object]:
    return {"value": value, "unit": "x", "note": "test"}


PRICES = {
    "functions.flex.on_demand.execution_time": _price(0.00002, "GB-second"),
    "functions.flex.on_demand.executions": _price(0.5, "million executions"),
    "functions.flex.always_ready.baseline": _price(0.000001, "GB-second"),
    "functions.flex.always_ready.execution_time": _price(0.00001, "GB-second"),
    "functions.flex.always_ready.executions": _price(0.25, "million executions"),
    "servicebus.standard.base": _price(0.01, "hour"),
    "servicebus.standard.operations": {
        **_price(0, "million operations"),
        "price": None,
        "tiers": [{"up_to": 0.001, "price": 0.0}, {"up_to": None, "price": 1.0}],
    },
    "servicebus.premium.messaging_unit": _price(1.0, "messaging-unit-hour"),
    "storage.table.transactions": _price(0.001, "10,000 transactions"),
    "storage.table.capacity_gzrs": _price(0.1, "GB-month"),
    "storage.blob.hot_gzrs.write_operations": _price(0.1, "10,000 operations"),
    "storage.blob.hot_gzrs.other_operations": _price(0.01, "10,000 operations"),
    "network.private_endpoint.hour": _price(0.01, "endpoint-hour"),
    "network.private_endpoint.data_processed": _price(0.01, "GB"),
    "monitor.log_analytics.analytics_ingestion": _price(2.0, "GB"),
    "keyvault.standard.operations": _price(0.03, "10,000 operations"),
}
del PRICES["servicebus.standard.operations"]["price"]
ASSUMPTIONS = {
    "hours_per_month": _assumption(700),
    "retained_months": _assumption(12),
    "app_insights_bytes_per_execution": _assumption(1000),
    "storage_audit_bytes_per_write": _assumption(500),
    "servicebus_log_bytes_per_operation_premium": _assumption(0),
    "log_analytics_baseline_gb_per_day": _assumption(0.024),
    "key_vault_operations_per_month": _assumption(20_000),
    "timer_execution_seconds": _assumption(10),
    "other_administrations_volume_share_of_su": _assumption(0.5),
}

# Per booking created: the webhook once (10 ms), two queue executions (50 ms in all),
# 4 Service Bus operations, 10 Table transactions of which 4 writes, one lease acquire.
PER_CREATE = Rates(
    counts={
        "exec.webhook": 1,
        "exec.worker": 2,
        "bus.send": 2,
        "bus.complete": 2,
        "table.get": 4,
        "table.query": 2,
        "table.insert": 3,
        "table.update": 1,
        "blob.lease-acquire": 1,
    },
    seconds={"exec.webhook": 0.010, "exec.worker": 0.050},
)
# Per change: the webhook once (10 ms), one queue execution (20 ms), 2 operations,
# 5 transactions of which 2 writes.
PER_CHANGE = Rates(
    counts={
        "exec.webhook": 1,
        "exec.worker": 1,
        "bus.send": 1,
        "bus.receive": 1,
        "table.get": 3,
        "table.update": 2,
    },
    seconds={"exec.webhook": 0.010, "exec.worker": 0.020},
)
MEASURED = Measured(
    per_create=PER_CREATE,
    per_change=PER_CHANGE,
    stored_bytes_per_booking=10_000,
    triggers={"webhook": "httpTrigger", "worker": "serviceBusTrigger"},
    timer_schedules={"cleanup": "0 0 3 * * *"},
)
# 1,200 bookings and 600 changes a year: 100 creates and 50 changes a month.
VOLUME = Volume("XX", 1200, 600, "test")
STANDARD = Stamp("XX", "integrated", False, 1, 2.0, 0)
PREMIUM = Stamp("XX", "integrated", True, 2, 2.0, 1)


@pytest.fixture
def prices(tmp_path: Path) -> PriceSheet:
    sheet = {
        "region": "test",
        "currency": "USD",
        "read_on": "2026-12-01",
        "prices": PRICES,
        "assumptions": ASSUMPTIONS,
    }
    path = tmp_path / "sheet.json"
    path.write_text(json.dumps(sheet))
    return load_prices(path)


def _by_component(estimate: StampEstimate, prefix: str) -> float:
    matches = [line.monthly for line in estimate.lines if line.component.startswith(prefix)]
    assert len(matches) == 1, (prefix, [line.component for line in estimate.lines])
    return matches[0]


def test_volume_lines_of_a_standard_stamp(prices: PriceSheet) -> None:
    estimate = estimate_stamp(MEASURED, VOLUME, STANDARD, prices)
    # HTTP: 100 + 50 executions at 0.25 per million; 1.5 s × 2 GB at 0.00001.
    assert _by_component(estimate, "Function executions, HTTP") == pytest.approx(150 * 0.25e-6)
    assert _by_component(estimate, "Execution time, HTTP") == pytest.approx(3.0 * 0.00001)
    # Queue: 200 + 50 executions at 0.5 per million; (5 + 1) s × 2 GB at 0.00002.
    assert _by_component(estimate, "Function executions, queue") == pytest.approx(250 * 0.5e-6)
    assert _by_component(estimate, "Execution time, queue") == pytest.approx(12.0 * 0.00002)
    # Service Bus: 400 + 100 = 500 operations; 1,000 included (0.001 million): nothing.
    assert _by_component(estimate, "Service Bus operations") == 0
    # Table: 1,000 + 250 transactions at 0.001 per 10,000.
    assert _by_component(estimate, "Table transactions") == pytest.approx(1250 / 1e4 * 0.001)
    # A year of bookings kept: 1,200 × 10,000 bytes = 0.012 GB at 0.1.
    assert _by_component(estimate, "Table capacity") == pytest.approx(0.012 * 0.1)
    # Leases: 100 acquires at 0.01 per 10,000.
    assert _by_component(estimate, "Blob operations, link leases") == pytest.approx(1e-4)
    # Logs: 400 executions × 1,000 B + (400 + 100 table writes + 100 lease ops) × 500 B.
    log_gb = (400 * 1000 + 600 * 500) / 1e9
    assert _by_component(estimate, "Log Analytics ingestion") == pytest.approx(log_gb * 2.0)


def test_fixed_lines_of_a_standard_stamp(prices: PriceSheet) -> None:
    estimate = estimate_stamp(MEASURED, VOLUME, STANDARD, prices)
    assert _by_component(estimate, "Service Bus Standard base") == pytest.approx(700 * 0.01)
    # One always-ready instance of 2 GB, 700 h: 5,040,000 GB-s at 0.000001.
    assert _by_component(estimate, "Always-ready baseline") == pytest.approx(5.04)
    # 0.024 GB a day over 700/24 days at 2.0 per GB.
    assert _by_component(estimate, "Log Analytics baseline") == pytest.approx(0.7 * 2.0)
    assert _by_component(estimate, "Key Vault") == pytest.approx(2 * 0.03)
    # The clean-up at 03:00 daily: 365/12 runs of 10 s × 2 GB, plus the executions.
    runs = 365 / 12
    assert _by_component(estimate, "Timer cleanup") == pytest.approx(
        runs * 20 * 0.00002 + runs * 0.5e-6
    )
    assert not [line for line in estimate.lines if "Private endpoint" in line.component]


def test_a_premium_stamp_pays_messaging_units_and_endpoints_not_operations(
    prices: PriceSheet,
) -> None:
    estimate = estimate_stamp(MEASURED, VOLUME, PREMIUM, prices)
    assert _by_component(estimate, "Service Bus operations") == 0
    assert _by_component(estimate, "Service Bus Premium messaging units") == pytest.approx(700.0)
    assert _by_component(estimate, "Private endpoints (4)") == pytest.approx(4 * 700 * 0.01)
    assert _by_component(estimate, "Always-ready baseline") == pytest.approx(2 * 5.04)
    assert estimate.cost() == pytest.approx(estimate.cost("volume") + estimate.cost("fixed"))
    assert estimate.cost("fixed") > 700


def test_tiers_charge_only_beyond_what_is_included(prices: PriceSheet) -> None:
    operations = prices["servicebus.standard.operations"]
    assert operations.cost(0.0005) == 0
    assert operations.cost(0.003) == pytest.approx(0.002)
    assert operations.unit_price == 1.0


@pytest.mark.parametrize(
    ("schedule", "runs"),
    [
        ("0 0 3 * * *", 365 / 12),
        ("0 */5 * * * *", 12 * 24 * 365 / 12),
        ("0 30 2 * * 0", 365 / 12 / 7),
        ("%CLEANUP_SCHEDULE%", None),
    ],
)
def test_timer_runs_per_month(schedule: str, runs: float | None) -> None:
    assert runs_per_month(schedule) == (None if runs is None else pytest.approx(runs))


def _stored_run(bookings: int, scale: float = 1.0) -> dict[str, object]:
    """A run as `bench.cost` keeps it in measured.json."""

    def rates(r: Rates) -> dict[str, dict[str, float]]:
        return {
            "counts": {k: v * scale for k, v in r.counts.items()},
            "seconds": {k: v * scale for k, v in r.seconds.items()},
        }

    return {
        "bookings": bookings,
        "creates": bookings,
        "changes": bookings // 2,
        "elapsed_s": 1.0,
        "differences": 0,
        "duplicate_creates": 0,
        "per_create": rates(PER_CREATE),
        "per_change": rates(PER_CHANGE),
        "stored": {"bookings": {"entities": 10 * bookings, "bytes": 10_000 * bookings}},
        "stored_bytes_per_booking": 10_000.0 * scale,
        "triggers": dict(MEASURED.triggers),
        "timer_schedules": {},
    }


def test_growth_is_judged_against_the_15_percent_target(prices: PriceSheet) -> None:
    from bench.cost import count_lines, growth_lines

    stamp = Stamp("SU", "integrated", True, 2, 2.0, 1)
    flat = growth_lines([_stored_run(1000), _stored_run(4000, scale=1.1)], stamp, prices)
    assert "differs by 10.0%" in flat[-1] and "within the 15 % target" in flat[-1]
    grown = growth_lines([_stored_run(1000), _stored_run(16000, scale=1.2)], stamp, prices)
    assert "differs by 20.0%" in grown[-1] and "NOT within" in grown[-1]
    table = count_lines(_stored_run(100))
    assert any(row.startswith("| Table get | 4.00 | 3.00 |") for row in table), table
