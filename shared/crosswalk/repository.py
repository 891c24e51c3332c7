"""The crosswalk repository: bookings' snapshots and per-target sync state.

Layout in the ``bookings`` table, one partition per booking (key = Orbit booking
id, which is never personal data):

* row ``snapshot``: the newest Orbit snapshot, its version and when it arrived;
* rows ``target|encounter``, ``target|appointment``, ``target|bed``: the
  confirmed Millennium facts, the in-doubt intent, retry and blocked state;
* rows ``audit|<time>|<n>``: what happened (event ids, versions, HL7 control ids,
  ACK codes, reasons) with no personal data;
* rows ``converged|<version>``: when every target first held what that snapshot
  version asks for, and the sync lag (written once per version).

Every update is conditional on the ETag read (optimistic concurrency).
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from shared.booking import BookingSnapshot
from shared.crosswalk.port import Entity, TableStore, Value
from shared.errors import EntityExists
from shared.names import TABLE_BOOKINGS
from shared.sync.channel import Prepared
from shared.targets import FACTS_MODEL, Facts, Target

SNAPSHOT_ROW = "snapshot"
TARGET_PREFIX = "target|"
AUDIT_PREFIX = "audit|"
CONVERGED_PREFIX = "converged|"


@dataclass(frozen=True)
class StoredSnapshot:
    snapshot: BookingSnapshot
    received_at: dt.datetime
    event_id: str
    correlation_id: str
    etag: str | None = None
    # 0 for the booking's first patient, +1 per correction of the patient in Orbit
    # (shared.targets: the Millennium aliases carry it). Intake sets it.
    patient_generation: int = 0

    @property
    def version(self) -> int:
        return self.snapshot.version


@dataclass(frozen=True)
class Intent:
    """A prepared operation about to be (or maybe already) applied by Millennium.

    Recorded before the send; while it is here the send is *in doubt* and the
    channel's prepared payload is resent unchanged (same idempotency key, for
    HL7 the MSH-10) until an answer settles it. The core never looks inside
    ``prepared.payload``.
    """

    prepared: Prepared
    version: int
    confirms: Facts | None  # the confirmed facts once applied (None: the target is removed)
    created_at: dt.datetime
    attempts: int = 0

    @property
    def key(self) -> str:
        return self.prepared.key

    @property
    def label(self) -> str:
        return self.prepared.label


@dataclass(frozen=True)
class Blocked:
    """A permanent failure; further kicks for the same desired facts are ignored
    until the snapshot changes or an operator resubmits."""

    reason: str
    description: str
    fingerprint: str
    at: dt.datetime


@dataclass(frozen=True)
class TargetState:
    target: Target
    confirmed: Facts | None = None
    confirmed_version: int = 0
    seq: int = 0  # increments on every confirmation: names dependency kicks
    intent: Intent | None = None
    ae_attempts: int = 0  # AE answers since the last AA or resubmit (the retry limit)
    refusals: int = 0  # AE/AR answers since the last AA; never reset by a resubmit
    retries: int = 0
    blocked: Blocked | None = None
    etag: str | None = None


@dataclass(frozen=True)
class AuditRecord:
    kind: str  # event-stored, event-stale, sent, ack, retry, dead-letter, ...
    at: dt.datetime
    target: str = ""
    version: int = 0
    trigger: str = ""
    control_id: str = ""
    ack_code: str = ""
    reason: str = ""
    detail: str = ""  # never personal data
    extra: Mapping[str, Value] = field(default_factory=dict)


_audit_counter = itertools.count()


class Crosswalk:
    """Domain operations on the crosswalk, over any `TableStore` adapter.

    Raises (every method): ConcurrencyConflict, EntityExists, TransientError —
    from the store, unchanged.
    """

    def __init__(self, store: TableStore) -> None:
        self._store = store

    # --- snapshot -------------------------------------------------------------
    def load_snapshot(self, booking_id: str) -> StoredSnapshot | None:
        entity = self._store.get(TABLE_BOOKINGS, booking_id, SNAPSHOT_ROW)
        return _snapshot_from(entity) if entity else None

    def save_snapshot(self, stored: StoredSnapshot, previous: StoredSnapshot | None) -> None:
        """Insert the first snapshot, or replace ``previous`` if it is unchanged."""
        data = _snapshot_data(stored)
        booking_id = stored.snapshot.booking_id
        if previous is None or previous.etag is None:
            self._store.insert(TABLE_BOOKINGS, booking_id, SNAPSHOT_ROW, data)
        else:
            self._store.update(TABLE_BOOKINGS, booking_id, SNAPSHOT_ROW, data, previous.etag)

    # --- targets --------------------------------------------------------------
    def load_targets(self, booking_id: str) -> dict[Target, TargetState]:
        states = {target: TargetState(target) for target in Target}
        for entity in self._store.query(TABLE_BOOKINGS, booking_id, TARGET_PREFIX):
            state = _target_from(entity)
            states[state.target] = state
        return states

    def save_target(self, booking_id: str, state: TargetState) -> TargetState:
        """Write ``state`` conditionally on the ETag it was read with."""
        row_key = TARGET_PREFIX + state.target.value
        data = _target_data(state)
        if state.etag is None:
            entity = self._store.insert(TABLE_BOOKINGS, booking_id, row_key, data)
        else:
            entity = self._store.update(TABLE_BOOKINGS, booking_id, row_key, data, state.etag)
        return replace(state, etag=entity.etag)

    # --- audit ----------------------------------------------------------------
    def audit(self, booking_id: str, record: AuditRecord) -> None:
        data: dict[str, Value] = {
            "kind": record.kind,
            "at": record.at.isoformat(),
            "target": record.target,
            "version": record.version,
            "trigger": record.trigger,
            "controlId": record.control_id,
            "ackCode": record.ack_code,
            "reason": record.reason,
            "detail": record.detail,
            **record.extra,
        }
        for _ in range(3):
            row_key = f"{AUDIT_PREFIX}{record.at:%Y%m%dT%H%M%S%f}|{next(_audit_counter):08d}"
            try:
                self._store.insert(TABLE_BOOKINGS, booking_id, row_key, data)
                return
            except EntityExists:  # another process used the same counter value
                continue

    def audit_trail(self, booking_id: str) -> list[dict[str, Value]]:
        return [dict(e.data) for e in self._store.query(TABLE_BOOKINGS, booking_id, AUDIT_PREFIX)]

    # --- convergence ----------------------------------------------------------------
    def mark_converged(self, booking_id: str, version: int, at: dt.datetime, lag_ms: int) -> bool:
        """Record that ``version`` converged; False if it was already recorded (so the
        sync lag is reported once per version however many workers notice)."""
        row_key = f"{CONVERGED_PREFIX}{version:010d}"
        data: dict[str, Value] = {"version": version, "at": at.isoformat(), "lagMs": lag_ms}
        try:
            self._store.insert(TABLE_BOOKINGS, booking_id, row_key, data)
        except EntityExists:
            return False
        return True

    def convergences(self, booking_id: str) -> list[dict[str, Value]]:
        """The recorded convergences of the booking, oldest version first."""
        rows = self._store.query(TABLE_BOOKINGS, booking_id, CONVERGED_PREFIX)
        return [dict(e.data) for e in rows]

    def booking_ids(self) -> list[str]:
        """Every booking with a snapshot (for the operators' message browser)."""
        return [e.partition_key for e in self._store.scan(TABLE_BOOKINGS, row_key=SNAPSHOT_ROW)]

    def snapshots_of(self, administration: str) -> Iterator[StoredSnapshot]:
        """Every stored snapshot of one administration (for the go-live), read in one
        scan; other administrations' rows are skipped before their JSON is parsed."""
        for entity in self._store.scan(TABLE_BOOKINGS, row_key=SNAPSHOT_ROW):
            if entity.data.get("administration") == administration:
                yield _snapshot_from(entity)


# --- (de)serialisation ------------------------------------------------------------


def _snapshot_data(stored: StoredSnapshot) -> dict[str, Value]:
    return {
        "version": stored.snapshot.version,
        "administration": stored.snapshot.administration,
        "status": stored.snapshot.status.value,
        "snapshot": stored.snapshot.model_dump_json(by_alias=True),
        "receivedAt": stored.received_at.isoformat(),
        "eventId": stored.event_id,
        "correlationId": stored.correlation_id,
        "patientGeneration": stored.patient_generation,
    }


def _snapshot_from(entity: Entity) -> StoredSnapshot:
    data = entity.data
    return StoredSnapshot(
        snapshot=_parsed_snapshot(str(data["snapshot"])),
        received_at=dt.datetime.fromisoformat(str(data["receivedAt"])),
        event_id=str(data["eventId"]),
        correlation_id=str(data["correlationId"]),
        etag=entity.etag,
        patient_generation=int(data.get("patientGeneration", 0)),
    )


def facts_json(facts: Facts | None) -> str:
    return facts.model_dump_json() if facts is not None else ""


def facts_from_json(target: Target, raw: str) -> Facts | None:
    return _parsed_facts(target, raw) if raw else None


# Every step of every worker reads the booking's snapshot and target rows again
# (level-triggered), mostly the same JSON it read a moment ago: parsing it was a
# tenth of a worker's CPU. The models are frozen and the key is the text itself,
# so a cached model is exactly what parsing that text gives.
PARSED_CACHE_SIZE = 2048


@functools.lru_cache(maxsize=PARSED_CACHE_SIZE)
def _parsed_snapshot(raw: str) -> BookingSnapshot:
    return BookingSnapshot.model_validate_json(raw)


@functools.lru_cache(maxsize=PARSED_CACHE_SIZE)
def _parsed_facts(target: Target, raw: str) -> Facts:
    return FACTS_MODEL[target].model_validate_json(raw)


def _target_data(state: TargetState) -> dict[str, Value]:
    return {
        "target": state.target.value,
        "confirmed": facts_json(state.confirmed),
        "confirmedVersion": state.confirmed_version,
        "seq": state.seq,
        "intent": _intent_json(state.intent),
        "aeAttempts": state.ae_attempts,
        "refusals": state.refusals,
        "retries": state.retries,
        "blocked": _blocked_json(state.blocked),
    }


def _target_from(entity: Entity) -> TargetState:
    data = entity.data
    target = Target(str(data["target"]))
    return TargetState(
        target=target,
        confirmed=facts_from_json(target, str(data.get("confirmed", ""))),
        confirmed_version=int(data.get("confirmedVersion", 0)),
        seq=int(data.get("seq", 0)),
        intent=_intent_from(target, str(data.get("intent", ""))),
        ae_attempts=int(data.get("aeAttempts", 0)),
        refusals=int(data.get("refusals", 0)),
        retries=int(data.get("retries", 0)),
        blocked=_blocked_from(str(data.get("blocked", ""))),
        etag=entity.etag,
    )


LEGACY_CHANNEL = "hl7v2"
"""The channel of intents written before channels existed (all were HL7 v2)."""


def _intent_json(intent: Intent | None) -> str:
    if intent is None:
        return ""
    prepared = intent.prepared
    return json.dumps(
        {
            "channel": prepared.channel,
            "key": prepared.key,
            "label": prepared.label,
            "payload": prepared.payload,
            "version": intent.version,
            "confirms": facts_json(intent.confirms),
            "createdAt": intent.created_at.isoformat(),
            "attempts": intent.attempts,
        },
        ensure_ascii=False,
    )


def _intent_from(target: Target, raw: str) -> Intent | None:
    """Read an intent, also in the layout written before channels existed
    (``trigger``, ``controlId``, ``message``, ``encoding``: an HL7 v2 message
    whose MSH-18 says how to encode it), so a deployed stamp's in-doubt sends
    survive the upgrade and are resent with the same MSH-10."""
    if not raw:
        return None
    data: dict[str, Any] = json.loads(raw)
    if "payload" in data:
        prepared = Prepared(data["channel"], data["key"], data["label"], data["payload"])
    else:
        prepared = Prepared(
            LEGACY_CHANNEL, data["controlId"], data["trigger"], _terminated(data["message"])
        )
    return Intent(
        prepared=prepared,
        version=int(data["version"]),
        confirms=facts_from_json(target, data["confirms"]),
        created_at=dt.datetime.fromisoformat(data["createdAt"]),
        attempts=int(data["attempts"]),
    )


def _terminated(er7: str) -> str:
    """The previous layout's messages lacked the carriage return after the last
    segment, which a strict interface refuses; the resend adds it (same MSH-10)."""
    return er7 if er7.endswith("\r") else er7 + "\r"


def _blocked_json(blocked: Blocked | None) -> str:
    if blocked is None:
        return ""
    return json.dumps(
        {
            "reason": blocked.reason,
            "description": blocked.description,
            "fingerprint": blocked.fingerprint,
            "at": blocked.at.isoformat(),
        }
    )


def _blocked_from(raw: str) -> Blocked | None:
    if not raw:
        return None
    data = json.loads(raw)
    return Blocked(
        reason=data["reason"],
        description=data["description"],
        fingerprint=data["fingerprint"],
        at=dt.datetime.fromisoformat(data["at"]),
    )
