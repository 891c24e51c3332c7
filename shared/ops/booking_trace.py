"""Where is booking X? One booking's timeline, as the operator on call needs it.

``booking_trace`` is the one plain function behind both the HTTP endpoint
(``GET /api/ops/bookings/{bookingId}``) and the CLI (``python -m tools.ops booking``).
It reads only the crosswalk (and, where the caller can read them, the parked dead
letters) and returns a JSON-ready dict:

* ``snapshot``: the newest Orbit version, status, when it arrived, event and
  correlation ids;
* ``targets``: per Millennium target, desired vs. confirmed state: codes, HSA-ids
  and times, the patient only as "same as snapshot" / "differs", fields that
  differ, an in-doubt send, retries, a block;
* ``events``, ``messages`` (every HL7 message with MSH-10 and ACK), ``blocks``,
  ``deadLetters``, ``converged`` (sync lag per version), ``operatorActions``.

No personal data unless ``show_patient`` (the entrypoints allow that only to a
caller with the operators' key, and it is written to the audit trail). For a
booking with protected identity the location, time and surgeon stay hidden too
(brief §4), and so do dead-letter descriptions (they may name a location).
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from shared.crosswalk.port import Value
from shared.crosswalk.repository import AuditRecord, Crosswalk, StoredSnapshot, TargetState
from shared.deadletters.port import Letter
from shared.ops.millennium_view import MillenniumView, disagreements
from shared.sync.convergence import is_converged
from shared.targets import Facts, PatientFacts, Target, desired_facts, patient_facts

PATIENT_NOT_SHOWN = (
    "not shown: an authorised caller may ask for it (operators' key, showPatient / --show-patient)"
)
HIDDEN_PROTECTED = "hidden: protected identity"

_NEVER_SHOWN = frozenset(
    {"patient", "booking_id", "administration", "procedure_text"}
    | {"diagnosis_text", "cancellation_reason"}
)
"""Fact fields left out of every summary: the patient (compared instead), ids the
trace already names, and Orbit's free text."""
_HIDDEN_WHEN_PROTECTED = frozenset(
    {"location_hsa_id", "unit_hsa_id", "ward_hsa_id", "surgeon_hsa_id", "theatre"}
    | {"start", "end", "admit_at"}
)

_EVENT_KINDS = {"event-stored", "event-stale", "patient-corrected"}
_MESSAGE_KINDS = {"ack", "in-doubt"}
_DEAD_LETTER_KINDS = {"dead-lettered"}
_OPERATOR_KINDS = {"dead-letter-resubmitted", "dead-letter-purged", "patient-shown"}
_OPERATOR_FIELDS = (
    "at",
    "kind",
    "target",
    "reason",
    "letterId",
    "detail",
    "keyId",
    "correlationId",
)


def booking_trace(
    booking_id: str,
    crosswalk: Crosswalk,
    *,
    parked: Sequence[Letter] | None = None,
    show_patient: bool = False,
    accessed_by: str = "",
    key_id: str = "",
    correlation_id: str = "",
    clock: Callable[[], dt.datetime] | None = None,
    millennium: MillenniumView | None = None,
) -> dict[str, Any] | None:
    """The booking's trace, or None when the crosswalk knows nothing of it.

    With ``millennium`` the trace also asks what Millennium itself holds and, when
    that differs from what the crosswalk confirmed, says so and is not "in sync".

    ``parked`` are the dead letters the caller could read (None: not looked up).
    With ``show_patient`` the snapshot's patient is included and the access is
    written to the booking's audit trail: ``accessed_by`` says through what (e.g.
    "cli", "ops-api"), ``key_id`` with which operators' key (its id, never the
    key), ``correlation_id`` in which request.

    Raises:
        TransientError: the crosswalk is unreachable.
    """
    stored = crosswalk.load_snapshot(booking_id)
    audit = sorted(crosswalk.audit_trail(booking_id), key=lambda row: str(row.get("at", "")))
    if stored is None and not audit:
        return None
    protected = stored is not None and stored.snapshot.patient.protected_identity
    hide = protected and not show_patient
    states = crosswalk.load_targets(booking_id)
    generation = stored.patient_generation if stored is not None else 0
    check = _millennium_check(booking_id, generation, states, millennium)
    targets = {target.value: _target(stored, states[target], hide=hide) for target in Target}
    for target in check.get("disagreements", []):
        targets[target.split(":")[0]]["state"] = "DISAGREES WITH MILLENNIUM"
    trace: dict[str, Any] = {
        "bookingId": booking_id,
        "snapshot": _snapshot(stored),
        "patient": _patient(stored, show_patient),
        "inSync": stored is not None
        and is_converged(stored, states)
        and not check.get("disagreements"),
        "millennium": check,
        "targets": targets,
        "events": [
            _pick(row, "at", "kind", "version", "eventId", "detail")
            for row in audit
            if row.get("kind") in _EVENT_KINDS
        ],
        "messages": _messages(audit),
        "blocks": [
            _pick(row, "at", "target", "version", "reason")
            for row in audit
            if row.get("kind") == "blocked"
        ],
        "deadLetters": {
            "recorded": [
                _pick(row, "at", "target", "reason", "detail", "messageId")
                for row in audit
                if row.get("kind") in _DEAD_LETTER_KINDS
            ],
            "parked": _parked(booking_id, parked, hide=hide),
        },
        "converged": [
            _pick(row, "version", "at", "lagMs") for row in crosswalk.convergences(booking_id)
        ],
        "operatorActions": [
            _pick(row, *_OPERATOR_FIELDS) for row in audit if row.get("kind") in _OPERATOR_KINDS
        ],
    }
    if show_patient and stored is not None:
        access = {"keyId": key_id, "correlationId": correlation_id}
        _audit_patient_access(crosswalk, booking_id, accessed_by, access, clock)
    return trace


# --- sections ---------------------------------------------------------------------------


def _millennium_check(
    booking_id: str,
    generation: int,
    states: Mapping[Target, TargetState],
    view: MillenniumView | None,
) -> dict[str, Any]:
    found = disagreements(view, booking_id, generation, states) if view is not None else None
    if found is None:
        return {"checked": False, "note": "what Millennium itself holds is not checked here"}
    return {
        "checked": True,
        "agrees": not found,
        "disagreements": [
            f"{line} (the workers trust the crosswalk and will not resend it)"
            if "confirmed in the crosswalk" in line
            else line
            for line in found
        ],
    }


def _snapshot(stored: StoredSnapshot | None) -> dict[str, Any] | None:
    if stored is None:
        return None
    snapshot = stored.snapshot
    return {
        "version": snapshot.version,
        "status": snapshot.status.value,
        "administration": snapshot.administration,
        "admissionType": snapshot.admission.type.value,
        "protectedIdentity": snapshot.patient.protected_identity,
        "patientGeneration": stored.patient_generation,
        "receivedAt": stored.received_at.isoformat(),
        "eventId": stored.event_id,
        "correlationId": stored.correlation_id,
    }


def _patient(stored: StoredSnapshot | None, show: bool) -> Any:
    if stored is None:
        return None
    if not show:
        return PATIENT_NOT_SHOWN
    patient = stored.snapshot.patient
    return {
        "identifier": {
            "system": patient.identifier.system.value,
            "value": patient.identifier.value,
        },
        "familyName": patient.family_name,
        "givenName": patient.given_name,
        "protectedIdentity": patient.protected_identity,
    }


def _target(stored: StoredSnapshot | None, state: TargetState, *, hide: bool) -> dict[str, Any]:
    desired = (
        desired_facts(stored.snapshot, state.target, stored.patient_generation)
        if stored is not None
        else None
    )
    snapshot_patient = patient_facts(stored.snapshot) if stored is not None else None
    intent = state.intent
    return {
        "state": _state_name(desired, state),
        "desired": facts_summary(desired, hide=hide) or "must not exist in Millennium",
        "confirmed": facts_summary(state.confirmed, hide=hide) or "none in Millennium",
        "confirmedVersion": state.confirmed_version,
        "patient": patient_comparison(snapshot_patient, state.confirmed),
        "differs": differing_fields(desired, state.confirmed),
        "inDoubt": None
        if intent is None
        else {
            "trigger": intent.label,
            "controlId": intent.key,
            "version": intent.version,
            "sends": intent.attempts,
            "since": intent.created_at.isoformat(),
        },
        "retries": state.retries,
        "aeAttempts": state.ae_attempts,
        "blocked": None
        if state.blocked is None
        else {
            "reason": state.blocked.reason,
            "description": HIDDEN_PROTECTED if hide else state.blocked.description,
            "at": state.blocked.at.isoformat(),
        },
    }


def _state_name(desired: Facts | None, state: TargetState) -> str:
    if state.blocked is not None:
        return "blocked"
    if state.intent is not None:
        return "in doubt" if state.intent.attempts else "sending"
    if state.confirmed == desired:
        return "in sync"
    return "retrying" if state.retries else "not yet sent"


def facts_summary(facts: Facts | None, *, hide: bool) -> dict[str, Any] | None:
    """The facts without the patient and free text; without location, time and
    surgeon when ``hide`` (protected identity)."""
    if facts is None:
        return None
    hidden = _NEVER_SHOWN | (_HIDDEN_WHEN_PROTECTED if hide else frozenset())
    summary: dict[str, Any] = {
        key: value
        for key, value in json.loads(facts.model_dump_json()).items()
        if key not in hidden
    }
    if hide:
        summary["locationAndTime"] = HIDDEN_PROTECTED
    return summary


def patient_comparison(snapshot_patient: PatientFacts | None, confirmed: Facts | None) -> str:
    """How the patient Millennium holds compares with the snapshot's, in words."""
    if confirmed is None:
        return "-"
    if snapshot_patient is None:
        return "no snapshot to compare with"
    held = confirmed.patient
    if held == snapshot_patient:
        return "same as snapshot"
    if (held.system, held.value) == (snapshot_patient.system, snapshot_patient.value):
        return "same person, name or protection differs from snapshot"
    return "differs: another person than the snapshot's (patient corrected in Orbit)"


def differing_fields(desired: Facts | None, confirmed: Facts | None) -> list[str]:
    """Names of the fields where Millennium differs from the snapshot (names only)."""
    if desired is None or confirmed is None:
        return [] if desired is confirmed else ["existence"]
    wanted = desired.model_dump()
    held = confirmed.model_dump()
    return sorted(key for key in wanted.keys() | held.keys() if wanted.get(key) != held.get(key))


def _messages(audit: Sequence[Mapping[str, Value]]) -> list[dict[str, Any]]:
    """The sends in order, each with ``send``: how many times that MSH-10 has gone out
    so far. Not the row's ``attempt``, which starts again at 1 when an operator
    resubmits an in-doubt message (a fresh window of resends), while Millennium
    sees the same MSH-10 once more."""
    sends: Counter[str] = Counter()
    messages = []
    for row in audit:
        if row.get("kind") in _MESSAGE_KINDS:
            entry = _message(row)
            sends[str(row.get("controlId", ""))] += 1
            entry["send"] = sends[str(row.get("controlId", ""))]
            messages.append(entry)
    return messages


def _message(row: Mapping[str, Value]) -> dict[str, Any]:
    entry = _pick(row, "at", "target", "version", "trigger", "controlId", "attempt")
    entry["ack"] = row.get("ackCode") or "none (in doubt)"
    if row.get("reason"):  # why it is in doubt, or the ACK's text (an AE's, for Cerner)
        entry["why"] = row["reason"]
    return entry


def _parked(booking_id: str, parked: Sequence[Letter] | None, *, hide: bool) -> Any:
    if parked is None:
        return "not looked up here; run: .venv/bin/python -m tools.ops deadletters list"
    return [
        {
            "id": letter.id,
            "queue": letter.source_queue,
            "reason": letter.reason,
            "description": HIDDEN_PROTECTED if hide else letter.description,
            "at": letter.dead_lettered_at.isoformat() if letter.dead_lettered_at else None,
        }
        for letter in parked
        if letter.booking_id == booking_id
    ]


def _pick(row: Mapping[str, Value], *keys: str) -> dict[str, Any]:
    return {key: row[key] for key in keys if row.get(key) not in (None, "")}


def _audit_patient_access(
    crosswalk: Crosswalk,
    booking_id: str,
    accessed_by: str,
    access: Mapping[str, str],
    clock: Callable[[], dt.datetime] | None,
) -> None:
    """Showing a patient's identity is logged in the booking's audit trail, like any
    access to patient data (who: the entrypoint and the key's id, never the key or
    the operator's name; and the request's correlation id)."""
    now = (clock or _utc_now)()
    record = AuditRecord(
        kind="patient-shown",
        at=now,
        detail=accessed_by or "unknown",
        extra={name: value for name, value in access.items() if value},
    )
    crosswalk.audit(booking_id, record)


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
