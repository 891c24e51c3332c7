"""The operator's dead-letter commands as plain functions (the CLI only prints).

Resubmitting and purging also leave a row in the booking's audit trail, so the
per-booking trace shows what an operator did and when.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from shared.crosswalk.repository import AuditRecord, Crosswalk
from shared.deadletters.port import DeadLetterStore, Letter, LetterNotFound
from shared.errors import IntegrationError
from shared.messages import TARGET_OF_QUEUE, EventMessage, Kick
from shared.names import QUEUE_EVENTS


@dataclass(frozen=True)
class ReasonGroup:
    reason: str
    letters: list[Letter]


def group_by_reason(letters: Sequence[Letter]) -> list[ReasonGroup]:
    """Letters per reason, the most frequent reason first."""
    groups: dict[str, list[Letter]] = {}
    for letter in letters:
        groups.setdefault(letter.reason, []).append(letter)
    ordered = sorted(groups.items(), key=lambda item: (-len(item[1]), item[0]))
    return [ReasonGroup(reason, members) for reason, members in ordered]


def find_letter(letters: Sequence[Letter], letter_id: str) -> Letter:
    """Raises:
    LetterNotFound: no listed letter has this id."""
    for letter in letters:
        if letter.id == letter_id:
            return letter
    raise LetterNotFound(
        f"no dead letter {letter_id!r} (already resubmitted or purged? "
        "'deadletters list' shows the current ids)"
    )


def with_reason(letters: Sequence[Letter], reason: str) -> list[Letter]:
    return [letter for letter in letters if letter.reason == reason]


def resubmit_letters(
    store: DeadLetterStore,
    letters: Sequence[Letter],
    *,
    crosswalk: Crosswalk | None,
    clock: Callable[[], dt.datetime],
) -> list[str]:
    """Resubmit ``letters``; returns the ids done. Repeating it is safe.

    Raises:
        QueueUnavailable: the queue backend could not be reached.
    """
    done = store.resubmit(letters)
    _audit(crosswalk, letters, done, "dead-letter-resubmitted", clock)
    return done


def purge_letters(
    store: DeadLetterStore,
    letters: Sequence[Letter],
    *,
    crosswalk: Crosswalk | None,
    clock: Callable[[], dt.datetime],
) -> list[str]:
    """Remove ``letters`` for good; returns the ids removed.

    Raises:
        QueueUnavailable: the queue backend could not be reached.
    """
    done = store.purge(letters)
    _audit(crosswalk, letters, done, "dead-letter-purged", clock)
    return done


def describe_body(letter: Letter) -> dict[str, Any]:
    """What the message asks for, without personal data: a kick in full (it holds
    none); of an Orbit event only its ids, version and type (its snapshot names the
    patient)."""
    if letter.source_queue in TARGET_OF_QUEUE:
        try:
            kick = Kick.model_validate_json(letter.body)
        except ValidationError:
            return {"malformed": f"{len(letter.body)} bytes, not a kick"}
        return {"kick": json.loads(kick.model_dump_json())}
    if letter.source_queue == QUEUE_EVENTS:
        try:
            event = EventMessage.model_validate_json(letter.body)
        except ValidationError:
            return {"malformed": f"{len(letter.body)} bytes, not an Orbit event"}
        return {
            "event": {
                "eventId": event.event_id,
                "type": event.event_type,
                "bookingId": event.snapshot.booking_id,
                "version": event.snapshot.version,
                "administration": event.snapshot.administration,
                "receivedAt": event.received_at.isoformat(),
            }
        }
    return {"unknown": f"{len(letter.body)} bytes from {letter.source_queue}"}


def _audit(
    crosswalk: Crosswalk | None,
    letters: Sequence[Letter],
    done: Sequence[str],
    kind: str,
    clock: Callable[[], dt.datetime],
) -> None:
    """Best effort: the queue operation is what matters, and it is done."""
    if crosswalk is None:
        return
    done_ids = set(done)
    for letter in letters:
        if letter.id not in done_ids or not letter.booking_id:
            continue
        target = TARGET_OF_QUEUE.get(letter.source_queue)
        record = AuditRecord(
            kind=kind,
            at=clock(),
            target=target.value if target else "",
            reason=letter.reason,
            detail=letter.source_queue,
            extra={"messageId": letter.message_id, "letterId": letter.id},
        )
        try:
            crosswalk.audit(letter.booking_id, record)
        except IntegrationError:
            continue
