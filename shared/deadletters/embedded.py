"""The dead-letter port on the local run's embedded queue (``queue.sqlite3``).

The embedded queue keeps both kinds of dead letter in one table: those a worker
parked with a reason and those it dead-lettered itself after too many deliveries
(``MaxDeliveryCountExceeded``). Ids are its row ids. A resubmit sends the
resubmission first and removes the letter after, so a crash in between leaves
the letter in place and a second resubmit only sends one more harmless kick.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

from shared.deadletters.port import Letter
from shared.deadletters.resubmit import resubmission
from shared.queue.embedded import DeadLetterNotFound, EmbeddedQueue, ParkedLetter


class EmbeddedDeadLetters:
    """``DeadLetterStore`` over an ``EmbeddedQueue``."""

    def __init__(self, queue: EmbeddedQueue) -> None:
        self._queue = queue

    def letters(self) -> list[Letter]:
        return [letter_of(parked) for parked in self._queue.dead_letters()]

    def resubmit(self, letters: Sequence[Letter]) -> list[str]:
        done = []
        for letter in self._still_parked(letters):
            self._queue.send([resubmission(letter)])
            with contextlib.suppress(DeadLetterNotFound):  # removed meanwhile: sent once more
                self._queue.purge_dead_letter(int(letter.id))
            done.append(letter.id)
        return done

    def purge(self, letters: Sequence[Letter]) -> list[str]:
        done = []
        for letter in letters:
            with contextlib.suppress(DeadLetterNotFound, ValueError):
                self._queue.purge_dead_letter(int(letter.id))
                done.append(letter.id)
        return done

    def _still_parked(self, letters: Sequence[Letter]) -> list[Letter]:
        parked = {letter.id for letter in self.letters()}
        return [letter for letter in letters if letter.id in parked]


def letter_of(parked: ParkedLetter) -> Letter:
    return Letter(
        id=str(parked.id),
        source_queue=parked.queue,
        reason=parked.reason,
        description=parked.description,
        booking_id=parked.session_id,
        message_id=parked.message_id,
        body=parked.body,
        properties=dict(parked.properties),
        dead_lettered_at=parked.dead_lettered_at,
        delivery_count=parked.delivery_count,
    )
