"""The cost estimate's price sheets are well-formed: no figure without its provenance."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bench.costing.prices import PRICES_DIR, STATUSES, PriceSheetError, load_prices
from bench.costing.stamps import load_stamps

SHEETS = sorted(PRICES_DIR.glob("*.json"))


def test_there_is_a_sheet() -> None:
    assert SHEETS


@pytest.mark.parametrize("path", SHEETS, ids=lambda p: p.name)
def test_every_price_has_unit_currency_status_source_and_date(path: Path) -> None:
    raw = json.loads(path.read_text())
    assert raw["prices"]
    for name, entry in raw["prices"].items():
        for field in ("unit", "currency", "status", "source", "read_on", "note"):
            assert str(entry.get(field, "")).strip(), (name, field)
        assert entry["status"] in STATUSES, name
        assert entry["source"].startswith("https://"), name
        assert entry["currency"] == raw["currency"], name
    for name, entry in raw["assumptions"].items():
        assert str(entry.get("note", "")).strip() and "value" in entry, name
    sheet = load_prices(path)  # and the loader accepts it
    assert sheet.read_on.isoformat() in path.name


@pytest.mark.parametrize("path", SHEETS, ids=lambda p: p.name)
def test_the_sheet_prices_what_the_estimate_uses_and_nothing_else(path: Path) -> None:
    bench = Path(__file__).parents[2] / "bench"
    source = (bench / "costing" / "estimate.py").read_text() + (bench / "cost.py").read_text()
    services = "functions|servicebus|storage|network|monitor|keyvault"
    used_prices = set(re.findall(rf'"((?:{services})\.[\w.]+)"', source))
    used_assumptions = set(re.findall(r'assumed\(\s*"(\w+)"', source))
    sheet = load_prices(path)
    assert used_prices == set(sheet.prices)
    assert used_assumptions == set(sheet.assumptions)


def _sheet(tmp_path: Path, **price_fields: object) -> Path:
    entry = {
        "price": 1.0,
        "unit": "hour",
        "currency": "USD",
        "status": "assumption",
        "source": "https://example.invalid/",
        "read_on": "2026-12-01",
        **price_fields,
    }
    entry = {k: v for k, v in entry.items() if v is not None}
    path = tmp_path / "sheet.json"
    path.write_text(
        json.dumps(
            {
                "region": "test",
                "currency": "USD",
                "read_on": "2026-12-01",
                "prices": {"p": entry},
                "assumptions": {},
            }
        )
    )
    return path


@pytest.mark.parametrize(
    "fields",
    [
        {"source": None},
        {"unit": ""},
        {"read_on": None},
        {"status": "guess"},
        {"price": -1},
        {"price": "1"},
        {"source": "http://example.invalid/"},
        {"tiers": [{"up_to": None, "price": 1}]},  # both price and tiers
    ],
    ids=str,
)
def test_a_price_without_its_provenance_is_refused(
    tmp_path: Path, fields: dict[str, object]
) -> None:
    with pytest.raises(PriceSheetError):
        load_prices(_sheet(tmp_path, **fields))


def test_stamps_are_read_from_infra() -> None:
    stamps = {stamp.administration: stamp for stamp in load_stamps()}
    assert stamps["SU"].service_bus_tier == "Premium"
    assert stamps["SU"].private_endpoints == 4
    assert stamps["SU"].messaging_units >= 1
    assert stamps["SAS"].service_bus_tier == "Standard"
    assert all(stamp.always_ready_instances >= 2 for stamp in stamps.values())  # zone redundant
    assert all(stamp.instance_memory_gb == 2.0 for stamp in stamps.values())
