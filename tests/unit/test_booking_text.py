"""Text rules at intake (issue 9): NFC, control characters, lengths as sent in HL7."""

from __future__ import annotations

import unicodedata

import pytest

from shared.booking import semantic_problems
from shared.hl7.er7 import escape
from tests.builders import make_patient, make_snapshot

# The contract's HL7 lengths (shared.booking NAME_LENGTH, TEXT_LENGTH, THEATRE_LENGTH),
# written out so that these tests also run against the code before issue 9.
NAME_LENGTH, TEXT_LENGTH, THEATRE_LENGTH = 100, 199, 20

DECOMPOSED = unicodedata.normalize("NFD", "Åkerström")


def test_decomposed_names_are_normalised_to_nfc_at_intake():
    """Defect 5: 'A' + combining ring was kept, so the bytes sent differed from 'Å'."""
    assert DECOMPOSED != "Åkerström"
    snapshot = make_snapshot(
        patient=make_patient(
            family_name=DECOMPOSED, given_name=unicodedata.normalize("NFD", "Märta")
        ),
        procedure={"code": "NFB49", "text": unicodedata.normalize("NFD", "Primär höft")},
        theatre=unicodedata.normalize("NFD", "SAL Ö"),
        cancellation_reason=unicodedata.normalize("NFD", "Återbud"),
    )
    assert snapshot.patient.family_name == "Åkerström"
    assert snapshot.patient.given_name == "Märta"
    assert snapshot.procedure.text == "Primär höft"
    assert snapshot.theatre == "SAL Ö"
    assert snapshot.cancellation_reason == "Återbud"
    assert semantic_problems(snapshot) == []


def test_a_decomposed_name_encodes_under_8859_1():
    snapshot = make_snapshot(patient=make_patient(family_name=DECOMPOSED))
    assert snapshot.patient.family_name.encode("iso-8859-1") == b"\xc5kerstr\xf6m"


@pytest.mark.parametrize("code", [0x00, 0x09, 0x0A, 0x0B, 0x0D, 0x1C, 0x1F, 0x7F])
@pytest.mark.parametrize("field", ["family_name", "given_name"])
def test_control_characters_in_names_are_refused(field, code):
    names = {"family_name": "Åkerström", "given_name": "Märta", field: f"Berg{chr(code)}"}
    patient = make_patient(family_name=names["family_name"], given_name=names["given_name"])
    path = {"family_name": "data.patient.familyName", "given_name": "data.patient.givenName"}
    problems = semantic_problems(make_snapshot(patient=patient))
    assert [path_ for path_, _ in problems] == [path[field]]
    assert "control characters" in problems[0][1]
    assert "Berg" not in problems[0][1]


def test_free_text_may_hold_line_breaks_but_no_other_control_character():
    ok = make_snapshot(cancellation_reason="Patienten sjuk.\r\nNy tid ges.")
    assert semantic_problems(ok) == []
    bad = make_snapshot(procedure={"code": "NFB49", "text": "Höft\x0b"})
    assert [path for path, _ in semantic_problems(bad)] == ["data.procedure.text"]


def test_control_characters_in_the_theatre_and_unit_names_are_refused():
    snapshot = make_snapshot(
        theatre="SAL\x1c5",
        operating_unit={"hsa_id": "SE2321000131-E000000000101", "name": "Op\x0b"},
    )
    assert sorted(path for path, _ in semantic_problems(snapshot)) == [
        "data.operatingUnit.name",
        "data.theatre",
    ]


@pytest.mark.parametrize(
    "text",
    ["plain", "a|b^c~d\\e&f", "line\nbreak\r\ttab", "&" * 10],
)
def test_hl7_length_is_the_escaped_length(text):
    import shared.booking as contract

    assert contract.hl7_length(text) == len(escape(text))
    limits = (contract.NAME_LENGTH, contract.TEXT_LENGTH, contract.THEATRE_LENGTH)
    assert limits == (NAME_LENGTH, TEXT_LENGTH, THEATRE_LENGTH)


@pytest.mark.parametrize(
    ("field", "limit"),
    [("cancellation_reason", TEXT_LENGTH), ("theatre", THEATRE_LENGTH)],
)
def test_text_longer_than_its_hl7_length_once_escaped_is_refused(field, limit):
    """Defect 7: 67 '&' passed the contract and became 201 characters in the message."""
    fits = "&" * (limit // 3)
    assert semantic_problems(make_snapshot(**{field: fits})) == []
    too_long = "&" * (limit // 3 + 1)
    problems = semantic_problems(make_snapshot(**{field: too_long}))
    assert [path for path, _ in problems] == [
        {"cancellation_reason": "data.cancellationReason", "theatre": "data.theatre"}[field]
    ]
    assert f"longer than {limit}" in problems[0][1]


def test_a_name_at_its_limit_is_accepted():
    snapshot = make_snapshot(patient=make_patient(family_name="Å" * NAME_LENGTH))
    assert semantic_problems(snapshot) == []
