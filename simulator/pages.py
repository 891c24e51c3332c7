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
