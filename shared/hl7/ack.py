"""HL7 v2 acknowledgments: read Millennium's, build the simulator's.

Original acknowledgment mode: every message is answered by one ACK whose MSA-1
says what happened (``AA`` accepted, ``AE`` application error, ``AR`` rejected)
and whose MSA-2 echoes the message's MSH-10. What the sync does with each code
is in ``docs/hl7-mapping.md``.

The helpers here read the first segment only, without a full parse: they run on
every exchange.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from shared.errors import PermanentError
from shared.hl7.er7 import (
    ENCODING_CHARACTERS,
    FIELD,
    Delimiters,
    components,
    dtm,
    escape,
    message,
    segment,
    unescape,
)

ACK_CODES = frozenset({"AA", "AE", "AR", "CA", "CE", "CR"})
"""MSA-1 values (HL7 table 0008): original mode A*, enhanced mode C*."""
ACCEPTED = frozenset({"AA", "CA"})
"""Applied: original mode AA, enhanced mode CA."""
REJECTED = frozenset({"AR", "CR"})
"""Refused for good: sending the message again cannot help."""

ERROR_CODE_TEXT = {
    "0": "Message accepted",
    "100": "Segment sequence error",
    "101": "Required field missing",
    "102": "Data type error",
    "103": "Table value not found",
    "200": "Unsupported message type",
    "201": "Unsupported event code",
    "202": "Unsupported processing id",
    "203": "Unsupported version id",
    "204": "Unknown key identifier",
    "205": "Duplicate key identifier",
    "206": "Application record locked",
    "207": "Application internal error",
}
"""ERR-3 codes (HL7 table 0357) and their texts."""

_SEGMENT_SPLIT = re.compile(r"\r\n|\r|\n")


class MalformedHl7(PermanentError, ValueError):
    """The text is not an HL7 v2 message (no MSH segment header)."""


class NotAnAck(MalformedHl7):
    """The text is an HL7 message but not an acknowledgment (no MSA, bad MSA-1)."""


@dataclass(frozen=True)
class Ack:
    """An acknowledgment as the sync needs it."""

    code: str  # MSA-1
    control_id: str  # MSA-2: the MSH-10 of the message acknowledged
    error_text: str  # ERR / MSA-3 text; "" when none
    # ERR-3.1 (HL7 table 0357), or v2.4 ERR-1.4.1; not part of equality, so an Ack
    # still compares by what it says (code, id, text).
    error_codes: tuple[str, ...] = field(default=(), compare=False)


def parse_ack(text: str) -> Ack:
    """Read MSA-1, MSA-2 and the error text of an acknowledgment.

    The error text joins, without repeats, MSA-3 and per ERR segment its user
    message (ERR-8), diagnostic (ERR-7), HL7 error code (ERR-3) or v2.4-style
    ERR-1 code text.

    Raises:
        MalformedHl7: ``text`` is not an HL7 v2 message.
        NotAnAck: no MSA segment, or MSA-1 is not an acknowledgment code.
    """
    delimiters = _delimiters(text)
    segments = [line for line in _SEGMENT_SPLIT.split(text.strip()) if line]
    msa = _first(segments, "MSA", delimiters)
    if msa is None:
        raise NotAnAck("HL7 message has no MSA segment; it is not an acknowledgment")
    code = _at(msa, 1).strip().upper()
    if code not in ACK_CODES:
        raise NotAnAck(f"MSA-1 must be one of {sorted(ACK_CODES)}")
    texts = [_text(_at(msa, 3), delimiters)]
    codes: list[str] = []
    for fields in _all(segments, "ERR", delimiters):
        texts.append(_err_text(fields, delimiters))
        codes.append(_err_code(fields, delimiters))
    unique = dict.fromkeys(part for part in texts if part)
    error_codes = tuple(dict.fromkeys(c for c in codes if c))
    return Ack(code, unescape(_at(msa, 2), delimiters).strip(), "; ".join(unique), error_codes)


def render_ack(
    message_text: str,
    code: str,
    error_text: str = "",
    *,
    control_id: str,
    sent_at: dt.datetime | None = None,
    error_code: str = "207",
) -> str:
    """A v2.5.1 ACK answering the received ``message_text``.

    MSH-3..6 mirror the message's MSH-5, 6, 3, 4; MSH-9 is ``ACK^<event>^ACK``;
    MSH-11 and MSH-18 echo the message's; MSA-2 echoes its MSH-10. When
    ``code`` is not an acceptance an ERR segment carries ``error_code`` (HL7
    table 0357, default 207 "Application internal error"), severity ``E`` and
    ``error_text`` as the user message (ERR-8). ``sent_at`` defaults to now.

    Raises:
        MalformedHl7: ``message_text`` is not an HL7 v2 message.
        ValueError: ``code`` is not an acknowledgment code, or ``error_text``
            is given with an acceptance.
    """
    if code not in ACK_CODES:
        raise ValueError(f"acknowledgment code must be one of {sorted(ACK_CODES)}")
    if code in ACCEPTED and error_text:
        raise ValueError("an accepting acknowledgment carries no error text")
    delimiters = _delimiters(message_text)
    header = _header_fields(message_text, delimiters)

    def received(number: int) -> str:
        # Re-escape with our delimiters: the sender may have declared others.
        return escape(unescape(_msh(header, number), delimiters))

    event = unescape(_component(_msh(header, 9), 1, delimiters), delimiters)
    moment = sent_at or dt.datetime.now(dt.UTC).astimezone()
    msh = FIELD.join(
        [
            "MSH",
            ENCODING_CHARACTERS,
            received(5),
            received(6),
            received(3),
            received(4),
            dtm(moment, moment.tzinfo or dt.UTC),  # as the caller's clock shows it
            "",
            components("ACK", escape(event), "ACK"),
            escape(control_id),
            received(11),
            "2.5.1",
            *([""] * 5),  # MSH-13..17
            received(18),
        ]
    ).rstrip(FIELD)
    lines = [msh, segment("MSA", {1: code, 2: received(10)})]
    if code not in ACCEPTED:
        error = components(escape(error_code), escape(ERROR_CODE_TEXT.get(error_code, "")))
        lines.append(
            segment("ERR", {3: components(error, "HL70357"), 4: "E", 8: escape(error_text)})
        )
    return message(lines)


def message_control_id(text: str) -> str:
    """MSH-10 of ``text``, read from the first segment only.

    Raises:
        MalformedHl7: ``text`` is not an HL7 v2 message.
    """
    delimiters = _delimiters(text)
    return unescape(_msh(_header_fields(text, delimiters), 10), delimiters).strip()


def header_field(text: str, number: int) -> str:
    """MSH-``number`` of ``text`` as written (MSH-1 is the field separator itself);
    ``""`` when absent. The one reader of the header: control id, type, structure
    and character set all come through it.

    Raises:
        MalformedHl7: ``text`` is not an HL7 v2 message.
    """
    return _msh(_header_fields(text, _delimiters(text)), number)


def message_type(text: str) -> str:
    """MSH-9.1 and MSH-9.2 of ``text`` as ``type^event`` (``"ADT^A05"``).

    This is the spelling of :class:`shared.targets.Trigger` values, so
    ``Trigger(message_type(text))`` works for the messages we send.

    Raises:
        MalformedHl7: ``text`` is not an HL7 v2 message.
    """
    delimiters = _delimiters(text)
    field = _msh(_header_fields(text, delimiters), 9)
    kind = _component(field, 0, delimiters)
    event = _component(field, 1, delimiters)
    return f"{kind}^{event}" if event else kind


def message_structure(text: str) -> str:
    """MSH-9.3, the abstract message structure (``"ADT_A05"``); ``""`` if absent.

    Raises:
        MalformedHl7: ``text`` is not an HL7 v2 message.
    """
    delimiters = _delimiters(text)
    return _component(_msh(_header_fields(text, delimiters), 9), 2, delimiters)


# --- reading helpers ---------------------------------------------------------------


def _delimiters(text: str) -> Delimiters:
    try:
        return Delimiters.of(text.lstrip())
    except ValueError as error:
        raise MalformedHl7(str(error)) from None


def _header_fields(text: str, delimiters: Delimiters) -> list[str]:
    header = _SEGMENT_SPLIT.split(text.lstrip(), maxsplit=1)[0]
    return header.split(delimiters.field)


def _msh(fields: list[str], number: int) -> str:
    """MSH-``number`` from the split header (MSH-1 is the separator itself)."""
    return _at(fields, number - 1)


def _at(fields: list[str], index: int) -> str:
    return fields[index] if index < len(fields) else ""


def _component(field: str, index: int, delimiters: Delimiters) -> str:
    first_repetition = field.split(delimiters.repetition, 1)[0]
    return _at(first_repetition.split(delimiters.component), index)


def _first(segments: list[str], name: str, delimiters: Delimiters) -> list[str] | None:
    return next(iter(_all(segments, name, delimiters)), None)


def _all(segments: list[str], name: str, delimiters: Delimiters) -> list[list[str]]:
    prefix = name + delimiters.field
    return [line.split(delimiters.field) for line in segments if line.startswith(prefix)]


def _text(value: str, delimiters: Delimiters) -> str:
    return unescape(value, delimiters).strip()


def _err_code(fields: list[str], delimiters: Delimiters) -> str:
    """The HL7 error code of one ERR segment (ERR-3.1; v2.4 and older: ERR-1.4.1)."""
    code = _text(_component(_at(fields, 3), 0, delimiters), delimiters)
    if code:
        return code
    legacy = _component(_at(fields, 1), 3, delimiters).split(delimiters.subcomponent)
    return _text(legacy[0], delimiters) if legacy else ""


def _err_text(fields: list[str], delimiters: Delimiters) -> str:
    """The most telling text of one ERR segment."""
    for number in (8, 7):  # user message, diagnostic information
        text = _text(_at(fields, number), delimiters)
        if text:
            return text
    hl7_error = _at(fields, 3)
    text = _text(_component(hl7_error, 1, delimiters), delimiters)
    code = _text(_component(hl7_error, 0, delimiters), delimiters)
    if text or code:
        return f"{code} {text}".strip()
    # v2.4 and older: ERR-1 is segment^sequence^field^code&text&system
    legacy = _component(_at(fields, 1), 3, delimiters).split(delimiters.subcomponent)
    return " ".join(_text(part, delimiters) for part in legacy[:2] if part).strip()
