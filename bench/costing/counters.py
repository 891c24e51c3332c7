"""Counting wrappers: what the app asks of each billed service, as Azure bills it.

Each wrapper sits in front of the real local adapter (the same port the Azure
adapter implements) and adds to one `Tally`:

* `CountingTableStore`: one Table transaction per single-entity call (failed
  ones too: Azure bills a 404 or 412 like a success), and one per page of up
  to 1,000 entities for a query or scan (`pages`).
* `CountingQueue`: the embedded queue, counting Service Bus operations: each
  message sent (scheduled ones apart), received, completed or abandoned, each
  parked dead letter (a send to the ``dead-letters`` queue), each session a
  receiver took and its last, empty receive, per 64 KB of message as Service
  Bus counts them.
* `CountingLeases`: the link budget's lease slots — in Azure blob leases, so
  blob operations: acquire, renew, release (Lease Blob), the "want" marker (Put
  Blob) and its read (Get Blob Properties).
* `timed_functions`: every function the app registers, whatever its trigger,
  timed per execution (wall time: an estimate of billed execution time).

Names in the tally are ``<service>.<operation>`` (``table.update``,
``bus.complete``, ``blob.lease-acquire``), ``exec.<function name>``, and
``table.bytes`` / ``bus.bytes`` (entity and message bytes that crossed the wire,
for what a private endpoint processes).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from shared.crosswalk.port import Entity, OlderThan, ScanPage, TableStore, Value
from shared.link.leases import LeaseStore
from shared.queue.embedded import EmbeddedQueue, ReceivedMessage
from shared.queue.port import DeadLetter, OutboundMessage

PAGE_ENTITIES = 1_000
"""A Table query returns at most this many entities per page (one transaction each)."""
SERVICE_BUS_CHUNK_BYTES = 64 * 1024
"""Service Bus counts one operation per 64 KB of a message."""
LOCK_RENEW_EVERY_SECONDS = 50.0
"""The Functions host renews a message's 60 s lock shortly before it expires
(assumed: 10 s before); an execution shorter than this renews nothing."""


@dataclasses.dataclass(frozen=True)
class Usage:
    """Counts and summed execution seconds at one moment (or between two)."""

    counts: Mapping[str, int]
    seconds: Mapping[str, float]

    def minus(self, earlier: Usage) -> Usage:
        counts = {k: v - earlier.counts.get(k, 0) for k, v in self.counts.items()}
        seconds = {k: v - earlier.seconds.get(k, 0.0) for k, v in self.seconds.items()}
        return Usage({k: v for k, v in counts.items() if v}, seconds)

    def total(self, prefix: str) -> int:
        return sum(v for k, v in self.counts.items() if k.startswith(prefix))


class Tally:
    """Thread-safe counts by name, and summed seconds by name."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._seconds: dict[str, float] = {}

    def add(self, name: str, count: int = 1) -> None:
        with self._lock:
            self._counts[name] += count

    def add_execution(self, name: str, seconds: float) -> None:
        with self._lock:
            self._counts[name] += 1
            self._seconds[name] = self._seconds.get(name, 0.0) + seconds

    def usage(self) -> Usage:
        with self._lock:
            return Usage(dict(self._counts), dict(self._seconds))


def pages(entities: int) -> int:
    """Table transactions of a query that returns ``entities`` (an empty one is one)."""
    return max(1, math.ceil(entities / PAGE_ENTITIES))


class CountingTableStore:
    """A `TableStore` that counts Table transactions and delegates to ``inner``."""

    def __init__(self, inner: TableStore, tally: Tally) -> None:
        self.inner = inner
        self._tally = tally

    def create_tables(self, tables: Sequence[str]) -> None:
        self._tally.add("table.create", len(tables))
        self.inner.create_tables(tables)

    def get(self, table: str, partition_key: str, row_key: str) -> Entity | None:
        self._tally.add("table.get")
        entity = self.inner.get(table, partition_key, row_key)
        if entity is not None:
            self._tally.add("table.bytes", entity_size(entity))
        return entity

    def insert(
        self, table: str, partition_key: str, row_key: str, data: Mapping[str, Value]
    ) -> Entity:
        self._tally.add("table.insert")
        self._written(partition_key, row_key, data)
        return self.inner.insert(table, partition_key, row_key, data)

    def update(
        self, table: str, partition_key: str, row_key: str, data: Mapping[str, Value], etag: str
    ) -> Entity:
        self._tally.add("table.update")
        self._written(partition_key, row_key, data)
        return self.inner.update(table, partition_key, row_key, data, etag)

    def upsert(
        self, table: str, partition_key: str, row_key: str, data: Mapping[str, Value]
    ) -> Entity:
        self._tally.add("table.upsert")
        self._written(partition_key, row_key, data)
        return self.inner.upsert(table, partition_key, row_key, data)

    def delete(self, table: str, partition_key: str, row_key: str, etag: str | None = None) -> None:
        self._tally.add("table.delete")
        self.inner.delete(table, partition_key, row_key, etag)

    def query(self, table: str, partition_key: str, row_key_prefix: str = "") -> list[Entity]:
        entities: list[Entity] = []
        try:
            entities = self.inner.query(table, partition_key, row_key_prefix)
            return entities
        finally:
            self._tally.add("table.query", pages(len(entities)))
            self._tally.add("table.bytes", sum(entity_size(e) for e in entities))

    def scan(self, table: str, row_key: str | None = None) -> Iterator[Entity]:
        return self._paged("table.scan", self.inner.scan(table, row_key))

    def scan_older(
        self, table: str, selection: OlderThan, *, resume: str | None = None, page_size: int = 100
    ) -> ScanPage:
        self._tally.add("table.scan")  # one request per page, as a filtered query
        return self.inner.scan_older(table, selection, resume=resume, page_size=page_size)

    def _written(self, partition_key: str, row_key: str, data: Mapping[str, Value]) -> None:
        """Bytes sent (for the data a private endpoint processes)."""
        self._tally.add("table.bytes", entity_size(Entity(partition_key, row_key, data, "")))

    def _paged(self, name: str, entities: Iterator[Entity]) -> Iterator[Entity]:
        """Count the first page at once, then one more at each 1,001st entity."""
        self._tally.add(name)
        for seen, entity in enumerate(entities, start=1):
            if seen > PAGE_ENTITIES and seen % PAGE_ENTITIES == 1:
                self._tally.add(name)
            yield entity


def billed_units(message_bytes: int) -> int:
    """Service Bus operations one message counts for (one per 64 KB, at least one)."""
    return max(1, math.ceil(message_bytes / SERVICE_BUS_CHUNK_BYTES))


def _size(body: bytes, properties: Mapping[str, str]) -> int:
    return len(body) + sum(len(k) + len(v) for k, v in properties.items())


class CountingQueue(EmbeddedQueue):
    """The embedded queue, counting the Service Bus operations each call stands for.

    One object is both the app's bus (send, dead-letter) and the queue the
    dispatcher receives from, as in the local run.
    """

    def __init__(self, *args: Any, tally: Tally, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._tally = tally

    def send(self, messages: Sequence[OutboundMessage]) -> None:
        for message in messages:
            kind = "bus.schedule" if message.scheduled_at is not None else "bus.send"
            size = _size(message.body, message.properties)
            self._tally.add(kind, billed_units(size))
            self._tally.add("bus.bytes", size)
        super().send(messages)

    def dead_letter(self, letter: DeadLetter) -> None:
        self._tally.add("bus.dead-letter", billed_units(_size(letter.body, letter.properties)))
        super().dead_letter(letter)

    def receive(
        self,
        queue: str,
        *,
        max_messages: int = 1,
        wait: float = 0.0,
        max_sessions: int = 1,
    ) -> list[ReceivedMessage]:
        received = super().receive(
            queue, max_messages=max_messages, wait=wait, max_sessions=max_sessions
        )
        for message in received:
            size = _size(message.body, message.properties)
            self._tally.add("bus.receive", billed_units(size))
            self._tally.add("bus.bytes", size)
        # A session receiver in Azure accepts each session it serves, and after its
        # messages waits on it once more in vain before it lets it go: an empty
        # receive, billed like any other (assumed one per session taken).
        sessions = len({m.session_id for m in received})
        self._tally.add("bus.session-accept", sessions)
        self._tally.add("bus.session-idle-receive", sessions)
        return received

    def complete_many(self, messages: Sequence[ReceivedMessage]) -> list[ReceivedMessage]:
        self._tally.add("bus.complete", len(messages))  # one settlement per message
        return super().complete_many(messages)

    def abandon(self, message: ReceivedMessage) -> None:
        self._tally.add("bus.abandon")
        super().abandon(message)


class CountingLeases:
    """A `LeaseStore` that counts the blob operations its Azure adapter makes."""

    def __init__(self, inner: LeaseStore, tally: Tally) -> None:
        self.inner = inner
        self._tally = tally

    @property
    def duration(self) -> float:
        return self.inner.duration

    def try_acquire(self, slot: int) -> str | None:
        self._tally.add("blob.lease-acquire")  # a refused acquire is billed too
        return self.inner.try_acquire(slot)

    def renew(self, slot: int, lease_id: str) -> bool:
        self._tally.add("blob.lease-renew")
        return self.inner.renew(slot, lease_id)

    def release(self, slot: int, lease_id: str) -> None:
        self._tally.add("blob.lease-release")
        self.inner.release(slot, lease_id)

    def want(self, slot: int) -> None:
        self._tally.add("blob.put")  # the "want" marker is an empty blob upload
        self.inner.want(slot)

    def wanted_at(self, slot: int) -> float:
        self._tally.add("blob.get-properties")
        return self.inner.wanted_at(slot)


@dataclasses.dataclass(frozen=True)
class RegisteredFunction:
    name: str
    trigger: str
    """The binding type: ``httpTrigger``, ``serviceBusTrigger``, ``timerTrigger`` …"""
    binding: Mapping[str, Any]


def registered(functions: Sequence[Any]) -> list[RegisteredFunction]:
    """Every function the app registers, with its trigger binding."""
    found = []
    for function in functions:
        binding = dict(function.get_trigger().get_dict_repr())
        found.append(RegisteredFunction(function.get_function_name(), binding["type"], binding))
    return found


class TimedFunction:
    """A registered function whose user function is timed into the tally."""

    def __init__(self, function: Any, tally: Tally) -> None:
        self._function = function
        self._tally = tally

    def __getattr__(self, name: str) -> Any:
        return getattr(self._function, name)

    def get_user_function(self) -> Callable[..., Any]:
        user: Callable[..., Any] = self._function.get_user_function()
        name = f"exec.{self._function.get_function_name()}"
        trigger = self._function.get_trigger().get_dict_repr()["type"]
        tally = self._tally

        @functools.wraps(user)
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return user(*args, **kwargs)
            finally:
                seconds = time.perf_counter() - started
                tally.add_execution(name, seconds)
                if trigger == "serviceBusTrigger":
                    tally.add("bus.renew-lock", int(seconds // LOCK_RENEW_EVERY_SECONDS))

        return timed


def timed_functions(functions: Sequence[Any], tally: Tally) -> list[Any]:
    return [TimedFunction(function, tally) for function in functions]


# --- bytes stored, as Table storage counts them ---


def value_size(value: Value) -> int:
    """Bytes of a property value in Azure's entity size formula."""
    if isinstance(value, bool):
        return 1
    if isinstance(value, int):
        return 4 if -(2**31) <= value < 2**31 else 8  # Int32, else Int64 (as the adapter types it)
    if isinstance(value, float):
        return 8
    return 4 + len(value.encode("utf-16-le"))


def entity_size(entity: Entity) -> int:
    """4 bytes + the keys as UTF-16 + per property 8 bytes, its name as UTF-16 and its
    value (Microsoft's published formula for an entity's stored size)."""
    keys = len((entity.partition_key + entity.row_key).encode("utf-16-le"))
    properties = sum(
        8 + len(name.encode("utf-16-le")) + value_size(value) for name, value in entity.data.items()
    )
    return 4 + keys + properties


@dataclasses.dataclass(frozen=True)
class Stored:
    entities: int
    bytes: int


def stored(store: TableStore, tables: Sequence[str]) -> dict[str, Stored]:
    """Entities and bytes per table (read through ``store``: pass the uncounted one)."""
    result = {}
    for table in tables:
        count = size = 0
        for entity in store.scan(table):
            count += 1
            size += entity_size(entity)
        result[table] = Stored(count, size)
    return result
