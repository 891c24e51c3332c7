"""The Service Bus adapter of the ``MessageBus`` port (Azure).

Sending: messages are grouped per queue (and per scheduled time), in the order
given. Immediate ones go out in as few batches as fit; scheduled ones through
``schedule_messages``. Senders are cached per queue and used by one thread at a
time (the SDK's senders are not thread-safe). The SDK is imported lazily: importing
this module costs nothing at cold start.

Why dead letters go to a queue of their own: a Python Functions trigger cannot
settle its own message. The host completes it when the function returns and
abandons it when it raises, so a worker has no way to move a message into its
queue's dead-letter sub-queue *with a reason*. Instead ``dead_letter`` sends a copy
to the ``dead-letters`` queue (``names.QUEUE_DEAD_LETTERS``) carrying the
application properties ``DeadLetterReason`` and ``DeadLetterErrorDescription`` (the
names Service Bus itself uses) and ``SourceQueue``; the worker then returns normally
and the host completes the original. The copy keeps the session id (the booking)
and gets a message id derived from the original, so parking the same message twice
(a crash between parking and completing) is dropped by duplicate detection. What
Service Bus dead-letters by itself (``MaxDeliveryCountExceeded``, expired messages)
stays in each queue's ``$DeadLetterQueue`` sub-queue.

Errors: connection, timeout, throttling, quota, identity and missing-queue errors
of the SDK (and any other service-side ``ServiceBusError``) become
``QueueUnavailable`` (the webhook answers 503, Orbit retries), with a text naming
the queue and what to check, never message content. A send that
covers several groups is not atomic across them; retrying it is safe because the
message ids are deterministic and duplicate detection drops what already went.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shared.errors import QueueUnavailable
from shared.names import QUEUE_DEAD_LETTERS
from shared.queue.port import MAX_ID_LENGTH, DeadLetter, OutboundMessage

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

DEAD_LETTER_REASON = "DeadLetterReason"
DEAD_LETTER_DESCRIPTION = "DeadLetterErrorDescription"
SOURCE_QUEUE = "SourceQueue"

SEND_TIMEOUT_SECONDS = 10.0
"""Upper bound of one send including the SDK's retries, so a webhook can answer 503."""


@dataclass(frozen=True)
class SendGroup:
    """Messages that go out in one call: same queue, same scheduled time."""

    queue: str
    scheduled_at: dt.datetime | None
    messages: tuple[OutboundMessage, ...]


class ServiceBusBus:
    """``MessageBus`` on Azure Service Bus, with an identity-based connection.

    ``client`` replaces the SDK client (tests); by default one is created on first
    use from the namespace and the credential.
    """

    def __init__(
        self,
        fully_qualified_namespace: str,
        credential: TokenCredential,
        *,
        client: Any | None = None,
    ) -> None:
        self._namespace = fully_qualified_namespace
        self._credential = credential
        self._client = client
        self._senders: dict[str, Any] = {}
        self._sender_locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def send(self, messages: Sequence[OutboundMessage]) -> None:
        """Send durably; returns once Service Bus accepted every message.

        Raises:
            QueueUnavailable: Service Bus could not be reached or refused us; groups
                sent before the failure stay sent (a retry is deduplicated).
            ValueError: a single message is larger than Service Bus accepts.
        """
        for group in send_groups(messages):
            self._send_group(group)

    def dead_letter(self, letter: DeadLetter) -> None:
        """Park a copy of the message on the dead-letters queue with its reason.

        Raises:
            QueueUnavailable: Service Bus could not be reached or refused us.
        """
        self.send([dead_letter_outbound(letter)])

    def close(self) -> None:
        """Close the cached senders and the client."""
        with self._guard:
            senders, self._senders = list(self._senders.values()), {}
            client, self._client = self._client, None
        for sender in senders:
            sender.close()
        if client is not None:
            client.close()

    def _send_group(self, group: SendGroup) -> None:
        from azure.servicebus import ServiceBusMessage

        sdk_messages = [ServiceBusMessage(**message_kwargs(m)) for m in group.messages]
        with self._sender_lock(group.queue):
            try:
                sender = self._sender(group.queue)
                if group.scheduled_at is None:
                    for batch in _batches(sender, sdk_messages):
                        sender.send_messages(batch, timeout=SEND_TIMEOUT_SECONDS)
                else:
                    sender.schedule_messages(
                        sdk_messages, group.scheduled_at, timeout=SEND_TIMEOUT_SECONDS
                    )
            except Exception as exc:
                unavailable = unavailable_error(exc, group.queue)
                if unavailable is None:
                    raise
                self._forget_sender(group.queue)  # reconnect from scratch next time
                raise unavailable from exc

    def _sender_lock(self, queue: str) -> threading.Lock:
        with self._guard:
            return self._sender_locks.setdefault(queue, threading.Lock())

    def _sender(self, queue: str) -> Any:
        with self._guard:
            sender = self._senders.get(queue)
            if sender is None:
                sender = self._senders[queue] = self._sdk_client().get_queue_sender(queue)
            return sender

    def _sdk_client(self) -> Any:
        if self._client is None:
            from azure.servicebus import ServiceBusClient

            self._client = ServiceBusClient(
                fully_qualified_namespace=self._namespace,
                credential=self._credential,
                # Few, short retries: the caller (a webhook) would rather answer 503.
                retry_total=2,
                retry_backoff_factor=0.5,
                retry_backoff_max=4,
            )
        return self._client

    def _forget_sender(self, queue: str) -> None:
        with self._guard:
            sender = self._senders.pop(queue, None)
        if sender is not None:
            # A broken sender may fail to close; it is dropped either way.
            with contextlib.suppress(Exception):
                sender.close()


def service_bus_from_namespace(namespace: str) -> ServiceBusBus:
    """The bus for a namespace host name, authenticated by managed identity
    (``DefaultAzureCredential``; ``AZURE_CLIENT_ID`` picks a user-assigned one).

    Raises:
        ValueError: ``namespace`` looks like a connection string (they are refused:
            identity-based access only) or is empty.
    """
    if not namespace or ";" in namespace or "=" in namespace:
        raise ValueError(
            "Service Bus needs the namespace host name, e.g. sb-orbit.servicebus.windows.net,"
            " in ServiceBusConnection__fullyQualifiedNamespace; connection strings and keys"
            " are not accepted (managed identity only)"
        )
    from azure.identity import DefaultAzureCredential

    return ServiceBusBus(namespace, DefaultAzureCredential())


def message_kwargs(message: OutboundMessage) -> dict[str, Any]:
    """Keyword arguments of ``ServiceBusMessage`` for ``message``."""
    return {
        "body": message.body,
        "session_id": message.session_id,
        "message_id": message.message_id,
        "application_properties": dict(message.properties),
    }


def send_groups(messages: Sequence[OutboundMessage]) -> list[SendGroup]:
    """Group by (queue, scheduled time), keeping the order of first appearance and
    the order within each group (so a session's messages keep theirs)."""
    grouped: dict[tuple[str, dt.datetime | None], list[OutboundMessage]] = {}
    for message in messages:
        when = _as_utc(message.scheduled_at) if message.scheduled_at is not None else None
        grouped.setdefault((message.queue, when), []).append(message)
    return [
        SendGroup(queue=queue, scheduled_at=when, messages=tuple(group))
        for (queue, when), group in grouped.items()
    ]


def dead_letter_outbound(letter: DeadLetter) -> OutboundMessage:
    """The message that parks ``letter`` on the dead-letters queue."""
    return OutboundMessage(
        queue=QUEUE_DEAD_LETTERS,
        body=letter.body,
        session_id=letter.session_id,
        message_id=dead_letter_message_id(letter.source_queue, letter.message_id),
        properties={
            **letter.properties,
            DEAD_LETTER_REASON: letter.reason,
            DEAD_LETTER_DESCRIPTION: letter.description,
            SOURCE_QUEUE: letter.source_queue,
        },
    )


def dead_letter_message_id(source_queue: str, message_id: str) -> str:
    """Deterministic and readable (``<queue>/<id>``); hashed when that would exceed
    the 128 characters Service Bus allows."""
    readable = f"{source_queue}/{message_id}"
    if len(readable) <= MAX_ID_LENGTH:
        return readable
    digest = hashlib.sha256(readable.encode()).hexdigest()[:40]
    return f"{source_queue[: MAX_ID_LENGTH - 42]}/#{digest}"


def unavailable_error(error: BaseException, queue: str) -> QueueUnavailable | None:
    """The ``QueueUnavailable`` an SDK error means, or None if it is not one we map
    (a bug, or a message too large: those must not look like an outage)."""
    from azure.core.exceptions import ClientAuthenticationError
    from azure.servicebus import exceptions as sb

    if isinstance(error, sb.MessageSizeExceededError):
        return None
    what_to_check: list[tuple[type[BaseException], str]] = [
        (sb.ServiceBusConnectionError, "could not connect; check the network to the namespace"),
        (sb.ServiceBusCommunicationError, "could not connect; check the namespace name"),
        (sb.OperationTimeoutError, "timed out; retry later"),
        (sb.ServiceBusServerBusyError, "is throttling (server busy); retry later"),
        (sb.ServiceBusQuotaExceededError, "is over quota; check that its consumers run"),
        (sb.ServiceBusAuthenticationError, "refused the identity; check AZURE_CLIENT_ID"),
        (ClientAuthenticationError, "got no token; check the managed identity"),
        (sb.ServiceBusAuthorizationError, "denied access; grant 'Azure Service Bus Data Sender'"),
        (sb.MessagingEntityNotFoundError, "does not exist; deploy the infrastructure"),
        (sb.MessagingEntityDisabledError, "is disabled; re-enable the queue"),
        # Any other service-side failure (an unknown AMQP condition) while sending.
        (sb.ServiceBusError, "failed; retry later"),
    ]
    for error_type, what in what_to_check:
        if isinstance(error, error_type):
            return QueueUnavailable(f"Service Bus queue {queue!r} {what}")
    return None


def _batches(sender: Any, messages: list[Any]) -> Iterator[Any]:
    """Fill batches up to the size Service Bus allows; yields each full one."""
    from azure.servicebus.exceptions import MessageSizeExceededError

    batch = sender.create_message_batch()
    for message in messages:
        try:
            batch.add_message(message)
        except MessageSizeExceededError:
            if len(batch) == 0:
                raise  # one message alone is too large: not something a retry fixes
            yield batch
            batch = sender.create_message_batch()
            batch.add_message(message)
    if len(batch):
        yield batch


def _as_utc(when: dt.datetime) -> dt.datetime:
    """A naive time is taken as UTC (as the embedded queue does)."""
    return when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when.astimezone(dt.UTC)
