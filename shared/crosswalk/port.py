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
