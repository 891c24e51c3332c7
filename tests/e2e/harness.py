"""Driving the local run end to end: a signed Orbit client and convergence waits."""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx

from localrun.expected import millennium_differences
from shared.booking import BookingSnapshot
from shared.webhook.signature import sign
from tests.builders import make_patient, make_snapshot


def event_of(snapshot: BookingSnapshot) -> dict[str, Any]:
    """A CloudEvent carrying ``snapshot`` as Orbit sends it."""
    kind = "cancelled" if snapshot.status == "cancelled" else "updated"
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": f"orbit://vgr/{snapshot.administration}",
        "type": f"se.vgr.orbit.booking.{kind}.v1",
        "subject": f"bookings/{snapshot.booking_id}",
        "datacontenttype": "application/json",
        "data": snapshot.model_dump(mode="json", by_alias=True),
    }


@dataclass
class Orbit:
    """Posts signed events and remembers every personal datum it sent."""

    base_url: str
    secret: str
    latest: dict[str, BookingSnapshot] = field(default_factory=dict)
    personal_data: set[str] = field(default_factory=set)

    def send(self, snapshot: BookingSnapshot, *, webhook_id: str | None = None) -> httpx.Response:
        return self.post(event_of(snapshot), webhook_id=webhook_id)

    def post(self, event: dict[str, Any], *, webhook_id: str | None = None) -> httpx.Response:
        patient = event["data"]["patient"]
        self.personal_data |= {
            patient["identifier"]["value"],
            patient["familyName"],
            patient["givenName"],
        }
        body = json.dumps(event, ensure_ascii=False).encode()
        headers = sign(self.secret, webhook_id or f"msg_{uuid.uuid4().hex}", int(time.time()), body)
        headers["content-type"] = "application/cloudevents+json"
        response = httpx.post(f"{self.base_url}/api/orbit/events", content=body, headers=headers)
        if response.status_code == 202:
            snapshot = BookingSnapshot.model_validate(event["data"])
            known = self.latest.get(snapshot.booking_id)
            if known is None or known.version < snapshot.version:
                self.latest[snapshot.booking_id] = snapshot
        return response


def hourly_bookings(count: int, first_start: dt.datetime) -> list[BookingSnapshot]:
    """``count`` bookings of different patients, one an hour from ``first_start``."""
    snapshots = []
    for n in range(count):
        start = first_start + dt.timedelta(hours=n)
        snapshots.append(
            make_snapshot(
                booking_id=f"OB-2026-{n + 1:06d}",
                patient=make_patient(n + 1),
                planned_start=start,
                planned_end=start + dt.timedelta(hours=2),
            )
        )
    return snapshots


def wait_converged(
    simulator_url: str, snapshots: Iterable[BookingSnapshot], timeout: float = 30.0
) -> list[str]:
    """Wait until Millennium matches the snapshots; return the remaining differences."""
    wanted = list(snapshots)
    deadline = time.monotonic() + timeout
    differences: list[str] = ["not checked"]
    while time.monotonic() < deadline:
        state = httpx.get(f"{simulator_url}/state").json()
        differences = millennium_differences(wanted, state)
        if not differences:
            return []
        time.sleep(0.1)
    return differences
