"""Where each sweep resumes: one row per sweep in the ``retention`` table.

A run that stops early (its budget spent) saves the position it reached, and the
next run continues there instead of scanning the same rows again; a sweep that
reached the end of its table starts from the beginning next time. Rows that
became old behind the position are found on that next pass.

    partition key  cursor
    row key        <kind>               (e.g. booking-audit)
    properties     resume (the store's opaque cursor; "" = from the start), savedAt
"""

from __future__ import annotations

import datetime as dt

from shared.crosswalk.port import TableStore
from shared.names import TABLE_RETENTION
from shared.retention.sweeps import Kind, utc_text

_PARTITION = "cursor"


class Cursors:
    """Load and save sweep positions.

    Raises (every method): TransientError when the store cannot be reached.
    """

    def __init__(self, store: TableStore) -> None:
        self._store = store

    def load(self, kind: Kind) -> str | None:
        """The position to resume ``kind`` at; None: from the start."""
        entity = self._store.get(TABLE_RETENTION, _PARTITION, kind.value)
        resume = str(entity.data.get("resume", "")) if entity is not None else ""
        return resume or None

    def save(self, kind: Kind, resume: str | None, now: dt.datetime) -> None:
        """Remember where ``kind`` continues (None: from the start next time).

        Unconditional: with two runs at once (the timer and an operator's command)
        the last one to save wins; either way a row is removed by this pass or the
        next one, never kept for good.
        """
        data = {"resume": resume or "", "savedAt": utc_text(now)}
        self._store.upsert(TABLE_RETENTION, _PARTITION, kind.value, data)
