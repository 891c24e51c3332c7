"""The ER7 ("pipe and hat") encoding of HL7 v2: delimiters, escaping, timestamps.

Everything we render uses the standard delimiters ``| ^ ~ \\ &``. Data placed in a
message always goes through :func:`escape`, so a name such as ``Berg|Ström`` can
never be read as two fields. Reading (ACKs from Millennium) honours whatever
delimiters the other side declared in its MSH-1/MSH-2.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import lru_cache

FIELD = "|"
COMPONENT = "^"
REPETITION = "~"
ESCAPE = "\\"
SUBCOMPONENT = "&"
ENCODING_CHARACTERS = COMPONENT + REPETITION + ESCAPE + SUBCOMPONENT
"""MSH-2 as we send it."""
SEGMENT_TERMINATOR = "\r"
HL7_NULL = '""'
"""The null value: the receiver clears the field. An empty field means "no change"."""

_DELIMITER_ESCAPES = {
    ESCAPE: "\\E\\",  # first in meaning: the escape character itself
    FIELD: "\\F\\",
    COMPONENT: "\\S\\",
    SUBCOMPONENT: "\\T\\",
    REPETITION: "\\R\\",
}
# A control character in data could end the segment (CR) or the MLLP frame (0x0B,
# 0x1C): every C0 character and DEL goes out as hex data, so a rendered message can
# never contain one. Intake refuses them in names and codes in the first place.
_CONTROL_ESCAPES = {chr(code): f"\\X{code:02X}\\" for code in (*range(0x20), 0x7F)}
_ESCAPES = str.maketrans({**_DELIMITER_ESCAPES, **_CONTROL_ESCAPES})
_NEEDS_ESCAPE = re.compile(r"[|^~\\&\x00-\x1f\x7f]")


def escape(value: str) -> str:
    """``value`` with every delimiter and control character replaced by its escape."""
    # Most values need nothing; the search is cheaper than an unconditional translate.
    if _NEEDS_ESCAPE.search(value) is None:
        return value
    return value.translate(_ESCAPES)


def message(segments: list[str]) -> str:
    """Segments as one ER7 message: every segment, the last one too, ends with ``\\r``."""
    return SEGMENT_TERMINATOR.join(segments) + SEGMENT_TERMINATOR


def components(*values: str) -> str:
    """Join already-escaped components with ``^``, dropping empty trailing ones."""
    return COMPONENT.join(values).rstrip(COMPONENT)


def subcomponents(*values: str) -> str:
    """Join already-escaped subcomponents with ``&``, dropping empty trailing ones."""
    return SUBCOMPONENT.join(values).rstrip(SUBCOMPONENT)


def segment(name: str, fields: dict[int, str]) -> str:
    """A segment from ``{field number: already-escaped value}``; gaps stay empty.

    Not for MSH, whose field numbering is shifted by the field separator.
    """
    values = [""] * (max(fields) + 1)
    values[0] = name
    for number, value in fields.items():
        values[number] = value
    return FIELD.join(values).rstrip(FIELD)


def dtm(moment: dt.datetime, zone: dt.tzinfo) -> str:
    """``moment`` as an HL7 DTM to the second, in ``zone`` with the offset of that instant.

    ``2026-12-01T07:00:00Z`` in Europe/Stockholm becomes ``20261201080000+0100``;
    ``2026-07-01T06:00:00Z`` becomes ``20260701080000+0200``. The instant is kept;
    only how it is written changes, so durations stay elapsed time.

    Raises:
        ValueError: ``moment`` is naive (HL7 times we send always carry an offset).
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("HL7 timestamps need a UTC offset; got a naive datetime")
    return _local_dtm(moment, zone)


@lru_cache(maxsize=16)
def _local_dtm(moment: dt.datetime, zone: dt.tzinfo) -> str:
    # A message names its start time up to five times (SCH-11, TQ1, AIS, AIL, AIP):
    # the conversion is remembered for the message being rendered, not repeated.
    local = moment.astimezone(zone)
    offset = local.utcoffset()
    assert offset is not None  # an aware datetime converted to a tzinfo stays aware
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    hours, minutes = divmod(abs(minutes), 60)
    return (
        f"{local.year:04d}{local.month:02d}{local.day:02d}"
        f"{local.hour:02d}{local.minute:02d}{local.second:02d}"
        f"{sign}{hours:02d}{minutes:02d}"
    )


@dataclass(frozen=True)
class Delimiters:
    """The delimiters a received message declares in MSH-1 and MSH-2."""

    field: str = FIELD
    component: str = COMPONENT
    repetition: str = REPETITION
    escape: str = ESCAPE
    subcomponent: str = SUBCOMPONENT

    @classmethod
    def of(cls, text: str) -> Delimiters:
        """The delimiters of the message ``text`` (which starts with ``MSH``).

        Raises:
            ValueError: ``text`` does not start with an MSH segment header.
        """
        if not text.startswith("MSH") or len(text) < 8:
            raise ValueError("not an HL7 v2 message: it does not start with MSH")
        declared = text[3:8]
        if len(set(declared)) != 5:
            raise ValueError("MSH-1/MSH-2 do not declare five distinct delimiters")
        return cls(declared[0], declared[1], declared[2], declared[3], declared[4])


def unescape(value: str, delimiters: Delimiters = Delimiters()) -> str:
    """Undo HL7 escape sequences (``\\F\\``, ``\\X0D\\``, ``\\.br\\`` …) in ``value``.

    Unknown sequences (highlighting, character-set switches) are dropped: they
    carry no text.
    """
    if delimiters.escape not in value:
        return value
    return _unescape_pattern(delimiters).sub(lambda match: _unescaped(match, delimiters), value)


@lru_cache(maxsize=4)
def _unescape_pattern(delimiters: Delimiters) -> re.Pattern[str]:
    escape_char = re.escape(delimiters.escape)
    return re.compile(f"{escape_char}([^{escape_char}]*){escape_char}")


def _unescaped(match: re.Match[str], delimiters: Delimiters) -> str:
    code = match.group(1)
    simple = {
        "F": delimiters.field,
        "S": delimiters.component,
        "T": delimiters.subcomponent,
        "R": delimiters.repetition,
        "E": delimiters.escape,
        ".br": "\n",
    }
    if code in simple:
        return simple[code]
    if code[:1] == "X" and len(code) % 2 == 1:
        try:
            return bytes.fromhex(code[1:]).decode("latin-1")
        except ValueError:
            return ""
    return ""
