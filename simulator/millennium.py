"""The simulated Millennium interface engine: one message in, one decision out.

Order of decisions for each message:

1. down → the connection is closed, nothing applied;
2. structurally invalid, or (unless lenient) what a strict interface team
   refuses (simulator.strict) → AR;
3. MSH-10 already applied → the same ACK as the first time, nothing applied;
4. a rejected location → AR; an injected NAK → AE;
5. the state transition → AA, or AE when Millennium would refuse it;
6. an applied message may have its ACK withheld (injected ACK timeout).

Only *applied* messages (AA) are remembered for deduplication: an AE or AR
changed nothing, so a resend with the same MSH-10 is a fresh attempt (that is
how a transient AE can succeed on retry).

Thread-safe: the MLLP listener and the HTTP API call in from different threads,
and one lock serialises every read and change.

With a ``Journal`` every applied message is written to disk before its ACK
leaves and replayed at start (simulator/journal.py): the local run's simulator
is as durable as the rest of the local run. Statistics count since the start.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from shared.mllp.charset import UnsupportedCharset, codec_for
from simulator.acks import build_ack
from simulator.faults import Faults
from simulator.inbound import (
    APPLICATION_INTERNAL_ERROR,
    Header,
    Inbound,
    Rejected,
    read_inbound,
)
from simulator.journal import Holding, Journal
from simulator.state import MillenniumState, Outcome, Problem
from simulator.strict import DEFAULT_ZONE

log = logging.getLogger("simulator")

LOG_LIMIT = 500_000
"""Received-message log entries kept (enough for a year of SU bookings)."""

T = TypeVar("T")


@dataclass(frozen=True)
class Reply:
    """What the listener does: send ``ack`` bytes, stay silent, or close the connection."""

    ack: bytes | None
    close: bool = False


CLOSE = Reply(ack=None, close=True)


@dataclass(frozen=True)
class LogEntry:
    """One received message, without personal data."""

    control_id: str
    message_type: str
    ack_code: str  # AA / AE / AR
    ack_sent: bool
    visit_number: str


@dataclass(frozen=True)
class _Applied:
    fingerprint: str
    ack: bytes


class Millennium:
    """State, deduplication, faults, log and statistics behind one lock."""

    def __init__(
        self,
        *,
        seed: int | None = None,
        enforce_order: bool = True,
        time_zone: str = DEFAULT_ZONE,
        connection_limit: int | None = None,
        journal: Journal | None = None,
    ) -> None:
        self.faults = Faults(seed)
        self._enforce_order = enforce_order
        self.time_zone = time_zone  # the administrations' zone: every time must carry its offset
        self._journal = journal
        self._lock = threading.Lock()
        self._acknowledged = threading.Condition(self._lock)  # an ACK was counted
        self._ack_numbers = 0
        self.connection_limit = connection_limit  # None: as many as come
        self._open = 0  # connections open now (a reset does not close them)
        self._forget()
        if journal is not None:
            self._replay(journal)

    def reset(self) -> None:
        """Forget everything: state, deduplication, log, statistics, faults and journal."""
        with self._lock:
            self._forget()
            if self._journal is not None:
                self._journal.clear()

    def _forget(self) -> None:
        self.state = MillenniumState(enforce_order=self._enforce_order)
        self._applied: dict[str, _Applied] = {}
        self._log: deque[LogEntry] = deque(maxlen=LOG_LIMIT)
        self._stats: Counter[str] = Counter()
        self._by_type: Counter[str] = Counter()
        self._by_ack: Counter[str] = Counter()
        self.faults.reset()

    def _replay(self, journal: Journal) -> None:
        """Rebuild state, deduplication and log from the journal (at start)."""
        from simulator.fhir import seed_patient

        with self._lock:
            for entry in journal.entries():
                if entry.kind == "seed":
                    seed_patient(self.state, entry.seed_body())
                    continue
                # Accepted when it was written; a stricter simulator may refuse it now.
                inbound = read_inbound(entry.payload, strict=False, zone=self.time_zone)
                outcome = self.state.apply(inbound)
                if outcome.code != "AA":  # a stricter simulator than the one that wrote it
                    self._stats["replay_refusals"] += 1
                    log.warning("journal replay: %s answered %s", entry.control_id, outcome.code)
                    continue
                self._applied[entry.control_id] = _Applied(inbound.fingerprint, entry.ack)
                self._log.append(
                    LogEntry(
                        entry.control_id,
                        inbound.message_type,
                        "AA",
                        True,
                        inbound.visit.visit_number,
                    )
                )
                self._ack_numbers += 1
            self._stats["replayed"] = len(self._applied)

    def close(self) -> None:
        """Close the journal (after the listeners stopped)."""
        with self._lock:
            if self._journal is not None:
                self._journal.close()
                self._journal = None

    def seed(self, action: Callable[[MillenniumState], T], body: object) -> T:
        """Run a seeding ``action`` under the lock and journal its ``body`` (FHIR seed)."""
        with self._lock:
            result = action(self.state)
            if self._journal is not None:
                self._journal.seeded(body)
            return result

    def with_state(self, action: Callable[[MillenniumState], T]) -> T:
        """Run ``action`` on the state under the lock (consistent views, seeding)."""
        with self._lock:
            return action(self.state)

    def accept_connection(self) -> bool:
        """False (and counted) while down: the listener closes the connection."""
        if self.faults.is_down():
            with self._lock:
                self._stats["refused_connections"] += 1
            return False
        return True

    def connection_opened(self) -> bool:
        """Count a new connection; False (and counted) when it is one more than
        ``connection_limit`` allows, as an interface engine that accepts only so
        many connections per inbound interface would: it is closed at once."""
        with self._lock:
            if self.connection_limit is not None and self._open >= self.connection_limit:
                self._stats["over_limit_connections"] += 1
                return False
            self._open += 1
            self._stats["max_connections_seen"] = max(
                self._stats["max_connections_seen"], self._open
            )
            return True

    def connection_closed(self) -> None:
        with self._lock:
            self._open -= 1

    def count_framing_error(self) -> None:
        with self._lock:
            self._stats["framing_errors"] += 1

    def handle(self, block: bytes) -> Reply:
        """Decide the answer to one frame's payload and apply it to the state."""
        with self._lock:
            if self.faults.is_down():
                self._stats["refused_connections"] += 1
                return CLOSE
            self._stats["received"] += 1
            strict = not self.faults.lenient
            self.state.strict = strict
            try:
                inbound = read_inbound(block, strict=strict, zone=self.time_zone)
            except Rejected as rejected:
                return self._reject(rejected)
            return self._handle(inbound, block)

    def _handle(self, inbound: Inbound, block: bytes) -> Reply:
        self._by_type[inbound.message_type] += 1
        applied = self._applied.get(inbound.control_id)
        if applied is not None:
            self._stats["deduplicated"] += 1
            if applied.fingerprint != inbound.fingerprint:
                # Same MSH-10, different content: the sender reused a control id
                # for another message, and Millennium will silently ignore it.
                self._stats["control_id_conflicts"] += 1
            return self._answer(inbound, "AA", applied.ack)
        outcome = self._decide(inbound)
        if outcome.problem is not None:
            self._stats[outcome.problem.value] += 1
        ack = self._ack_bytes(
            inbound.header, outcome.code, error_code=outcome.error_code, text=outcome.text
        )
        if outcome.code == "AA":
            self._applied[inbound.control_id] = _Applied(inbound.fingerprint, ack)
            if self._journal is not None:
                self._journal.applied(inbound.control_id, block, ack, self._holding(inbound))
        return self._answer(inbound, outcome.code, ack)

    def _holding(self, inbound: Inbound) -> tuple[str, Holding]:
        number = inbound.visit.visit_number
        held = Holding(
            encounter=number in self.state.encounters,
            appointment=self.state.appointment_for_visit(number) is not None,
            pending_admit=number in self.state.pending_admits,
        )
        return number, held

    def _decide(self, inbound: Inbound) -> Outcome:
        rejected_location = self.faults.rejects_any(inbound.locations)
        if rejected_location is not None:
            return Outcome(
                "AR",
                None,
                "103",  # HL7 table 0357: table value not found
                f"location {rejected_location} is not known to Millennium",
            )
        if self.faults.roll_nak():
            self._stats["naks_injected"] += 1
            return Outcome(
                "AE", None, APPLICATION_INTERNAL_ERROR, "simulated application error; try again"
            )
        return self.state.apply(inbound)

    def _answer(self, inbound: Inbound, code: str, ack: bytes) -> Reply:
        withhold = code == "AA" and self.faults.roll_ack_timeout()
        if withhold:
            self._stats["acks_withheld"] += 1
        else:
            self._by_ack[code] += 1
            self._acknowledged.notify_all()
        self._record(
            inbound.header, code, sent=not withhold, visit_number=inbound.visit.visit_number
        )
        return Reply(ack=None if withhold else ack)

    def _reject(self, rejected: Rejected) -> Reply:
        header = rejected.header
        if header.message_type:
            self._by_type[header.message_type] += 1
        self._by_ack["AR"] += 1
        self._acknowledged.notify_all()
        if rejected.location or rejected.error_code == "102":
            self._stats["strict_rejections"] += 1
        ack = self._ack_bytes(
            header,
            "AR",
            error_code=rejected.error_code,
            text=rejected.text,
            location=rejected.location,
        )
        self._record(header, "AR", sent=True, visit_number="")
        return Reply(ack=ack)

    def _ack_bytes(
        self, header: Header, code: str, *, error_code: str, text: str, location: str = ""
    ) -> bytes:
        self._ack_numbers += 1
        ack = build_ack(
            header,
            code,
            ack_control_id=f"MIL{self._ack_numbers:09d}",
            error_code=error_code,
            text=text,
            location=location,
        )
        try:
            codec = codec_for(header.charset)
        except UnsupportedCharset:
            codec = "ascii"
        return ack.encode(codec, errors="replace")

    def _record(self, header: Header, code: str, *, sent: bool, visit_number: str) -> None:
        entry = LogEntry(header.control_id, header.message_type, code, sent, visit_number)
        self._log.append(entry)
        # Control ids, types and codes only: never names or identity numbers.
        log.debug(
            "received %s %s -> %s%s",
            entry.control_id or "(no MSH-10)",
            entry.message_type or "(unknown type)",
            code,
            "" if sent else " (ACK withheld)",
        )

    # --- views for the HTTP API and tests ---

    def stats(self) -> dict[str, Any]:
        with self._lock:
            counters = (
                "received",
                "deduplicated",
                "acks_withheld",
                "naks_injected",
                "refused_connections",
                "over_limit_connections",
                "max_connections_seen",
                "framing_errors",
                "control_id_conflicts",
                "strict_rejections",
                "replayed",
                "replay_refusals",
                *(problem.value for problem in Problem),
            )
            return {
                **{name: self._stats[name] for name in counters},
                "connections_open": self._open,
                "connection_limit": self.connection_limit,
                "by_type": dict(sorted(self._by_type.items())),
                "by_ack": dict(sorted(self._by_ack.items())),
            }

    def wait_for_acks(self, code: str, at_least: int, timeout: float) -> int:
        """Block until ``at_least`` ACKs with ``code`` were sent or ``timeout``
        seconds passed; how many were sent. A benchmark waits here instead of
        polling ``stats`` (which took the CPU the system under test needed)."""
        with self._acknowledged:
            self._acknowledged.wait_for(lambda: self._by_ack[code] >= at_least, timeout)
            return self._by_ack[code]

    def log_entries(self) -> list[LogEntry]:
        with self._lock:
            return list(self._log)

    def history(self, visit_number: str) -> list[LogEntry]:
        """The log entries of one booking (by visit number), oldest first."""
        with self._lock:
            return [entry for entry in self._log if entry.visit_number == visit_number]
