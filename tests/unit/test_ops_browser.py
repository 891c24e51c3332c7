"""The message browser's plain handler: sign-in and sessions, statuses, search,
and no personal data on any page until the audited patient view."""

from __future__ import annotations

import dataclasses
import re

import pytest

from shared.ops.browser import BrowserPorts, BrowserRequest, browse
from shared.ops.browser_session import SESSION_SECONDS, form_token, sign_in, valid_session
from shared.ops.millennium_view import NOTHING_HELD
from shared.profiles import Mode, Profiles
from tests.builders import make_patient, make_snapshot
from tests.unit.test_booking_trace import BOOKING, NOW, PROFILES, World

KEY = "the-operators-key"


def ports(world: World, *, keys: tuple[str, ...] = (KEY,), profiles: Profiles = PROFILES):
    return BrowserPorts(keys, world.crosswalk, None, profiles, lambda: NOW)


def session() -> str:
    token = sign_in(KEY, (KEY,), NOW.timestamp())
    assert token is not None
    return token


def get(world: World, action: str = "overview", **kwargs) -> tuple[int, str]:
    chosen = kwargs.pop("ports", None) or ports(world)
    request = BrowserRequest(
        action=action,
        method=kwargs.pop("method", "GET"),
        headers={"Cookie": f"orbitsync-ops={kwargs.pop('token', session())}"},
        **kwargs,
    )
    answer = browse(request, chosen)
    return answer.status, answer.body.decode()


def test_sessions_expire_and_end_when_the_key_is_rotated() -> None:
    token = session()
    now = NOW.timestamp()
    assert KEY not in token
    assert valid_session(token, (KEY,), now)
    assert not valid_session(token, (KEY,), now + SESSION_SECONDS + 1)
    assert not valid_session(token, ("the-new-key",), now)
    assert not valid_session(token[:-1] + ("0" if token[-1] != "0" else "1"), (KEY,), now)
    assert sign_in("wrong", (KEY,), now) is None


def test_without_keys_the_browser_is_off_and_without_a_session_it_asks_to_sign_in() -> None:
    world = World()
    off = browse(BrowserRequest("overview", "GET", {}), ports(world, keys=()))
    assert off.status == 503 and b"OPS_ADMIN_SECRETS" in off.body
    anonymous = browse(BrowserRequest("overview", "GET", {}), ports(world))
    assert anonymous.status == 401 and b'id="sign-in"' in anonymous.body


def test_the_patient_view_needs_a_post_with_the_page_token() -> None:
    world = World()
    world.accept(make_snapshot())
    status, _ = get(world, "patient", method="POST", booking_id=BOOKING, form={})
    assert status == 403
    status, _ = get(world, "patient", method="GET", booking_id=BOOKING)
    assert status == 403


def test_no_page_holds_personal_data_until_the_patient_is_asked_for() -> None:
    world = World()
    snapshot = make_snapshot(patient=make_patient(7, family_name="Öhrn", given_name="Sixten"))
    world.accept(snapshot)
    personal = [snapshot.patient.identifier.value, "Öhrn", "Sixten"]
    for action in ("overview", "booking"):
        status, page = get(world, action, booking_id=BOOKING)
        assert status == 200 and not [datum for datum in personal if datum in page]
    token = session()
    status, page = get(
        world,
        "patient",
        method="POST",
        booking_id=BOOKING,
        token=token,
        form={"token": form_token(token)},
    )
    assert status == 200 and "Öhrn, Sixten" in page
    shown = [r for r in world.crosswalk.audit_trail(BOOKING) if r.get("kind") == "patient-shown"]
    assert [row.get("detail") for row in shown] == ["ops-browser"]


def test_a_protected_bookings_place_and_time_stay_off_the_booking_page() -> None:
    world = World()
    snapshot = make_snapshot(patient=make_patient(8, protected=True))
    world.accept(snapshot)
    _, page = get(world, "booking", booking_id=BOOKING)
    assert snapshot.operating_unit.hsa_id not in page
    assert snapshot.planned_start.isoformat() not in page
    assert "protected identity" in page


@pytest.mark.parametrize(
    ("script", "pump", "expected"),
    [([], True, "converged"), (["AR"], True, "blocked"), ([], False, "waiting")],
)
def test_bookings_are_listed_by_status(script: list[str], pump: bool, expected: str) -> None:
    world = World(script=script)
    world.accept(make_snapshot(), pump=pump)
    _, page = get(world)
    assert re.search(rf'id="count-{expected}"[^>]*>{expected}: 1<', page)
    _, page = get(world, "booking", booking_id=BOOKING)
    assert f'id="booking-status" class="{expected}">{expected}<' in page


def test_a_jumpout_administrations_bookings_are_shadow() -> None:
    world = World()
    shadowing = Profiles({"SU": PROFILES.get("SU").model_copy(update={"mode": Mode.JUMPOUT})})
    world.ports = dataclasses.replace(world.ports, profiles=shadowing)
    world.accept(make_snapshot())
    _, page = get(world, ports=ports(world, profiles=shadowing))
    assert 'id="count-shadow" class="shadow">shadow: 1<' in page


def test_search_by_msh10_opens_the_booking_that_sent_it() -> None:
    world = World()
    world.accept(make_snapshot())
    control_id = next(
        str(row["controlId"])
        for row in world.crosswalk.audit_trail(BOOKING)
        if row.get("controlId")
    )
    request = BrowserRequest(
        "overview", "GET", {"Cookie": f"orbitsync-ops={session()}"}, query={"q": control_id}
    )
    answer = browse(request, ports(world))
    assert answer.status == 303
    assert answer.headers["Location"] == f"/api/ops/browser/bookings/{BOOKING}"
    _, page = get(world, query={"q": "AAAAAAAAAAAAAAAAAAAA"})
    assert "No booking or MSH-10 AAAAAAAAAAAAAAAAAAAA found." in page


def test_the_booking_page_says_when_millennium_disagrees_with_the_crosswalk() -> None:
    world = World()
    world.accept(make_snapshot())
    lost = dataclasses.replace(ports(world), millennium=lambda booking: NOTHING_HELD)
    _, page = get(world, "booking", booking_id=BOOKING, ports=lost)
    assert 'id="millennium"' in page
    assert "encounter: confirmed in the crosswalk, but Millennium holds none" in page
    _, agreeing = get(world, "booking", booking_id=BOOKING)
    assert 'id="millennium"' not in agreeing


@pytest.mark.parametrize("typed", ["{pnr}", "OB-{pnr}", "{pnr} "])
def test_an_identity_number_typed_into_search_or_the_address_is_not_shown_back(
    typed: str,
) -> None:
    """Before, the search notice and the 404 page repeated what was typed, and the
    booking route accepted an id holding an identity number."""
    world = World()
    world.accept(make_snapshot())
    pnr = make_patient(3)["identifier"]["value"]
    query = typed.format(pnr=pnr)
    _, page = get(world, query={"q": query})
    assert pnr not in page and "search by Orbit booking id or MSH-10" in page
    if query.strip() == query:
        status, page = get(world, "booking", booking_id=query)
        assert status == 400 and pnr not in page


def test_a_letter_no_resubmission_can_fix_gets_no_resubmit_button() -> None:
    """Before, an administration-mismatch letter had a Resubmit button, pressed only
    to be refused."""
    from shared.ops.browser_pages import booking_page

    letters = [
        {
            "id": "7",
            "queue": "orbit-events",
            "reason": "administration-mismatch",
            "description": "d",
        },
        {
            "id": "8",
            "queue": "sync-encounter",
            "reason": "rejected-by-millennium",
            "description": "d",
        },
    ]
    trace: dict[str, object] = {
        "bookingId": BOOKING,
        "snapshot": None,
        "targets": {},
        "millennium": {},
    }
    page = booking_page(trace, status="blocked", timeline=[], letters=letters, form_token="t")
    assert 'id="resubmit-7"' not in page and "Not to be resubmitted: " in page
    assert 'id="resubmit-8"' in page
