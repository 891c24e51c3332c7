"""Last-line redaction of anything that looks like a Swedish personal identity number.

Used on text that comes from outside (Millennium's ERR text) before it is stored
in a dead-letter reason, and by the telemetry processor before export. It is a
second line of defence: the first is never putting personal data there at all.
"""

from __future__ import annotations

import re

# 10 or 12 digits, optionally with - or + before the last four; reserve numbers
# have a K/M/X in place of the first serial digit.
_IDENTITY_LIKE = re.compile(
    r"(?<![0-9A-Za-z])(?:\d{2})?\d{6}[-+]?(?:\d{4}|[KMX]\d{3})(?![0-9A-Za-z])"
)
MASK = "[redacted]"


def redact(text: str) -> str:
    """``text`` with identity-number-like sequences replaced by ``[redacted]``."""
    return _IDENTITY_LIKE.sub(MASK, text)


def looks_like_identity_number(text: str) -> bool:
    return _IDENTITY_LIKE.search(text) is not None
