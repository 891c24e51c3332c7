"""The trace says when Millennium itself disagrees with the crosswalk (issue 12: after
a restart the simulator had forgotten everything and the trace said "in sync: yes")."""

from __future__ import annotations

from shared.ops.millennium_view import NOTHING_HELD, MillenniumHolds
from tests.builders import make_patient, make_snapshot
from tests.unit.test_booking_trace import World
from tools.ops.render import trace_text

EVERYTHING = MillenniumHolds(encounter=True, appointment=True, bed=True)


def test_a_trace_agrees_when_millennium_holds_what_was_confirmed() -> None:
    world = World()
    world.accept(make_snapshot())  # inpatient: encounter, appointment and bed
    trace = world.trace(millennium=lambda booking: EVERYTHING)
    assert trace["inSync"] is True
    assert trace["millennium"] == {"checked": True, "agrees": True, "disagreements": []}


def test_a_trace_is_not_in_sync_when_millennium_lost_what_was_confirmed() -> None:
    world = World()
    world.accept(make_snapshot())
    trace = world.trace(millennium=lambda booking: NOTHING_HELD)
    assert trace["inSync"] is False
    assert trace["millennium"]["agrees"] is False
    assert {t["state"] for t in trace["targets"].values()} == {"DISAGREES WITH MILLENNIUM"}
    text = trace_text(trace)
    assert "in sync with Millennium: NO" in text
    assert "MILLENNIUM DISAGREES: encounter: confirmed in the crosswalk, but Millennium" in text
    assert "make reset starts both empty" in text


def test_a_record_millennium_holds_that_the_crosswalk_does_not_is_reported() -> None:
    world = World()
    world.accept(make_snapshot(admission={"type": "outpatient"}))
    trace = world.trace(millennium=lambda booking: EVERYTHING)
    assert trace["millennium"]["disagreements"] == [
        "bed: Millennium holds one the crosswalk does not record"
    ]


def test_without_a_view_the_trace_says_millennium_was_not_asked() -> None:
    world = World()
    world.accept(make_snapshot())
    trace = world.trace()
    assert trace["inSync"] is True and trace["millennium"]["checked"] is False
    assert "(what Millennium itself holds is not checked here)" in trace_text(trace)


def test_after_a_patient_correction_millennium_is_asked_under_the_new_alias() -> None:
    """Before, the view was asked for the booking id, under which Millennium holds
    nothing once the booking moved to ``<bookingId>:1``: the trace said MILLENNIUM
    DISAGREES, and an operator could have had Cerner register a second encounter."""
    world = World()
    first = make_snapshot()
    world.accept(first)
    world.accept(make_snapshot(version=2, patient=make_patient(10)))
    moved = f"{first.booking_id}:1"
    trace = world.trace(millennium=lambda alias: EVERYTHING if alias == moved else NOTHING_HELD)
    assert trace["millennium"] == {"checked": True, "agrees": True, "disagreements": []}
    assert trace["inSync"] is True


def test_a_view_that_cannot_tell_for_one_alias_is_not_taken_as_agreement() -> None:
    world = World()
    world.accept(make_snapshot())
    trace = world.trace(millennium=lambda alias: None)
    assert trace["millennium"]["checked"] is False
