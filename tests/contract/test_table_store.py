"""The TableStore contract: every test runs against SQLite and against Azurite."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from shared.crosswalk.port import Entity, TableStore, Value
from shared.errors import ConcurrencyConflict, EntityExists, StoreError
from tests.builders import synthetic_personnummer

PK = "OB-2026-000123"

# --- get / insert ---


def test_get_of_a_missing_entity_is_none(store: TableStore, table: str) -> None:
    assert store.get(table, PK, "snapshot") is None


def test_insert_returns_the_entity_and_get_reads_it_back(store: TableStore, table: str) -> None:
    written = store.insert(table, PK, "snapshot", {"version": 3, "status": "booked"})

    read = store.get(table, PK, "snapshot")

    assert written.data == {"version": 3, "status": "booked"}
    assert read == Entity(PK, "snapshot", {"version": 3, "status": "booked"}, written.etag)


def test_insert_of_existing_keys_raises_entity_exists_and_keeps_the_original(
    store: TableStore, table: str
) -> None:
    store.insert(table, PK, "snapshot", {"version": 1})

    with pytest.raises(EntityExists):
        store.insert(table, PK, "snapshot", {"version": 2})

    read = store.get(table, PK, "snapshot")
    assert read is not None and read.data == {"version": 1}


VALUES: dict[str, Value] = {
    "family": "Åsa Östgöta-Ärlig",
    "text": "Primär total höftledsplastik é ü ß €",
    "empty": "",
    "zero": 0,
    "negative": -7,
    "int32_max": 2**31 - 1,
    "int32_min": -(2**31),
    "beyond_int32": 2**31,
    "below_int32": -(2**31) - 1,
    "int64_max": 2**63 - 1,
    "int64_min": -(2**63),
    "yes": True,
    "no": False,
    "half": 2.5,
    "whole_float": 1.0,
    "tiny": -1.25e-300,
    "huge": 1.7e308,
}


def test_values_round_trip_with_their_types(store: TableStore, table: str) -> None:
    store.insert(table, PK, "values", VALUES)

    read = store.get(table, PK, "values")

    assert read is not None
    assert read.data == VALUES
    # == alone would accept True for 1 and 1 for 1.0
    assert {k: type(v) for k, v in read.data.items()} == {k: type(v) for k, v in VALUES.items()}


def test_unicode_values_survive_update_and_query(store: TableStore, table: str) -> None:
    first = store.insert(table, PK, "patient", {"name": "å"})
    store.update(table, PK, "patient", {"name": "Tolvan Tolvansson å ä ö Å Ä Ö"}, first.etag)

    [found] = store.query(table, PK, "pat")

    assert found.data == {"name": "Tolvan Tolvansson å ä ö Å Ä Ö"}


# --- update ---


def test_update_replaces_the_data_and_changes_the_etag(store: TableStore, table: str) -> None:
    first = store.insert(table, PK, "snapshot", {"version": 1, "ward": "A"})

    second = store.update(table, PK, "snapshot", {"version": 2}, first.etag)

    assert second.etag != first.etag
    assert second.data == {"version": 2}
    assert store.get(table, PK, "snapshot") == second  # "ward" is gone: replace, not merge


def test_update_with_a_stale_etag_conflicts_and_changes_nothing(
    store: TableStore, table: str
) -> None:
    first = store.insert(table, PK, "snapshot", {"version": 1})
    second = store.update(table, PK, "snapshot", {"version": 2}, first.etag)

    with pytest.raises(ConcurrencyConflict):
        store.update(table, PK, "snapshot", {"version": 99}, first.etag)

    assert store.get(table, PK, "snapshot") == second


def test_update_of_a_missing_entity_conflicts(store: TableStore, table: str) -> None:
    gone = store.insert(table, PK, "intent", {"msh10": "ORB1"})
    store.delete(table, PK, "intent")

    with pytest.raises(ConcurrencyConflict):
        store.update(table, PK, "intent", {"msh10": "ORB2"}, gone.etag)

    assert store.get(table, PK, "intent") is None


def test_every_write_changes_the_etag(store: TableStore, table: str) -> None:
    etags = [store.insert(table, PK, "row", {"n": 0}).etag]
    etags.append(store.update(table, PK, "row", {"n": 0}, etags[-1]).etag)  # same data
    etags.append(store.upsert(table, PK, "row", {"n": 0}).etag)
    etags.append(store.upsert(table, PK, "row", {"n": 0}).etag)  # upsert of an existing row

    assert len(set(etags)) == len(etags)


# --- upsert ---


def test_upsert_inserts_then_replaces(store: TableStore, table: str) -> None:
    inserted = store.upsert(table, PK, "target-encounter", {"state": "in-doubt", "n": 1})
    replaced = store.upsert(table, PK, "target-encounter", {"state": "confirmed"})

    assert replaced.etag != inserted.etag
    assert store.get(table, PK, "target-encounter") == replaced
    assert replaced.data == {"state": "confirmed"}


# --- delete ---


def test_delete_without_etag_removes_and_tolerates_missing(store: TableStore, table: str) -> None:
    store.insert(table, PK, "snapshot", {"version": 1})

    store.delete(table, PK, "snapshot")
    store.delete(table, PK, "snapshot")  # a no-op, not an error

    assert store.get(table, PK, "snapshot") is None


def test_delete_with_the_current_etag_removes(store: TableStore, table: str) -> None:
    current = store.insert(table, PK, "snapshot", {"version": 1})

    store.delete(table, PK, "snapshot", current.etag)

    assert store.get(table, PK, "snapshot") is None


def test_delete_with_a_stale_etag_conflicts_and_keeps_the_entity(
    store: TableStore, table: str
) -> None:
    first = store.insert(table, PK, "snapshot", {"version": 1})
    second = store.update(table, PK, "snapshot", {"version": 2}, first.etag)

    with pytest.raises(ConcurrencyConflict):
        store.delete(table, PK, "snapshot", first.etag)

    assert store.get(table, PK, "snapshot") == second


def test_delete_with_etag_of_a_vanished_entity_conflicts(store: TableStore, table: str) -> None:
    gone = store.insert(table, PK, "snapshot", {"version": 1})
    store.delete(table, PK, "snapshot")

    with pytest.raises(ConcurrencyConflict):
        store.delete(table, PK, "snapshot", gone.etag)


# --- query / scan ---


def _fill(store: TableStore, table: str) -> None:
    for pk in ("OB-1", "OB-2", "OB-3"):
        for rk in ("target-encounter", "audit-0002", "snapshot", "audit-0001", "audit", "auditx"):
            store.insert(table, pk, rk, {"pk": pk, "rk": rk})


def test_query_returns_one_partition_in_row_key_order(store: TableStore, table: str) -> None:
    _fill(store, table)

    found = store.query(table, "OB-2")

    assert [e.row_key for e in found] == [
        "audit",
        "audit-0001",
        "audit-0002",
        "auditx",
        "snapshot",
        "target-encounter",
    ]
    assert {e.partition_key for e in found} == {"OB-2"}
    assert all(e.data == {"pk": "OB-2", "rk": e.row_key} for e in found)


def test_query_by_row_key_prefix(store: TableStore, table: str) -> None:
    _fill(store, table)

    assert [e.row_key for e in store.query(table, "OB-1", "audit-")] == [
        "audit-0001",
        "audit-0002",
    ]
    assert [e.row_key for e in store.query(table, "OB-1", "audit")] == [
        "audit",
        "audit-0001",
        "audit-0002",
        "auditx",
    ]
    assert store.query(table, "OB-1", "zzz") == []


def test_query_results_carry_etags_usable_for_updates(store: TableStore, table: str) -> None:
    store.insert(table, PK, "snapshot", {"version": 1})
    [found] = store.query(table, PK)

    updated = store.update(table, PK, "snapshot", {"version": 2}, found.etag)

    assert updated.data == {"version": 2}


def test_query_of_an_empty_partition_is_empty(store: TableStore, table: str) -> None:
    _fill(store, table)

    assert store.query(table, "OB-404") == []


def test_scan_returns_every_entity(store: TableStore, table: str) -> None:
    _fill(store, table)

    found = {(e.partition_key, e.row_key): e.data for e in store.scan(table)}

    assert len(found) == 18
    assert found[("OB-3", "auditx")] == {"pk": "OB-3", "rk": "auditx"}


def test_scan_with_a_row_key_returns_that_row_of_every_partition(
    store: TableStore, table: str
) -> None:
    _fill(store, table)

    found = list(store.scan(table, row_key="snapshot"))

    assert sorted(e.partition_key for e in found) == ["OB-1", "OB-2", "OB-3"]
    assert {e.row_key for e in found} == {"snapshot"}


def test_scan_of_an_empty_table_is_empty(store: TableStore, table: str) -> None:
    assert list(store.scan(table)) == []
    assert list(store.scan(table, row_key="snapshot")) == []


# --- tables ---


def test_create_tables_is_idempotent_and_keeps_data(store: TableStore, table: str) -> None:
    store.insert(table, PK, "snapshot", {"version": 1})

    store.create_tables([table])
    store.create_tables([table])

    read = store.get(table, PK, "snapshot")
    assert read is not None and read.data == {"version": 1}


def test_tables_are_separate(store: TableStore, table: str) -> None:
    other = table + "b"
    store.create_tables([other])
    store.insert(table, PK, "snapshot", {"in": "first"})

    assert store.get(other, PK, "snapshot") is None
    store.insert(other, PK, "snapshot", {"in": "second"})  # no EntityExists across tables


def test_a_table_never_created_raises_store_error(store: TableStore) -> None:
    with pytest.raises(StoreError, match="create_tables"):
        store.get("neverCreated", PK, "snapshot")
    with pytest.raises(StoreError, match="create_tables"):
        store.insert("neverCreated", PK, "snapshot", {})


# --- input the service would reject ---


@pytest.mark.parametrize("bad_key", ["a/b", "a\\b", "a#b", "a?b", "a\tb", "a\x7fb", ""])
def test_forbidden_keys_are_rejected_without_echoing_them(
    store: TableStore, table: str, bad_key: str
) -> None:
    with pytest.raises(ValueError) as raised:
        store.insert(table, PK, bad_key, {})
    with pytest.raises(ValueError):
        store.get(table, bad_key, "snapshot")

    assert bad_key == "" or bad_key not in str(raised.value)


@pytest.mark.parametrize("name", ["PartitionKey", "RowKey", "Timestamp", "has space", "1st", ""])
def test_reserved_or_invalid_property_names_are_rejected(
    store: TableStore, table: str, name: str
) -> None:
    with pytest.raises(ValueError):
        store.upsert(table, PK, "snapshot", {name: 1})


@pytest.mark.parametrize("value", [None, b"bytes", [1], 2**63])
def test_unsupported_values_are_rejected(store: TableStore, table: str, value: object) -> None:
    with pytest.raises((TypeError, ValueError)):
        store.upsert(table, PK, "snapshot", {"v": value})  # type: ignore[dict-item]

    assert store.get(table, PK, "snapshot") is None


def test_an_empty_etag_is_rejected_not_read_as_unconditional(store: TableStore, table: str) -> None:
    store.insert(table, PK, "snapshot", {"version": 1})

    with pytest.raises(ValueError, match="etag"):
        store.update(table, PK, "snapshot", {"version": 2}, "")
    with pytest.raises(ValueError, match="etag"):
        store.delete(table, PK, "snapshot", "")

    read = store.get(table, PK, "snapshot")
    assert read is not None and read.data == {"version": 1}


# --- every method checks its arguments first, in every adapter ---

# One call per public method, with ``key`` in a key position (for query the
# partition key, for scan the row key). The table was never created: a check
# that ran after the store's own work would answer StoreError instead.
_CALLS_WITH_KEY: dict[str, Callable[[TableStore, str, str], object]] = {
    "get": lambda store, table, key: store.get(table, PK, key),
    "insert": lambda store, table, key: store.insert(table, key, "snapshot", {}),
    "update": lambda store, table, key: store.update(table, PK, key, {}, "etag"),
    "upsert": lambda store, table, key: store.upsert(table, key, "snapshot", {}),
    "delete": lambda store, table, key: store.delete(table, PK, key),
    "query": lambda store, table, key: store.query(table, key),
    "scan": lambda store, table, key: store.scan(table, row_key=key),
}


@pytest.mark.parametrize("method", sorted(_CALLS_WITH_KEY))
def test_a_bad_key_is_a_value_error_before_the_store_is_asked(
    store: TableStore, method: str
) -> None:
    identity_number = synthetic_personnummer(7)
    bad_key = identity_number + "\t"  # a control character: Azure would answer 400

    with pytest.raises(ValueError, match="forbidden character") as raised:
        _CALLS_WITH_KEY[method](store, "neverCreated", bad_key)

    assert identity_number not in str(raised.value)


@pytest.mark.parametrize("method", sorted(_CALLS_WITH_KEY))
def test_a_bad_table_name_is_a_value_error_in_every_method(store: TableStore, method: str) -> None:
    with pytest.raises(ValueError, match="table names"):
        _CALLS_WITH_KEY[method](store, "bad-name", "snapshot")


def test_create_tables_with_a_bad_name_creates_none(store: TableStore) -> None:
    good = "t" + uuid.uuid4().hex[:20]

    with pytest.raises(ValueError, match="table names"):
        store.create_tables([good, "x"])

    with pytest.raises(StoreError, match="create_tables"):
        store.get(good, PK, "snapshot")


def test_bad_data_or_etag_is_rejected_before_the_store_is_asked(store: TableStore) -> None:
    with pytest.raises(ValueError, match="reserved"):
        store.insert("neverCreated", PK, "snapshot", {"RowKey": "x"})
    with pytest.raises(TypeError, match="unsupported type"):
        store.upsert("neverCreated", PK, "snapshot", {"v": None})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="etag"):
        store.update("neverCreated", PK, "snapshot", {}, "")
    with pytest.raises(ValueError, match="etag"):
        store.delete("neverCreated", PK, "snapshot", "")


# --- concurrency ---


def test_racing_conditional_updates_have_exactly_one_winner_per_round(
    store: TableStore, table: str
) -> None:
    store.insert(table, PK, "snapshot", {"round": 0, "winner": "none"})
    start_together = threading.Barrier(2)

    def contend(name: str, round_no: int, etag: str) -> str | None:
        start_together.wait()
        try:
            store.update(table, PK, "snapshot", {"round": round_no, "winner": name}, etag)
        except ConcurrencyConflict:
            return None
        return name

    with ThreadPoolExecutor(max_workers=2) as pool:
        for round_no in range(1, 16):
            current = store.get(table, PK, "snapshot")
            assert current is not None
            futures = [pool.submit(contend, n, round_no, current.etag) for n in ("a", "b")]
            winners = [w for w in (f.result() for f in futures) if w is not None]

            assert len(winners) == 1, f"round {round_no}: winners {winners}"
            final = store.get(table, PK, "snapshot")
            assert final is not None
            assert final.data == {"round": round_no, "winner": winners[0]}
