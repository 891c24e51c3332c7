"""What a strict Millennium interface rejects although the structure is fine.

A Cerner interface team reads more than segment order: how each segment ends,
what offset a time carries, how text is normalised, how long a field is, which
field a value is in. These checks are the simulator's own (no code shared with
the integration's renderer), so the two cannot share a misreading. Each problem
is one :class:`Violation` naming the HL7 position (``PV2-11``) and saying what is
wrong, never quoting the data.

The field lengths are HL7 v2.5.1's (chapter 2 and the segment tables) for the
fields an Orbit message carries; any component is at most 199 characters (ST).
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from simulator.er7 import Er7Message

DEFAULT_ZONE = "Europe/Stockholm"

FIELD_LENGTH: dict[tuple[str, int], int] = {
    ("MSH", 10): 20,
    ("PID", 3): 250,
    ("PID", 5): 250,
    ("PID", 7): 26,
    ("PID", 8): 1,
    ("PV1", 3): 80,
    ("PV1", 7): 250,
    ("PV1", 19): 250,
    ("PV1", 50): 250,
    ("PV2", 10): 3,
    ("SCH", 1): 75,
    ("SCH", 2): 75,
    ("SCH", 6): 250,
    ("SCH", 7): 250,
    ("SCH", 11): 200,
    ("TQ1", 6): 20,
    ("DG1", 3): 250,
    ("AIS", 3): 250,
    ("AIL", 3): 80,
    ("AIP", 3): 250,
}
"""Maximum length of a whole field as sent (escaped), HL7 v2.5.1."""
COMPONENT_LENGTH = 199
"""ST, the text type of names, ids and code texts."""

TIMES: tuple[tuple[str, int, int], ...] = (
    ("MSH", 7, 1),
    ("EVN", 2, 1),
    ("PV1", 44, 1),
    ("PV2", 8, 1),
    ("SCH", 11, 4),
    ("SCH", 11, 5),
    ("TQ1", 7, 1),
    ("TQ1", 8, 1),
    ("AIS", 4, 1),
    ("AIL", 6, 1),
    ("AIP", 6, 1),
)
"""(segment, field, component) of every time an Orbit message carries."""

BED_BOOKING_TYPES = frozenset({"ADT^A14", "ADT^A27"})
UPDATING_SCHEDULE_TYPES = frozenset({"SIU^S13", "SIU^S14"})
RESOURCE_SEGMENTS = ("RGS", "AIS", "AIG", "AIL", "AIP")
SEGMENT_ACTION_CODES = frozenset({"A", "D", "U", "X"})  # HL7 table 0206
_DTM = re.compile(r"^(\d{14})(?:\.\d{1,4})?([+-])(\d{2})(\d{2})$")
_CONTROL = re.compile(r"[\x00-\x0c\x0e-\x1f\x7f]")  # CR (0x0D) ends segments


@dataclass(frozen=True)
class Violation:
    error_code: str  # HL7 table 0357
    location: str  # e.g. "PV2-11" (ERR-2 is built from it); "" for the whole message
    text: str


DATA_TYPE_ERROR = "102"
REQUIRED_FIELD_MISSING = "101"


def violations(text: str, message: Er7Message, zone_name: str = DEFAULT_ZONE) -> list[Violation]:
    """Every strictness problem of one decoded message, in a stable order."""
    zone = ZoneInfo(zone_name)
    found = _framing(text, message)
    found += _times(message, zone, zone_name)
    found += _lengths(message)
    message_type = message.get("MSH", 9, 1) + "^" + message.get("MSH", 9, 2)
    if message_type in BED_BOOKING_TYPES:
        found += _actual_stay(message)
    if message_type in UPDATING_SCHEDULE_TYPES:
        found += _action_codes(message)
    return found


def _framing(text: str, message: Er7Message) -> list[Violation]:
    found = []
    if not message.last_segment_terminated:
        found.append(
            Violation(DATA_TYPE_ERROR, "", "the last segment does not end with a carriage return")
        )
    if "\n" in text or _CONTROL.search(text):
        found.append(
            Violation(DATA_TYPE_ERROR, "", "the message contains control characters besides CR")
        )
    if not unicodedata.is_normalized("NFC", text):
        found.append(Violation(DATA_TYPE_ERROR, "", "text is not Unicode NFC (composed)"))
    return found


def _times(message: Er7Message, zone: ZoneInfo, zone_name: str) -> list[Violation]:
    found = []
    for segment, field, component in TIMES:
        for occurrence in range(1, message.count(segment) + 1):
            value = message.get(segment, field, component, occurrence=occurrence)
            if not value:
                continue
            problem = _time_problem(value, zone, zone_name)
            if problem:
                found.append(Violation(DATA_TYPE_ERROR, f"{segment}-{field}", problem))
    return found


def _time_problem(value: str, zone: ZoneInfo, zone_name: str) -> str:
    match = _DTM.match(value)
    if match is None:
        return "is not a time to the second with a UTC offset (YYYYMMDDHHMMSS+HHMM)"
    digits, sign, hours, minutes = match.groups()
    try:
        wall = dt.datetime.strptime(digits, "%Y%m%d%H%M%S")
    except ValueError:
        return "is not a valid date and time"
    offset = dt.timedelta(hours=int(hours), minutes=int(minutes))
    if sign == "-":
        offset = -offset
    instant = (wall - offset).replace(tzinfo=dt.UTC)
    expected = instant.astimezone(zone).utcoffset()
    if expected != offset:
        return (
            f"carries offset {sign}{hours}{minutes}, but {zone_name} is at "
            f"{_format(expected)} at that instant"
        )
    return ""


def _format(offset: dt.timedelta | None) -> str:
    minutes = int(offset.total_seconds()) // 60 if offset is not None else 0
    sign = "-" if minutes < 0 else "+"
    hours, minutes = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}{minutes:02d}"


def _lengths(message: Er7Message) -> list[Violation]:
    found = []
    for name, fields in message.segments():
        first_data_field = 3 if name == "MSH" else 1
        for number in range(first_data_field, len(fields)):
            value = fields[number]
            limit = FIELD_LENGTH.get((name, number))
            if limit is not None and len(value) > limit:
                found.append(
                    _too_long(name, number, f"is {len(value)} characters; at most {limit}")
                )
            elif _longest_component(value, message) > COMPONENT_LENGTH:
                found.append(
                    _too_long(name, number, f"has a component over {COMPONENT_LENGTH} characters")
                )
    return found


def _longest_component(value: str, message: Er7Message) -> int:
    if len(value) <= COMPONENT_LENGTH:
        return len(value)
    parts = re.split(f"[{re.escape(message.component + message.repetition)}]", value)
    return max(len(part) for part in parts)


def _too_long(segment: str, field: int, text: str) -> Violation:
    return Violation(DATA_TYPE_ERROR, f"{segment}-{field}", text)


def _actual_stay(message: Er7Message) -> list[Violation]:
    if not message.raw("PV2", 11):
        return []
    return [
        Violation(
            DATA_TYPE_ERROR,
            "PV2-11",
            "PV2-11 is the actual length of stay, unknown for a bed booking; "
            "send the expected nights in PV2-10",
        )
    ]


def _action_codes(message: Er7Message) -> list[Violation]:
    """v2.5.1 chapter 10: the segment action code (RGS-2, AIS-2, AIG-2, AIL-2, AIP-2)
    "is required for all updating or modifying trigger events"; without it a
    receiver cannot tell a resource that stays from one that replaces another."""
    found = []
    for segment in RESOURCE_SEGMENTS:
        for occurrence in range(1, message.count(segment) + 1):
            if message.get(segment, 2, occurrence=occurrence) not in SEGMENT_ACTION_CODES:
                found.append(
                    Violation(
                        REQUIRED_FIELD_MISSING,
                        f"{segment}-2",
                        f"{segment}-2 segment action code (A, D, U or X) is required in "
                        "an updating trigger event",
                    )
                )
    return found
