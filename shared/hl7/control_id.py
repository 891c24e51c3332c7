"""Deterministic message control ids (MSH-10).

MSH-10 is how Millennium (and its ACK's MSA-2) tells messages apart, so it is
derived from what the message *is*, never from a clock or a counter:

* A message that is **in doubt** (timeout, broken connection, an ACK for another
  id) may already have been applied. It is resent with the *same* inputs, hence
  the same MSH-10, and the receiver recognises and ignores the duplicate. A crash
  between send and ACK therefore cannot create a second encounter.
* After an **AE** the message was definitely not applied; the next try is a new
  message (``attempt`` + 1, so a new MSH-10), which a receiver that deduplicates
  by MSH-10 would otherwise swallow as a repeat of the failed one.

The id is the first 100 bits of a SHA-256 over the inputs, in base32: 20
characters of ``A-Z2-7``, well inside HL7's 20-character ST and the ``[A-Z0-9]``
alphabet every receiver accepts. Even a billion messages collide with
probability about 10⁻¹².
"""

from __future__ import annotations

import base64
import hashlib

from shared.hl7.triggers import Trigger
from shared.targets import Target

CONTROL_ID_LENGTH = 20
_SEPARATOR = "\x1f"  # ASCII unit separator: cannot occur in a booking id


def control_id(
    booking_id: str, target: Target, trigger: Trigger, version: int, attempt: int
) -> str:
    """MSH-10 for one message: the same inputs always give the same id.

    ``version`` is the snapshot version the message carries; ``attempt`` counts
    the application errors (AE) already answered to this transition.

    Raises:
        ValueError: ``version`` or ``attempt`` is negative, or ``booking_id`` empty.
    """
    if not booking_id:
        raise ValueError("booking_id must not be empty")
    if version < 0 or attempt < 0:
        raise ValueError("version and attempt must not be negative")
    key = _SEPARATOR.join((booking_id, target.value, trigger.value, str(version), str(attempt)))
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    return base64.b32encode(digest).decode("ascii")[:CONTROL_ID_LENGTH]
