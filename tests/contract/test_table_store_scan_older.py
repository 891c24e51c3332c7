"""The TableStore contract of ``scan_older``: the same answers from SQLite and Azurite.

``scan_older`` is what the retention clean-up pages with: only entities whose
time property is older than a bound come back (filtered in the store), page by
page, resumable from a cursor.
"""

from __future__ import annotations

import pytest

from shared.crosswalk.port import Entity, OlderThan, TableStore

OLD = "2026-01-01T00:00:00+00:00"
CUTOFF = "2026-06-01T00:00:00+00:00"
NEW = "2026-11-30T12:00:00.250000+00:00"


def _all_pages(
    store: TableStore, table: str, selection: OlderThan, page_size: int = 100
) -> tuple[list[Entity], int]:
    """Every page until the end; returns the entities and the number of pages."""
    found: list[Entity] = []
    resume: str | None = None
    pages = 0
    while True:
        page = store.scan_older(table, selection, resume=resume, page_size=page_size)
        pages += 1
        assert len(page.entities) <= page_size
        found.extend(page.entities)
        if page.resume is None:
            return found, pages
        resume = page.resume
        assert pages < 1000, "the scan never ended"


def _keys(entities: list[Entity]) -> list[tuple[str, str]]:
    return [(e.partition_key, e.row_key) for e in entities]


def test_only_entities_older_than_the_bound_come_back(store: TableStore, table: str) -> None:
    store.insert(table, "a", "delivery", {"acceptedAt": OLD, "n": 1})
    store.insert(table, "b", "delivery", {"acceptedAt": NEW, "n": 2})
    store.insert(table, "c", "delivery", {"acceptedAt": CUTOFF})  # not *before* the bound

    found, _ = _all_pages(store, table, OlderThan("acceptedAt", CUTOFF))

    assert _keys(found) == [("a", "delivery")]
    assert found[0].data == {"acceptedAt": OLD, "n": 1}
    assert found[0].etag == store.get(table, "a", "delivery").etag  # type: ignore[union-attr]


def test_entities_without_the_property_or_with_another_type_never_match(
    store: TableStore, table: str
) -> None:
    store.insert(table, "a", "r", {"other": OLD})
    store.insert(table, "b", "r", {"at": 5})
    store.insert(table, "c", "r", {"at": True})
    store.insert(table, "d", "r", {"at": 1.5})
    store.insert(table, "e", "r", {"at": OLD})

    found, _ = _all_pages(store, table, OlderThan("at", CUTOFF))

    assert _keys(found) == [("e", "r")]


def test_a_row_key_narrows_the_selection(store: TableStore, table: str) -> None:
    store.insert(table, "code-1", "code", {"expiresAt": OLD})
    store.insert(table, "request-1", "request", {"expiresAt": OLD})

    found, _ = _all_pages(store, table, OlderThan("expiresAt", CUTOFF, row_key="code"))

    assert _keys(found) == [("code-1", "code")]


def test_a_row_key_prefix_narrows_the_selection(store: TableStore, table: str) -> None:
    for pk in ("OB-1", "OB-2"):
        store.insert(table, pk, "audit|20260101T000000000000|00000001", {"at": OLD})
        store.insert(table, pk, "auditx", {"at": OLD})
        store.insert(table, pk, "converged|0000000001", {"at": OLD})
        store.insert(table, pk, "audit|20261130T000000000000|00000002", {"at": NEW})

    found, _ = _all_pages(store, table, OlderThan("at", CUTOFF, row_key_prefix="audit|"))

    assert _keys(found) == [
        ("OB-1", "audit|20260101T000000000000|00000001"),
        ("OB-2", "audit|20260101T000000000000|00000001"),
    ]


def test_a_partition_key_prefix_narrows_the_selection(store: TableStore, table: str) -> None:
    store.insert(table, "audit-20260101", "0800|L1|created|ab", {"at": OLD})
    store.insert(table, "audit-20261130", "0800|L2|created|cd", {"at": NEW})
    store.insert(table, "auditor", "x", {"at": OLD})
    store.insert(table, "code-1", "code", {"at": OLD})
    store.insert(table, "a", "b", {"at": OLD})

    selection = OlderThan("at", CUTOFF, partition_key_prefix="audit-")
    found, _ = _all_pages(store, table, selection)

    assert _keys(found) == [("audit-20260101", "0800|L1|created|ab")]


def test_a_blank_property_keeps_only_entities_where_it_is_empty(
    store: TableStore, table: str
) -> None:
    store.insert(table, "code-1", "code", {"expiresAt": OLD, "usedAt": ""})
    store.insert(table, "code-2", "code", {"expiresAt": OLD, "usedAt": OLD})
    store.insert(table, "code-3", "code", {"expiresAt": OLD})  # no usedAt at all

    selection = OlderThan("expiresAt", CUTOFF, row_key="code", blank_property="usedAt")
    found, _ = _all_pages(store, table, selection)

    assert _keys(found) == [("code-1", "code")]


def test_pages_resume_where_the_last_one_ended_and_cover_every_match_once(
    store: TableStore, table: str
) -> None:
    expected = []
    for n in range(23):
        store.insert(table, f"k{n:02d}", "delivery", {"acceptedAt": OLD})
        expected.append((f"k{n:02d}", "delivery"))
        store.insert(table, f"k{n:02d}", "fresh", {"acceptedAt": NEW})

    found, pages = _all_pages(store, table, OlderThan("acceptedAt", CUTOFF), page_size=5)

    assert _keys(found) == expected  # in key order, none twice, none missed
    assert pages >= 5


def test_a_cursor_stays_valid_when_entities_are_deleted_behind_and_ahead(
    store: TableStore, table: str
) -> None:
    for n in range(12):
        store.insert(table, f"k{n:02d}", "r", {"at": OLD})
    first = store.scan_older(table, OlderThan("at", CUTOFF), page_size=4)
    assert first.resume is not None
    for entity in first.entities:
        store.delete(table, entity.partition_key, entity.row_key, entity.etag)
    store.delete(table, "k11", "r")  # ahead of the cursor

    rest, _ = _all_pages(store, table, OlderThan("at", CUTOFF))
    # Resuming with a different bound is fine too: the cursor is a position.
    later = store.scan_older(
        table, OlderThan("at", "2027-01-01T00:00:00+00:00"), resume=first.resume, page_size=100
    )

    seen = {key for key in _keys(first.entities)}
    assert (
        _keys(rest)
        == [(f"k{n:02d}", "r") for n in range(12) if (f"k{n:02d}", "r") not in seen][:-1]
    )
    assert _keys(later.entities) == _keys(rest)


def test_the_last_page_says_there_is_no_more(store: TableStore, table: str) -> None:
    assert store.scan_older(table, OlderThan("at", CUTOFF)).resume is None
    store.insert(table, "a", "r", {"at": OLD})

    page = store.scan_older(table, OlderThan("at", CUTOFF), page_size=10)

    assert _keys(page.entities) == [("a", "r")]
    assert page.resume is None


@pytest.mark.parametrize(
    ("selection", "page_size", "resume"),
    [
        (OlderThan("bad name", CUTOFF), 10, None),
        (OlderThan("RowKey", CUTOFF), 10, None),
        (OlderThan("at", ""), 10, None),
        (OlderThan("at", CUTOFF, row_key="a/b"), 10, None),
        (OlderThan("at", CUTOFF, blank_property="Timestamp"), 10, None),
        (OlderThan("at", CUTOFF), 0, None),
        (OlderThan("at", CUTOFF), 1001, None),
        (OlderThan("at", CUTOFF), 10, ""),
        (OlderThan("at", CUTOFF), 10, "not a cursor of any store"),
    ],
)
def test_bad_arguments_are_refused_before_anything_is_read(
    store: TableStore, table: str, selection: OlderThan, page_size: int, resume: str | None
) -> None:
    with pytest.raises(ValueError):
        store.scan_older(table, selection, resume=resume, page_size=page_size)
