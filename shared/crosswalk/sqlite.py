"""The embedded table store: the crosswalk of the local run, in one SQLite file.

Design, in short:

* One SQLite table per store table, keyed ``(pk, rk)`` (WITHOUT ROWID, so the
  primary key *is* the storage order and a partition reads as one range). Entity
  data is a JSON object: it round-trips str, int, float and bool exactly.
* ETags are versions. An insert starts at a random 62-bit number and every write
  adds one, so a write always changes the etag, and an etag kept from a deleted
  entity practically never matches a re-inserted one (odds below one in 10^15).
  Each operation is a single statement that checks and bumps the version at once.
* Writes share one connection behind a lock. SQLite allows one writer at a time
  anyway; a Python lock queues writers in microseconds, where SQLite's own busy
  handler would make them sleep in millisecond steps.
* Reads (get, query, scan) take a connection from a pool of readers (one per
  concurrent reader, reused): WAL lets readers run beside the writer, so a read
  never queues behind other threads' writes (nor behind a writer waiting for the
  interpreter lock while it holds the connection).
  A read sees every write committed before it began, on any connection. A
  ``:memory:`` database only exists inside one connection, so there reads share
  the writers' connection and lock.
* WAL journal with ``synchronous=NORMAL``: a committed write survives the process
  being killed (``kill -9``), which is what the local run promises; only a power
  loss may lose the last transactions. The busy timeout covers a second process
  (worker processes, operator commands) writing the same file; the write lock is
  retried in short naps (`shared.sqlite_locks`), not SQLite's 1–100 ms steps.
"""

from __future__ import annotations

import json
import random
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path

from shared.crosswalk.checked import CheckedTableStore
from shared.crosswalk.keys import prefix_upper_bound
from shared.crosswalk.port import Entity, OlderThan, ScanPage, Value
from shared.errors import (
    ConcurrencyConflict,
    EntityExists,
    IntegrationError,
    StoreError,
    TransientError,
)
from shared.sqlite_checkpoints import BACKSTOP_PAGES, keep_checkpointed
from shared.sqlite_locks import execute_taking_the_write_lock


@dataclass(frozen=True)
class _Sql:
    """The statements of one table, built once (the table name is validated)."""

    get: str
    insert: str
    upsert: str
    update: str
    delete: str
    query_all: str
    query_from: str
    query_range: str
    scan: str
    scan_row_key: str
    scan_older: str
    create: str


# "{t}" stands for the quoted SQLite table name. Store table names pass
# check_table_name (ASCII letters and digits only, in CheckedTableStore) before
# they get here, so substituting them into SQL cannot inject anything.
_TEMPLATES = _Sql(
    get="SELECT version, data FROM {t} WHERE pk = ? AND rk = ?",
    insert="INSERT INTO {t} (pk, rk, version, data) VALUES (?, ?, ?, ?)",
    upsert=(
        "INSERT INTO {t} (pk, rk, version, data) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (pk, rk) DO UPDATE SET data = excluded.data, version = version + 1 "
        "RETURNING version"
    ),
    # ?4 is the expected version, or NULL for "whatever it is now".
    update=(
        "UPDATE {t} SET data = ?1, version = version + 1 "
        "WHERE pk = ?2 AND rk = ?3 AND (?4 IS NULL OR version = ?4) RETURNING version"
    ),
    delete="DELETE FROM {t} WHERE pk = ?1 AND rk = ?2 AND (?3 IS NULL OR version = ?3)",
    query_all="SELECT rk, version, data FROM {t} WHERE pk = ? ORDER BY rk",
    query_from="SELECT rk, version, data FROM {t} WHERE pk = ? AND rk >= ? ORDER BY rk",
    query_range="SELECT rk, version, data FROM {t} WHERE pk = ? AND rk >= ? AND rk < ? ORDER BY rk",
    scan="SELECT pk, rk, version, data FROM {t} WHERE (pk, rk) > (?, ?) ORDER BY pk, rk LIMIT ?",
    scan_row_key=(
        "SELECT pk, rk, version, data FROM {t} WHERE rk = ? AND pk > ? ORDER BY pk LIMIT ?"
    ),
    # One page of scan_older: the next :n rows in key order (bounded work per call),
    # with the data of those that match and NULL for the others. The type checks
    # mirror Table storage, where a property of another type never compares.
    scan_older=(
        "SELECT pk, rk, version, CASE WHEN json_type(data, :tpath) = 'text' "
        "AND json_extract(data, :tpath) < :before "
        "AND (:rk IS NULL OR rk = :rk) "
        "AND (:rlo IS NULL OR rk >= :rlo) AND (:rhi IS NULL OR rk < :rhi) "
        "AND (:bpath IS NULL OR (json_type(data, :bpath) = 'text' "
        "AND json_extract(data, :bpath) = '')) THEN data END "
        "FROM {t} WHERE (pk, rk) > (:apk, :ark) AND pk < :phi ORDER BY pk, rk LIMIT :n"
    ),
    create=(
        "CREATE TABLE IF NOT EXISTS {t} (pk TEXT NOT NULL, rk TEXT NOT NULL, "
        "version INTEGER NOT NULL, data TEXT NOT NULL, PRIMARY KEY (pk, rk)) WITHOUT ROWID"
    ),
)


def _statements(table: str) -> _Sql:
    """The statements of one (validated) table name."""
    quoted = f'"t_{table}"'

    def fill(template: str) -> str:
        return template.replace("{t}", quoted)

    return _Sql(*(fill(getattr(_TEMPLATES, f.name)) for f in fields(_Sql)))


PAGE_CACHE_KIB = 16_384
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=True).encode
_loads = json.loads


def _new_version() -> int:
    return random.getrandbits(62)


def _expected_version(etag: str | None) -> int | None:
    """The version an etag stands for; raises ConcurrencyConflict for a foreign etag."""
    if etag is None:
        return None
    try:
        return int(etag)
    except ValueError:
        raise ConcurrencyConflict("the etag does not belong to this store") from None


class SqliteTableStore(CheckedTableStore):
    """``TableStore`` over one SQLite file (or ``":memory:"``); safe to share between threads.

    Raises (every method): as ``TableStore``, plus ``StoreError`` for a table that
    was never created and ``ValueError``/``TypeError`` for keys, names or values
    that Azure Table storage would reject (checked by ``CheckedTableStore``).
    """

    def __init__(
        self, path: str | Path, *, busy_timeout_seconds: float = 10.0, scan_page_size: int = 500
    ) -> None:
        """Open (creating if needed) the database file.

        A scan reads ``scan_page_size`` entities per lock acquisition, so a long scan
        never holds up writers for long.

        Raises:
            TransientError: the file cannot be opened.
        """
        self._lock = threading.Lock()
        self._path = str(path)
        self._busy_timeout = busy_timeout_seconds
        self._conn = self._open()
        try:
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute("PRAGMA synchronous = NORMAL")
            # Checkpoints run on a thread of their own; the automatic one is a backstop.
            self._conn.execute(f"PRAGMA wal_autocheckpoint = {BACKSTOP_PAGES}")
        except sqlite3.Error as error:
            raise _store_error(error) from None
        self._release_checkpoints = (
            keep_checkpointed(self._path, self) if self._path != ":memory:" else lambda: None
        )
        self._idle_readers: list[sqlite3.Connection] = []
        self._readers: list[sqlite3.Connection] = []  # every reader, to close them
        self._readers_guard = threading.Lock()
        self._sql: dict[str, _Sql] = {}
        self._page = scan_page_size

    def close(self) -> None:
        """Close the connections; the store cannot be used afterwards."""
        with self._lock, self._readers_guard:
            for reader in self._readers:
                reader.close()
            self._conn.close()
        self._release_checkpoints()

    # --- CheckedTableStore's hooks: the arguments are already checked ---

    def _create_tables(self, tables: Sequence[str]) -> None:
        with self._lock:
            for table in tables:
                sql = _statements(table)
                self._run(sql.create, ())
                self._sql[table] = sql

    def _get(self, table: str, partition_key: str, row_key: str) -> Entity | None:
        sql = self._statements_of(table)
        with self._reading() as reader:
            rows = self._run(sql.get, (partition_key, row_key), reader).fetchall()
        if not rows:
            return None
        version, data = rows[0]
        return Entity(partition_key, row_key, _loads(data), str(version))

    def _insert(
        self, table: str, partition_key: str, row_key: str, data: Mapping[str, Value]
    ) -> Entity:
        sql = self._statements_of(table)
        version = _new_version()
        try:
            with self._lock:
                self._run(sql.insert, (partition_key, row_key, version, _dumps(data)))
        except sqlite3.IntegrityError:
            raise EntityExists("an entity with these keys already exists") from None
        return Entity(partition_key, row_key, dict(data), str(version))

    def _update(
        self, table: str, partition_key: str, row_key: str, data: Mapping[str, Value], etag: str
    ) -> Entity:
        sql = self._statements_of(table)
        params = (_dumps(data), partition_key, row_key, _expected_version(etag))
        with self._lock:
            rows = self._run(sql.update, params).fetchall()
        if not rows:
            raise ConcurrencyConflict("the entity changed or was deleted since it was read")
        return Entity(partition_key, row_key, dict(data), str(rows[0][0]))

    def _upsert(
        self, table: str, partition_key: str, row_key: str, data: Mapping[str, Value]
    ) -> Entity:
        sql = self._statements_of(table)
        params = (partition_key, row_key, _new_version(), _dumps(data))
        with self._lock:
            ((version,),) = self._run(sql.upsert, params).fetchall()
        return Entity(partition_key, row_key, dict(data), str(version))

    def _delete(self, table: str, partition_key: str, row_key: str, etag: str | None) -> None:
        sql = self._statements_of(table)
        params = (partition_key, row_key, _expected_version(etag))
        with self._lock:
            deleted = self._run(sql.delete, params).rowcount
        # Without an etag a missing entity is fine; with one, it was deleted since read.
        if deleted == 0 and etag is not None:
            raise ConcurrencyConflict("the entity changed or was deleted since it was read")

    def _query(self, table: str, partition_key: str, row_key_prefix: str) -> list[Entity]:
        sql = self._statements_of(table)
        bound = prefix_upper_bound(row_key_prefix)
        with self._reading() as reader:
            if not row_key_prefix:
                cursor = self._run(sql.query_all, (partition_key,), reader)
            elif bound is None:
                cursor = self._run(sql.query_from, (partition_key, row_key_prefix), reader)
            else:
                cursor = self._run(sql.query_range, (partition_key, row_key_prefix, bound), reader)
            rows = cursor.fetchall()
        return [Entity(partition_key, rk, _loads(data), str(version)) for rk, version, data in rows]

    def _scan(self, table: str, row_key: str | None) -> Iterator[Entity]:
        sql = self._statements_of(table)  # fail now, not at the first next()
        if row_key is None:
            return self._scan_all(sql)
        return self._scan_row_key(sql, row_key)

    def _scan_older(
        self, table: str, selection: OlderThan, resume: str | None, page_size: int
    ) -> ScanPage:
        """Examines ``page_size`` rows in key order per call (one reading connection,
        however few match), and loads the data of the matching ones only."""
        sql = self._statements_of(table)
        params = _older_params(selection, _sqlite_cursor(resume))
        params["n"] = page_size
        with self._reading() as reader:
            rows = self._run(sql.scan_older, params, reader).fetchall()
        found = [
            Entity(pk, rk, _loads(data), str(version))
            for pk, rk, version, data in rows
            if data is not None
        ]
        more = len(rows) == page_size
        return ScanPage(found, json.dumps([rows[-1][0], rows[-1][1]]) if more else None)

    # --- scanning, a page per lock acquisition ---

    def _scan_all(self, sql: _Sql) -> Iterator[Entity]:
        after_pk, after_rk = "", ""
        while True:
            with self._reading() as reader:
                rows = self._run(sql.scan, (after_pk, after_rk, self._page), reader).fetchall()
            for pk, rk, version, data in rows:
                yield Entity(pk, rk, _loads(data), str(version))
            if len(rows) < self._page:
                return
            after_pk, after_rk = rows[-1][0], rows[-1][1]

    def _scan_row_key(self, sql: _Sql, row_key: str) -> Iterator[Entity]:
        after_pk = ""
        while True:
            with self._reading() as reader:
                params = (row_key, after_pk, self._page)
                rows = self._run(sql.scan_row_key, params, reader).fetchall()
            for pk, rk, version, data in rows:
                yield Entity(pk, rk, _loads(data), str(version))
            if len(rows) < self._page:
                return
            after_pk = rows[-1][0]

    # --- plumbing ---

    def _open(self) -> sqlite3.Connection:
        """A new connection to the file.

        Raises:
            TransientError: the file cannot be opened.
        """
        try:
            connection = sqlite3.connect(
                self._path,
                timeout=self._busy_timeout,
                isolation_level=None,  # autocommit: one statement = one transaction
                check_same_thread=False,  # the writers' is shared behind self._lock
            )
            # SQLite's default 2 MB page cache: as the file grew (8 KB a booking) every
            # read went to the OS for its pages; 16 MB took 8 % off the CPU per
            # booking at 4,000 bookings (per connection, filled only as pages are read).
            connection.execute(f"PRAGMA cache_size = -{PAGE_CACHE_KIB}")
            return connection
        except sqlite3.Error as error:
            raise _store_error(error) from None

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        """A reading connection for this read alone (``:memory:``: the shared one,
        locked).

        Raises:
            TransientError: a new connection cannot be opened.
        """
        if self._path == ":memory:":
            with self._lock:
                yield self._conn
            return
        with self._readers_guard:
            reader = self._idle_readers.pop() if self._idle_readers else None
        if reader is None:
            reader = self._open()
            with self._readers_guard:
                self._readers.append(reader)
        try:
            yield reader
        finally:
            with self._readers_guard:
                self._idle_readers.append(reader)

    def _statements_of(self, table: str) -> _Sql:
        """The statements of a (checked) table name.

        Raises:
            StoreError: the table was never created (by this or another process).
        """
        sql = self._sql.get(table)
        if sql is not None:
            return sql
        with self._lock:
            found = self._run(
                "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?", (f"t_{table}",)
            ).fetchall()
        if not found:
            raise StoreError(f"table {table!r} does not exist; call create_tables first")
        sql = self._sql[table] = _statements(table)
        return sql

    def _run(
        self,
        statement: str,
        params: Sequence[object] | Mapping[str, object],
        connection: sqlite3.Connection | None = None,
    ) -> sqlite3.Cursor:
        """Execute one statement (on the writers' connection, taking the write lock in
        short naps, unless another connection is given); maps SQLite's operational
        errors to TransientError."""
        try:
            if connection is not None:
                return connection.execute(statement, params)
            return execute_taking_the_write_lock(
                self._conn, statement, params, timeout_seconds=self._busy_timeout
            )
        except sqlite3.IntegrityError:
            raise
        except sqlite3.Error as error:
            raise _store_error(error) from None


_NO_UPPER_BOUND = "\U0010ffff" * 3  # sorts after every real key


def _older_params(selection: OlderThan, after: tuple[str, str]) -> dict[str, object]:
    """The parameters of the ``scan_older`` statement (NULL: the condition is off).

    JSON paths are parameters too: property names are checked identifiers anyway
    (``CheckedTableStore``), and nothing from the caller is put into the SQL text.
    A partition prefix narrows the key range itself, so SQLite reads only that range.
    """
    start = after
    upper = _NO_UPPER_BOUND
    if selection.partition_key_prefix:
        start = max(after, (selection.partition_key_prefix, ""))
        upper = prefix_upper_bound(selection.partition_key_prefix) or _NO_UPPER_BOUND
    row_prefix = selection.row_key_prefix or None
    row_bound = prefix_upper_bound(row_prefix) if row_prefix else None
    blank = selection.blank_property
    return {
        "apk": start[0],
        "ark": start[1],
        "phi": upper,
        "tpath": f"$.{selection.time_property}",
        "before": selection.before,
        "rk": selection.row_key,
        "rlo": row_prefix,
        "rhi": row_bound,
        "bpath": f"$.{blank}" if blank else None,
    }


def _sqlite_cursor(resume: str | None) -> tuple[str, str]:
    """The (partition key, row key) a page of ``scan_older`` continues after.

    Raises:
        ValueError: ``resume`` was not made by this adapter.
    """
    if resume is None:
        return "", ""
    try:
        pk, rk = json.loads(resume)
    except (ValueError, TypeError):
        raise ValueError("resume is not a cursor of this store") from None
    if not isinstance(pk, str) or not isinstance(rk, str):
        raise ValueError("resume is not a cursor of this store")
    return pk, rk


def _store_error(error: sqlite3.Error) -> IntegrationError:
    """A busy, locked, full or unreadable database is worth retrying later."""
    code = getattr(error, "sqlite_errorname", type(error).__name__)
    if isinstance(error, sqlite3.OperationalError):
        return TransientError(f"the local crosswalk database is unavailable ({code})")
    return StoreError(f"the local crosswalk database failed ({code})")
