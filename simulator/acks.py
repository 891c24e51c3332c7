"""Original-mode acknowledgments as Millennium sends them: MSH, MSA and, on errors, ERR.

The simulator builds its ACKs itself rather than with the integration's
``render_ack``, so a bug there cannot hide a bug in the integration's ACK parser.
The error text goes in MSA-3 (still common in v2 interfaces) and in ERR-3.2 and
ERR-8, so any reasonable parser finds it.
"""

from __future__ import annotations

import datetime as dt

from simulator.inbound import Header

SIMULATOR_APPLICATION = "MILLENNIUM"


def build_ack(
    header: Header,
    code: str,
    *,
    ack_control_id: str,
    error_code: str = "",
    text: str = "",
    location: str = "",
) -> str:
    """The ACK text for a message with ``header`` (which may be empty for garbage).

    ``code`` is AA, AE or AR; ``error_code`` is from HL7 table 0357; ``location``
    (e.g. ``PV2-11``) becomes ERR-2 (ERL: segment^sequence^field).
    """
    trigger = header.message_type.split("^")[1] if "^" in header.message_type else ""
    msh = [
        "MSH",
        "^~\\&",
        header.receiving_application or SIMULATOR_APPLICATION,
        header.receiving_facility,
        header.sending_application,
        header.sending_facility,
        dt.datetime.now(dt.UTC).strftime("%Y%m%d%H%M%S+0000"),
        "",
        f"ACK^{trigger}^ACK" if trigger else "ACK",
        ack_control_id,
        header.processing_id or "P",
        header.version or "2.5.1",
        "",
        "",
        "",
        "",
        "",
        header.charset,
    ]
    segments = ["|".join(msh).rstrip("|"), f"MSA|{code}|{escape(header.control_id)}|{escape(text)}"]
    if code != "AA":
        severity = "E"
        condition = f"{error_code}^{escape(text)}^HL70357" if error_code else ""
        segments.append(
            f"ERR||{_error_location(location)}|{condition}|{severity}||||{escape(text)}"
        )
    return "\r".join(segment.rstrip("|") for segment in segments) + "\r"


def _error_location(location: str) -> str:
    """ERR-2 (ERL) from ``SEG-n``: ``SEG^1^n``; empty when the message as a whole is wrong."""
    segment, _, field = location.partition("-")
    return f"{segment}^1^{field}" if segment and field.isdigit() else ""


def escape(text: str) -> str:
    """Escape HL7 delimiters in free text (default encoding characters)."""
    replacements = (
        ("\\", "\\E\\"),
        ("|", "\\F\\"),
        ("^", "\\S\\"),
        ("&", "\\T\\"),
        ("~", "\\R\\"),
        ("\r", " "),
        ("\n", " "),
    )
    for raw, escaped in replacements:
        text = text.replace(raw, escaped)
    return text
