"""Text → bytes exactly as MSH-18 declares.

The profile chooses the character set (``UNICODE UTF-8`` or ``8859/1``) and the
renderer writes it into MSH-18; the bytes on the wire must then be encoded with
the same set, otherwise Swedish names (å, ä, ö, é) arrive garbled.
"""

from __future__ import annotations

from shared.errors import UnencodableText
from shared.hl7.ack import header_field
from shared.hl7.er7 import SEGMENT_TERMINATOR
from shared.profiles import Profile


def encode_message(text: str, profile: Profile) -> bytes:
    """``text`` encoded with ``profile.encoding``, which its MSH-18 must declare.

    Raises:
        UnencodableText: a character cannot be carried by the charset; the text
            names the segment and field, never the character or the data.
        ValueError: MSH-18 of ``text`` is not ``profile.charset`` (a bug).
    """
    declared = msh18(text)
    if declared != profile.charset:
        raise ValueError(
            f"MSH-18 declares {declared!r} but profile {profile.code} "
            f"encodes as {profile.charset!r}"
        )
    try:
        return text.encode(profile.encoding)
    except UnicodeEncodeError as error:
        raise UnencodableText(
            f"{field_at(text, error.start)} holds a character that MSH-18 charset "
            f"{profile.charset} of profile {profile.code} cannot carry; correct the "
            f"data in Orbit or switch the profile to UNICODE UTF-8"
        ) from None


def msh18(text: str) -> str:
    """MSH-18 (character set) of ``text``; ``""`` when absent.

    Raises:
        MalformedHl7: ``text`` does not start with an MSH segment.
    """
    return header_field(text, 18)


def field_at(text: str, offset: int) -> str:
    """The HL7 position (e.g. ``PID-5``) of character ``offset`` in ``text``."""
    segment_start = text.rfind(SEGMENT_TERMINATOR, 0, offset) + 1
    name = text[segment_start : segment_start + 3]
    field_number = text.count(text[3], segment_start, offset)
    if name == "MSH":
        field_number += 1  # MSH-1 is the field separator itself
    return f"{name}-{field_number}"
