"""The one place where table-store arguments are checked, for every adapter.

An adapter subclasses ``CheckedTableStore`` and implements the protected hooks
(``_get``, ``_insert``, …). The public ``TableStore`` methods live here only, are
``final`` (mypy rejects an adapter that overrides one), and check their arguments
the way Azure Table storage would (``shared.crosswalk.keys``) before calling the
hook. So every adapter accepts exactly the same input, a test against SQLite
catches what Azure would reject, and a new adapter cannot forget a check.

Argument errors come first, before any I/O: a bad table name, key, etag or value
is a ``ValueError``/``TypeError`` naming the rule whatever the store's state;
only well-formed calls reach the hook, which may then find the table missing
(``StoreError``) or the store unreachable (``TransientError``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from typing import final

from shared.crosswalk.keys import (
    check_data,
    check_etag,
    check_key,
    check_keys,
    check_property_name,
    check_table_name,
)
from shared.crosswalk.port import MAX_PAGE_SIZE, Entity, OlderThan, ScanPage, Value


class CheckedTableStore(ABC):
    """``TableStore`` whose arguments are checked before the adapter's hook runs.

    Raises (every method), before the hook runs:
        ValueError: a table name, key, property name or etag that Azure would
            reject, or an int beyond 64 bits (the message names the rule, never
            the key or value).
        TypeError: a value that is not str, int, float or bool.
    Then whatever the hook raises (see ``TableStore`` and the adapter).
    """

    @final
    def create_tables(self, tables: Sequence[str]) -> None:
        """Create the tables if missing (idempotent); no table is created if a name is bad."""
        for table in tables:
            check_table_name(table)
        self._create_tables(tables)

    @final
    def get(self, table: str, partition_key: str, row_key: str) -> Entity | None:
        """Return the entity or None."""
        check_table_name(table)
        check_keys(partition_key, row_key)
        return self._get(table, partition_key, row_key)

    @final
    def insert(
        self, table: str, partition_key: str, row_key: str, data: Mapping[str, Value]
    ) -> Entity:
        """Insert a new entity; EntityExists if present."""
        check_table_name(table)
        check_keys(partition_key, row_key)
        check_data(data)
        return self._insert(table, partition_key, row_key, data)

    @final
    def update(
        self, table: str, partition_key: str, row_key: str, data: Mapping[str, Value], etag: str
    ) -> Entity:
        """Replace the entity if its etag still matches; ConcurrencyConflict otherwise."""
        check_table_name(table)
        check_keys(partition_key, row_key)
        check_etag(etag)
        check_data(data)
        return self._update(table, partition_key, row_key, data, etag)

    @final
    def upsert(
        self, table: str, partition_key: str, row_key: str, data: Mapping[str, Value]
    ) -> Entity:
        """Insert or replace unconditionally."""
        check_table_name(table)
        check_keys(partition_key, row_key)
        check_data(data)
        return self._upsert(table, partition_key, row_key, data)

    @final
    def delete(self, table: str, partition_key: str, row_key: str, etag: str | None = None) -> None:
        """Delete (conditionally when etag is given); see ``TableStore.delete``."""
        check_table_name(table)
        check_keys(partition_key, row_key)
        check_etag(etag)
        self._delete(table, partition_key, row_key, etag)

    @final
    def query(self, table: str, partition_key: str, row_key_prefix: str = "") -> list[Entity]:
        """All entities of a partition whose row key starts with the prefix, by row key.

        The prefix is not a key and is not checked: one with a character that keys
        may not hold simply matches nothing.
        """
        check_table_name(table)
        check_key("partition key", partition_key)
        return self._query(table, partition_key, row_key_prefix)

    @final
    def scan(self, table: str, row_key: str | None = None) -> Iterator[Entity]:
        """Every entity of the table (optionally only those with this row key)."""
        check_table_name(table)
        if row_key is not None:
            check_key("row key", row_key)
        return self._scan(table, row_key)

    @final
    def scan_older(
        self, table: str, selection: OlderThan, *, resume: str | None = None, page_size: int = 100
    ) -> ScanPage:
        """One page of the entities ``selection`` picks; see ``TableStore.scan_older``.

        Raises (before the hook runs):
            ValueError: a bad table or property name, row key, empty ``before``, a
                ``page_size`` outside 1..1000, or a ``resume`` that is not text.
        """
        check_table_name(table)
        _check_selection(selection)
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be 1 to {MAX_PAGE_SIZE}")
        if resume is not None and (not isinstance(resume, str) or not resume):
            raise ValueError("resume must be a cursor from a previous page, or None")
        return self._scan_older(table, selection, resume, page_size)

    # --- the adapter's hooks: arguments are already checked ---

    @abstractmethod
    def _create_tables(self, tables: Sequence[str]) -> None: ...

    @abstractmethod
    def _get(self, table: str, partition_key: str, row_key: str) -> Entity | None: ...

    @abstractmethod
    def _insert(
        self, table: str, partition_key: str, row_key: str, data: Mapping[str, Value]
    ) -> Entity: ...

    @abstractmethod
    def _update(
        self, table: str, partition_key: str, row_key: str, data: Mapping[str, Value], etag: str
    ) -> Entity: ...

    @abstractmethod
    def _upsert(
        self, table: str, partition_key: str, row_key: str, data: Mapping[str, Value]
    ) -> Entity: ...

    @abstractmethod
    def _delete(self, table: str, partition_key: str, row_key: str, etag: str | None) -> None: ...

    @abstractmethod
    def _query(self, table: str, partition_key: str, row_key_prefix: str) -> list[Entity]: ...

    @abstractmethod
    def _scan_older(
        self, table: str, selection: OlderThan, resume: str | None, page_size: int
    ) -> ScanPage:
        """Raises ValueError for a ``resume`` this store did not make."""

    @abstractmethod
    def _scan(self, table: str, row_key: str | None) -> Iterator[Entity]:
        """May fail at once (SQLite finds a missing table before iterating) or while
        iterating (Azure pages lazily)."""


def _check_selection(selection: OlderThan) -> None:
    """Raises ValueError: a property name, row key or time that the store would reject."""
    check_property_name(selection.time_property)
    if selection.blank_property:
        check_property_name(selection.blank_property)
    if not isinstance(selection.before, str) or not selection.before:
        raise ValueError("before must be a non-empty ISO 8601 time")
    if selection.row_key is not None:
        check_key("row key", selection.row_key)
    for prefix in (selection.row_key_prefix, selection.partition_key_prefix):
        if not isinstance(prefix, str):
            raise ValueError("key prefixes must be strings")
