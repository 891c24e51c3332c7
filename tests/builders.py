"""Reusable builders of synthetic test data (import them from any test).

Identity numbers are synthetic: valid check digits (``with_check_digit``) and
birth numbers 980-999, the series Skatteverket's published test identity numbers
use, so a generated number is never a real person's.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from shared.booking import BookingSnapshot
from shared.identity import IdentifierSystem, with_check_digit
from shared.profiles import Profile, load_profiles
from shared.targets import Facts, Target, desired_facts

PROFILES_DIR = Path(__file__).resolve().parents[1] / "profiles"
"""The repository's administration profiles (SU, SAS)."""

CET = dt.timezone(dt.timedelta(hours=1))
"""Swedish winter time; the default snapshot's times carry this offset."""

SU_UNIT = "SE2321000131-E000000000101"  # Operation Sahlgrenska
SU_WARD = "SE2321000131-E000000000201"  # Kirurgavdelning 1
SU_OTHER_WARD = "SE2321000131-E000000000202"  # Ortopedavdelning 1
SAS_UNIT = "SE2321000131-E000000000301"  # Operation Borås
SAS_WARD = "SE2321000131-E000000000401"  # Ortopedavdelning 1 (SÄS)
SURGEON = "SE2321000131-P000000000456"
UNMAPPED_HSA_ID = "SE2321000131-E000000009999"

_FIRST_BIRTH_DATE = dt.date(1940, 1, 1)


def synthetic_personnummer(n: int) -> str:
    """The ``n``-th synthetic personnummer (n ≥ 0); distinct for distinct ``n``."""
    return _synthetic(n, day_offset=0)


def synthetic_samordningsnummer(n: int) -> str:
    """The ``n``-th synthetic samordningsnummer (birth day + 60)."""
    return _synthetic(n, day_offset=60)


def synthetic_reservnummer(n: int) -> str:
    """The ``n``-th synthetic VGR reserve number (``yyyymmdd`` + K + 2 digits + check)."""
    born = _FIRST_BIRTH_DATE + dt.timedelta(days=n // 100)
    return with_check_digit(IdentifierSystem.RESERVNUMMER, f"{born:%Y%m%d}K{n % 100:02d}")


def _synthetic(n: int, *, day_offset: int) -> str:
    if n < 0:
        raise ValueError("n must be non-negative")
    born = _FIRST_BIRTH_DATE + dt.timedelta(days=n // 20)
    day = born.day + day_offset
    birth_number = 980 + n % 20
    system = IdentifierSystem.SAMORDNINGSNUMMER if day_offset else IdentifierSystem.PERSONNUMMER
    return with_check_digit(system, f"{born:%Y%m}{day:02d}{birth_number}")


SITES: dict[str, tuple[str, str]] = {"SU": (SU_UNIT, SU_WARD), "SAS": (SAS_UNIT, SAS_WARD)}
"""Operating unit and ward HSA-ids of the default snapshot per administration."""


def default_snapshot_data(administration: str = "SU") -> dict[str, Any]:
    """The default snapshot as snake_case data: inpatient, on the site's first ward
    and operating unit (SU: ward 201, unit 101; SAS: ward 401, unit 301)."""
    unit, ward = SITES[administration]
    return {
        "booking_id": "OB-2026-000123",
        "version": 1,
        "status": "booked",
        "administration": administration,
        "patient": {
            "identifier": {"system": "personnummer", "value": synthetic_personnummer(1)},
            "family_name": "Åkerström",
            "given_name": "Märta",
            "protected_identity": False,
        },
        "procedure": {"code": "NFB49", "text": "Primär total höftledsplastik"},
        "diagnosis": {"code": "M16.1"},
        "operating_unit": {"hsa_id": unit},
        "theatre": "SAL 5",
        "surgeon": {"hsa_id": SURGEON},
        "planned_start": dt.datetime(2026, 12, 1, 8, 0, tzinfo=CET),
        "planned_end": dt.datetime(2026, 12, 1, 10, 0, tzinfo=CET),
        "admission": {
            "type": "inpatient",
            "ward": {"hsa_id": ward},
            "admit_at": dt.datetime(2026, 11, 30, 18, 0, tzinfo=CET),
            "expected_nights": 3,
        },
        "cancellation_reason": None,
    }


def make_snapshot(**overrides: Any) -> BookingSnapshot:
    """A valid synthetic snapshot; keyword arguments replace top-level fields.

    Values may be models or plain (snake_case) data, e.g.
    ``make_snapshot(version=2, status="cancelled", admission={"type": "outpatient"})``.
    ``administration="SAS"`` also moves the default unit and ward to SÄS. The
    result is validated like a webhook's snapshot.
    """
    defaults = default_snapshot_data(overrides.get("administration", "SU"))
    return BookingSnapshot.model_validate({**defaults, **overrides})


def make_patient(
    n: int = 1,
    *,
    family_name: str = "Åkerström",
    given_name: str = "Märta",
    protected: bool = False,
    system: str = "personnummer",
) -> dict[str, Any]:
    """Patient data for ``make_snapshot(patient=...)`` with the ``n``-th synthetic number."""
    value = {
        "personnummer": synthetic_personnummer,
        "samordningsnummer": synthetic_samordningsnummer,
        "reservnummer": synthetic_reservnummer,
    }[system](n)
    return {
        "identifier": {"system": system, "value": value},
        "family_name": family_name,
        "given_name": given_name,
        "protected_identity": protected,
    }


def make_facts(target: Target, **overrides: Any) -> Facts:
    """The desired facts of ``target`` for ``make_snapshot(**overrides)``.

    Raises:
        ValueError: the snapshot wants no such target (cancelled, or no bed).
    """
    facts = desired_facts(make_snapshot(**overrides), target)
    if facts is None:
        raise ValueError(f"the snapshot wants no {target.value}")
    return facts


def profile(code: str = "SU") -> Profile:
    """The repository's profile of administration ``code``."""
    return load_profiles(str(PROFILES_DIR)).get(code)
