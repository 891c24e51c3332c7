"""Single-use launch codes in the ``launches`` table.

A code is 256 random bits (43 URL-safe characters). The table keeps only its
SHA-256: someone who can read the table cannot rebuild a live link from it.

Rows of this module (the audit has its own, see `shared.launch.audit`):

* ``code-<sha256 of the code, hex>`` / ``code``: launch id, caller, target,
  administration, user, target URL, created, expires, used;
* ``request-<sha256 of caller and webhook-id, hex>`` / ``request``: when a signed
  request was used (the replay guard).

Redeeming is atomic: the code row is updated on the condition of the ETag just
read, so of two clicks (or two browsers) racing for one code exactly one wins;
the other sees a conflict and gets the "used" answer.

Used, expired and unknown codes get one answer (410, one page), and after the
first refusal of a code they cost the same: one read, no write. The *first*
refusal of a used or expired code marks its row (``refusedAt``, conditionally,
so of racing refusals one does it) and only that one is audited: a browser or a
link scanner retrying a dead link cannot fill the audit, and a repeated refusal
cannot be told from an unknown code by its time. A malformed code is read for
too (the key is a hash, whatever the code holds), so it takes as long.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from shared.crosswalk.port import Entity, TableStore, Value
from shared.errors import ConcurrencyConflict, EntityExists
from shared.names import TABLE_LAUNCHES

CODE_BYTES = 32
"""256 random bits: far beyond guessing (the brief asks for at least 128)."""
CODE_LIFETIME = dt.timedelta(seconds=60)
"""How long a code may wait for its click (the brief's maximum)."""

_CODE = re.compile(r"^[A-Za-z0-9_-]{43}$")  # token_urlsafe(32)
_CODE_ROW = "code"
_REQUEST_ROW = "request"


@dataclass(frozen=True)
class LaunchRecord:
    """One launch: who asked for what, and where the code leads. No identity numbers."""

    launch_id: str
    caller: str
    target: str
    administration: str
    user_hsa_id: str
    url: str
    person_id: str
    encounter_id: str
    booking_id: str
    created_at: dt.datetime
    expires_at: dt.datetime


class GoneReason(StrEnum):
    UNKNOWN = "unknown"  # never issued, mistyped, or not a code at all
    USED = "used"
    EXPIRED = "expired"


@dataclass(frozen=True)
class Redeemed:
    record: LaunchRecord


@dataclass(frozen=True)
class Gone:
    reason: GoneReason
    record: LaunchRecord | None = None  # known for used and expired codes
    first_refusal: bool = False  # this call marked the code refused: audit it (once)


def new_code() -> str:
    return secrets.token_urlsafe(CODE_BYTES)


def new_launch_id() -> str:
    """A public id for one launch request: log lines and audit rows use it, never the code."""
    return "L" + secrets.token_hex(8)


class LaunchCodes:
    """Issue and redeem codes.

    Raises (every method): TransientError from the store.
    """

    def __init__(self, store: TableStore, clock: Callable[[], dt.datetime]) -> None:
        self._store = store
        self._clock = clock

    def issue(self, record: LaunchRecord, code: str) -> None:
        """Store ``code`` for ``record``.

        Raises:
            EntityExists: the code exists already (never, with 256 random bits).
        """
        self._store.insert(TABLE_LAUNCHES, _code_key(code), _CODE_ROW, _record_data(record))

    def redeem(self, code: str) -> Redeemed | Gone:
        """Use ``code`` once: the first caller gets the record, every later one `Gone`."""
        # Read even for a malformed code: every refusal then costs the same.
        entity = self._store.get(TABLE_LAUNCHES, _code_key(code), _CODE_ROW)
        if entity is None or not _CODE.match(code):
            return Gone(GoneReason.UNKNOWN)
        record = _record_from(entity.data)
        if entity.data.get("refusedAt"):  # refused (and audited) before
            reason = GoneReason.USED if entity.data.get("usedAt") else GoneReason.EXPIRED
            return Gone(reason, record)
        now = self._clock()
        if entity.data.get("usedAt"):
            return self._refuse(entity, GoneReason.USED, record, now)
        if now >= record.expires_at:
            return self._refuse(entity, GoneReason.EXPIRED, record, now)
        try:
            self._store.update(
                TABLE_LAUNCHES,
                entity.partition_key,
                entity.row_key,
                {**entity.data, "usedAt": now.isoformat()},
                entity.etag,
            )
        except ConcurrencyConflict:
            return Gone(GoneReason.USED, record)  # another click won the race
        return Redeemed(record)

    def _refuse(
        self, entity: Entity, reason: GoneReason, record: LaunchRecord, now: dt.datetime
    ) -> Gone:
        """The first refusal of a code: mark it, so it is audited once."""
        try:
            self._store.update(
                TABLE_LAUNCHES,
                entity.partition_key,
                entity.row_key,
                {**entity.data, "refusedAt": now.isoformat()},
                entity.etag,
            )
        except ConcurrencyConflict:
            return Gone(reason, record)  # a racing refusal marked it (or a click used it)
        return Gone(reason, record, first_refusal=True)

    def claim_request(self, caller: str, webhook_id: str) -> bool:
        """Record that a signed request was used; False when it was used before (a replay).

        The signature is valid for ±5 minutes, so without this a captured request
        could be replayed for a fresh code within that window.
        """
        digest = hashlib.sha256(f"{caller}\n{webhook_id}".encode()).hexdigest()
        try:
            self._store.insert(
                TABLE_LAUNCHES,
                f"request-{digest}",
                _REQUEST_ROW,
                {"caller": caller, "usedAt": self._clock().isoformat()},
            )
        except EntityExists:
            return False
        return True


def _code_key(code: str) -> str:
    return "code-" + hashlib.sha256(code.encode()).hexdigest()


def _record_data(record: LaunchRecord) -> dict[str, Value]:
    return {
        "launchId": record.launch_id,
        "caller": record.caller,
        "target": record.target,
        "administration": record.administration,
        "userHsaId": record.user_hsa_id,
        "url": record.url,
        "personId": record.person_id,
        "encounterId": record.encounter_id,
        "bookingId": record.booking_id,
        "createdAt": record.created_at.isoformat(),
        "expiresAt": record.expires_at.isoformat(),
        "usedAt": "",
    }


def _record_from(data: Mapping[str, Value]) -> LaunchRecord:
    return LaunchRecord(
        launch_id=str(data["launchId"]),
        caller=str(data["caller"]),
        target=str(data["target"]),
        administration=str(data["administration"]),
        user_hsa_id=str(data["userHsaId"]),
        url=str(data["url"]),
        person_id=str(data["personId"]),
        encounter_id=str(data["encounterId"]),
        booking_id=str(data["bookingId"]),
        created_at=dt.datetime.fromisoformat(str(data["createdAt"])),
        expires_at=dt.datetime.fromisoformat(str(data["expiresAt"])),
    )
