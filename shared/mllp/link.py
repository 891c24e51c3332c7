"""The HL7 channel's transport port: send HL7 bytes, get the checked ACK.

The adapter is ``shared.link.budget.BudgetedLink``: MLLP under the stamp's
connection budget. Tests use fakes and in-process simulators behind the same port.
"""

from __future__ import annotations

from typing import Protocol

from shared.hl7.ack import Ack


class HL7Link(Protocol):
    """Raises (exchange):
    AckTimeout, ConnectionFailed, AckMismatch: the message is in doubt.
    """

    def exchange(self, payload: bytes, *, codec: str) -> Ack:
        """Send ``payload`` (HL7 bytes encoded with ``codec``); return its checked ACK."""
