"""Swedish patient identifiers: personnummer, samordningsnummer, VGR reserve numbers.

All are 12 characters without separator. Validation never puts the value in an
error message: callers show the field path, not the number.
"""

from __future__ import annotations

import datetime as dt
import re
from enum import StrEnum

from shared.errors import PermanentError


class IdentifierSystem(StrEnum):
    PERSONNUMMER = "personnummer"
    SAMORDNINGSNUMMER = "samordningsnummer"
    RESERVNUMMER = "reservnummer"


ASSIGNING_AUTHORITY_OID: dict[IdentifierSystem, str] = {
    IdentifierSystem.PERSONNUMMER: "1.2.752.129.2.1.3.1",
    IdentifierSystem.SAMORDNINGSNUMMER: "1.2.752.129.2.1.3.3",
    IdentifierSystem.RESERVNUMMER: "1.2.752.113.11.0.2.1.1.1",
}
"""PID-3 assigning authority (CX.4) per identifier system."""

IDENTITY_NUMBER_SHAPE = r"(?:\d{2})?\d{6}[-+]?(?:\d{4}|[KMX]\d{3})"
"""The one pattern of what *looks like* a Swedish identity number: 10 or 12 digits,
optionally with ``-`` or ``+`` before the last four, and reserve numbers with a
K/M/X in place of the first serial digit. A shape, not a validation: it finds
numbers (valid or not) in places where none may be."""

_SHAPE_ANYWHERE = re.compile(IDENTITY_NUMBER_SHAPE)
_SHAPE_WHOLE = re.compile(r"(?P<date>(?:\d{2})?\d{6})[-+]?(?:\d{4}|[KMX]\d{3})")
_SHAPE_IN_TEXT = re.compile(rf"(?<![0-9A-Za-z]){_SHAPE_WHOLE.pattern}(?![0-9A-Za-z])")
_SHAPE_AT_EVERY_POSITION = re.compile(r"(?=(?P<date>(?:\d{2})?\d{6})[-+]?(?:\d{4}|[KMX]\d{3}))")
_DIGITS12 = re.compile(r"^\d{12}$")
_RESERVE = re.compile(r"^(\d{8})([KMX])(\d{2})(\d)$")
_RESERVE_LETTER_VALUE = {"K": 5, "M": 7, "X": 8}


class InvalidIdentifier(PermanentError, ValueError):
    """The identifier does not have the format or check digit of its system."""


def looks_like_identity_number(value: str) -> bool:
    """Whether ``value`` has the shape anywhere, date or not (``OB191212121212``
    counts too): the strictest test, for what goes into a log line."""
    return _SHAPE_ANYWHERE.search(value) is not None


def contains_identity_number(value: str) -> bool:
    """Whether ``value`` holds, anywhere, something shaped like an identity number
    whose date part could be a birth date (month 01–12, day 01–31 or 61–91): the
    test a booking id must pass (``OB191212121212`` fails it, ``OB-2026-000123``
    passes). Every alignment of a long digit run is tried."""
    return any(_plausible_date(m["date"]) for m in _SHAPE_AT_EVERY_POSITION.finditer(value))


def is_identity_number_shaped(value: str) -> bool:
    """Whether the whole of ``value`` is shaped like an identity number (with a
    plausible date), e.g. ``yyyymmddnnnc`` or ``yymmdd-nnnc``."""
    match = _SHAPE_WHOLE.fullmatch(value)
    return match is not None and _plausible_date(match["date"])


def _plausible_date(digits: str) -> bool:
    month, day = int(digits[-4:-2]), int(digits[-2:])
    return 1 <= month <= 12 and (1 <= day <= 31 or 61 <= day <= 91)


def redact_identity_numbers(text: str, mask: str) -> str:
    """``text`` with every identity-number-shaped word replaced by ``mask``.

    For free text (a counterpart's error text): only whole words are replaced, so
    control ids and other long codes that merely contain digits stay readable;
    the date is not looked at (a last line of defence errs on the safe side).
    """
    return _SHAPE_IN_TEXT.sub(mask, text)


def luhn_check_digit(digits: str) -> int:
    """Return the Luhn check digit for ``digits`` (weights 2,1,2,1,… from the left)."""
    total = 0
    for index, char in enumerate(digits):
        product = int(char) * (2 if index % 2 == 0 else 1)
        total += product // 10 + product % 10
    return (10 - total % 10) % 10


def validate(system: IdentifierSystem, value: str) -> None:
    """Check format, date and check digit of ``value`` in ``system``.

    Raises:
        InvalidIdentifier: with a message that never contains the value.
    """
    if system is IdentifierSystem.RESERVNUMMER:
        _validate_reserve(value)
        return
    if not _DIGITS12.match(value):
        raise InvalidIdentifier("must be 12 digits (yyyymmddnnnc) without separator")
    day_offset = 60 if system is IdentifierSystem.SAMORDNINGSNUMMER else 0
    _validate_date(value[:8], day_offset)
    if luhn_check_digit(value[2:11]) != int(value[11]):
        raise InvalidIdentifier("check digit does not match")


def _validate_reserve(value: str) -> None:
    match = _RESERVE.match(value)
    if not match:
        raise InvalidIdentifier("must be yyyymmdd, K/M/X, two digits and a check digit")
    birth_date, letter, serial, check = match.groups()
    _validate_date(birth_date, 0)
    body = birth_date[2:] + str(_RESERVE_LETTER_VALUE[letter]) + serial
    if luhn_check_digit(body) != int(check):
        raise InvalidIdentifier("check digit does not match")


def _validate_date(yyyymmdd: str, day_offset: int) -> None:
    year, month, day = int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8])
    try:
        dt.date(year, month, day - day_offset)
    except ValueError:
        raise InvalidIdentifier("does not contain a valid date") from None


def with_check_digit(system: IdentifierSystem, first_eleven: str) -> str:
    """Complete an 11-character identifier with its check digit (for synthetic data)."""
    if system is IdentifierSystem.RESERVNUMMER:
        body = first_eleven[2:8] + str(_RESERVE_LETTER_VALUE[first_eleven[8]]) + first_eleven[9:11]
    else:
        body = first_eleven[2:11]
    return first_eleven + str(luhn_check_digit(body))
