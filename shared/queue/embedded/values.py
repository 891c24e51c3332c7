"""The embedded queue's values and errors, and the conversions its modules share."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass

from shared.errors import PermanentError, TransientError
from shared.queue.port import MAX_ID_LENGTH

MAX_DELIVERY_COUNT_EXCEEDED = "MaxDeliveryCountExceeded"
"""Reason Service Bus gives a message it dead-lettered after too many deliveries."""


class LockLost(TransientError):
    """A settle came too late: the session lock expired or the message was settled.

    The message is (or will be) delivered again; level-triggered handlers make that
    harmless, so a dispatcher logs this and moves on.
    """


class DeadLetterNotFound(PermanentError):
    """No dead letter has this id (already resubmitted or purged?)."""


@dataclass(frozen=True)
class Limits:
    """The per-queue settings Service Bus has, the same for every queue here."""

    lock_duration: float
    """Seconds a receive holds its session unless every message is settled first."""
    max_delivery_count: int
    """Deliveries after which a message moves to the dead letters."""
    duplicate_window: float
    """Seconds within which a MessageId already sent to the queue is dropped."""


@dataclass(frozen=True)
class ReceivedMessage:
    """A peek-locked message; settle it with ``complete_many`` or ``abandon``."""

    queue: str
    body: bytes
    session_id: str
    message_id: str
    properties: Mapping[str, str]
    delivery_count: int
    """1 on the first delivery, as the Functions trigger reports it."""
    enqueued_at: dt.datetime
    sequence_number: int
    lock_token: str
    """Shared by the messages of one receive; it is the session's lock."""


@dataclass(frozen=True)
class ParkedLetter:
    """A dead-lettered message as an operator sees it."""

    id: int
    queue: str
    reason: str
    description: str
    message_id: str
    session_id: str
    body: bytes
    properties: Mapping[str, str]
    delivery_count: int
    enqueued_at: dt.datetime
    dead_lettered_at: dt.datetime


def check_ids(message_id: str, session_id: str) -> None:
    """Raises: ValueError: an id is empty or longer than Service Bus allows."""
    for label, value in (("message id", message_id), ("session id", session_id)):
        if not value or len(value) > MAX_ID_LENGTH:
            raise ValueError(f"{label} must be 1..{MAX_ID_LENGTH} characters, got {len(value)}")


def timestamp(when: dt.datetime) -> float:
    """A naive time is taken as UTC (``datetime.timestamp`` would take local time)."""
    return (when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when).timestamp()


def utc(stored: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(stored, tz=dt.UTC)


def dump_properties(properties: Mapping[str, str]) -> str:
    return json.dumps(dict(properties), separators=(",", ":")) if properties else "{}"
