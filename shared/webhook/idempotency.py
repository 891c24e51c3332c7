"""Idempotency of webhook deliveries: ``webhook-id`` → the original 202 result.

One entity per delivery in the ``deliveries`` table. The partition key is the
SHA-256 of the webhook-id: the id is chosen by the sender and may contain
characters Table storage forbids in keys (``/ \\ # ?``), and hashing keeps the
key short and safe whatever it holds. The row key is fixed.

A digest of the body is kept too, so the same webhook-id sent with a *different*
event is refused instead of silently swallowing a booking change.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from shared.crosswalk.port import Entity, TableStore
from shared.errors import EntityExists
from shared.names import TABLE_DELIVERIES

ROW_KEY = "delivery"


@dataclass(frozen=True)
class DeliveryRecord:
    """What a 202 answered, kept so a repeated delivery gets the same answer."""

    event_id: str
    booking_id: str
    version: int
    correlation_id: str
    body_digest: str
    accepted_at: dt.datetime


def delivery_key(webhook_id: str) -> str:
    """The partition key of a webhook-id: 64 hex characters."""
    return hashlib.sha256(webhook_id.encode()).hexdigest()


def body_digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def find_delivery(store: TableStore, webhook_id: str) -> DeliveryRecord | None:
    """The record of an earlier accepted delivery with this webhook-id, if any.

    Raises:
        TransientError: the store could not be reached.
    """
    entity = store.get(TABLE_DELIVERIES, delivery_key(webhook_id), ROW_KEY)
    return None if entity is None else _record(entity)


def record_delivery(store: TableStore, webhook_id: str, record: DeliveryRecord) -> DeliveryRecord:
    """Store ``record``; when a concurrent delivery of the same webhook-id won the
    race, return *its* record so both callers answer the same.

    Raises:
        TransientError: the store could not be reached.
    """
    key = delivery_key(webhook_id)
    try:
        store.insert(TABLE_DELIVERIES, key, ROW_KEY, _data(record))
    except EntityExists:
        winner = store.get(TABLE_DELIVERIES, key, ROW_KEY)
        if winner is not None:
            return _record(winner)
    return record


def _data(record: DeliveryRecord) -> dict[str, str | int]:
    return {
        "eventId": record.event_id,
        "bookingId": record.booking_id,
        "version": record.version,
        "correlationId": record.correlation_id,
        "bodyDigest": record.body_digest,
        "acceptedAt": record.accepted_at.isoformat(),
    }


def _record(entity: Entity) -> DeliveryRecord:
    data = entity.data
    return DeliveryRecord(
        event_id=str(data["eventId"]),
        booking_id=str(data["bookingId"]),
        version=int(data["version"]),
        correlation_id=str(data["correlationId"]),
        body_digest=str(data["bodyDigest"]),
        accepted_at=dt.datetime.fromisoformat(str(data["acceptedAt"])),
    )
