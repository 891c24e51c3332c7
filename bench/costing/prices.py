"""The price sheet: every unit price the estimate uses, as data with its provenance.

A sheet (``bench/prices/<region>-<date>.json``) has ``prices`` — each with either
a ``price`` or volume ``tiers``, and its ``unit``, ``currency``, ``status``
(confirmed, secondary or assumption), ``source`` and ``read_on`` date — and
``assumptions``: the non-price figures (bytes per log row, volumes of the
administrations without a source), each a ``value`` with its ``unit`` and a
``note``. `load_prices` refuses a sheet that lacks any of these, so no figure
enters the estimate without saying where it came from.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PRICES_DIR = Path(__file__).resolve().parents[1] / "prices"
DEFAULT_SHEET = PRICES_DIR / "azure-sweden-central-2026-12-02.json"
STATUSES = frozenset({"confirmed", "secondary", "assumption"})
REQUIRED = ("unit", "currency", "status", "source", "read_on")


class PriceSheetError(ValueError):
    """The sheet lacks a field, or a figure is not a non-negative number."""


@dataclass(frozen=True)
class Tier:
    up_to: float | None
    """The tier covers quantities up to this (None: no upper bound)."""
    price: float


@dataclass(frozen=True)
class Price:
    name: str
    tiers: tuple[Tier, ...]
    unit: str
    currency: str
    status: str
    source: str
    read_on: dt.date

    @property
    def unit_price(self) -> float:
        """The price of the first unit that is not included for free (the marginal
        list price: what one more booking costs once past any included quantity)."""
        return next((t.price for t in self.tiers if t.price > 0), 0.0)

    def cost(self, quantity: float) -> float:
        """What ``quantity`` (in this price's unit) costs through the tiers."""
        total, below = 0.0, 0.0
        for tier in self.tiers:
            top = quantity if tier.up_to is None else min(quantity, tier.up_to)
            if top > below:
                total += (top - below) * tier.price
            if tier.up_to is None or quantity <= tier.up_to:
                break
            below = tier.up_to
        return total


@dataclass(frozen=True)
class PriceSheet:
    path: Path
    region: str
    currency: str
    read_on: dt.date
    prices: Mapping[str, Price]
    assumptions: Mapping[str, float]

    def __getitem__(self, name: str) -> Price:
        return self.prices[name]

    def assumed(self, name: str) -> float:
        return self.assumptions[name]


def load_prices(path: Path = DEFAULT_SHEET) -> PriceSheet:
    """Read and check a price sheet.

    Raises:
        PriceSheetError: a price or assumption lacks a required field, or a figure
            is negative or not a number (the message names the entry).
        OSError, json.JSONDecodeError: the file cannot be read or is not JSON.
    """
    raw = json.loads(path.read_text(encoding="utf-8"))
    for field in ("region", "currency", "read_on", "prices", "assumptions"):
        if field not in raw:
            raise PriceSheetError(f"{path.name}: no {field!r}")
    prices = {name: _price(name, entry) for name, entry in raw["prices"].items()}
    assumptions = {name: _assumption(name, entry) for name, entry in raw["assumptions"].items()}
    return PriceSheet(
        path=path,
        region=str(raw["region"]),
        currency=str(raw["currency"]),
        read_on=dt.date.fromisoformat(raw["read_on"]),
        prices=prices,
        assumptions=assumptions,
    )


def _price(name: str, entry: Mapping[str, Any]) -> Price:
    missing = [field for field in REQUIRED if not str(entry.get(field, "")).strip()]
    if missing:
        raise PriceSheetError(f"price {name!r} has no {', '.join(missing)}")
    if entry["status"] not in STATUSES:
        raise PriceSheetError(f"price {name!r}: status must be one of {sorted(STATUSES)}")
    if not str(entry["source"]).startswith("https://"):
        raise PriceSheetError(f"price {name!r}: source must be an https:// address")
    if ("price" in entry) == ("tiers" in entry):
        raise PriceSheetError(f"price {name!r} needs exactly one of 'price' and 'tiers'")
    raw_tiers: Sequence[Mapping[str, Any]] = entry.get("tiers") or [
        {"up_to": None, "price": entry["price"]}
    ]
    tiers = tuple(_tier(name, tier) for tier in raw_tiers)
    if tiers[-1].up_to is not None:
        raise PriceSheetError(f"price {name!r}: the last tier must have no upper bound")
    return Price(
        name=name,
        tiers=tiers,
        unit=str(entry["unit"]),
        currency=str(entry["currency"]),
        status=str(entry["status"]),
        source=str(entry["source"]),
        read_on=dt.date.fromisoformat(str(entry["read_on"])),
    )


def _tier(name: str, tier: Mapping[str, Any]) -> Tier:
    price = _number(f"price {name!r}", tier.get("price"))
    up_to = tier.get("up_to")
    return Tier(None if up_to is None else _number(f"price {name!r} tier", up_to), price)


def _assumption(name: str, entry: Mapping[str, Any]) -> float:
    for field in ("unit", "note"):
        if not str(entry.get(field, "")).strip():
            raise PriceSheetError(f"assumption {name!r} has no {field}")
    return _number(f"assumption {name!r}", entry.get("value"))


def _number(what: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise PriceSheetError(f"{what}: {value!r} is not a non-negative number")
    return float(value)
