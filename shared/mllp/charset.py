"""HL7 character sets (MSH-18) and the Python codecs that put them on the wire.

The bytes on the wire must be encoded exactly as MSH-18 declares, otherwise
Swedish names (å, ä, ö, é) arrive garbled. HL7 table 0211 names the sets;
only those this integration may meet are mapped.
"""

from __future__ import annotations

from shared.errors import PermanentError

HL7_CHARSET_CODECS: dict[str, str] = {
    "": "ascii",  # MSH-18 empty: HL7's default is 7-bit ASCII
    "ASCII": "ascii",
    "8859/1": "iso-8859-1",
    "8859/15": "iso-8859-15",
    "UNICODE UTF-8": "utf-8",
}
"""MSH-18 value → Python codec name."""


class UnsupportedCharset(PermanentError, ValueError):
    """MSH-18 names a character set this integration does not support."""


def codec_for(msh18: str) -> str:
    """The Python codec for an MSH-18 value (``"UNICODE UTF-8"`` → ``"utf-8"``).

    Raises:
        UnsupportedCharset: the value is not in :data:`HL7_CHARSET_CODECS`.
    """
    try:
        return HL7_CHARSET_CODECS[msh18.strip().upper()]
    except KeyError:
        supported = ", ".join(repr(name) for name in HL7_CHARSET_CODECS if name)
        raise UnsupportedCharset(
            f"MSH-18 character set {msh18!r} is not supported; use one of {supported}"
        ) from None


def declared_charset(payload: bytes) -> str:
    """MSH-18 of a raw HL7 message, read without decoding the message.

    MSH-1 (the field separator) and the fields up to MSH-18 are ASCII in every
    supported set, so splitting the first segment's bytes is safe before the
    codec is known. Returns ``""`` when MSH-18 is absent.

    Raises:
        ValueError: the payload does not start with an MSH segment.
    """
    if not payload.startswith(b"MSH") or len(payload) < 4:
        raise ValueError("message does not start with an MSH segment")
    separator = payload[3:4]
    first_segment = payload.split(b"\r", 1)[0]
    fields = first_segment.split(separator)
    # fields[0] is "MSH" and fields[1] is MSH-2, so MSH-n is fields[n - 1].
    if len(fields) < 18:
        return ""
    value = fields[17]
    for delimiter in fields[1][:2]:  # MSH-2 starts with the component and repetition separators
        value = value.split(bytes([delimiter]), 1)[0]
    return value.decode("ascii", errors="replace").strip()
