"""The example messages in docs/hl7-mapping.md are current and valid."""

from __future__ import annotations

from pathlib import Path

import hl7
import pytest

from docgen.hl7_examples import BEGIN, END, examples, main, replace_examples
from docgen.hl7_validate import unexpected_warnings, validate_strict

DOC = Path(__file__).resolve().parents[2] / "docs" / "hl7-mapping.md"


def test_the_examples_in_the_mapping_doc_are_not_stale():
    document = DOC.read_text(encoding="utf-8")
    assert replace_examples(document) == document, (
        "docs/hl7-mapping.md is stale: run python -m docgen.hl7_examples --write "
        "docs/hl7-mapping.md"
    )


@pytest.mark.parametrize("example", examples(), ids=lambda example: example.title)
def test_every_example_validates_strictly(example):
    assert unexpected_warnings(validate_strict(example.message)) == []


def test_examples_cover_every_message_type_and_acks():
    types = {str(hl7.parse(example.message).segment("MSH")[9]) for example in examples()}
    assert types >= {
        "ADT^A05^ADT_A05",
        "ADT^A08^ADT_A01",
        "ADT^A38^ADT_A38",
        "ADT^A14^ADT_A05",
        "ADT^A27^ADT_A21",
        "SIU^S12^SIU_S12",
        "SIU^S13^SIU_S12",
        "SIU^S14^SIU_S12",
        "SIU^S15^SIU_S12",
        "ACK^A05^ACK",
    }


def test_example_patients_are_synthetic():
    """Birth numbers 980-999: the test series, never a real person's."""
    for example in examples():
        if "PID|" in example.message:
            identifier = hl7.parse(example.message)["PID.F3.R1.C1"]
            assert 980 <= int(identifier[8:11]) <= 999


def test_check_fails_on_a_stale_copy_and_write_repairs_it(tmp_path, capsys):
    stale = tmp_path / "mapping.md"
    stale.write_text(f"# Doc\n\n{BEGIN}\nold example\n{END}\n", encoding="utf-8")

    assert main(["--check", str(stale)]) == 1
    assert "stale" in capsys.readouterr().out
    assert main(["--write", str(stale)]) == 0
    assert main(["--check", str(stale)]) == 0
    assert stale.read_text(encoding="utf-8").startswith("# Doc\n\n")


def test_replace_refuses_a_document_without_markers():
    with pytest.raises(ValueError, match="markers"):
        replace_examples("# no markers here")
