"""Retry policy: how long to wait before trying a target again."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with a cap and a per-booking jitter.

    ``max_in_doubt`` bounds how long an unacknowledged message is resent before
    an operator is asked to check Millennium by hand.
    """

    first_delay: float = 2.0
    max_delay: float = 300.0
    max_in_doubt: dt.timedelta = dt.timedelta(hours=24)

    def delay(self, attempt: int, booking_id: str) -> dt.timedelta:
        """Delay before retry number ``attempt`` (1-based)."""
        base = min(self.first_delay * 2 ** max(attempt - 1, 0), self.max_delay)
        # Spread retries of many bookings after an outage (deterministic, so testable).
        jitter = int(hashlib.sha256(booking_id.encode()).hexdigest()[:4], 16) / 0xFFFF
        return dt.timedelta(seconds=base * (1 + 0.2 * jitter))
