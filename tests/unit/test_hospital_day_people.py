"""The synthetic day's people: one identity number is one person, with one name.

Millennium keeps one person per identity number, so two bookings that share a
number with different names would never converge (the convergence check compares
the encounter's patient name).
"""

from __future__ import annotations

from localrun.hospital_day import hospital_day


def test_an_identity_number_always_carries_the_same_name() -> None:
    names: dict[str, set[tuple[str, str]]] = {}
    for event in hospital_day(4000, seed=44, administrations=("SU", "SAS")):
        patient = event["data"]["patient"]
        number = patient["identifier"]["value"]
        names.setdefault(number, set()).add((patient["familyName"], patient["givenName"]))
    shared = [number for number, seen in names.items() if len(seen) > 1]
    assert shared == []
