"""What a resubmitted dead letter looks like (pure functions, shared by both backends).

* It goes back to the queue it came from, in the same session (the booking).
* It gets a fresh MessageId, so duplicate detection lets it through, that still
  shows the original.
* A kick's body says ``cause: resubmit``: that is what lifts the target's block
  (``shared/sync/worker.py``), so the worker tries again after the fix. An Orbit
  event is resent unchanged (its intake is idempotent per version).
* The dead-letter properties are dropped; the rest (``correlationId``, the
  ``traceparent`` of the booking's trace) are kept, plus ``resubmittedFrom``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from pydantic import ValidationError

from shared.deadletters.port import Letter
from shared.messages import TARGET_OF_QUEUE, Kick, KickCause
from shared.queue.port import MAX_ID_LENGTH, OutboundMessage
from shared.queue.servicebus import DEAD_LETTER_DESCRIPTION, DEAD_LETTER_REASON, SOURCE_QUEUE

RESUBMITTED_FROM = "resubmittedFrom"
_RESUBMIT_MARK = "|resubmit:"
_DROPPED_PROPERTIES = frozenset(
    {DEAD_LETTER_REASON, DEAD_LETTER_DESCRIPTION, SOURCE_QUEUE, "transientRetries"}
)


def resubmission(letter: Letter) -> OutboundMessage:
    """The message that puts ``letter`` back to work."""
    return OutboundMessage(
        queue=letter.source_queue,
        body=resubmitted_body(letter.source_queue, letter.body),
        session_id=letter.booking_id,
        message_id=resubmitted_message_id(letter.message_id or letter.id),
        properties={**kept_properties(letter.properties), RESUBMITTED_FROM: letter.message_id},
    )


def resubmitted_message_id(message_id: str) -> str:
    """A fresh id that still shows the original (an earlier resubmit mark is replaced,
    so repeated resubmits do not grow the id past Service Bus's limit)."""
    original = message_id.split(_RESUBMIT_MARK, 1)[0]
    suffix = f"{_RESUBMIT_MARK}{uuid.uuid4().hex[:12]}"
    return original[: MAX_ID_LENGTH - len(suffix)] + suffix


def resubmitted_body(queue: str, body: bytes) -> bytes:
    """A kick's body with ``cause: resubmit``; anything else unchanged (a body that is
    not a valid kick is resent as it was and will be dead-lettered again as malformed)."""
    if queue not in TARGET_OF_QUEUE:
        return body
    try:
        kick = Kick.model_validate_json(body)
    except ValidationError:
        return body
    return kick.model_copy(update={"cause": KickCause.RESUBMIT}).model_dump_json().encode()


def kept_properties(properties: Mapping[str, str]) -> dict[str, str]:
    return {key: value for key, value in properties.items() if key not in _DROPPED_PROPERTIES}
