"""Landing pages for the jump-out: what the browser shows after a launch redirect.

Stand-ins for Millennium's chart and Orbit's booking view, so a test (or a
developer with ``make run``) sees that a launch link opened the right context.
A test tool on loopback: the pages show the synthetic patient's name, the URLs
carry only ids. Elements have ids (``person-id``, ``patient-name``,
``encounter-id``, ``booking-id``) so browser tests can read them.
"""

from __future__ import annotations

from html import escape

from simulator.fhir import find_encounter
from simulator.state import MillenniumState


def millennium_chart(state: MillenniumState, person_id: str, encounter_id: str) -> tuple[int, str]:
    """(status, HTML) of the simulated chart for ``person_id`` (and the encounter, if any)."""
    person = state.persons.get(person_id)
    if person is None:
        return 404, _page("Millennium (simulator)", "<p>No such person in Millennium.</p>")
    rows = [
        ("Person id", "person-id", person.person_id),
        ("Patient", "patient-name", f"{person.family_name}, {person.given_name}"),
    ]
    if encounter_id:
        encounter = find_encounter(state, encounter_id)
        if encounter is None or encounter.person_id != person.person_id:
            return 404, _page("Millennium (simulator)", "<p>No such encounter for the person.</p>")
        rows += [
            ("Encounter id", "encounter-id", encounter.encounter_id),
            ("Visit number", "visit-number", encounter.visit_number),
        ]
    return 200, _page("Millennium (simulator): patient chart", _table(rows))


def orbit_booking(state: MillenniumState, booking_id: str) -> tuple[int, str]:
    """(status, HTML) of a stand-in for Orbit's booking view (what Millennium knows of it)."""
    rows = [("Booking id", "booking-id", booking_id)]
    encounter = state.encounters.get(booking_id)  # visit number = Orbit booking id
    person = state.persons.get(encounter.person_id) if encounter else None
    if person is not None:
        rows.append(("Patient", "patient-name", f"{person.family_name}, {person.given_name}"))
    return 200, _page("Orbit (simulator): booking", _table(rows))


NOTHING_ROW = '<tr><td colspan="7">Nothing.</td></tr>'


def millennium_overview(state: MillenniumState, stats: dict[str, object], visit: str = "") -> str:
    """What the simulated Millennium holds, by visit number (the Orbit booking id):
    encounter, appointment and pending admit with Millennium's own ids, places and
    times. Person ids only: no names or identity numbers, so the page can be shown
    next to the operators' browser."""
    numbers = sorted(
        {*state.encounters, *state.pending_admits}
        | {appointment.visit_number for appointment in state.appointments.values()}
    )
    if visit:
        numbers = [number for number in numbers if number == visit]
    rows = "\n".join(_holding_row(state, number) for number in numbers)
    counts = ", ".join(f"{name} {count}" for name, count in state.counts().items())
    received = stats.get("received", 0)
    replayed = stats.get("replayed", 0)
    content = (
        f'<p id="counts">{escape(counts)}; messages received since start {received}, '
        f"replayed from disk at start {replayed}</p>\n"
        '<form method="get" action="/"><label>Visit number <input name="visit" id="visit">'
        "</label> <button>Find</button></form>\n"
        '<table id="holdings"><tr><th>Visit number</th><th>Person</th><th>Encounter</th>'
        "<th>Location</th><th>Appointment</th><th>Start</th><th>Pending admit</th></tr>\n"
        f"{rows or NOTHING_ROW}</table>"
    )
    return _page("Millennium (simulator): what it holds", content)


def _holding_row(state: MillenniumState, number: str) -> str:
    encounter = state.encounters.get(number)
    appointment = state.appointment_for_visit(number)
    admit = state.pending_admits.get(number)
    person = next((r.person_id for r in (encounter, appointment, admit) if r is not None), "")
    cells = [
        number,
        person,
        encounter.encounter_id if encounter else "-",
        encounter.location if encounter else "-",
        appointment.appointment_id if appointment else "-",
        appointment.start if appointment else "-",
        f"{admit.ward} {admit.expected_admit}" if admit else "-",
    ]
    tds = "".join(f"<td>{escape(cell)}</td>" for cell in cells)
    return f'<tr data-visit="{escape(number)}">{tds}</tr>'


def _table(rows: list[tuple[str, str, str]]) -> str:
    cells = "\n".join(
        f'<tr><th>{escape(label)}</th><td id="{element_id}">{escape(value)}</td></tr>'
        for label, element_id, value in rows
    )
    return f"<table>\n{cells}\n</table>"


def _page(title: str, content: str) -> str:
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title></head>\n"
        f"<body><h1>{escape(title)}</h1>\n{content}\n</body></html>\n"
    )
