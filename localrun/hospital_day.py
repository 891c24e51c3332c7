"""A synthetic hospital day: bookings, rebookings and cancellations from Orbit.

Deterministic for a seed, so the demo, the end-to-end tests and the benchmarks
replay the same day. Every patient is synthetic (valid check digits, birth
numbers 980-999: never a real person's).
"""

from __future__ import annotations

import datetime as dt
import json
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from shared.booking import BookingSnapshot
from shared.identity import IdentifierSystem, with_check_digit

CET = dt.timezone(dt.timedelta(hours=1))
FAMILY_NAMES = (
    "Åkerström",
    "Lindqvist",
    "Öberg",
    "Nyström",
    "Bäckman",
    "Sjögren",
    "Ekström",
    "Héden",
)
GIVEN_NAMES = ("Märta", "Åsa", "Björn", "Göran", "Jöns", "Linnéa", "Sören", "Ärla")
PROCEDURES = (
    ("NFB49", "Primär total höftledsplastik"),
    ("NGB49", "Primär total knäledsplastik"),
    ("JKA21", "Laparoskopisk kolecystektomi"),
    ("JAB30", "Ljumskbråcksoperation"),
    ("QDB10", "Excision av hudförändring"),
)
UNITS = {
    "SU": [f"SE2321000131-E0000000001{n:02d}" for n in range(1, 5)],
    "SAS": [f"SE2321000131-E0000000003{n:02d}" for n in range(1, 5)],
    "SKAS": [f"SE2321000131-E0000000005{n:02d}" for n in range(1, 5)],
}
WARDS = {
    "SU": [f"SE2321000131-E0000000002{n:02d}" for n in range(1, 7)],
    "SAS": [f"SE2321000131-E0000000004{n:02d}" for n in range(1, 7)],
    "SKAS": [f"SE2321000131-E0000000006{n:02d}" for n in range(1, 7)],
}
SURGEONS = [f"SE2321000131-P000000000{n:03d}" for n in range(401, 421)]


def synthetic_patient(rng: random.Random, n: int, *, protected: bool = False) -> dict[str, Any]:
    born = dt.date(1935, 1, 1) + dt.timedelta(days=rng.randrange(0, 80 * 365))
    number = with_check_digit(IdentifierSystem.PERSONNUMMER, f"{born:%Y%m%d}{980 + n % 20}")
    # Two bookings may draw the same number: it is then the same person, with the
    # same name (Millennium keeps one person per number).
    names = random.Random(number)
    return {
        "identifier": {"system": "personnummer", "value": number},
        "familyName": names.choice(FAMILY_NAMES),
        "givenName": names.choice(GIVEN_NAMES),
        "protectedIdentity": protected,
    }


@dataclass
class Booking:
    """One booking's current data (camelCase, as on the wire) and version."""

    data: dict[str, Any]

    @property
    def booking_id(self) -> str:
        return str(self.data["bookingId"])

    def event(self, kind: str) -> dict[str, Any]:
        return {
            "specversion": "1.0",
            "id": str(uuid.uuid4()),
            "source": f"orbit://vgr/{self.data['administration']}",
            "type": f"se.vgr.orbit.booking.{kind}.v1",
            "subject": f"bookings/{self.booking_id}",
            "time": dt.datetime.now(CET).isoformat(),
            "datacontenttype": "application/json",
            "data": json.loads(json.dumps(self.data)),
        }

    def bump(self, **changes: Any) -> None:
        self.data.update(changes)
        self.data["version"] += 1

    def snapshot(self) -> BookingSnapshot:
        return BookingSnapshot.model_validate(self.data)


def new_booking(rng: random.Random, index: int, administration: str, day: dt.date) -> Booking:
    start = dt.datetime.combine(day, dt.time(7, 30), CET) + dt.timedelta(
        minutes=15 * rng.randrange(0, 36)
    )
    code, text = rng.choice(PROCEDURES)
    kind = rng.choices(("inpatient", "daySurgery", "outpatient"), weights=(6, 3, 1))[0]
    admission: dict[str, Any] = {"type": kind}
    if kind == "inpatient":
        ward = rng.choice(WARDS[administration])
        admission.update(
            ward={"hsaId": ward, "name": "Vårdavdelning"},
            admitAt=(start - dt.timedelta(hours=14)).isoformat(),
            expectedNights=rng.randrange(1, 6),
        )
    data = {
        "bookingId": f"OB-{day:%Y}-{index:06d}",
        "version": 1,
        "status": "booked",
        "administration": administration,
        "patient": synthetic_patient(rng, index, protected=rng.random() < 0.02),
        "procedure": {"code": code, "text": text},
        "diagnosis": {"code": "M16.1"},
        "operatingUnit": {
            "hsaId": rng.choice(UNITS[administration]),
            "name": "Operationsavdelning",
        },
        "theatre": f"SAL {rng.randrange(1, 12)}",
        "surgeon": {"hsaId": rng.choice(SURGEONS)},
        "plannedStart": start.isoformat(),
        "plannedEnd": (start + dt.timedelta(minutes=30 * rng.randrange(2, 8))).isoformat(),
        "admission": admission,
        "cancellationReason": None,
    }
    return Booking(data)


def hospital_day(
    bookings: int = 180,
    *,
    seed: int = 2026,
    administrations: tuple[str, ...] = ("SU",),
    first_index: int = 1,
    day: dt.date = dt.date(2026, 12, 1),
) -> Iterator[dict[str, Any]]:
    """CloudEvents of one day: every booking created, ~30% rebooked, ~8% moved to
    another ward, ~5% switched to day surgery, ~8% cancelled, ~1% patient corrected."""
    rng = random.Random(seed)
    open_bookings: list[Booking] = []
    for index in range(first_index, first_index + bookings):
        booking = new_booking(rng, index, rng.choice(administrations), day)
        open_bookings.append(booking)
        yield booking.event("created")
        # changes interleave with new bookings, as in a real planning day
        if len(open_bookings) > 5 and rng.random() < 0.55:
            yield from _change(rng, rng.choice(open_bookings), open_bookings)


def _change(
    rng: random.Random, booking: Booking, open_bookings: list[Booking]
) -> Iterator[dict[str, Any]]:
    roll = rng.random()
    data = booking.data
    if roll < 0.55:
        start = dt.datetime.fromisoformat(data["plannedStart"]) + dt.timedelta(
            days=rng.randrange(1, 14)
        )
        length = dt.datetime.fromisoformat(data["plannedEnd"]) - dt.datetime.fromisoformat(
            data["plannedStart"]
        )
        booking.bump(plannedStart=start.isoformat(), plannedEnd=(start + length).isoformat())
        if data["admission"]["type"] == "inpatient":
            data["admission"]["admitAt"] = (start - dt.timedelta(hours=14)).isoformat()
        yield booking.event("updated")
    elif roll < 0.70 and data["admission"]["type"] == "inpatient":
        wards = WARDS[data["administration"]]
        booking.bump(admission={**data["admission"], "ward": {"hsaId": rng.choice(wards)}})
        yield booking.event("updated")
    elif roll < 0.78 and data["admission"]["type"] == "inpatient":
        booking.bump(admission={"type": "daySurgery"})
        yield booking.event("updated")
    elif roll < 0.97:
        booking.bump(status="cancelled", cancellationReason="Patienten återbud")
        open_bookings.remove(booking)
        yield booking.event("cancelled")
    else:
        booking.bump(patient=synthetic_patient(rng, rng.randrange(10_000, 20_000)))
        yield booking.event("updated")
