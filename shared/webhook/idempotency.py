"""Idempotency of webhook deliveries: ``webhook-id`` → the original 202 result.

One entity per delivery in the ``deliveries`` table. The partition key is the
SHA-256 of the webhook-id: the id is chosen by the sender and may contain
characters Table storage forbids in keys (``/ \\ # ?``), and hashing keeps the
key short and safe whatever it holds. The row key is fixed.

The webhook-id is *claimed* before anything is enqueued: an insert-if-absent
(a unique key in SQLite, an insert that fails with 409 in Table storage), so of
any number of concurrent deliveries with one webhook-id exactly one wins, under
any concurrency and in every adapter. The claim holds a digest of the body, so
the same webhook-id sent with a *different* event is refused instead of silently
swallowing (or, worse, replacing) a booking change. After the enqueue the claim
is marked ``accepted``; a claim still ``claimed`` means its delivery was cut short
(or is still running), and a retry of the same body enqueues again — harmless,
because the queue MessageId is deterministic per booking version.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, replace

from shared.crosswalk.port import TableStore, Value
from shared.errors import ConcurrencyConflict, EntityExists, TransientError
from shared.names import TABLE_DELIVERIES

ROW_KEY = "delivery"
STALE_CLAIM = dt.timedelta(minutes=5)
"""Longer than a delivery can run (Azure's front end ends an HTTP request at 230 s)."""
STATE_CLAIMED = "claimed"
STATE_ACCEPTED = "accepted"


@dataclass(frozen=True)
class DeliveryRecord:
    """What a 202 answered, kept so a repeated delivery gets the same answer."""

    event_id: str
    booking_id: str
    version: int
    correlation_id: str
    body_digest: str
    accepted_at: dt.datetime
    accepted: bool = False  # False while the claim's event may not be on the queue yet


@dataclass(frozen=True)
class Claim:
    """The outcome of claiming a webhook-id: ``won`` for the one delivery that got it;
    ``record`` is the winner's (ours when we won). ``etag`` marks it accepted later."""

    won: bool
    record: DeliveryRecord
    etag: str


def delivery_key(webhook_id: str) -> str:
    """The partition key of a webhook-id: 64 hex characters."""
    return hashlib.sha256(webhook_id.encode()).hexdigest()


def body_digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def claim_delivery(store: TableStore, webhook_id: str, record: DeliveryRecord) -> Claim:
    """Claim ``webhook_id`` for ``record`` (insert-if-absent); when another delivery
    holds it, return that delivery's record.

    Raises:
        TransientError: the store could not be reached.
    """
    key = delivery_key(webhook_id)
    ours = replace(record, accepted=False)
    for _ in range(3):
        try:
            written = store.insert(TABLE_DELIVERIES, key, ROW_KEY, _data(ours))
            return Claim(won=True, record=ours, etag=written.etag)
        except EntityExists:
            winner = store.get(TABLE_DELIVERIES, key, ROW_KEY)
        if winner is not None:  # else: deleted in between (never by the app); try again
            return Claim(won=False, record=_record(winner.data), etag=winner.etag)
    raise ConcurrencyConflict("the delivery claim kept changing")


def release(store: TableStore, webhook_id: str, claim: Claim) -> None:
    """Give the claim up after its event could not be enqueued (the delivery is answered
    503, "not accepted"), so the retry claims the webhook-id afresh even when the
    sender serialised the event anew for it.

    Best effort, never raises: a claim left behind is taken over by a retry once it
    is older than ``STALE_CLAIM`` (``take_over``).
    """
    with contextlib.suppress(ConcurrencyConflict, TransientError):
        store.delete(TABLE_DELIVERIES, delivery_key(webhook_id), ROW_KEY, claim.etag)


def is_stale(claim: Claim, now: dt.datetime) -> bool:
    """Whether ``claim`` was never accepted and is older than any delivery can run."""
    return not claim.record.accepted and now - claim.record.accepted_at > STALE_CLAIM


def take_over(store: TableStore, webhook_id: str, claim: Claim, record: DeliveryRecord) -> Claim:
    """Claim ``webhook_id`` for ``record`` in place of ``claim``, a stale one (``is_stale``).

    Raises:
        ConcurrencyConflict: the claim changed meanwhile (a twin took or accepted it).
        TransientError: the store could not be reached.
    """
    ours = replace(record, accepted=False)
    written = store.update(
        TABLE_DELIVERIES, delivery_key(webhook_id), ROW_KEY, _data(ours), claim.etag
    )
    return Claim(won=True, record=ours, etag=written.etag)


def mark_accepted(store: TableStore, webhook_id: str, claim: Claim) -> None:
    """Record that the claim's event is on the queue, so repeats need not enqueue.

    Best effort, never raises: the event *is* on the queue, so the delivery is
    answered 202 either way. A claim left unaccepted (lost race with a twin that
    marked it first, or the store down just now) only makes a later retry enqueue
    once more, which the bus drops as a duplicate.
    """
    if claim.record.accepted:
        return
    accepted = replace(claim.record, accepted=True)
    with contextlib.suppress(ConcurrencyConflict, TransientError):
        store.update(
            TABLE_DELIVERIES, delivery_key(webhook_id), ROW_KEY, _data(accepted), claim.etag
        )


def _data(record: DeliveryRecord) -> dict[str, Value]:
    return {
        "eventId": record.event_id,
        "bookingId": record.booking_id,
        "version": record.version,
        "correlationId": record.correlation_id,
        "bodyDigest": record.body_digest,
        "acceptedAt": record.accepted_at.isoformat(),
        "state": STATE_ACCEPTED if record.accepted else STATE_CLAIMED,
    }


def _record(data: Mapping[str, Value]) -> DeliveryRecord:
    return DeliveryRecord(
        event_id=str(data["eventId"]),
        booking_id=str(data["bookingId"]),
        version=int(data["version"]),
        correlation_id=str(data["correlationId"]),
        body_digest=str(data["bodyDigest"]),
        accepted_at=dt.datetime.fromisoformat(str(data["acceptedAt"])),
        # Rows written before claims existed were written after the enqueue.
        accepted=data.get("state", STATE_ACCEPTED) == STATE_ACCEPTED,
    )
