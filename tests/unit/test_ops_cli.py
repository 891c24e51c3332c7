"""The operator's CLI as a new user meets it (issue 12): it names the backends it
reads, refuses a mistyped data folder instead of answering "No dead letters.",
prints whole dead-letter descriptions, explains every argument on --help without
opening anything, and never says "resubmitted" for a fix that is not there."""

from __future__ import annotations

import datetime as dt
import io
import json
import shutil
from pathlib import Path

import pytest

from shared.crosswalk.repository import Crosswalk, StoredSnapshot
from shared.crosswalk.sqlite import SqliteTableStore
from shared.messages import Kick, KickCause, kick_outbound
from shared.names import ALL_TABLES, QUEUE_ENCOUNTER
from shared.queue.embedded import EmbeddedQueue
from shared.queue.port import DeadLetter
from shared.targets import Target
from tests.builders import PROFILES_DIR, make_snapshot, synthetic_personnummer

UNMAPPED_WARD = "SE2321000131-E000000000299"
CAUSE = f"HSA-id {UNMAPPED_WARD} has no location in profile SU; add it under [locations]"
LONG_DESCRIPTION = "ADT^A14 for booking OB-7 could not be rendered because " + CAUSE


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data folder with one booking whose ward is unmapped, dead-lettered."""
    data = tmp_path / "data"
    profiles = tmp_path / "profiles"
    shutil.copytree(PROFILES_DIR, profiles)
    monkeypatch.setenv("LOCAL_DATA_DIR", str(data))
    monkeypatch.setenv("ADMINISTRATION_PROFILES", str(profiles))
    monkeypatch.setenv("QUEUE_BACKEND", "embedded")
    monkeypatch.setenv("CROSSWALK_BACKEND", "sqlite")
    data.mkdir()
    store = SqliteTableStore(data / "crosswalk.sqlite3")
    store.create_tables(ALL_TABLES)
    snapshot = make_snapshot(
        booking_id="OB-7",
        admission={
            "type": "inpatient",
            "ward": {"hsaId": UNMAPPED_WARD},
            "expectedNights": 2,
        },
    )
    now = dt.datetime.now(dt.UTC)
    Crosswalk(store).save_snapshot(StoredSnapshot(snapshot, now, "e", "c"), None)
    store.close()
    kick = Kick(booking_id="OB-7", target=Target.BED, cause=KickCause.EVENT, note="v1")
    with EmbeddedQueue(data / "queue.sqlite3") as queue:
        queue.dead_letter(
            DeadLetter(
                source_queue=QUEUE_ENCOUNTER,
                body=kick_outbound(kick).body,
                session_id="OB-7",
                message_id="OB-7:bed:event:v1",
                reason="unmapped-location",
                description=LONG_DESCRIPTION,
                properties={},
            )
        )
    return tmp_path


def cli(*argv: str) -> tuple[int, str, str]:
    from tools.ops.__main__ import main

    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err, confirm=lambda _: "yes", environ={})
    return code, out.getvalue(), err.getvalue()


def letter_id() -> str:
    code, out, _ = cli("deadletters", "list", "--json")
    assert code == 0
    [letter] = json.loads(out)
    return str(letter["id"])


def test_a_mistyped_data_folder_is_refused_not_reported_empty(world, monkeypatch) -> None:
    typo = world / "dtaa"
    monkeypatch.setenv("LOCAL_DATA_DIR", str(typo))
    code, out, _ = cli("deadletters", "list")
    assert code == 2
    assert f"The data folder {typo} does not exist" in out
    assert "No dead letters" not in out
    assert not typo.exists(), "the CLI created the folder it was pointed at"


def test_the_cli_names_the_backends_and_folder_it_reads(world) -> None:
    code, _, err = cli("deadletters", "list")
    assert code == 0
    data = world / "data"
    assert f"crosswalk: SQLite in {data}; queue: embedded in {data}" in err


def test_the_list_shows_the_whole_description_with_its_cause(world) -> None:
    _, out, _ = cli("deadletters", "list")
    flat = " ".join(out.split())
    assert LONG_DESCRIPTION in flat
    assert ".venv/bin/python -m tools.ops deadletters resubmit --reason <reason>" in out


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["booking", "--help"],
        ["deadletters", "--help"],
        ["deadletters", "list", "--help"],
        ["deadletters", "resubmit", "--help"],
        ["deadletters", "purge", "--help"],
    ],
)
def test_help_explains_the_arguments_and_opens_nothing(argv, monkeypatch, capsys) -> None:
    def no_backends(*_: object) -> None:
        raise AssertionError("--help opened the backends")

    monkeypatch.setattr("tools.ops.__main__.open_backends", no_backends)
    with pytest.raises(SystemExit) as exited:
        cli(*argv)
    assert exited.value.code == 0
    text = capsys.readouterr().out
    assert "usage: .venv/bin/python -m tools.ops" in text
    if argv[-2:] == ["resubmit", "--help"]:
        for argument in ("ID", "--reason", "--json"):
            assert argument in text
    if argv[-2:] == ["purge", "--help"]:
        # A new Orbit version does not lift every block: only a resubmit lifts some.
        assert "until Orbit sends a new version" not in text and "still blocked" in text


def test_resubmit_refuses_until_the_profile_maps_the_hsa_id(world) -> None:
    letter = letter_id()
    code, out, _ = cli("deadletters", "resubmit", letter)
    assert code == 1
    assert f"NOT resubmitted: {letter} (unmapped-location): HSA-id {UNMAPPED_WARD}" in out
    assert "0 of 1 resubmitted" in out
    assert "resubmitted: " + letter not in out.replace("NOT resubmitted: " + letter, "")
    su = world / "profiles" / "SU.toml"
    su.write_text(su.read_text() + f'\n[locations."{UNMAPPED_WARD}"]\npoint_of_care = "SU-NY"\n')
    code, out, _ = cli("deadletters", "resubmit", letter, "--json")
    assert code == 0
    assert json.loads(out) == {"done": [letter], "refused": [], "alreadyGone": []}


def test_resubmit_refuses_everything_while_a_profile_does_not_read(world) -> None:
    letter = letter_id()
    su = world / "profiles" / "SU.toml"
    su.write_text(su.read_text() + "\n[locations.broken\n")
    code, out, _ = cli("deadletters", "resubmit", letter)
    assert code == 2
    assert "Nothing resubmitted: the profiles do not read" in out and "SU.toml" in out


@pytest.mark.parametrize(
    "typed",
    ["OB-2026-000001#", "../../x", "", "OB-7\n", synthetic_personnummer(3)],
    ids=["hash", "path", "empty", "newline", "identity-number"],
)
def test_a_booking_id_that_is_none_is_refused_without_echoing_it(world, typed) -> None:
    code, out, _ = cli("booking", typed)
    assert code == 2
    assert "Invalid booking id" in out and "Traceback" not in out
    assert not typed.strip() or typed.strip() not in out
