"""``tools.ops retention``: the operators' way to run the clean-up once (or to see
what it would remove), on the backends the settings name."""

from __future__ import annotations

import datetime as dt
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from shared.crosswalk.sqlite import SqliteTableStore
from shared.names import ALL_TABLES, TABLE_DELIVERIES
from shared.webhook.idempotency import DeliveryRecord, claim_delivery
from tools.ops.__main__ import EXIT_OK, EXIT_REFUSED, main

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data folder with 3 webhook deliveries a month old and one from today."""
    folder = tmp_path / "data"
    folder.mkdir()
    monkeypatch.setenv("LOCAL_DATA_DIR", str(folder))
    monkeypatch.setenv("QUEUE_BACKEND", "embedded")
    monkeypatch.setenv("CROSSWALK_BACKEND", "sqlite")
    for name in ("RETENTION_DELIVERIES_DAYS", "RETENTION_AUDIT_DAYS"):
        monkeypatch.delenv(name, raising=False)
    store = SqliteTableStore(folder / "crosswalk.sqlite3")
    store.create_tables(ALL_TABLES)
    now = dt.datetime.now(dt.UTC)
    for n, age in enumerate((30, 30, 30, 0)):
        at = now - dt.timedelta(days=age)
        claim_delivery(store, f"msg_{n}", DeliveryRecord("e", "OB-1", 1, "c", "d", at, True))
    store.close()
    return folder


def deliveries_left(folder: Path) -> int:
    store = SqliteTableStore(folder / "crosswalk.sqlite3")
    try:
        return len(list(store.scan(TABLE_DELIVERIES)))
    finally:
        store.close()


def test_a_dry_run_says_what_is_due_and_removes_nothing(data: Path) -> None:
    out = io.StringIO()

    code = main(["retention", "--dry-run"], out=out, err=io.StringIO())

    assert code == EXIT_OK
    text = out.getvalue()
    assert "Dry run: nothing was changed." in text
    assert "deliveries" in text and "due 3" in text
    assert "audit 3650 days" in text
    assert deliveries_left(data) == 4


def test_a_run_removes_what_is_due_and_reports_it_as_json(data: Path) -> None:
    out = io.StringIO()

    code = main(["retention", "--json"], out=out, err=io.StringIO())

    assert code == EXIT_OK
    body = json.loads(out.getvalue())
    assert body["dryRun"] is False and body["stopped"] == "done"
    assert body["sweeps"]["deliveries"] == {
        "removed": 3,
        "changed": 0,
        "finished": True,
        "kept": False,
    }
    assert deliveries_left(data) == 1


def test_a_bounded_run_says_to_run_again(data: Path) -> None:
    out = io.StringIO()

    main(["retention", "--max-deletes", "2"], out=out, err=io.StringIO())

    assert "removed 2 so far" in out.getvalue()
    assert "Stopped: the delete budget (--max-deletes) was spent; run again" in out.getvalue()
    assert deliveries_left(data) == 2


def test_a_malformed_age_is_refused_and_nothing_removed(
    data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RETENTION_AUDIT_DAYS", "365")
    out = io.StringIO()

    code = main(["retention"], out=out, err=io.StringIO())

    assert code == EXIT_REFUSED
    assert "Nothing removed: RETENTION_AUDIT_DAYS must be 1827 or more" in out.getvalue()
    assert deliveries_left(data) == 4


def test_the_command_is_listed_in_the_tools_help() -> None:
    listed = subprocess.run(
        [sys.executable, "-m", "tools.ops", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "retention" in listed.stdout
