"""The Service Bus adapter without a network: the mapping to SDK messages, grouping,
dead-letter copies, error mapping, and the send path against a recording client
that uses the SDK's real message and batch classes (there is no emulator here)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from azure.core.exceptions import ClientAuthenticationError
from azure.servicebus import ServiceBusMessage, ServiceBusMessageBatch
from azure.servicebus import exceptions as sb

from shared.errors import QueueUnavailable
from shared.names import QUEUE_APPOINTMENT, QUEUE_DEAD_LETTERS, QUEUE_ENCOUNTER
from shared.queue.port import DeadLetter, OutboundMessage
from shared.queue.servicebus import (
    ServiceBusBus,
    dead_letter_message_id,
    dead_letter_outbound,
    message_kwargs,
    send_groups,
    service_bus_from_namespace,
    unavailable_error,
)

LATER = dt.datetime(2026, 11, 22, 9, 30, tzinfo=dt.UTC)


def out(
    message_id: str,
    queue: str = QUEUE_ENCOUNTER,
    *,
    scheduled_at: dt.datetime | None = None,
    body: bytes = b'{"kick":1}',
) -> OutboundMessage:
    return OutboundMessage(
        queue=queue,
        body=body,
        session_id="booking-7",
        message_id=message_id,
        scheduled_at=scheduled_at,
        properties={"correlationId": "c-7"},
    )


def sdk_body(message: ServiceBusMessage) -> bytes:
    return b"".join(message.body)


# --- pure mapping -------------------------------------------------------------------------


def test_an_outbound_message_becomes_an_sdk_message_with_its_ids() -> None:
    message = ServiceBusMessage(**message_kwargs(out("booking-7:encounter:v3")))

    assert message.session_id == "booking-7"
    assert message.message_id == "booking-7:encounter:v3"
    assert message.application_properties == {"correlationId": "c-7"}
    assert sdk_body(message) == b'{"kick":1}'


def test_groups_keep_queue_schedule_and_order_apart() -> None:
    naive_later = LATER.replace(tzinfo=None)
    messages = [
        out("e1"),
        out("a1", QUEUE_APPOINTMENT),
        out("e2"),
        out("e3", scheduled_at=LATER),
        out("e4", scheduled_at=naive_later),
    ]

    groups = send_groups(messages)

    assert [(g.queue, g.scheduled_at, [m.message_id for m in g.messages]) for g in groups] == [
        (QUEUE_ENCOUNTER, None, ["e1", "e2"]),
        (QUEUE_APPOINTMENT, None, ["a1"]),
        (QUEUE_ENCOUNTER, LATER, ["e3", "e4"]),
    ]


def dead(message_id: str = "booking-7:encounter:v3", source: str = QUEUE_ENCOUNTER) -> DeadLetter:
    return DeadLetter(
        source_queue=source,
        body=b'{"kick":1}',
        session_id="booking-7",
        message_id=message_id,
        reason="unmapped-location",
        description="HSA-id SE2321000016-1234 has no location code in profile SU",
        properties={"correlationId": "c-7"},
    )


def test_a_dead_letter_is_a_copy_on_the_dead_letters_queue_with_its_reason() -> None:
    copy = dead_letter_outbound(dead())

    assert copy.queue == QUEUE_DEAD_LETTERS
    assert copy.session_id == "booking-7"
    assert copy.body == b'{"kick":1}'
    assert copy.scheduled_at is None
    assert copy.properties == {
        "correlationId": "c-7",
        "DeadLetterReason": "unmapped-location",
        "DeadLetterErrorDescription": "HSA-id SE2321000016-1234 has no location code in profile SU",
        "SourceQueue": QUEUE_ENCOUNTER,
    }


def test_the_dead_letter_id_is_derived_so_parking_twice_is_deduplicated() -> None:
    first = dead_letter_outbound(dead()).message_id

    assert first == dead_letter_outbound(dead()).message_id
    assert first == f"{QUEUE_ENCOUNTER}/booking-7:encounter:v3"
    assert first != dead_letter_outbound(dead(source=QUEUE_APPOINTMENT)).message_id


def test_a_long_dead_letter_id_is_hashed_within_service_bus_limits() -> None:
    long_a = dead_letter_message_id(QUEUE_ENCOUNTER, "a" * 128)
    long_b = dead_letter_message_id(QUEUE_ENCOUNTER, "a" * 127 + "b")

    assert len(long_a) <= 128
    assert long_a.startswith(f"{QUEUE_ENCOUNTER}/#")
    assert long_a != long_b
    assert long_a == dead_letter_message_id(QUEUE_ENCOUNTER, "a" * 128)


# --- error mapping ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "hint"),
    [
        (sb.ServiceBusConnectionError(), "could not connect"),
        (sb.ServiceBusCommunicationError(), "could not connect"),
        (sb.OperationTimeoutError(), "timed out"),
        (sb.ServiceBusServerBusyError(), "throttling"),
        (sb.ServiceBusQuotaExceededError(), "over quota"),
        (sb.ServiceBusAuthenticationError(), "AZURE_CLIENT_ID"),
        (ClientAuthenticationError("no token"), "managed identity"),
        (sb.ServiceBusAuthorizationError(), "Data Sender"),
        (sb.MessagingEntityNotFoundError(), "does not exist"),
        (sb.MessagingEntityDisabledError(), "disabled"),
        (sb.ServiceBusError("amqp:internal-error"), "retry later"),
    ],
)
def test_outage_errors_become_queue_unavailable_naming_the_queue(
    error: Exception, hint: str
) -> None:
    mapped = unavailable_error(error, QUEUE_ENCOUNTER)

    assert isinstance(mapped, QueueUnavailable)
    assert QUEUE_ENCOUNTER in str(mapped)
    assert hint in str(mapped)


@pytest.mark.parametrize(
    "error", [sb.MessageSizeExceededError(), RuntimeError("bug"), KeyError("x")]
)
def test_other_errors_are_not_disguised_as_outages(error: Exception) -> None:
    assert unavailable_error(error, QUEUE_ENCOUNTER) is None


# --- the send path against a recording client ---------------------------------------------


class RecordingBatch(ServiceBusMessageBatch):
    """The SDK's batch (real size accounting), remembering what was added."""

    def __init__(self, max_size_in_bytes: int) -> None:
        super().__init__(max_size_in_bytes=max_size_in_bytes)
        self.ids: list[str] = []

    def add_message(self, message: Any) -> None:
        super().add_message(message)
        self.ids.append(message.message_id)


class RecordingSender:
    def __init__(self, queue: str, batch_bytes: int) -> None:
        self.queue = queue
        self.batch_bytes = batch_bytes
        self.batches: list[list[str]] = []
        self.scheduled: list[tuple[dt.datetime, list[str], list[str | None]]] = []
        self.failure: Exception | None = None
        self.closed = False

    def create_message_batch(self) -> RecordingBatch:
        return RecordingBatch(self.batch_bytes)

    def send_messages(self, batch: RecordingBatch, *, timeout: float) -> None:
        assert timeout > 0
        if self.failure is not None:
            raise self.failure
        self.batches.append(batch.ids)

    def schedule_messages(
        self, messages: list[ServiceBusMessage], when: dt.datetime, *, timeout: float
    ) -> list[int]:
        assert timeout > 0
        if self.failure is not None:
            raise self.failure
        self.scheduled.append(
            (when, [str(m.message_id) for m in messages], [m.session_id for m in messages])
        )
        return list(range(len(messages)))

    def close(self) -> None:
        self.closed = True


class RecordingClient:
    def __init__(self, batch_bytes: int = 256 * 1024) -> None:
        self.batch_bytes = batch_bytes
        self.senders: list[RecordingSender] = []
        self.closed = False

    def get_queue_sender(self, queue_name: str) -> RecordingSender:
        sender = RecordingSender(queue_name, self.batch_bytes)
        self.senders.append(sender)
        return sender

    def sender_for(self, queue: str) -> RecordingSender:
        [sender] = [s for s in self.senders if s.queue == queue and not s.closed]
        return sender

    def close(self) -> None:
        self.closed = True


def bus_with(client: RecordingClient) -> ServiceBusBus:
    return ServiceBusBus("sb-test.servicebus.windows.net", credential=object(), client=client)  # type: ignore[arg-type]


def test_send_batches_immediate_messages_and_schedules_the_rest() -> None:
    client = RecordingClient()
    bus = bus_with(client)

    bus.send([out("e1"), out("a1", QUEUE_APPOINTMENT), out("e2"), out("e3", scheduled_at=LATER)])

    encounter = client.sender_for(QUEUE_ENCOUNTER)
    assert encounter.batches == [["e1", "e2"]]
    assert encounter.scheduled == [(LATER, ["e3"], ["booking-7"])]
    assert client.sender_for(QUEUE_APPOINTMENT).batches == [["a1"]]


def test_senders_are_created_once_per_queue() -> None:
    client = RecordingClient()
    bus = bus_with(client)

    bus.send([out("e1")])
    bus.send([out("e2")])

    assert [s.queue for s in client.senders] == [QUEUE_ENCOUNTER]
    assert client.senders[0].batches == [["e1"], ["e2"]]


def test_messages_beyond_one_batch_go_out_in_several_in_order() -> None:
    client = RecordingClient(batch_bytes=700)
    bus = bus_with(client)

    bus.send([out(f"e{i}", body=b"x" * 150) for i in range(6)])

    batches = client.sender_for(QUEUE_ENCOUNTER).batches
    assert len(batches) > 1
    assert [message_id for batch in batches for message_id in batch] == [f"e{i}" for i in range(6)]


def test_a_message_too_large_for_service_bus_is_a_value_error_not_an_outage() -> None:
    bus = bus_with(RecordingClient(batch_bytes=300))

    with pytest.raises(ValueError):
        bus.send([out("huge", body=b"x" * 1000)])


def test_an_outage_raises_queue_unavailable_and_replaces_the_sender() -> None:
    client = RecordingClient()
    bus = bus_with(client)
    bus.send([out("e1")])
    broken = client.sender_for(QUEUE_ENCOUNTER)
    broken.failure = sb.ServiceBusServerBusyError()

    with pytest.raises(QueueUnavailable, match="throttling") as raised:
        bus.send([out("e2", body=b'{"secret":"Svensson"}')])

    assert "Svensson" not in str(raised.value)
    assert broken.closed
    bus.send([out("e2")])
    assert client.sender_for(QUEUE_ENCOUNTER).batches == [["e2"]]


def test_an_unmapped_error_propagates_unchanged() -> None:
    client = RecordingClient()
    bus = bus_with(client)
    bus.send([out("e1")])
    client.sender_for(QUEUE_ENCOUNTER).failure = RuntimeError("bug in the SDK")

    with pytest.raises(RuntimeError, match="bug in the SDK"):
        bus.send([out("e2")])


def test_dead_letter_sends_the_copy_to_the_dead_letters_queue() -> None:
    client = RecordingClient()
    bus = bus_with(client)

    bus.dead_letter(dead())

    sender = client.sender_for(QUEUE_DEAD_LETTERS)
    assert sender.batches == [[f"{QUEUE_ENCOUNTER}/booking-7:encounter:v3"]]


def test_close_closes_senders_and_client() -> None:
    client = RecordingClient()
    bus = bus_with(client)
    bus.send([out("e1"), out("a1", QUEUE_APPOINTMENT)])

    bus.close()

    assert all(sender.closed for sender in client.senders)
    assert client.closed


# --- the factory ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "setting",
    [
        "Endpoint=sb://x.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=SECRETKEY",
        "",
    ],
)
def test_the_factory_refuses_connection_strings_without_echoing_them(setting: str) -> None:
    with pytest.raises(ValueError, match="namespace host name") as raised:
        service_bus_from_namespace(setting)

    assert "SECRETKEY" not in str(raised.value)


def test_the_factory_uses_a_managed_identity_credential_and_connects_lazily() -> None:
    bus = service_bus_from_namespace("sb-test.servicebus.windows.net")

    assert type(bus._credential).__name__ == "DefaultAzureCredential"
    assert bus._client is None  # nothing is contacted until the first send
