"""Test doubles any test may reuse: a recording bus, a store outage, a fixed clock,
and in-memory profiles.

They implement the ports (`MessageBus`, `TableStore`) closely enough for handler
tests; adapter behaviour itself is covered by the contract tests.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from shared.errors import QueueUnavailable, TransientError
from shared.profiles import Mode, PerAdmissionType, Profile, Profiles
from shared.queue.port import DeadLetter, OutboundMessage


class RecordingBus:
    """A `MessageBus` that keeps what it was given. Set ``down = True`` to make every
    call raise `QueueUnavailable` (nothing is recorded then)."""

    def __init__(self) -> None:
        self.sent: list[OutboundMessage] = []
        self.dead_letters: list[DeadLetter] = []
        self.down = False

    def send(self, messages: Sequence[OutboundMessage]) -> None:
        self._check_up()
        self.sent.extend(messages)

    def dead_letter(self, letter: DeadLetter) -> None:
        self._check_up()
        self.dead_letters.append(letter)

    def on_queue(self, queue: str) -> list[OutboundMessage]:
        return [message for message in self.sent if message.queue == queue]

    def _check_up(self) -> None:
        if self.down:
            raise QueueUnavailable("the recording bus is down (test)")


class StoreOutage:
    """Wraps a `TableStore`; the methods named in ``failing`` raise `TransientError`
    (e.g. ``StoreOutage(store, {"insert"})``). Everything else is passed through."""

    def __init__(self, store: Any, failing: set[str]) -> None:
        self._store = store
        self.failing = failing

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._store, name)
        if name in self.failing:
            return self._fail
        return attribute

    def _fail(self, *args: Any, **kwargs: Any) -> Any:
        raise TransientError("the table store is unreachable (test)")


class FixedClock:
    """A clock that says ``now`` until moved with `advance`."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, delta: dt.timedelta) -> None:
        self.now += delta


def make_profile(code: str, mode: Mode = Mode.INTEGRATED) -> Profile:
    """A minimal synthetic profile (no locations) for webhook and routing tests."""
    return Profile(
        code=code,
        name=f"Synthetic administration {code}",
        mode=mode,
        sending_facility=code,
        receiving_application="MILLENNIUM",
        receiving_facility="VGR",
        facility=code,
        patient_class=PerAdmissionType(inpatient="I", daySurgery="O", outpatient="O"),
        encounter_type=PerAdmissionType(inpatient="IP", daySurgery="DS", outpatient="OP"),
        locations={},
    )


def make_profiles(**modes: Mode) -> Profiles:
    """Profiles by code, e.g. ``make_profiles(SU=Mode.INTEGRATED, NU=Mode.OFF)``."""
    return Profiles({code: make_profile(code, mode) for code, mode in modes.items()})
