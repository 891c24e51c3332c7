"""Every table-store adapter takes its public methods from ``CheckedTableStore``.

The contract suite shows both adapters reject the same input; this shows why it
holds for every method (and will for a new adapter): no adapter defines a public
``TableStore`` method of its own, so each call passes the checks before the hook.
"""

from __future__ import annotations

import inspect

import pytest

from shared.crosswalk.azure_table import AzureTableStore
from shared.crosswalk.checked import CheckedTableStore
from shared.crosswalk.port import TableStore
from shared.crosswalk.sqlite import SqliteTableStore

PORT_METHODS = sorted(
    name
    for name, member in vars(TableStore).items()
    if inspect.isfunction(member) and not name.startswith("_")
)


def test_the_port_has_the_methods_this_test_expects() -> None:
    assert PORT_METHODS == [
        "create_tables",
        "delete",
        "get",
        "insert",
        "query",
        "scan",
        "scan_older",
        "update",
        "upsert",
    ]


@pytest.mark.parametrize("name", PORT_METHODS)
def test_the_checked_base_implements_every_port_method(name: str) -> None:
    assert name in vars(CheckedTableStore)
    port_signature = inspect.signature(getattr(TableStore, name))
    assert inspect.signature(getattr(CheckedTableStore, name)) == port_signature


@pytest.mark.parametrize("adapter", [SqliteTableStore, AzureTableStore])
@pytest.mark.parametrize("name", PORT_METHODS)
def test_no_adapter_overrides_a_checked_method(adapter: type[CheckedTableStore], name: str) -> None:
    assert issubclass(adapter, CheckedTableStore)
    assert getattr(adapter, name) is getattr(CheckedTableStore, name)


def test_an_adapter_missing_a_hook_cannot_be_built() -> None:
    class Forgetful(CheckedTableStore):  # implements no hook
        pass

    with pytest.raises(TypeError, match="abstract"):
        Forgetful()  # type: ignore[abstract]
