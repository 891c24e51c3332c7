"""The table-store port: the small subset of Azure Table storage the crosswalk needs.

Adapters: ``sqlite.SqliteTableStore`` (embedded, local run) and
``azure_table.AzureTableStore`` (Azure Table storage / Azurite). Both subclass
``checked.CheckedTableStore``, which checks every argument the way Azure would
before the adapter runs, and both pass the same contract tests
(tests/contract/test_table_store.py).

There are no entity-group transactions: the app writes one entity at a time,
each write conditional on its ETag where it matters (see docs/architecture.md).

Values are ``str``, ``int`` (fits in 64 bits), ``float`` or ``bool``. Keys must
not contain ``/ \\ # ?`` or control characters, and never personal data.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

Value = str | int | float | bool


@dataclass(frozen=True)
class Entity:
    partition_key: str
    row_key: str
    data: Mapping[str, Value]
    etag: str


@dataclass(frozen=True)
class OlderThan:
    """Which entities ``scan_older`` returns: those meeting every condition.

    ``time_property`` is a text property holding a UTC time in ISO 8601, as the app
    writes them (``datetime.isoformat()`` of an aware UTC time), so text order is
    time order; it matches when it sorts before ``before`` (same format). Entities
    without it, or with a value that is not text, never match.
    """

    time_property: str
    before: str
    row_key: str | None = None  # only this row key
    row_key_prefix: str = ""  # only row keys starting with this
    partition_key_prefix: str = ""  # only partition keys starting with this
    blank_property: str = ""  # and this text property is "" (e.g. a code never used)


@dataclass(frozen=True)
class ScanPage:
    """One page of a ``scan_older``; ``resume`` continues after it (None: the end)."""

    entities: list[Entity]
    resume: str | None


MAX_PAGE_SIZE = 1000
"""Table storage returns at most 1,000 entities per request."""


class TableStore(Protocol):
    """Tables of entities with optimistic concurrency.

    Raises (every method):
        ValueError: a table name, key, property name or etag the service would
            reject, or an int beyond 64 bits; checked before any I/O, and the
            message names the rule, never the key or value.
        TypeError: a value that is not str, int, float or bool.
        StoreError: the table was never created, or the store refused the request.
        EntityExists: insert of keys already present.
        ConcurrencyConflict: update/delete whose etag no longer matches, or whose
            entity is gone.
        TransientError: the store could not be reached.
    """

    def create_tables(self, tables: Sequence[str]) -> None:
        """Create the tables if missing (idempotent)."""

    def get(self, table: str, partition_key: str, row_key: str) -> Entity | None:
        """Return the entity or None."""

    def insert(
        self, table: str, partition_key: str, row_key: str, data: Mapping[str, Value]
    ) -> Entity:
        """Insert a new entity; EntityExists if present."""

    def update(
        self, table: str, partition_key: str, row_key: str, data: Mapping[str, Value], etag: str
    ) -> Entity:
        """Replace the entity if its etag still matches; ConcurrencyConflict otherwise."""

    def upsert(
        self, table: str, partition_key: str, row_key: str, data: Mapping[str, Value]
    ) -> Entity:
        """Insert or replace unconditionally."""

    def delete(self, table: str, partition_key: str, row_key: str, etag: str | None = None) -> None:
        """Delete (conditionally when etag is given); deleting a missing entity is a no-op
        without etag and a ConcurrencyConflict with one."""

    def query(self, table: str, partition_key: str, row_key_prefix: str = "") -> list[Entity]:
        """All entities of a partition whose row key starts with the prefix, by row key."""

    def scan(self, table: str, row_key: str | None = None) -> Iterator[Entity]:
        """Every entity of the table (optionally only those with this row key)."""

    def scan_older(
        self, table: str, selection: OlderThan, *, resume: str | None = None, page_size: int = 100
    ) -> ScanPage:
        """One page (at most ``page_size``) of the entities ``selection`` picks, in
        key order, from where ``resume`` (a previous page's) left off.

        The filter runs in the store (an OData ``$filter`` in Table storage), so only
        matching entities come back. A page may be empty while ``resume`` is not
        None: the store scanned part of the table and found nothing there. The
        cursor is a position, not a snapshot: it stays valid when entities are
        deleted, or when the next page is asked for with another ``before``.
        ``resume`` is opaque and belongs to the store that made it (ValueError
        otherwise).
        """
