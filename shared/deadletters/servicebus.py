"""The dead-letter port on Azure Service Bus.

Dead letters live in two kinds of place (docs/architecture.md, "Why a
``dead-letters`` queue"):

* the ``dead-letters`` queue, where workers park a copy with
  ``DeadLetterReason``, ``DeadLetterErrorDescription`` and ``SourceQueue``. It is
  session-enabled like every queue (session = booking), so it is read session by
  session: each ``NEXT_AVAILABLE_SESSION`` receiver locks one booking's session
  until the listing is done, which is harmless because no app consumes it;
* each queue's native dead-letter sub-queue (``<queue>/$DeadLetterQueue``), where
  Service Bus moves what crashed a function five times or expired. Sub-queues
  need no session. ``dead-letters``' own sub-queue is read too: a letter that an
  operator's tool abandoned too often ends up there and must not vanish.

Ids name the place and the sequence number: ``dead-letters:<booking>:<n>`` or
``<queue>/dlq:<n>`` (shell-safe, copy them from ``list``). Listing only peeks
(no lock, no delivery count). Resubmit and purge receive the letter's session or
sub-queue with peek-lock, act on the wanted sequence numbers, complete those, and
abandon whatever else they had to receive on the way (its delivery count goes up
by one, which is why the sub-queue of ``dead-letters`` is listed as well).

The SDK client is passed in, so the mapping and the receive logic are tested
without a network; ``service_bus_dead_letters`` builds the real one with the
operator's Entra ID identity.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from shared.deadletters.port import Letter, LetterNotFound
from shared.deadletters.resubmit import resubmission
from shared.errors import QueueUnavailable
from shared.names import ALL_QUEUES, QUEUE_DEAD_LETTERS
from shared.queue.port import MessageBus
from shared.queue.servicebus import (
    DEAD_LETTER_DESCRIPTION,
    DEAD_LETTER_REASON,
    SOURCE_QUEUE,
    ServiceBusBus,
    unavailable_error,
)

SUB_QUEUE_MARK = "/dlq"
UNKNOWN_REASON = "unknown"
PEEK_BATCH = 100
RECEIVE_BATCH = 50


@dataclass(frozen=True)
class Place:
    """Where a dead letter lives: a session of ``dead-letters``, or a queue's
    dead-letter sub-queue (``session_id`` None)."""

    queue: str
    session_id: str | None = None

    @property
    def is_sub_queue(self) -> bool:
        return self.session_id is None


def letter_id(place: Place, sequence_number: int) -> str:
    if place.session_id is None:
        return f"{place.queue}{SUB_QUEUE_MARK}:{sequence_number}"
    return f"{place.queue}:{place.session_id}:{sequence_number}"


def parse_letter_id(text: str) -> tuple[Place, int]:
    """The place and sequence number an id names.

    Raises:
        LetterNotFound: ``text`` is not an id of this backend (the text says the forms).
    """
    head, _, number = text.rpartition(":")
    try:
        sequence_number = int(number)
    except ValueError:
        sequence_number = -1
    if head.endswith(SUB_QUEUE_MARK) and sequence_number >= 0:
        return Place(head.removesuffix(SUB_QUEUE_MARK)), sequence_number
    queue, _, session = head.partition(":")
    if queue and session and sequence_number >= 0:
        return Place(queue, session), sequence_number
    raise LetterNotFound(
        f"{text!r} is not a Service Bus dead-letter id; ids look like "
        f"'{QUEUE_DEAD_LETTERS}:<booking>:<n>' or '<queue>{SUB_QUEUE_MARK}:<n>' "
        "(copy one from 'deadletters list')"
    )


def decoded_properties(properties: Mapping[Any, Any] | None) -> dict[str, str]:
    """Application properties as text (received ones may have bytes keys and values)."""
    return {_text(key): _text(value) for key, value in (properties or {}).items()}


def letter_from_message(place: Place, message: Any) -> Letter:
    """The ``Letter`` for a received or peeked SDK message found at ``place``."""
    properties = decoded_properties(message.application_properties)
    reason = properties.get(DEAD_LETTER_REASON) or _text(message.dead_letter_reason)
    description = properties.get(DEAD_LETTER_DESCRIPTION)
    if description is None:
        description = _text(message.dead_letter_error_description)
    return Letter(
        id=letter_id(place, int(message.sequence_number)),
        source_queue=properties.get(SOURCE_QUEUE) or place.queue,
        reason=reason or UNKNOWN_REASON,
        description=description,
        booking_id=_text(message.session_id),
        message_id=_text(message.message_id),
        body=_body(message.body),
        properties={
            key: value
            for key, value in properties.items()
            if key not in (DEAD_LETTER_REASON, DEAD_LETTER_DESCRIPTION, SOURCE_QUEUE)
        },
        dead_lettered_at=_utc(message.enqueued_time_utc),
        delivery_count=int(message.delivery_count or 0),
    )


class ServiceBusDeadLetters:
    """``DeadLetterStore`` on Service Bus; ``client`` is an SDK ``ServiceBusClient``."""

    def __init__(
        self,
        client: Any,
        bus: MessageBus,
        *,
        queues: Sequence[str] = ALL_QUEUES,
        max_letters: int = 5000,
        wait_seconds: float = 5.0,
    ) -> None:
        self._client = client
        self._bus = bus
        self._queues = tuple(queues)
        self._max_letters = max_letters
        self._wait = wait_seconds

    def letters(self) -> list[Letter]:
        """Every dead letter (up to ``max_letters``), peeked without locking them.

        Raises:
            QueueUnavailable: Service Bus could not be reached or refused us.
        """
        letters: list[Letter] = []
        for queue in self._queues:
            place = Place(queue)
            with self._guard(queue), self._receiver(place) as receiver:
                letters += [letter_from_message(place, m) for m in self._peek_all(receiver)]
        with self._guard(QUEUE_DEAD_LETTERS):
            letters += self._parked_letters()
        return letters

    def resubmit(self, letters: Sequence[Letter]) -> list[str]:
        """Send each resubmission, then complete the dead letter.

        Raises:
            QueueUnavailable: Service Bus could not be reached; letters already done
                stay done, the others stay parked.
            LetterNotFound: an id is not one of this backend's.
        """
        return self._settle(letters, lambda letter: self._bus.send([resubmission(letter)]))

    def purge(self, letters: Sequence[Letter]) -> list[str]:
        """Complete (remove) the dead letters.

        Raises:
            QueueUnavailable: Service Bus could not be reached.
            LetterNotFound: an id is not one of this backend's.
        """
        return self._settle(letters, lambda letter: None)

    # --- reading ---------------------------------------------------------------------

    def _parked_letters(self) -> list[Letter]:
        """The ``dead-letters`` queue, one session at a time; each session stays locked
        (its receiver open) until the end so NEXT_AVAILABLE moves on to another."""
        from azure.servicebus import NEXT_AVAILABLE_SESSION
        from azure.servicebus.exceptions import OperationTimeoutError

        receivers: list[Any] = []
        letters: list[Letter] = []
        try:
            while len(letters) < self._max_letters:
                receiver = self._client.get_queue_receiver(
                    QUEUE_DEAD_LETTERS, session_id=NEXT_AVAILABLE_SESSION, max_wait_time=self._wait
                )
                receivers.append(receiver)
                try:
                    messages = self._peek_all(receiver)
                except OperationTimeoutError:
                    break  # no other session has messages
                letters += [
                    letter_from_message(Place(QUEUE_DEAD_LETTERS, _text(m.session_id)), m)
                    for m in messages
                ]
        finally:
            for receiver in receivers:
                receiver.close()
        return letters

    def _peek_all(self, receiver: Any) -> list[Any]:
        messages: list[Any] = []
        next_number = 0
        while len(messages) < self._max_letters:
            batch = receiver.peek_messages(
                max_message_count=PEEK_BATCH, sequence_number=next_number
            )
            messages += batch
            if len(batch) < PEEK_BATCH:
                break
            next_number = int(batch[-1].sequence_number) + 1
        return messages

    # --- settling --------------------------------------------------------------------

    def _settle(self, letters: Sequence[Letter], act: Callable[[Letter], None]) -> list[str]:
        done: list[str] = []
        for place, numbers in group_by_place(letters).items():
            with self._guard(place.queue), self._receiver(place) as receiver:
                done += self._settle_in(receiver, place, numbers, act)
        return done

    def _settle_in(
        self, receiver: Any, place: Place, numbers: set[int], act: Callable[[Letter], None]
    ) -> list[str]:
        """Receive until every wanted sequence number was seen (or nothing is left),
        act on and complete those; abandon the others only at the end, so they are
        not handed straight back to this loop."""
        wanted = set(numbers)
        held: list[Any] = []
        done: list[str] = []
        received = 0
        try:
            while wanted and received < self._max_letters:
                batch = receiver.receive_messages(
                    max_message_count=RECEIVE_BATCH, max_wait_time=self._wait
                )
                if not batch:
                    break
                received += len(batch)
                for message in batch:
                    number = int(message.sequence_number)
                    if number not in wanted:
                        held.append(message)
                        continue
                    wanted.discard(number)
                    letter = letter_from_message(place, message)
                    act(letter)
                    receiver.complete_message(message)
                    done.append(letter.id)
        finally:
            for message in held:
                receiver.abandon_message(message)
        return done

    def _receiver(self, place: Place) -> Any:
        from azure.servicebus import ServiceBusSubQueue

        if place.is_sub_queue:
            return self._client.get_queue_receiver(
                place.queue, sub_queue=ServiceBusSubQueue.DEAD_LETTER, max_wait_time=self._wait
            )
        return self._client.get_queue_receiver(
            place.queue, session_id=place.session_id, max_wait_time=self._wait
        )

    def _guard(self, queue: str) -> _SdkErrors:
        return _SdkErrors(queue)


def group_by_place(letters: Iterable[Letter]) -> dict[Place, set[int]]:
    """The letters' sequence numbers per place, so each place is received once.

    Raises:
        LetterNotFound: an id is not one of this backend's.
    """
    groups: dict[Place, set[int]] = {}
    for letter in letters:
        place, number = parse_letter_id(letter.id)
        groups.setdefault(place, set()).add(number)
    return groups


def service_bus_dead_letters(namespace: str) -> ServiceBusDeadLetters:
    """The Service Bus backend for a namespace host name, signed in with
    ``DefaultAzureCredential`` (an operator's ``az login``, or a managed identity).

    Raises:
        ValueError: ``namespace`` is empty or looks like a connection string.
    """
    if not namespace or ";" in namespace or "=" in namespace:
        raise ValueError(
            "set ServiceBusConnection__fullyQualifiedNamespace to the namespace host name,"
            " e.g. sb-orbitmil-su-prod.servicebus.windows.net (Entra ID sign-in only)"
        )
    from azure.identity import DefaultAzureCredential
    from azure.servicebus import ServiceBusClient

    credential = DefaultAzureCredential()
    client = ServiceBusClient(fully_qualified_namespace=namespace, credential=credential)
    return ServiceBusDeadLetters(client, ServiceBusBus(namespace, credential, client=client))


class _SdkErrors:
    """Turns the SDK's connection, identity and entity errors into QueueUnavailable."""

    def __init__(self, queue: str) -> None:
        self._queue = queue

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, error: BaseException | None, tb: object) -> None:
        if error is None or isinstance(error, QueueUnavailable | LetterNotFound):
            return
        unavailable = unavailable_error(error, self._queue)
        if unavailable is not None:
            raise unavailable from error


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def _body(body: Any) -> bytes:
    if isinstance(body, bytes):
        return body
    return b"".join(bytes(part) for part in body)


def _utc(when: dt.datetime | None) -> dt.datetime | None:
    if when is None:
        return None
    return when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when.astimezone(dt.UTC)
