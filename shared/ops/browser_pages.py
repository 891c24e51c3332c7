"""HTML of the operators' message browser (no scripts, no external resources).

Every value is escaped; pages carry ids (``count-blocked``, ``booking-status``,
``timeline``, ``resubmit-…``, ``show-patient``, ``patient``) so the browser tests
can read them. No page holds personal data except the patient view, which is
only rendered for an explicit, audited request.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any
from urllib.parse import quote

from shared.ops.browser_session import BROWSER_PATH
from shared.ops.resubmit_check import NOT_FIXED_BY_RESUBMIT

STATUSES = ("converged", "waiting", "retrying", "blocked", "dead-lettered", "shadow")

_STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5rem;color:#1b1b1b;max-width:72rem}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:1.6rem}
table{border-collapse:collapse;width:100%}th,td{border-bottom:1px solid #ddd;
padding:.3rem .5rem;text-align:left;vertical-align:top;font-size:.9rem}
.converged{color:#176b2c}.waiting{color:#555}.retrying{color:#8a5a00}
.blocked,.dead-lettered{color:#a11}.shadow{color:#46607a}
.notice{background:#fff6d6;padding:.5rem;margin:.8rem 0}
nav a{margin-right:1rem}code{font-size:.85rem}form.inline{display:inline}
.counts a{margin-right:1.2rem}
"""


@dataclass(frozen=True)
class BookingRow:
    booking_id: str
    administration: str
    version: int
    status: str
    received_at: str
    targets: str  # "encounter: in sync; appointment: blocked; bed: -"


def login_page(message: str = "") -> str:
    notice = f'<p class="notice" id="notice">{escape(message)}</p>' if message else ""
    body = f"""{notice}
<p>Sign in with one of the operators' keys (setting OPS_ADMIN_SECRETS). The key is not
kept: the browser gets a session cookie derived from it, valid for one hour.</p>
<form method="post" action="{BROWSER_PATH}/login">
<label>Operators' key <input type="password" name="key" id="key" autocomplete="off"
required></label> <button type="submit" id="sign-in">Sign in</button></form>"""
    return _page("Message browser: sign in", body, form_token=None)


def overview_page(
    counts: Mapping[str, int],
    rows: Sequence[BookingRow],
    *,
    status: str,
    shown_limit: int,
    form_token: str,
    notice: str = "",
) -> str:
    links = " ".join(
        f'<a href="{BROWSER_PATH}?status={name}" id="count-{name}" class="{name}">'
        f"{escape(name)}: {counts.get(name, 0)}</a>"
        for name in STATUSES
    )
    table_rows = "\n".join(
        f'<tr data-booking="{escape(row.booking_id)}"><td><a href="{_booking_url(row.booking_id)}">'
        f"{escape(row.booking_id)}</a></td><td>{escape(row.administration)}</td>"
        f'<td>v{row.version}</td><td class="{row.status}">{escape(row.status)}</td>'
        f"<td>{escape(row.received_at)}</td><td>{escape(row.targets)}</td></tr>"
        for row in rows
    )
    title = f"Bookings: {status}" if status else "Bookings: all"
    more = (
        f"<p>Showing the newest {shown_limit}; narrow by status or search.</p>"
        if len(rows) >= shown_limit
        else ""
    )
    body = f"""{_notice(notice)}
<form method="get" action="{BROWSER_PATH}"><label>Booking id or MSH-10
<input name="q" id="search" size="30"></label> <button type="submit">Find</button></form>
<p class="counts" id="status-counts"><a href="{BROWSER_PATH}">all</a> {links}</p>
<h2>{escape(title)}</h2>
<table id="bookings"><tr><th>Booking</th><th>Administration</th><th>Version</th>
<th>Status</th><th>Received</th><th>Targets</th></tr>
{table_rows or '<tr><td colspan="6">No bookings.</td></tr>'}</table>{more}"""
    return _page("Message browser", body, form_token=form_token)


def booking_page(
    trace: Mapping[str, Any],
    *,
    status: str,
    timeline: Sequence[Mapping[str, str]],
    letters: Sequence[Mapping[str, str]] | None,
    form_token: str,
    notice: str = "",
    patient: Mapping[str, Any] | None = None,
) -> str:
    booking_id = str(trace["bookingId"])
    snapshot = trace.get("snapshot") or {}
    header = (
        f"<p>{escape(str(snapshot.get('administration', '')))}, "
        f"{escape(str(snapshot.get('status', 'no snapshot')))}, version "
        f"{escape(str(snapshot.get('version', '-')))}, received "
        f"{escape(str(snapshot.get('receivedAt', '-')))}"
        + (", <strong>protected identity</strong>" if snapshot.get("protectedIdentity") else "")
        + f'</p><p>Status: <strong id="booking-status" class="{status}">{escape(status)}'
        "</strong></p>"
    )
    targets = "\n".join(
        f"<tr><td>{escape(name)}</td><td>{escape(str(target['state']))}</td>"
        f"<td>{escape(_short(target['desired']))}</td>"
        f"<td>{escape(_short(target['confirmed']))}</td>"
        f"<td>{escape(_blocked(target))}</td></tr>"
        for name, target in trace["targets"].items()
    )
    events = "\n".join(
        f"<tr><td>{escape(entry['at'])}</td><td>{escape(entry['what'])}</td>"
        f"<td><code>{escape(entry.get('msh10', ''))}</code></td>"
        f"<td>{escape(entry.get('ack', ''))}</td><td>{escape(entry.get('outcome', ''))}</td></tr>"
        for entry in timeline
    )
    body = f"""{_notice(notice)}{header}{_millennium(trace.get("millennium") or {})}
<h2>Targets</h2><table id="targets"><tr><th>Target</th><th>State</th><th>Desired (Orbit)</th>
<th>Confirmed (Millennium)</th><th>Block</th></tr>{targets}</table>
<h2>Timeline</h2><table id="timeline"><tr><th>At</th><th>What</th><th>MSH-10</th>
<th>ACK</th><th>Outcome</th></tr>{events or '<tr><td colspan="5">Nothing yet.</td></tr>'}</table>
{_letters(booking_id, letters, form_token)}
{_patient(booking_id, patient, form_token)}"""
    return _page(f"Booking {booking_id}", body, form_token=form_token)


def problem_page(title: str, detail: str) -> str:
    return _page(title, f'<p id="problem">{escape(detail)}</p>', form_token=None)


# --- parts -----------------------------------------------------------------------------


def _resubmit_control(booking_id: str, letter: Mapping[str, str], form_token: str) -> str:
    """A Resubmit button, or, for a reason no resubmission can fix, what to do instead."""
    instead = NOT_FIXED_BY_RESUBMIT.get(letter["reason"])
    if instead is not None:
        return f"Not to be resubmitted: {escape(instead)}."
    return (
        f'<form class="inline" method="post" action="{_booking_url(booking_id)}/resubmit">'
        f'<input type="hidden" name="token" value="{form_token}">'
        f'<input type="hidden" name="letter" value="{escape(letter["id"])}">'
        f'<button type="submit" id="resubmit-{escape(letter["id"])}">Resubmit</button>'
        "</form>"
    )


def _letters(booking_id: str, letters: Sequence[Mapping[str, str]] | None, form_token: str) -> str:
    if letters is None:
        return (
            "<h2>Dead letters</h2><p>The app cannot read the dead-letter queue here (least "
            "privilege in Azure). Resubmit with: <code>.venv/bin/python -m tools.ops "
            f"deadletters list</code>, then <code>resubmit ID</code> (booking "
            f"{escape(booking_id)}).</p>"
        )
    if not letters:
        return "<h2>Dead letters</h2><p>None parked.</p>"
    rows = "\n".join(
        f"<tr><td><code>{escape(letter['id'])}</code></td><td>{escape(letter['queue'])}</td>"
        f"<td>{escape(letter['reason'])}</td><td>{escape(letter['description'])}</td>"
        f"<td>{_resubmit_control(booking_id, letter, form_token)}</td></tr>"
        for letter in letters
    )
    return (
        "<h2>Dead letters</h2><p>Fix the cause first (docs/operations.md); a resubmission "
        'whose cause is still there is refused.</p><table id="letters"><tr><th>Id</th>'
        f"<th>Queue</th><th>Reason</th><th>Description</th><th></th></tr>{rows}</table>"
    )


def _patient(booking_id: str, patient: Mapping[str, Any] | None, form_token: str) -> str:
    if patient is None:
        return (
            "<h2>Patient</h2><p>Not shown. Showing it is written to the booking's audit "
            "trail.</p>"
            f'<form method="post" action="{_booking_url(booking_id)}/patient">'
            f'<input type="hidden" name="token" value="{form_token}">'
            '<button type="submit" id="show-patient">Show the patient (audited)</button></form>'
        )
    identifier = patient.get("identifier") or {}
    return (
        '<h2>Patient (this view is audited)</h2><table id="patient">'
        f"<tr><th>Identifier</th><td>{escape(str(identifier.get('system', '')))} "
        f"{escape(str(identifier.get('value', '')))}</td></tr>"
        f"<tr><th>Name</th><td>{escape(str(patient.get('familyName', '')))}, "
        f"{escape(str(patient.get('givenName', '')))}</td></tr>"
        f"<tr><th>Protected identity</th><td>{'yes' if patient.get('protectedIdentity') else 'no'}"
        "</td></tr></table>"
    )


def _millennium(check: Mapping[str, Any]) -> str:
    lines = check.get("disagreements") or []
    if not lines:
        return ""
    items = "".join(f"<li>{escape(str(line))}</li>" for line in lines)
    return (
        '<div class="notice" id="millennium"><strong>Millennium disagrees with the '
        f"crosswalk:</strong><ul>{items}</ul>Locally this follows a simulator started empty "
        "(SIMULATOR_RESET); make reset starts both empty.</div>"
    )


def _blocked(target: Mapping[str, Any]) -> str:
    blocked = target.get("blocked")
    if not blocked:
        return ""
    return f"{blocked['reason']}: {blocked['description']}"


def _short(facts: Any) -> str:
    if isinstance(facts, Mapping):
        return ", ".join(f"{key} {value}" for key, value in facts.items())
    return str(facts)


def _notice(text: str) -> str:
    return f'<p class="notice" id="notice">{escape(text)}</p>' if text else ""


def _booking_url(booking_id: str) -> str:
    return f"{BROWSER_PATH}/bookings/{quote(booking_id, safe='')}"


def _page(title: str, body: str, *, form_token: str | None) -> str:
    nav = (
        f'<nav><a href="{BROWSER_PATH}">Bookings</a>'
        f'<form class="inline" method="post" action="{BROWSER_PATH}/logout">'
        f'<input type="hidden" name="token" value="{form_token}">'
        '<button type="submit" id="sign-out">Sign out</button></form></nav>'
        if form_token
        else ""
    )
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>\n"
        f"<body>{nav}<h1>{escape(title)}</h1>\n{body}\n</body></html>\n"
    )
