"""Fixtures of the table-store contract suite: one ``store`` per adapter.

``store`` is parametrised over the SQLite adapter (a fresh file per test) and
the Azure Table adapter against Azurite (one emulator per session, a fresh table
per test). Azurite cases carry the ``azurite`` mark.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.crosswalk.azure_table import AzureTableStore
from shared.crosswalk.port import TableStore
from shared.crosswalk.sqlite import SqliteTableStore
from tests.azurite import azurite_table_port, azurite_table_store

__all__ = ["azurite_table_port"]  # re-exported so pytest finds the fixture


@pytest.fixture(scope="session")
def azurite_store(azurite_table_port: int) -> Iterator[AzureTableStore]:
    store = azurite_table_store(azurite_table_port)
    yield store
    store.close()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[SqliteTableStore]:
    store = SqliteTableStore(tmp_path / "crosswalk.sqlite3")
    yield store
    store.close()


@pytest.fixture(params=["sqlite", pytest.param("azurite", marks=pytest.mark.azurite)])
def store(request: pytest.FixtureRequest) -> TableStore:
    fixture = "sqlite_store" if request.param == "sqlite" else "azurite_store"
    adapter: TableStore = request.getfixturevalue(fixture)
    return adapter


@pytest.fixture
def table(store: TableStore) -> str:
    """A new, empty table (unique per test, so tests on the shared Azurite never meet)."""
    name = "t" + uuid.uuid4().hex[:20]
    store.create_tables([name])
    return name
