"""What `make demo` says (issue 12: it printed `'counts': 4`, waited 121 s in
silence, then "all converged after 120.7 s" next to "NOT CONVERGED")."""

from __future__ import annotations

from typing import Any

from localrun.demo import DemoResult, report_text, wait_converged
from tests.builders import make_snapshot

EMPTY_STATE: dict[str, Any] = {
    "counts": {"persons": 0, "encounters": 0, "appointments": 0, "pending_admits": 0},
    "persons": {},
    "encounters": {},
    "appointments": {},
    "pending_admits": {},
}


def result(**changes: Any) -> DemoResult:
    base = DemoResult(
        events=3,
        kinds={"created": 2, "cancelled": 1},
        answers={202: 3},
        seconds=2.0,
        converged=True,
        bookings=2,
        hl7_messages=6,
        millennium_holds={"persons": 2, "encounters": 1, "appointments": 1, "pending_admits": 0},
    )
    for name, value in changes.items():
        setattr(base, name, value)
    return base


def test_a_converged_demo_says_so_and_prints_what_millennium_holds() -> None:
    text = report_text(result())
    assert "Converged: all 2 bookings are in Millennium as Orbit last sent them (2.0 s)." in text
    assert "Millennium now holds: persons 2, encounters 1, appointments 1, pending_admits 0" in text
    assert "'counts'" not in text and "NOT CONVERGED" not in text


def test_a_demo_that_did_not_converge_never_claims_it_did() -> None:
    differing = ["OB-1: encounter missing", "OB-1: appointment missing", "OB-2: bed missing"]
    text = report_text(result(converged=False, differing=differing, seconds=120.7))
    assert "NOT CONVERGED after 120.7 s: 3 differences in 2 of 2 bookings:" in text
    assert "converged after" not in text.replace("NOT CONVERGED after", "")
    assert "  OB-2: bed missing" in text
    assert ".venv/bin/python -m tools.ops booking <id>" in text


def test_events_the_data_folder_already_had_are_explained() -> None:
    text = report_text(result(already_known=2), first_booking=1)
    assert "2 of the day's bookings were already stored at these versions" in text
    assert "make reset" in text and "--first-booking 100001" in text


def test_the_wait_shows_progress_and_gives_up_with_the_differences() -> None:
    said: list[str] = []
    snapshot = make_snapshot()
    left = wait_converged(lambda: EMPTY_STATE, [snapshot], 0.3, said.append, every=0.05)
    assert left and all(line.startswith(f"{snapshot.booking_id}:") for line in left)
    assert said, "the wait said nothing while it waited"
    assert said[0].startswith("  waiting: 0 of 1 bookings as Orbit last sent them")


def test_the_wait_returns_at_once_when_nothing_is_expected() -> None:
    assert wait_converged(lambda: EMPTY_STATE, [], 30, lambda line: None) == []
