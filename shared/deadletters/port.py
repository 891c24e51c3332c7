"""The dead-letter port: what an operator's tool needs from a queue backend."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from shared.errors import PermanentError


class LetterNotFound(PermanentError):
    """No dead letter has this id (already resubmitted or purged?)."""


@dataclass(frozen=True)
class Letter:
    """A dead-lettered message as an operator sees it.

    ``id`` is the backend's name for it (copy it from ``list``); ``source_queue`` is
    where it came from and where a resubmit sends it; ``booking_id`` is its
    session id. ``properties`` are the original application properties, without
    the dead-letter ones (reason, description, source queue).
    """

    id: str
    source_queue: str
    reason: str
    description: str
    booking_id: str
    message_id: str
    body: bytes
    properties: Mapping[str, str] = field(default_factory=dict)
    dead_lettered_at: dt.datetime | None = None
    delivery_count: int = 0


class DeadLetterStore(Protocol):
    """Dead letters of every queue, and the two things an operator does with them.

    Raises (every method):
        QueueUnavailable: the backend could not be reached.
    """

    def letters(self) -> list[Letter]:
        """Every dead letter, oldest first per queue."""

    def resubmit(self, letters: Sequence[Letter]) -> list[str]:
        """Send each letter's resubmission (``resubmit.resubmission``) to its source
        queue, then remove the dead letter. Returns the ids done; letters already
        gone are skipped. Safe to repeat: the workers are level-triggered."""

    def purge(self, letters: Sequence[Letter]) -> list[str]:
        """Remove the letters for good. Returns the ids removed."""
