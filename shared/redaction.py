"""Last-line redaction of anything that looks like a Swedish personal identity number.

Used on text that comes from outside (Millennium's ERR text) before it is stored
in a dead-letter reason, and by the telemetry processor before export. It is a
second line of defence: the first is never putting personal data there at all.
The pattern itself lives in `shared.identity` (one pattern for the whole app).
"""

from __future__ import annotations

from shared.identity import redact_identity_numbers

MASK = "[redacted]"


def redact(text: str) -> str:
    """``text`` with identity-number-like sequences replaced by ``[redacted]``."""
    return redact_identity_numbers(text, MASK)
