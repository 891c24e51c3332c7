"""The operators' message browser: bookings by status, a booking's timeline, resubmit.

In the spirit of Mirth Connect's message browser, but safe for patient data:
the pages show booking ids, statuses, codes, MSH-10s and ACKs, never a name or
an identity number. The patient is shown only on an explicit request (a POST
with the session's form token), and that access is written to the booking's
audit trail by ``booking_trace``, as the trace endpoint does. The audit rows keep
only MSH-10 and ACK per message (the prepared HL7 stays in the target's row only
while it is in doubt), so the patient view is the identity the messages carried.

Every page needs a session from the operators' key (``browser_session``);
without ``OPS_ADMIN_SECRETS`` the browser answers 503, never opens.

``browse`` is the one plain function behind the HTTP trigger
(functions/ops_browser.py): it takes a ``BrowserRequest`` and the ports and
returns an ``Answer``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from shared.crosswalk.repository import Crosswalk, StoredSnapshot, TargetState
from shared.deadletters.operations import resubmit_letters
from shared.deadletters.port import DeadLetterStore, Letter
from shared.ops.booking_trace import booking_trace
from shared.ops.browser_pages import (
    STATUSES,
    BookingRow,
    booking_page,
    login_page,
    overview_page,
    problem_page,
)
from shared.ops.browser_session import (
    BROWSER_PATH,
    cleared_cookie,
    form_token,
    session_cookie,
    session_from,
    sign_in,
    valid_form,
    valid_session,
)
from shared.ops.http_api import Answer, is_booking_id
from shared.ops.millennium_view import MillenniumView
from shared.ops.resubmit_check import unfixed_cause
from shared.profiles import Mode, Profiles
from shared.sync.convergence import is_converged
from shared.targets import Target, desired_facts

SHOWN_LIMIT = 200
MSH10 = re.compile(r"^[A-Z2-7]{20}$")
HTML = "text/html; charset=utf-8"
SAFE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
}
ACK_OUTCOMES = {
    "AA": "accepted: applied in Millennium",
    "AE": "application error: retried as a new message (new MSH-10)",
    "AR": "rejected: dead-lettered",
}
NOTICES = {
    "resubmitted": "Resubmitted: the worker takes the booking up again; reload to follow it.",
    "gone": "That dead letter was already gone (resubmitted or purged meanwhile).",
    "signed-out": "Signed out.",
}


@dataclass(frozen=True)
class BrowserRequest:
    """One request as the trigger saw it (the transport translated, nothing decided)."""

    action: str  # overview | login | logout | booking | resubmit | patient
    method: str
    headers: Mapping[str, str]
    query: Mapping[str, str] = field(default_factory=dict)
    form: Mapping[str, str] = field(default_factory=dict)
    booking_id: str = ""
    secure: bool = False  # the request came over https (the cookie gets Secure)


@dataclass(frozen=True)
class BrowserPorts:
    keys: Sequence[str]
    crosswalk: Crosswalk
    dead_letters: DeadLetterStore | None  # None: the app may not read them (Azure)
    profiles: Profiles
    clock: Callable[[], dt.datetime]
    millennium: MillenniumView | None = None  # what Millennium itself holds, where known


def browse(request: BrowserRequest, ports: BrowserPorts) -> Answer:
    """Answer one browser request; never raises for anything the browser sent.

    Raises:
        TransientError: the crosswalk or the queue is unreachable (the trigger answers 503).
    """
    if not ports.keys:
        return _html(
            503,
            problem_page(
                "Not configured",
                "The message browser is switched off until OPS_ADMIN_SECRETS holds at least "
                "one key. Ask the integration team to set it (Key Vault secret "
                "ops-admin-secrets).",
            ),
        )
    now = ports.clock().timestamp()
    if request.action == "login":
        return _login(request, ports, now)
    session = session_from(request.headers)
    if session is None or not valid_session(session, ports.keys, now):
        return _html(401, login_page("Sign in first." if session is None else "Session expired."))
    changes = request.action in {"logout", "resubmit", "patient"}
    if changes and (request.method != "POST" or not valid_form(session, request.form.get("token"))):
        return _html(
            403,
            problem_page("Refused", "That form is stale or came from elsewhere. Reload the page."),
        )
    token = form_token(session)
    if request.action == "logout":
        return _redirect(
            f"{BROWSER_PATH}/login?notice=signed-out", cookie=cleared_cookie(secure=request.secure)
        )
    if request.action == "overview":
        return _overview(request, ports, token)
    if not is_booking_id(request.booking_id):  # not echoed: a pasted identity number, say
        return _html(400, problem_page("Invalid booking id", "Use the Orbit booking id."))
    if request.action == "resubmit":
        return _resubmit(request, ports, token)
    return _booking(request, ports, token, show_patient=request.action == "patient")


# --- sign-in ---------------------------------------------------------------------------


def _login(request: BrowserRequest, ports: BrowserPorts, now: float) -> Answer:
    if request.method != "POST":
        notice = NOTICES.get(request.query.get("notice", ""), "")
        return _html(200, login_page(notice))
    session = sign_in(request.form.get("key"), ports.keys, now)
    if session is None:
        return _html(401, login_page("That is not one of the operators' keys."))
    return _redirect(BROWSER_PATH, cookie=session_cookie(session, secure=request.secure))


# --- the overview ----------------------------------------------------------------------


def _overview(request: BrowserRequest, ports: BrowserPorts, token: str) -> Answer:
    query = request.query.get("q", "").strip()
    if query:
        found = find_booking(query, ports.crosswalk)
        if found is not None:
            return _redirect(f"{BROWSER_PATH}/bookings/{quote(found, safe='')}")
    status = request.query.get("status", "")
    status = status if status in STATUSES else ""
    rows = booking_rows(ports.crosswalk, _parked_bookings(ports.dead_letters), ports.profiles)
    counts = {name: sum(1 for row in rows if row.status == name) for name in STATUSES}
    chosen = [row for row in rows if not status or row.status == status][:SHOWN_LIMIT]
    notice = _not_found_notice(query) if query else ""
    page = overview_page(
        counts, chosen, status=status, shown_limit=SHOWN_LIMIT, form_token=token, notice=notice
    )
    return _html(200, page)


def _not_found_notice(query: str) -> str:
    """What a search that found nothing says; the query itself only when it has the
    shape of a booking id or an MSH-10, so an identity number typed into the search
    box is not shown back (nor kept in the browser's history of pages)."""
    if is_booking_id(query) or MSH10.match(query):
        return f"No booking or MSH-10 {query} found."
    return "No booking or MSH-10 found: search by Orbit booking id or MSH-10 only."


def booking_rows(
    crosswalk: Crosswalk, parked: set[str] | None, profiles: Profiles
) -> list[BookingRow]:
    """Every booking with its status, newest first.

    Reads each booking's targets: fine for a local run and a day's bookings; over a
    whole region's crosswalk it is a scan (docs/operations.md, "Message browser").
    """
    rows = []
    for booking_id in crosswalk.booking_ids():
        stored = crosswalk.load_snapshot(booking_id)
        if stored is None:
            continue
        states = crosswalk.load_targets(booking_id)
        rows.append(
            BookingRow(
                booking_id=booking_id,
                administration=stored.snapshot.administration,
                version=stored.version,
                status=booking_status(stored, states, parked, _shadowed(stored, profiles)),
                received_at=stored.received_at.isoformat(timespec="seconds"),
                targets="; ".join(
                    f"{target.value}: {_target_word(stored, states[target])}" for target in Target
                ),
            )
        )
    rows.sort(key=lambda row: (row.received_at, row.booking_id), reverse=True)
    return rows


def booking_status(
    stored: StoredSnapshot,
    states: Mapping[Target, TargetState],
    parked: set[str] | None,
    shadowed: bool = False,
) -> str:
    """converged, waiting, retrying, blocked, dead-lettered, or shadow (kept while the
    administration is in jump-out mode: nothing is sent)."""
    booking_id = stored.snapshot.booking_id
    if parked is not None and booking_id in parked:
        return "dead-lettered"
    if any(state.blocked is not None for state in states.values()):
        return "blocked"
    if is_converged(stored, states):
        return "converged"
    if shadowed:
        return "shadow"
    if any(state.retries or (state.intent and state.intent.attempts) for state in states.values()):
        return "retrying"
    return "waiting"


def _shadowed(stored: StoredSnapshot, profiles: Profiles) -> bool:
    profile = profiles.find(stored.snapshot.administration)
    return profile is not None and profile.mode is not Mode.INTEGRATED


def _target_word(stored: StoredSnapshot, state: TargetState) -> str:
    if state.blocked is not None:
        return f"blocked ({state.blocked.reason})"
    if state.intent is not None:
        return "in doubt" if state.intent.attempts else "sending"
    desired = desired_facts(stored.snapshot, state.target)
    if state.confirmed == desired:
        return "in sync" if desired is not None else "none (as wanted)"
    return "retrying" if state.retries else "not yet sent"


def find_booking(query: str, crosswalk: Crosswalk) -> str | None:
    """The booking with this id, or the one whose audit trail has this MSH-10."""
    if is_booking_id(query) and crosswalk.load_snapshot(query) is not None:
        return query
    if not MSH10.match(query):
        return None
    for booking_id in crosswalk.booking_ids():
        if any(row.get("controlId") == query for row in crosswalk.audit_trail(booking_id)):
            return booking_id
    return None


# --- one booking -----------------------------------------------------------------------


def _booking(
    request: BrowserRequest, ports: BrowserPorts, token: str, *, show_patient: bool
) -> Answer:
    letters = ports.dead_letters.letters() if ports.dead_letters is not None else None
    trace = booking_trace(
        request.booking_id,
        ports.crosswalk,
        parked=letters,
        show_patient=show_patient,
        accessed_by="ops-browser",
        clock=ports.clock,
        millennium=ports.millennium,
    )
    if trace is None:
        return _html(
            404,
            problem_page(
                "Booking not known",
                f"The integration has no event or record of booking {request.booking_id}.",
            ),
        )
    stored = ports.crosswalk.load_snapshot(request.booking_id)
    states = ports.crosswalk.load_targets(request.booking_id)
    parked = None if letters is None else {letter.booking_id for letter in letters}
    status = (
        booking_status(stored, states, parked, _shadowed(stored, ports.profiles))
        if stored is not None
        else "waiting"
    )
    page = booking_page(
        trace,
        status=status,
        timeline=timeline(trace),
        letters=None if letters is None else trace["deadLetters"]["parked"],
        form_token=token,
        notice=NOTICES.get(request.query.get("notice", ""), ""),
        patient=trace["patient"] if show_patient and isinstance(trace["patient"], dict) else None,
    )
    return _html(200, page)


def timeline(trace: Mapping[str, Any]) -> list[dict[str, str]]:
    """Events, messages (MSH-10, ACK, outcome), blocks, dead letters and operator
    actions of a trace, oldest first."""
    entries: list[dict[str, str]] = []
    for event in trace["events"]:
        entries.append(
            {
                "at": str(event.get("at", "")),
                "what": f"Orbit event v{event.get('version', '?')} ({event.get('kind', '')})",
                "outcome": str(event.get("detail", "")),
            }
        )
    for message in trace["messages"]:
        entries.append(
            {
                "at": str(message.get("at", "")),
                "what": f"{message.get('trigger', '')} {message.get('target', '')} "
                f"v{message.get('version', '?')}, send #{message.get('attempt', 1)}",
                "msh10": str(message.get("controlId", "")),
                "ack": str(message.get("ack", "")),
                "outcome": str(message.get("why") or ACK_OUTCOMES.get(str(message.get("ack")), "")),
            }
        )
    for block in trace["blocks"]:
        entries.append(
            {
                "at": str(block.get("at", "")),
                "what": f"blocked: {block.get('target', '')}",
                "outcome": str(block.get("reason", "")),
            }
        )
    for letter in trace["deadLetters"]["recorded"]:
        entries.append(
            {
                "at": str(letter.get("at", "")),
                "what": f"dead-lettered: {letter.get('target') or ''}",
                "outcome": str(letter.get("reason", "")),
            }
        )
    for action in trace["operatorActions"]:
        entries.append(
            {
                "at": str(action.get("at", "")),
                "what": f"operator: {action.get('kind', '')}",
                "outcome": str(action.get("detail") or action.get("reason") or ""),
            }
        )
    return sorted(entries, key=lambda entry: entry["at"])


def _resubmit(request: BrowserRequest, ports: BrowserPorts, token: str) -> Answer:
    if ports.dead_letters is None:
        return _html(
            409,
            problem_page(
                "Resubmit with the CLI here",
                "The app cannot read the dead-letter queue in Azure (least privilege). Use "
                ".venv/bin/python -m tools.ops deadletters resubmit ID.",
            ),
        )
    wanted = request.form.get("letter", "")
    letters = [
        letter
        for letter in ports.dead_letters.letters()
        if letter.id == wanted and letter.booking_id == request.booking_id
    ]
    back = f"{BROWSER_PATH}/bookings/{quote(request.booking_id, safe='')}"
    if not letters:
        return _redirect(f"{back}?notice=gone")
    why = _unfixed(letters[0], ports)
    if why:
        return _html(
            409,
            problem_page(
                "Not resubmitted",
                f"Dead letter {wanted} was not resubmitted: {why}. It would fail again the "
                "same way.",
            ),
        )
    done = resubmit_letters(
        ports.dead_letters, letters, crosswalk=ports.crosswalk, clock=ports.clock
    )
    return _redirect(f"{back}?notice={'resubmitted' if done else 'gone'}")


def _unfixed(letter: Letter, ports: BrowserPorts) -> str | None:
    return unfixed_cause(letter, ports.crosswalk, ports.profiles)


def _parked_bookings(store: DeadLetterStore | None) -> set[str] | None:
    if store is None:
        return None
    return {letter.booking_id for letter in store.letters()}


# --- answers ---------------------------------------------------------------------------


def _html(status: int, page: str) -> Answer:
    return Answer(status, page.encode("utf-8"), HTML, dict(SAFE_HEADERS))


def _redirect(location: str, *, cookie: str | None = None) -> Answer:
    headers = {**SAFE_HEADERS, "Location": location}
    if cookie is not None:
        headers["Set-Cookie"] = cookie
    return Answer(303, b"", HTML, headers)
