"""The MessageId of an Orbit event on ``orbit-events``: the queue's duplicate
detection must drop a second copy of one event, and nothing else."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from shared.booking import BookingSnapshot
from shared.messages import EventMessage, event_outbound
from shared.names import QUEUE_EVENTS
from shared.queue.embedded import EmbeddedQueue
from tests.builders import make_patient, make_snapshot

NOW = dt.datetime(2026, 12, 2, 8, 0, tzinfo=dt.UTC)


def _event(snapshot: BookingSnapshot, event_id: str) -> EventMessage:
    return EventMessage(
        event_id=event_id,
        event_type="se.vgr.orbit.booking.created.v1",
        webhook_id=f"w-{event_id}",
        correlation_id=f"c-{event_id}",
        received_at=NOW,
        snapshot=snapshot,
    )


def _delivered(tmp_path: Path, events: list[EventMessage]) -> list[str]:
    with EmbeddedQueue(tmp_path / "queue.sqlite3") as queue:
        for event in events:
            queue.send([event_outbound(event)])
        received = []
        while batch := queue.receive(QUEUE_EVENTS, wait=0.1):
            received += [EventMessage.model_validate_json(m.body).event_id for m in batch]
            queue.complete_many(batch)
    return received


def test_another_administrations_event_with_the_same_booking_id_and_version_is_delivered(
    tmp_path: Path,
) -> None:
    """Before, both had the MessageId ``<bookingId>:v1``: the bus dropped the second
    as a duplicate, so the intake never parked it as administration-mismatch and no
    operator learnt of the collision."""
    su = make_snapshot(booking_id="OB-2026-000777")
    sas = make_snapshot(booking_id="OB-2026-000777", administration="SAS", patient=make_patient(9))

    assert _delivered(tmp_path, [_event(su, "e-su"), _event(sas, "e-sas")]) == ["e-su", "e-sas"]


def test_a_second_copy_of_one_event_is_dropped(tmp_path: Path) -> None:
    snapshot = make_snapshot(booking_id="OB-2026-000778")
    copies = [_event(snapshot, "e-1"), _event(snapshot, "e-1")]
    assert _delivered(tmp_path, copies) == ["e-1"]
