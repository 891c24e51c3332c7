"""Deterministic MSH-10 control ids."""

from __future__ import annotations

import itertools
import re

import pytest

from shared.hl7.control_id import control_id
from shared.hl7.triggers import Trigger
from shared.targets import Target

ALPHABET = re.compile(r"^[A-Z0-9]{1,20}$")


def test_control_id_is_short_and_uses_only_capitals_and_digits():
    value = control_id("OB-2026-000123", Target.ENCOUNTER, Trigger.A05, 1, 0)
    assert ALPHABET.match(value)
    assert len(value) == 20


def test_same_inputs_give_the_same_id():
    first = control_id("OB-2026-000123", Target.BED, Trigger.A14, 3, 2)
    again = control_id("OB-2026-000123", Target.BED, Trigger.A14, 3, 2)
    assert first == again


def test_the_algorithm_is_stable_across_releases():
    """An in-doubt message is resent after a deploy too: the id must not change."""
    value = control_id("OB-2026-000123", Target.ENCOUNTER, Trigger.A05, 1, 0)
    assert value == "6NZFGS44H7HZ4KRYZLZD"


@pytest.mark.parametrize(
    "changed",
    [
        ("OB-2026-000124", Target.ENCOUNTER, Trigger.A05, 1, 0),
        ("OB-2026-000123", Target.BED, Trigger.A05, 1, 0),
        ("OB-2026-000123", Target.ENCOUNTER, Trigger.A08, 1, 0),
        ("OB-2026-000123", Target.ENCOUNTER, Trigger.A05, 2, 0),
        ("OB-2026-000123", Target.ENCOUNTER, Trigger.A05, 1, 1),
    ],
)
def test_each_input_changes_the_id(changed):
    assert control_id(*changed) != control_id("OB-2026-000123", Target.ENCOUNTER, Trigger.A05, 1, 0)


def test_a_new_attempt_after_an_application_error_gets_a_new_id():
    ids = {control_id("OB-1", Target.APPOINTMENT, Trigger.S12, 4, attempt) for attempt in range(6)}
    assert len(ids) == 6


def test_no_collisions_across_many_messages():
    ids = {
        control_id(f"OB-2026-{number:06d}", target, trigger, version, attempt)
        for number, target, trigger, version, attempt in itertools.product(
            range(400), Target, [Trigger.A05, Trigger.S12, Trigger.A14], range(1, 4), range(2)
        )
    }
    assert len(ids) == 400 * 3 * 3 * 3 * 2
    assert all(ALPHABET.match(value) for value in ids)


def test_separator_prevents_ambiguous_concatenations():
    """'OB-1' + version 12 must not equal 'OB-11' + version 2 (or similar)."""
    assert control_id("OB-1", Target.BED, Trigger.A14, 12, 0) != control_id(
        "OB-11", Target.BED, Trigger.A14, 2, 0
    )


@pytest.mark.parametrize(
    ("booking", "version", "attempt"), [("", 1, 0), ("B", -1, 0), ("B", 1, -1)]
)
def test_invalid_inputs_are_refused(booking, version, attempt):
    with pytest.raises(ValueError):
        control_id(booking, Target.BED, Trigger.A14, version, attempt)
