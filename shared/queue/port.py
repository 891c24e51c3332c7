"""The message-bus port: what the handlers need from Service Bus.

Adapters: ``servicebus.ServiceBusBus`` (Azure) and ``embedded.EmbeddedQueue``
(local run; it also *delivers* messages, with Service Bus semantics).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

MAX_ID_LENGTH = 128
"""Service Bus rejects longer MessageIds and SessionIds (the embedded queue too)."""


@dataclass(frozen=True)
class OutboundMessage:
    """A message to send. ``message_id`` is deterministic so a resend is dropped by
    duplicate detection; ``session_id`` is the Orbit booking id (ordering per booking)."""

    queue: str
    body: bytes
    session_id: str
    message_id: str
    scheduled_at: dt.datetime | None = None
    properties: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DeadLetter:
    """A message a worker gave up on, with a reason an operator can act on."""

    source_queue: str
    body: bytes
    session_id: str
    message_id: str
    reason: str
    description: str
    properties: Mapping[str, str] = field(default_factory=dict)


class MessageBus(Protocol):
    """Sends messages and parks dead letters.

    Raises:
        QueueUnavailable: the bus could not be reached; nothing was sent.
    """

    def send(self, messages: Sequence[OutboundMessage]) -> None:
        """Send durably; returns once every message is accepted by the bus."""

    def dead_letter(self, letter: DeadLetter) -> None:
        """Park a message with its reason so an operator can inspect and resubmit it."""
