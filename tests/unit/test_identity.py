"""Swedish patient identifiers (shared.identity).

Every number here is synthetic: built from a birth date and a birth number in the
980-999 test series, completed with `with_check_digit`.
"""

from __future__ import annotations

import uuid

import pytest

from shared.identity import (
    ASSIGNING_AUTHORITY_OID,
    IdentifierSystem,
    InvalidIdentifier,
    contains_identity_number,
    is_identity_number_shaped,
    looks_like_identity_number,
    luhn_check_digit,
    redact_identity_numbers,
    validate,
    with_check_digit,
)

PN = IdentifierSystem.PERSONNUMMER
SN = IdentifierSystem.SAMORDNINGSNUMMER
RN = IdentifierSystem.RESERVNUMMER


def reference_luhn(digits: str) -> int:
    """Textbook Luhn: double every second digit counting from the right of the payload."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char) * (2 if position % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    return (10 - total % 10) % 10


def bad_check_digit(value: str) -> str:
    return value[:-1] + str((int(value[-1]) + 1) % 10)


def reason(system: IdentifierSystem, value: str) -> str:
    with pytest.raises(InvalidIdentifier) as raised:
        validate(system, value)
    assert not value or value not in str(raised.value)  # never the number itself
    return str(raised.value)


# --- Luhn ------------------------------------------------------------------------------


def test_luhn_matches_the_published_swedish_example() -> None:
    assert luhn_check_digit("811218987") == 6  # 811218-9876, Skatteverket's example


@pytest.mark.parametrize(
    "payload", ["000000000", "123456789", "991231999", "400101980", "555555555"]
)
def test_luhn_matches_the_textbook_algorithm_for_nine_digits(payload: str) -> None:
    assert luhn_check_digit(payload) == reference_luhn(payload)


# --- personnummer ----------------------------------------------------------------------


@pytest.mark.parametrize("first_eleven", ["19400101980", "20000229999", "19991231985"])
def test_synthetic_personnummer_are_valid(first_eleven: str) -> None:
    validate(PN, with_check_digit(PN, first_eleven))


def test_personnummer_with_a_wrong_check_digit_is_invalid() -> None:
    assert "check digit" in reason(PN, bad_check_digit(with_check_digit(PN, "19400101980")))


@pytest.mark.parametrize(
    "first_eleven", ["19401301980", "19400132980", "19000229980", "19400100980"]
)
def test_personnummer_with_an_impossible_date_is_invalid(first_eleven: str) -> None:
    assert "date" in reason(PN, with_check_digit(PN, first_eleven))


@pytest.mark.parametrize(
    "value", ["1940010198", "19400101-980", "1940010198OO", "194001019800 ", ""]
)
def test_personnummer_must_be_twelve_digits(value: str) -> None:
    assert "12 digits" in reason(PN, value)


# --- samordningsnummer -----------------------------------------------------------------


@pytest.mark.parametrize("first_eleven", ["19400161980", "20000289990", "19991291985"])
def test_samordningsnummer_has_the_birth_day_plus_60(first_eleven: str) -> None:
    validate(SN, with_check_digit(SN, first_eleven))


def test_a_samordningsnummer_is_not_a_valid_personnummer_and_vice_versa() -> None:
    assert "date" in reason(PN, with_check_digit(SN, "19400161980"))
    assert "date" in reason(SN, with_check_digit(PN, "19400101980"))


def test_samordningsnummer_day_beyond_the_month_plus_60_is_invalid() -> None:
    assert "date" in reason(SN, with_check_digit(SN, "19400292980"))  # 32 February


def test_samordningsnummer_with_a_wrong_check_digit_is_invalid() -> None:
    assert "check digit" in reason(SN, bad_check_digit(with_check_digit(SN, "19400161980")))


# --- VGR reserve numbers ---------------------------------------------------------------


@pytest.mark.parametrize(("letter", "value"), [("K", 5), ("M", 7), ("X", 8)])
def test_reserve_number_letters_count_as_their_digit_in_the_check(letter: str, value: int) -> None:
    number = with_check_digit(RN, f"19400101{letter}42")
    assert number[-1] == str(reference_luhn(f"400101{value}42"))
    validate(RN, number)


def test_reserve_number_letter_matters_for_the_check_digit() -> None:
    k_number = with_check_digit(RN, "19400101K42")
    assert k_number[-1] != with_check_digit(RN, "19400101M42")[-1]
    assert "check digit" in reason(RN, k_number.replace("K", "M"))


def test_reserve_number_with_a_wrong_check_digit_is_invalid() -> None:
    assert "check digit" in reason(RN, bad_check_digit(with_check_digit(RN, "19400101X07")))


@pytest.mark.parametrize("value", ["19400101Q420", "194001015420", "19400101K4X0", "19400101K42"])
def test_reserve_number_format_is_enforced(value: str) -> None:
    assert "K/M/X" in reason(RN, value)


def test_reserve_number_with_an_impossible_date_is_invalid() -> None:
    assert "date" in reason(RN, with_check_digit(RN, "19400230K42"))


def test_every_system_has_an_assigning_authority_oid() -> None:
    assert set(ASSIGNING_AUTHORITY_OID) == set(IdentifierSystem)
    assert ASSIGNING_AUTHORITY_OID[PN] == "1.2.752.129.2.1.3.1"
    assert ASSIGNING_AUTHORITY_OID[SN] == "1.2.752.129.2.1.3.3"


# --- the one identity-number shape --------------------------------------------------


@pytest.mark.parametrize(
    "value", ["191212121212", "19121212-1212", "121212-1212", "1212121212", "19121272K123"]
)
def test_a_value_shaped_like_an_identity_number_is_recognised(value: str) -> None:
    assert is_identity_number_shaped(value)
    assert contains_identity_number(value) and contains_identity_number(f"OB{value}x")
    assert looks_like_identity_number(value)


@pytest.mark.parametrize(
    "value",
    [
        "OB-2026-000123",
        "5d0c2d8e-8a4b-4a3e-9d53-1d3c2f1f0a11",
        "OB-9999999999999",  # no alignment of the digit run is a date
    ],
)
def test_orbit_ids_and_uuids_are_not_identity_numbers(value: str) -> None:
    assert not is_identity_number_shaped(value)
    assert not contains_identity_number(value)


def test_a_uuid_with_a_date_like_digit_run_is_an_event_id_not_a_booking_id() -> None:
    value = "e2ab13fc-5fe2-406f-ac97-08708021612c"  # 870802 could be a birth date
    assert not is_identity_number_shaped(value)  # fine as a CloudEvent id
    assert contains_identity_number(value)  # refused as a booking id


def test_uuids_are_never_refused_as_event_ids() -> None:
    assert not any(is_identity_number_shaped(str(uuid.uuid4())) for _ in range(20_000))


def test_redaction_masks_words_shaped_like_identity_numbers_only() -> None:
    text = "AE from Millennium: patient 19121212-1212 unknown, control ORB1912121212123"
    assert redact_identity_numbers(text, "[x]") == (
        "AE from Millennium: patient [x] unknown, control ORB1912121212123"
    )
