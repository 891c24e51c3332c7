"""The simulator's durable state: every applied message, kept in SQLite and replayed at start.

A real Millennium does not forget its encounters when the integration restarts,
so neither may the simulator of the local run: a forgetful one makes the
crosswalk ("confirmed in Millennium") and Millennium disagree after every
restart. The journal keeps, in order, each message that was *applied* (answered
AA) with the ACK it got, and each patient seeded over FHIR. At start the
simulator replays them through its own state machine, so the state, the
deduplication by MSH-10 and the ACK of a resend are as before the restart.

Next to the journal a ``holdings`` table says, per visit number, whether
Millennium holds the encounter, the appointment and the pending admit: the
local run's operator tools read it (``localrun.millennium_view``) to tell when
the crosswalk claims something Millennium does not hold.

Written before the ACK leaves (inside the simulator's lock), in WAL mode: a
``kill -9`` loses no applied message. The file holds the synthetic patients'
messages, as the crosswalk holds their snapshots: local data only.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS journal (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,            -- 'hl7' (an applied message) or 'seed' (FHIR seed)
    control_id TEXT NOT NULL,      -- MSH-10 ('' for a seed)
    payload BLOB NOT NULL,         -- the message bytes, or the seed's JSON
    ack BLOB NOT NULL              -- the ACK bytes sent ('' for a seed)
);
CREATE TABLE IF NOT EXISTS holdings (
    visit_number TEXT PRIMARY KEY,
    encounter INTEGER NOT NULL,
    appointment INTEGER NOT NULL,
    pending_admit INTEGER NOT NULL
);
"""


@dataclass(frozen=True)
class JournalEntry:
    kind: str  # "hl7" or "seed"
    control_id: str
    payload: bytes
    ack: bytes

    def seed_body(self) -> Any:
        return json.loads(self.payload)


@dataclass(frozen=True)
class Holding:
    """What Millennium holds for one visit number (the Orbit booking id)."""

    encounter: bool
    appointment: bool
    pending_admit: bool


class Journal:
    """Append-only log of applied messages and seeds, plus the holdings per visit number."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # durable against a process crash
        self._db.executescript(_SCHEMA)

    def entries(self) -> Iterator[JournalEntry]:
        """Every entry, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT kind, control_id, payload, ack FROM journal ORDER BY seq"
            ).fetchall()
        for kind, control_id, payload, ack in rows:
            yield JournalEntry(kind, control_id, bytes(payload), bytes(ack))

    def applied(
        self, control_id: str, payload: bytes, ack: bytes, holding: tuple[str, Holding]
    ) -> None:
        """Record one applied message and what Millennium now holds for its visit number."""
        visit_number, held = holding
        with self._lock:
            self._db.execute("BEGIN")
            self._db.execute(
                "INSERT INTO journal (kind, control_id, payload, ack) VALUES ('hl7', ?, ?, ?)",
                (control_id, payload, ack),
            )
            if visit_number:
                self._db.execute(
                    "INSERT OR REPLACE INTO holdings VALUES (?, ?, ?, ?)",
                    (visit_number, held.encounter, held.appointment, held.pending_admit),
                )
            self._db.execute("COMMIT")

    def seeded(self, body: Any) -> None:
        """Record one FHIR-seeded patient (replayed like a message)."""
        data = json.dumps(body, ensure_ascii=False).encode()
        with self._lock:
            self._db.execute(
                "INSERT INTO journal (kind, control_id, payload, ack) VALUES ('seed', '', ?, ?)",
                (data, b""),
            )

    def clear(self) -> None:
        """Forget everything (the simulator's reset)."""
        with self._lock:
            self._db.execute("BEGIN")
            self._db.execute("DELETE FROM journal")
            self._db.execute("DELETE FROM holdings")
            self._db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._db.close()


def read_holdings(path: Path, visit_numbers: list[str] | None = None) -> dict[str, Holding]:
    """The holdings in a journal file, read-only (for tools in another process).

    Raises:
        FileNotFoundError: there is no journal at ``path``.
        sqlite3.Error: the file is not a simulator journal.
    """
    if not path.exists():
        raise FileNotFoundError(str(path))
    query = "SELECT visit_number, encounter, appointment, pending_admit FROM holdings"
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        if visit_numbers is None:
            rows = db.execute(query).fetchall()
        else:
            marks = ",".join("?" * len(visit_numbers))
            rows = db.execute(f"{query} WHERE visit_number IN ({marks})", visit_numbers).fetchall()
    return {visit: Holding(bool(enc), bool(appt), bool(admit)) for visit, enc, appt, admit in rows}
