"""docs/operations.md, the operators' runbook, says what the code does: the CLI
tells operators it has one entry per dead-letter reason."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from shared import errors

DOC = Path(__file__).resolve().parents[2] / "docs" / "operations.md"
REASON_TABLE = "**What to do**, by reason:"


def reasons_in_the_table() -> set[str]:
    """The reasons named in the first column of the dead-letter runbook's table."""
    after = DOC.read_text(encoding="utf-8").split(REASON_TABLE, 1)[1].lstrip("\n")
    table = after.split("\n\n", 1)[0]
    first_cells = [row.split("|")[1] for row in table.splitlines()[2:]]
    return set(re.findall(r"`([^`]+)`", " ".join(first_cells)))


def permanent_reasons() -> set[str]:
    """The ``reason`` of every PermanentError defined in shared/errors.py."""
    return {
        cls.reason
        for _, cls in inspect.getmembers(errors, inspect.isclass)
        if issubclass(cls, errors.PermanentError) and cls.__module__ == errors.__name__
    }


def test_the_dead_letter_table_has_a_row_for_every_permanent_reason() -> None:
    assert "unmapped-location" in reasons_in_the_table()  # the table was found
    missing = permanent_reasons() - reasons_in_the_table()
    assert not missing, f"docs/operations.md, {REASON_TABLE!r} lacks {sorted(missing)}"


def flat_doc() -> str:
    return " ".join(DOC.read_text(encoding="utf-8").split())


def test_the_runbook_says_where_the_patients_identity_is_kept() -> None:
    text = flat_doc()
    # The target rows hold confirmed facts, and an in-doubt message's HL7, with PID.
    assert "The snapshot row holds the patient's identity" not in text
    assert "keeps no raw HL7" not in text
    assert "PID segment included" in text
    assert "do not open a booking's rows in the Storage browser" in text


def test_the_runbook_says_a_cancelled_bookings_in_doubt_create_is_resent() -> None:
    text = flat_doc()
    assert "since converged or been cancelled changes nothing" not in text
    assert "an in-doubt create is resent first" in text and "the removal follows" in text
