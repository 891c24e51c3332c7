"""Strict structural validation of an HL7 v2 message with hl7apy.

Used by the tests, the benchmark and the Millennium simulator (a structurally
invalid message is answered ``AR``). hl7apy is imported lazily: it is slow to
import and the function app never needs it on its hot path.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from shared.errors import PermanentError

EXPECTED_WARNING = re.compile(
    r"^Value (NNSWE not in table HL70203|HL7\d{4} not in table HL70396"
    r"|(KVA|ICD-10-SE) not in table HL70396) in element "
)
"""Warnings our own messages raise by design.

hl7apy lists table values literally, so it knows neither the pattern entries
``NNxxx`` of table 0203 (``NNSWE``: national identifier, Sweden) and ``HL7nnnn``
of table 0396 (``HL70357``: an HL7 table as coding system), nor the local coding
systems we name (``KVA`` for KVÅ, ``ICD-10-SE``).
"""


class InvalidMessage(PermanentError, ValueError):
    """The message does not parse or does not validate against HL7 v2.5.1."""


def validate_strict(text: str) -> list[str]:
    """Parse ``text`` (segments joined by ``\\r``) strictly and validate it.

    Returns hl7apy's warnings (values not in an HL7 table, values longer than
    the standard's suggested length); an empty list means none.

    Raises:
        InvalidMessage: hl7apy's first parse or validation error (wrong segment
            order, missing required field, bad data type or timestamp, …).
    """
    from hl7apy.consts import VALIDATION_LEVEL
    from hl7apy.exceptions import HL7apyException
    from hl7apy.parser import parse_message

    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "report.txt"
        try:
            message = parse_message(
                text, validation_level=VALIDATION_LEVEL.STRICT, find_groups=True
            )
            message.validate(report_file=str(report))
        except (HL7apyException, ValueError) as error:
            # hl7apy raises plain ValueError for bad dates and numbers.
            raise InvalidMessage(f"{type(error).__name__}: {error}") from None
        lines = report.read_text(encoding="utf-8").splitlines()
    return [line.removeprefix("Warning: ") for line in lines if line.startswith("Warning: ")]


def unexpected_warnings(warnings: list[str]) -> list[str]:
    """The ``warnings`` that :data:`EXPECTED_WARNING` does not explain."""
    return [warning for warning in warnings if not EXPECTED_WARNING.match(warning)]
