"""Drive a FunctionApp's Service Bus triggers from the embedded queue.

Like the Functions host: each trigger's queue is received with peek-lock per
session; the decorated function is called with a `func.ServiceBusMessage`; a
normal return completes the message and an exception abandons it (so the
delivery count rises and, past the maximum, the message is dead-lettered).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

import azure.functions as func
from azure.functions.servicebus import ServiceBusMessage

from shared.queue.embedded import EmbeddedQueue, LockLost, ReceivedMessage

log = logging.getLogger(__name__)

# Messages of several sessions per receive, completed in one commit: far cheaper
# than one receive and one complete per message, and still one message per session.
SESSIONS_PER_RECEIVE = 4


@dataclass(frozen=True)
class QueueTrigger:
    name: str
    queue: str
    function: Callable[..., Any]
    arg_name: str


def queue_triggers(functions: list[Any]) -> list[QueueTrigger]:
    """The Service Bus queue triggers among ``functions`` (from ``app.get_functions()``)."""
    triggers = []
    for function in functions:
        binding = function.get_trigger().get_dict_repr()
        if binding.get("type") != "serviceBusTrigger":
            continue
        triggers.append(
            QueueTrigger(
                name=function.get_function_name(),
                queue=str(binding["queueName"]),
                function=function.get_user_function(),
                arg_name=str(binding["name"]),
            )
        )
    return triggers


def to_function_message(message: ReceivedMessage) -> func.ServiceBusMessage:
    """The message as the Functions host hands it to a Python trigger."""
    return ServiceBusMessage(
        body=message.body,
        message_id=message.message_id,
        session_id=message.session_id,
        delivery_count=message.delivery_count,
        enqueued_time_utc=message.enqueued_at,
        sequence_number=message.sequence_number,
        application_properties=dict(message.properties),
        user_properties=dict(message.properties),
        lock_token=message.lock_token,
    )


class Dispatcher:
    """Worker threads that receive from the embedded queue and call the triggers."""

    def __init__(
        self,
        functions: list[Any],
        queue: EmbeddedQueue,
        *,
        threads_per_queue: int = 4,
        queues: Collection[str] | None = None,
    ) -> None:
        """Drive the queue triggers among ``functions`` (only those of ``queues``, when
        given: the others are left to another process)."""
        self._queue = queue
        every = queue_triggers(functions)
        self._all_queues = [trigger.queue for trigger in every]
        self._triggers = [t for t in every if queues is None or t.queue in queues]
        self._threads_per_queue = threads_per_queue
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._busy = 0
        self._busy_lock = threading.Lock()

    @property
    def queues(self) -> list[str]:
        """Every trigger's queue, including those left to other processes."""
        return list(self._all_queues)

    @property
    def driven_queues(self) -> list[str]:
        """The queues whose triggers this dispatcher calls."""
        return [trigger.queue for trigger in self._triggers]

    def start(self) -> None:
        for trigger in self._triggers:
            for index in range(self._threads_per_queue):
                thread = threading.Thread(
                    target=self._run, args=(trigger,), name=f"{trigger.name}-{index}", daemon=True
                )
                thread.start()
                self._threads.append(thread)

    def stop(self, timeout: float = 15.0) -> None:
        self._stop.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def wait_idle(self, timeout: float, *, include_scheduled: bool = False) -> bool:
        """Wait until no message is ready or in flight (and, optionally, none is
        scheduled). Returns False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._idle(include_scheduled):
                time.sleep(0.05)  # settle: a handler may be about to send
                if self._idle(include_scheduled):
                    return True
            time.sleep(0.05)
        return False

    def _idle(self, include_scheduled: bool) -> bool:
        with self._busy_lock:
            if self._busy:
                return False
        return not any(
            self._queue.has_work(queue, include_scheduled=include_scheduled)
            for queue in self.queues
        )

    def _run(self, trigger: QueueTrigger) -> None:
        while not self._stop.is_set():
            try:
                messages = self._queue.receive(
                    trigger.queue, max_sessions=SESSIONS_PER_RECEIVE, wait=0.5
                )
            except Exception:
                log.exception("receiving from %s failed", trigger.queue)
                self._stop.wait(1.0)
                continue
            if messages:
                self._deliver_all(trigger, messages)

    def _deliver_all(self, trigger: QueueTrigger, messages: list[ReceivedMessage]) -> None:
        """Call the trigger for each message (one per session), then complete the
        successful ones in one commit; a failed one is abandoned at once."""
        with self._busy_lock:
            self._busy += 1
        try:
            done = [message for message in messages if self._deliver(trigger, message)]
            if done:
                for lost in self._queue.complete_many(done):
                    log.warning("lock lost on %s message %s", lost.queue, lost.message_id)
        finally:
            with self._busy_lock:
                self._busy -= 1

    def _deliver(self, trigger: QueueTrigger, message: ReceivedMessage) -> bool:
        try:
            trigger.function(**{trigger.arg_name: to_function_message(message)})
        except Exception as error:
            log.error(
                "%s failed on message %s (delivery %s): %s; it is redelivered, and "
                "dead-lettered as MaxDeliveryCountExceeded after the last allowed delivery",
                trigger.name,
                message.message_id,
                message.delivery_count,
                type(error).__name__,
            )
            self._settle(self._queue.abandon, message)
            return False
        return True

    def _settle(self, action: Callable[[ReceivedMessage], None], message: ReceivedMessage) -> None:
        try:
            action(message)
        except LockLost:
            log.warning(
                "lock lost on %s message %s; it will be redelivered",
                message.queue,
                message.message_id,
            )


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
