"""The plain handler behind ``GET /api/ops/bookings/{bookingId}`` (the booking trace).

Why ``ops`` and not ``admin`` in the route: the Functions host reserves routes and
function names that start with ``admin`` for its own admin API and refuses to
load such a function.

Access: the function itself is ``auth_level=FUNCTION`` in Azure (a function key),
and this handler also requires the operators' key (``x-ops-key`` header, setting
``OPS_ADMIN_SECRETS``), because the local host checks no function keys. Patient
data only with ``?showPatient=true``, and that access goes into the booking's
audit trail, naming the operators' key by its id and the request's correlation
id. Every key check is logged (which key by id, or why refused; never the key)
and counted (``orbitsync.ops.key_checks``). Answers are ``no-store``: a trace is
not something to cache.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from shared import telemetry
from shared.booking import BOOKING_ID_PATTERN
from shared.crosswalk.repository import Crosswalk
from shared.deadletters.port import DeadLetterStore
from shared.identity import contains_identity_number
from shared.ops.admin_key import ADMIN_KEY_HEADER, authorised_key_id
from shared.ops.booking_trace import booking_trace
from shared.problems import new_correlation_id, problem

BOOKING_ID = re.compile(BOOKING_ID_PATTERN)
NO_STORE = {"Cache-Control": "no-store"}
CORRELATION_HEADER = "X-Correlation-Id"

logger = logging.getLogger("orbitsync.ops")


def is_booking_id(text: str) -> bool:
    """Whether ``text`` may be looked up as an Orbit booking id: the id's pattern,
    and nothing shaped like an identity number (one pasted by mistake must not reach
    a key, an audit row or an answer). The one check of the HTTP endpoint and the
    CLI; ``fullmatch``, because ``$`` alone lets a trailing newline through."""
    return BOOKING_ID.fullmatch(text) is not None and not contains_identity_number(text)


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: Mapping[str, str] = field(default_factory=dict)


def booking_trace_answer(
    booking_id: str,
    headers: Mapping[str, str],
    query: Mapping[str, str],
    *,
    keys: Sequence[str],
    crosswalk: Crosswalk,
    dead_letters: DeadLetterStore | None,
    clock: Callable[[], dt.datetime],
    keys_problem: str = "",
    correlation_id: str | None = None,
) -> Answer:
    """Answer one request; never raises for anything the caller sent. ``keys_problem``
    says why ``keys`` is empty (shared.ops.admin_key.keys_problem).

    Raises:
        TransientError: the crosswalk or the queue is unreachable (the trigger answers 503).
    """
    correlation = correlation_id or new_correlation_id()
    lowered = {name.lower(): value for name, value in headers.items()}
    if not keys:
        return _problem(
            503,
            "Not configured",
            "The ops endpoints are switched off until OPS_ADMIN_SECRETS holds at least "
            f"one key ({keys_problem or 'OPS_ADMIN_SECRETS holds no key'}). Ask the "
            "integration team to set it (Key Vault secret ops-admin-secrets).",
            "not-configured",
            correlation,
        )
    key_id = _check_key(lowered.get(ADMIN_KEY_HEADER), keys, correlation)
    if key_id is None:
        return _problem(
            401,
            "Operators' key required",
            f"Send one of the operators' keys in the {ADMIN_KEY_HEADER} header.",
            "unauthorised",
            correlation,
        )
    if not is_booking_id(booking_id):
        # Not echoed: it may be anything, an identity number pasted by mistake too.
        return _problem(
            400,
            "Invalid booking id",
            "Use the Orbit booking id as it appears in alerts and logs, e.g. OB-2026-000123.",
            "invalid-booking-id",
            correlation,
        )
    show_patient = query.get("showPatient", "").lower() == "true"
    parked = dead_letters.letters() if dead_letters is not None else None
    trace = booking_trace(
        booking_id,
        crosswalk,
        parked=parked,
        show_patient=show_patient,
        accessed_by="ops-api",
        key_id=key_id,
        correlation_id=correlation,
        clock=clock,
    )
    if trace is None:
        return _problem(
            404,
            "Booking not known",
            f"The integration has no event or record of booking {booking_id}. Check the id; "
            "if Orbit says it sent the booking, look for rejected webhook deliveries "
            "(docs/operations.md, 'Where is booking X').",
            "unknown-booking",
            correlation,
        )
    body = json.dumps(trace, ensure_ascii=False, indent=2).encode()
    return Answer(200, body, headers={**NO_STORE, CORRELATION_HEADER: correlation})


def _check_key(presented: str | None, keys: Sequence[str], correlation_id: str) -> str | None:
    """The id of the operators' key presented, or None; logged and counted either way."""
    key_id = authorised_key_id(presented, keys)
    if key_id is not None:
        reason, level = "accepted", logging.INFO
    else:
        reason = "missing-key" if not (presented or "").strip() else "no-matching-key"
        level = logging.WARNING
    telemetry.ops_key_checked(reason)
    logger.log(
        level,
        "ops key check result=%s key=%s correlation=%s",
        reason,
        key_id or "-",
        correlation_id,
    )
    return key_id


def _problem(status: int, title: str, detail: str, reason: str, correlation_id: str) -> Answer:
    answer = problem(
        status, title, detail, type_suffix=reason, headers=NO_STORE, correlation_id=correlation_id
    )
    return Answer(status, answer.body(), answer.content_type, dict(answer.headers))
