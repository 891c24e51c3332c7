"""Fault injection: how badly the simulated Millennium behaves right now.

Settings can be changed at any time, from the test's thread or over HTTP; every
assignment is validated. Random decisions come from one seeded generator, so a
run with the same seed and the same message sequence fails the same way.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable, Mapping
from typing import Any

_RATES = ("nak_rate", "ack_timeout_rate")


class Faults:
    """Current fault settings plus the seeded dice that apply them.

    * ``latency_ms``: delay before each message is processed and answered.
    * ``nak_rate``: fraction of new messages answered AE without being applied.
    * ``ack_timeout_rate``: fraction of applied messages whose ACK is never sent
      (the message *is* applied: the sender is left in doubt).
    * ``down``: every connection is closed at once and nothing is applied;
      :meth:`down_for` sets a window that ends by itself.
    * ``reject_locations``: PV1-3 / AIL-3 points of care answered with AR.
    * ``lenient``: accept what a strict interface team refuses (simulator.strict:
      missing final CR, wrong time offsets, non-NFC text, over-long fields,
      PV2-11 on a bed booking) and answer a visit alias or appointment id of
      another person AE rather than AR, as the simulator did before issue 9.
      Off by default: the simulator is as strict as the real interface.
    """

    latency_ms: float
    _down_until: float | None
    nak_rate: float
    ack_timeout_rate: float
    down: bool
    reject_locations: frozenset[str]
    lenient: bool

    def __init__(self, seed: int | None = None) -> None:
        self._initial_seed = seed
        self.reset()

    def reset(self) -> None:
        """No faults, and the generator back at the initial seed."""
        self.latency_ms = 0.0
        self.nak_rate = 0.0
        self.ack_timeout_rate = 0.0
        self.down = False  # also clears the down window
        self.reject_locations = frozenset()
        self.lenient = False
        self.reseed(self._initial_seed)

    def __setattr__(self, name: str, value: Any) -> None:
        value = _validated(name, value)
        super().__setattr__(name, value)
        if name == "down" and not value:
            super().__setattr__("_down_until", None)  # "up" also ends a down window

    def reseed(self, seed: int | None) -> None:
        """Restart the random decisions from ``seed`` (None: unpredictable)."""
        self.seed = seed
        self._rng = random.Random(seed)

    def down_for(self, seconds: float) -> None:
        """Be down for ``seconds`` from now, then come back by itself."""
        if seconds < 0:
            raise ValueError("down_for seconds must be >= 0")
        self._down_until = time.monotonic() + seconds

    def is_down(self) -> bool:
        if self.down:
            return True
        return self._down_until is not None and time.monotonic() < self._down_until

    def roll_nak(self) -> bool:
        """Decide whether a new message is answered AE (always draws, for reproducibility)."""
        return self._rng.random() < self.nak_rate

    def roll_ack_timeout(self) -> bool:
        """Decide whether an applied message's ACK is withheld (always draws)."""
        return self._rng.random() < self.ack_timeout_rate

    def rejects_any(self, locations: Iterable[str]) -> str | None:
        """The first of ``locations`` configured to be rejected, if any."""
        return next((code for code in locations if code in self.reject_locations), None)

    def as_dict(self) -> dict[str, Any]:
        remaining = 0.0
        if self._down_until is not None:
            remaining = max(0.0, self._down_until - time.monotonic())
        return {
            "latency_ms": self.latency_ms,
            "nak_rate": self.nak_rate,
            "ack_timeout_rate": self.ack_timeout_rate,
            "down": self.is_down(),
            "down_seconds_remaining": round(remaining, 3),
            "reject_locations": sorted(self.reject_locations),
            "lenient": self.lenient,
            "seed": self.seed,
        }

    def update(self, changes: Mapping[str, Any]) -> None:
        """Apply a JSON-style change set (as sent to ``POST /faults``).

        Keys: latency_ms, nak_rate, ack_timeout_rate, down, down_seconds,
        reject_locations (list of codes), lenient, seed. Validated before anything
        changes.

        Raises:
            ValueError: an unknown key or an invalid value (the message names it).
        """
        allowed = {
            "latency_ms",
            *_RATES,
            "down",
            "down_seconds",
            "reject_locations",
            "lenient",
            "seed",
        }
        unknown = set(changes) - allowed
        if unknown:
            raise ValueError(f"unknown fault setting(s): {', '.join(sorted(unknown))}")
        checked = {
            key: _validated(key, value)
            for key, value in changes.items()
            if key not in ("down_seconds", "seed")
        }
        down_seconds = changes.get("down_seconds")
        if down_seconds is not None and (
            not isinstance(down_seconds, int | float) or down_seconds < 0
        ):
            raise ValueError("down_seconds must be a number >= 0")
        seed = changes.get("seed")
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
            raise ValueError("seed must be an integer")
        for key, value in checked.items():
            setattr(self, key, value)
        if down_seconds is not None:
            self.down_for(float(down_seconds))
        if "seed" in changes:
            self.reseed(seed)


def _validated(name: str, value: Any) -> Any:
    if name in _RATES:
        if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value <= 1:
            raise ValueError(f"{name} must be a number between 0 and 1")
        return float(value)
    if name == "latency_ms":
        if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
            raise ValueError("latency_ms must be a number >= 0")
        return float(value)
    if name in ("down", "lenient"):
        if not isinstance(value, bool):
            raise ValueError(f"{name} must be true or false")
        return value
    if name == "reject_locations":
        if isinstance(value, str) or not all(isinstance(code, str) for code in value):
            raise ValueError("reject_locations must be a list of location codes")
        return frozenset(value)
    return value
