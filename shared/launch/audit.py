"""The audit of every launch, for the patient data act's access log (patientdatalagen).

One row per event in the ``launches`` table, one partition per UTC day, so "every
launch on a day" is a single partition query:

    partition key  audit-<yyyymmdd>
    row key        <hhmmssffffff>|<launch id>|<event>|<random>

Events: ``created`` (201), ``refused`` (a signed request answered 4xx/503),
``followed`` (302: the browser was sent to the target) and ``gone`` (410 for a
used or expired code). Each row names the user by HSA-id, the caller, target,
administration, the target system's ids (Millennium person/encounter id, Orbit
booking id), the status, a reason and when — never an identity number or a name.
The Millennium person id is what ties a row to a patient for whoever reads the log
with access to Millennium.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from enum import StrEnum

from shared.crosswalk.port import TableStore, Value
from shared.names import TABLE_LAUNCHES

AUDIT_PREFIX = "audit-"


class AuditEvent(StrEnum):
    CREATED = "created"
    REFUSED = "refused"
    FOLLOWED = "followed"
    GONE = "gone"


@dataclass(frozen=True)
class AuditEntry:
    launch_id: str
    event: AuditEvent
    at: dt.datetime
    status: int
    reason: str
    correlation_id: str
    caller: str = ""
    target: str = ""
    administration: str = ""
    user_hsa_id: str = ""
    person_id: str = ""
    encounter_id: str = ""
    booking_id: str = ""


def audit_partition(day: dt.date) -> str:
    return f"{AUDIT_PREFIX}{day:%Y%m%d}"


def write_audit(store: TableStore, entry: AuditEntry) -> None:
    """Insert one audit row.

    Raises:
        TransientError: the table cannot be reached (callers then fail closed).
        EntityExists: never in practice (32 random bits on top of the microsecond).
    """
    at = entry.at.astimezone(dt.UTC)
    data: dict[str, Value] = {
        "launchId": entry.launch_id,
        "event": entry.event.value,
        "at": at.isoformat(),
        "status": entry.status,
        "reason": entry.reason,
        "correlationId": entry.correlation_id,
        "caller": entry.caller,
        "target": entry.target,
        "administration": entry.administration,
        "userHsaId": entry.user_hsa_id,
        "personId": entry.person_id,
        "encounterId": entry.encounter_id,
        "bookingId": entry.booking_id,
    }
    # The random tail keeps two events of one launch in the same microsecond apart
    # (racing clicks on one code each get a "gone" row).
    row_key = f"{at:%H%M%S%f}|{entry.launch_id}|{entry.event.value}|{secrets.token_hex(4)}"
    store.insert(TABLE_LAUNCHES, audit_partition(at.date()), row_key, data)


def audit_of_day(store: TableStore, day: dt.date) -> list[dict[str, Value]]:
    """Every audit row of one UTC day, in time order."""
    return [dict(entity.data) for entity in store.query(TABLE_LAUNCHES, audit_partition(day))]
