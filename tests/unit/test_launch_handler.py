"""The jump-out's plain handlers: create a launch, follow it once, refuse the rest."""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time

import pytest

from shared.crosswalk.repository import Crosswalk, StoredSnapshot, TargetState
from shared.errors import RequestDeferred
from shared.launch.audit import audit_of_day
from shared.launch.codes import CODE_LIFETIME
from shared.launch.handler import (
    BrowserAnswer,
    LaunchCreated,
    LaunchHttpRequest,
    create_launch,
    follow_launch,
)
from shared.launch.request import Caller
from shared.launch.wiring import public_base_url
from shared.names import TABLE_LAUNCHES, TABLE_LOOKUP
from shared.problems import ProblemResponse
from shared.profiles import Mode, load_profile
from shared.targets import Target, desired_facts
from shared.webhook.signature import new_secret
from tests.builders import PROFILES_DIR, make_patient, make_snapshot, synthetic_personnummer
from tests.launch_fakes import (
    BASE_URL,
    NOW,
    USER,
    LaunchWorld,
    code_of,
    launch_body,
    make_world,
    signed_request,
)

PNR = synthetic_personnummer(1)
OTHER_PNR = synthetic_personnummer(2)


@pytest.fixture
def world() -> LaunchWorld:
    world = make_world()
    world.fhir.add_person(PNR, "P100001")
    return world


def create(
    world: LaunchWorld, body=None, *, secret=None, **ports
) -> LaunchCreated | ProblemResponse:
    request = signed_request(body or launch_body(), secret or world.orbit_secret)
    return create_launch(request, world.ports(**ports))


def created(world: LaunchWorld, body=None, *, secret=None) -> LaunchCreated:
    result = create(world, body, secret=secret)
    assert isinstance(result, LaunchCreated), result.document()
    return result


def follow(world: LaunchWorld, code: str) -> BrowserAnswer:
    return follow_launch(code, store=world.store, clock=world.clock)


def problem_of(result: LaunchCreated | ProblemResponse) -> ProblemResponse:
    assert isinstance(result, ProblemResponse), result.document()
    return result


def store_booking(
    world: LaunchWorld, *, encounter_confirmed: bool, generation: int = 0, **overrides
) -> None:
    snapshot = make_snapshot(**overrides)
    crosswalk = Crosswalk(world.store)
    stored = StoredSnapshot(snapshot, NOW, "event-1", "corr-1", patient_generation=generation)
    crosswalk.save_snapshot(stored, None)
    if encounter_confirmed:
        facts = desired_facts(snapshot, Target.ENCOUNTER, generation)
        crosswalk.save_target(
            snapshot.booking_id, TargetState(Target.ENCOUNTER, confirmed=facts, confirmed_version=1)
        )


# --- the happy path ----------------------------------------------------------------


def test_a_signed_launch_answers_201_with_a_single_use_link_valid_60_seconds(world):
    result = created(world)
    document = json.loads(result.body())
    assert set(document) == {"launchUrl", "expiresAt"}
    assert document["launchUrl"] == f"{BASE_URL}/api/launch/{world.codes[0]}"
    assert len(world.codes[0]) >= 22  # ≥ 128 bits of URL-safe base64
    assert document["expiresAt"] == (NOW + dt.timedelta(seconds=60)).isoformat().replace(
        "+00:00", "Z"
    )
    assert result.headers["Cache-Control"] == "no-store"


def test_following_the_link_redirects_to_millennium_with_the_person_id(world):
    code = code_of(created(world).launch_url)
    answer = follow(world, code)
    assert answer.status == 302
    assert (
        answer.headers["Location"] == "https://millennium.example/launch?person=P100001&encounter="
    )
    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.headers["Referrer-Policy"] == "no-referrer"


def test_the_second_use_of_a_code_gets_410_with_a_page_saying_what_to_do(world):
    code = code_of(created(world).launch_url)
    assert follow(world, code).status == 302
    again = follow(world, code)
    assert again.status == 410
    page = again.body.decode()
    assert "Länken gäller inte längre" in page and "klicka på" in page
    assert "no longer valid" in page and "click the link" in page
    assert again.headers["Cache-Control"] == "no-store"
    assert again.headers["Referrer-Policy"] == "no-referrer"
    assert "Location" not in again.headers


@pytest.mark.parametrize("code", ["", "abc", "../../etc/passwd", "A" * 43, "A" * 200, "<script>"])
def test_unknown_or_malformed_codes_get_410(world, code):
    answer = follow(world, code)
    assert answer.status == 410
    assert "Location" not in answer.headers


def test_a_code_expires_after_60_seconds(world):
    first = code_of(created(world).launch_url)
    second = code_of(created(world).launch_url)
    world.clock.advance(CODE_LIFETIME - dt.timedelta(seconds=1))
    assert follow(world, first).status == 302
    world.clock.advance(dt.timedelta(seconds=1))
    assert follow(world, second).status == 410


def test_of_many_racing_clicks_exactly_one_wins(world):
    code = code_of(created(world).launch_url)
    start = threading.Barrier(8)
    statuses: list[int] = []

    def click() -> None:
        start.wait()
        statuses.append(follow(world, code).status)

    threads = [threading.Thread(target=click) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [302] + [410] * 7


def test_a_click_that_loses_the_conditional_update_gets_410(world):
    """Deterministic interleaving: the other click redeems between our read and write."""
    code = code_of(created(world).launch_url)
    store = world.store
    winner: list[int] = []

    class RacingStore:
        def __getattr__(self, name):
            return getattr(store, name)

        def update(self, *args, **kwargs):
            if not winner:
                winner.append(follow_launch(code, store=store, clock=world.clock).status)
            return store.update(*args, **kwargs)

    loser = follow_launch(code, store=RacingStore(), clock=world.clock)
    assert winner == [302]
    assert loser.status == 410


# --- who calls: signatures --------------------------------------------------------


def test_millennium_signs_with_its_own_secret_and_opens_orbit(world):
    store_booking(world, encounter_confirmed=False)
    body = launch_body(target="orbit", bookingId="OB-2026-000123")
    result = created(world, body, secret=world.millennium_secret)
    answer = follow(world, code_of(result.launch_url))
    assert answer.headers["Location"] == "https://orbit.example/booking/OB-2026-000123"


def test_a_caller_only_opens_the_other_system(world):
    problem = problem_of(
        create(world, launch_body(target="millennium"), secret=world.millennium_secret)
    )
    assert problem.status == 422
    assert [error.path for error in problem.errors] == ["target"]


@pytest.mark.parametrize(
    "tamper",
    ["unsigned", "wrong-secret", "old-timestamp", "body-changed", "signature-garbled"],
)
def test_requests_without_a_valid_signature_get_401(world, tamper):
    body = json.dumps(launch_body()).encode()
    secret = new_secret() if tamper == "wrong-secret" else world.orbit_secret
    timestamp = int(time.time()) - 600 if tamper == "old-timestamp" else None
    request = signed_request(body, secret, timestamp=timestamp)
    headers = dict(request.headers)
    if tamper == "unsigned":
        headers = {"content-type": "application/json"}
    if tamper == "signature-garbled":
        headers["webhook-signature"] = "v1,AAAA" + headers["webhook-signature"][7:]
    sent = body + b" " if tamper == "body-changed" else body
    result = create_launch(LaunchHttpRequest.of(headers, sent), world.ports())
    assert problem_of(result).status == 401
    assert world.codes == []


def test_no_configured_secret_is_503_not_401(world):
    result = create(world, secrets={Caller.ORBIT: (), Caller.MILLENNIUM: ()})
    assert problem_of(result).status == 503


def test_a_replayed_signed_request_gets_409(world):
    request = signed_request(launch_body(), world.orbit_secret, webhook_id="msg_once")
    assert isinstance(create_launch(request, world.ports()), LaunchCreated)
    replay = create_launch(request, world.ports())
    assert problem_of(replay).status == 409
    assert problem_of(replay).type_suffix == "request-replayed"


# --- bad input: never 500, never an echo ------------------------------------------

BAD_BODIES = {
    "not-json": (b"{not json", 400),
    "array": (b"[]", 400),
    "missing-target": (json.dumps({**launch_body(), "target": None}).encode(), 400),
    "unknown-target": (json.dumps(launch_body(target="elvis")).encode(), 400),
    "unknown-field": (json.dumps(launch_body(bookingID="OB-1")).encode(), 400),
    "names-sent": (
        json.dumps(
            {**launch_body(), "patient": {**launch_body()["patient"], "familyName": "Åkerström"}}
        ).encode(),
        400,
    ),
    "bad-hsa-id": (json.dumps({**launch_body(), "user": {"hsaId": "nurse"}}).encode(), 400),
    "no-user": (
        json.dumps({k: v for k, v in launch_body().items() if k != "user"}).encode(),
        400,
    ),
    "short-identifier": (json.dumps(launch_body(value="19121212")).encode(), 400),
    "bad-encounter-id": (json.dumps(launch_body(encounterId="E/../1")).encode(), 400),
    "bad-check-digit": (
        json.dumps(launch_body(value=PNR[:-1] + str((int(PNR[-1]) + 1) % 10))).encode(),
        422,
    ),
    "orbit-without-booking": (json.dumps(launch_body(target="orbit")).encode(), 422),
    "unknown-administration": (
        json.dumps({**launch_body(), "administration": "XYZ"}).encode(),
        422,
    ),
    "administration-off": (json.dumps({**launch_body(), "administration": "SAS"}).encode(), 409),
}


@pytest.mark.parametrize("case", sorted(BAD_BODIES))
def test_bad_input_gets_a_problem_document_that_echoes_nothing(world, case, caplog):
    body, status = BAD_BODIES[case]
    secret = world.orbit_secret
    if case == "orbit-without-booking":
        secret = world.millennium_secret  # Millennium opens Orbit, but names no booking
    caplog.set_level(logging.DEBUG)
    result = create_launch(signed_request(body, secret), world.ports())
    problem = problem_of(result)
    assert problem.status == status
    assert problem.content_type == "application/problem+json"
    text = problem.body().decode() + caplog.text
    for personal in (PNR, PNR[:-1], "Åkerström", "OB-1", "elvis"):
        assert personal not in text
    assert world.codes == []


def test_wrong_media_type_is_415_and_huge_body_is_413(world):
    request = signed_request(launch_body(), world.orbit_secret, content_type="text/plain")
    assert problem_of(create_launch(request, world.ports())).status == 415
    huge = json.dumps({**launch_body(), "padding": "x" * 20_000}).encode()
    assert (
        problem_of(create_launch(signed_request(huge, world.orbit_secret), world.ports())).status
        == 413
    )


# --- resolution ---------------------------------------------------------------------


def test_a_patient_millennium_does_not_know_is_404_and_an_ambiguous_one_409(world):
    unknown = launch_body(value=OTHER_PNR)
    assert problem_of(create(world, unknown)).status == 404
    world.fhir.add_person(OTHER_PNR, "P1")
    world.fhir.add_person(OTHER_PNR, "P2")
    assert problem_of(create(world, unknown)).status == 409


def test_millennium_unreachable_is_503_with_retry_after(world):
    world.fhir.down = True
    problem = problem_of(create(world))
    assert problem.status == 503
    assert problem.headers["Retry-After"]


def test_the_person_id_is_cached_without_identity_numbers_in_keys_or_values(world):
    created(world)
    created(world)
    assert world.fhir.calls == ["Patient"]
    rows = list(world.store.scan(TABLE_LOOKUP))
    assert rows
    for row in rows:
        everything = row.partition_key + row.row_key + json.dumps(dict(row.data))
        assert PNR not in everything and PNR[2:] not in everything


def test_the_cache_expires_so_a_combined_person_is_followed(world):
    created(world)
    world.clock.advance(dt.timedelta(hours=9))
    created(world)
    assert world.fhir.calls == ["Patient", "Patient"]


def test_an_integrated_booking_opens_its_encounter(world):
    store_booking(world, encounter_confirmed=True, patient=make_patient(1))
    world.fhir.add_encounter("E200001", "P100001", "OB-2026-000123")
    result = created(world, launch_body(bookingId="OB-2026-000123"))
    answer = follow(world, code_of(result.launch_url))
    assert answer.headers["Location"].endswith("person=P100001&encounter=E200001")


def test_a_corrected_patients_booking_opens_the_encounter_of_its_new_alias(world):
    store_booking(world, encounter_confirmed=True, generation=1, patient=make_patient(1))
    world.fhir.add_encounter("E200001", "P100009", "OB-2026-000123")  # the old person's
    world.fhir.add_encounter("E200002", "P100001", "OB-2026-000123:1")
    result = created(world, launch_body(bookingId="OB-2026-000123"))
    answer = follow(world, code_of(result.launch_url))
    assert answer.headers["Location"].endswith("person=P100001&encounter=E200002")


def test_millennium_finds_the_booking_from_a_corrected_encounter(world):
    store_booking(world, encounter_confirmed=True, generation=1, patient=make_patient(1))
    world.fhir.add_encounter("E200002", "P100001", "OB-2026-000123:1")
    body = launch_body(target="orbit", encounterId="E200002")
    result = created(world, body, secret=world.millennium_secret)
    answer = follow(world, code_of(result.launch_url))
    assert answer.headers["Location"] == "https://orbit.example/booking/OB-2026-000123"


def test_an_unconfirmed_encounter_or_jumpout_mode_opens_the_patient_alone(world):
    store_booking(world, encounter_confirmed=False, patient=make_patient(1))
    world.fhir.add_encounter("E200001", "P100001", "OB-2026-000123")
    result = created(world, launch_body(bookingId="OB-2026-000123"))
    assert follow(world, code_of(result.launch_url)).headers["Location"].endswith("encounter=")
    jumpout = make_world(Mode.JUMPOUT)
    jumpout.fhir = world.fhir
    store_booking(jumpout, encounter_confirmed=True, patient=make_patient(1))
    result = created(jumpout, launch_body(bookingId="OB-2026-000123"))
    assert follow(jumpout, code_of(result.launch_url)).headers["Location"].endswith("encounter=")


def test_a_booking_of_another_patient_is_refused_not_opened(world):
    store_booking(world, encounter_confirmed=True, patient=make_patient(2))
    problem = problem_of(create(world, launch_body(bookingId="OB-2026-000123")))
    assert problem.status == 409
    assert OTHER_PNR not in problem.body().decode()


def test_millennium_finds_the_booking_from_its_encounter_id(world):
    store_booking(world, encounter_confirmed=True, patient=make_patient(1))
    world.fhir.add_encounter("E200001", "P100001", "OB-2026-000123")
    body = launch_body(target="orbit", encounterId="E200001")
    result = created(world, body, secret=world.millennium_secret)
    answer = follow(world, code_of(result.launch_url))
    assert answer.headers["Location"] == "https://orbit.example/booking/OB-2026-000123"
    created(world, body, secret=world.millennium_secret)
    assert world.fhir.calls == ["Encounter/"]  # the reverse lookup is cached


def test_an_unknown_booking_or_encounter_is_404(world):
    body = launch_body(target="orbit", bookingId="OB-404")
    assert problem_of(create(world, body, secret=world.millennium_secret)).status == 404
    body = launch_body(target="orbit", encounterId="E404")
    assert problem_of(create(world, body, secret=world.millennium_secret)).status == 404


def test_a_missing_template_is_503_for_the_operator(world):
    su = world.profiles.get("SU")
    world.profiles._profiles["SU"] = su.model_copy(
        update={"launch": su.launch.model_copy(update={"millennium_url": ""})}
    )
    assert problem_of(create(world)).status == 503


def test_a_stamp_not_told_where_millennium_is_answers_503_naming_the_setting(world):
    """A new stamp whose rollout has not set MILLENNIUM_WEB_URL yet: the shipped
    profile's template stays unexpanded, and the operator is told which setting."""
    world.profiles._profiles["SU"] = load_profile(PROFILES_DIR / "SU.toml", {})
    problem = problem_of(create(world))
    assert problem.status == 503
    assert "MILLENNIUM_WEB_URL" in problem.detail


# --- audit and logs ------------------------------------------------------------------


def test_each_launch_is_audited_by_hsa_id_without_identity_numbers(world, caplog):
    caplog.set_level(logging.DEBUG)
    second = dt.timedelta(seconds=1)
    code = code_of(created(world).launch_url)
    world.clock.advance(second)
    follow(world, code)
    world.clock.advance(second)
    follow(world, code)
    world.clock.advance(second)
    problem_of(create(world, launch_body(value=OTHER_PNR)))  # 404: refused
    rows = audit_of_day(world.store, NOW.date())
    assert [row["event"] for row in rows] == ["created", "followed", "gone", "refused"]
    assert {row["userHsaId"] for row in rows} == {USER}
    assert [row["personId"] for row in rows[:3]] == ["P100001"] * 3
    assert rows[2]["reason"] == "used"
    assert rows[3]["status"] == 404
    assert {row["administration"] for row in rows} == {"SU"}
    assert {row["target"] for row in rows} == {"millennium"}
    assert len({row["launchId"] for row in rows[:3]}) == 1
    for entity in world.store.scan(TABLE_LAUNCHES):
        text = entity.partition_key + entity.row_key + json.dumps(dict(entity.data))
        assert PNR not in text and OTHER_PNR not in text and code not in text
    assert PNR not in caplog.text and OTHER_PNR not in caplog.text
    assert code not in caplog.text
    assert "launch create status=201" in caplog.text
    assert "launch follow status=302" in caplog.text


def test_a_follow_that_cannot_be_audited_fails_closed(world):
    code = code_of(created(world).launch_url)
    from tests.fakes import StoreOutage

    answer = follow_launch(code, store=StoreOutage(world.store, {"insert"}), clock=world.clock)
    assert answer.status == 503
    assert "Location" not in answer.headers


def test_a_redeemed_code_keeps_its_record_and_when_it_was_used(world):
    code = code_of(created(world).launch_url)
    world.clock.advance(dt.timedelta(seconds=5))
    follow(world, code)
    (row,) = list(world.store.scan(TABLE_LAUNCHES, row_key="code"))
    assert row.data["userHsaId"] == USER
    assert row.data["usedAt"] == (NOW + dt.timedelta(seconds=5)).isoformat()
    assert row.partition_key.startswith("code-") and code not in row.partition_key


# --- the launch URL's base -----------------------------------------------------------


def test_the_launch_url_ignores_every_header_the_caller_sends(world: LaunchWorld) -> None:
    headers = {"host": "127.0.0.1:27071@evil.example", "x-forwarded-host": "evil.example"}
    request = signed_request(launch_body(), world.orbit_secret)
    request = LaunchHttpRequest.of({**request.headers, **headers}, request.body)
    result = create_launch(request, world.ports(public_base_url="https://func-su.example/"))
    assert isinstance(result, LaunchCreated)
    assert result.launch_url == f"https://func-su.example/api/launch/{world.codes[0]}"


@pytest.mark.parametrize(
    "value",
    [
        "",
        "func-su.example",
        "ftp://func-su.example",
        "https://user@evil.example",
        "https://127.0.0.1:27071@evil.example",
        "https://func-su.example/?x=1",
        "https://func-su.example/#x",
        "https://func-su.example:port",
    ],
)
def test_a_missing_or_malformed_public_base_url_switches_the_jump_out_off(value: str) -> None:
    with pytest.raises(RequestDeferred) as refused:
        public_base_url(value)
    assert refused.value.status == 503
    assert "PUBLIC_BASE_URL" in refused.value.note


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://func-su.azurewebsites.net", "https://func-su.azurewebsites.net"),
        ("https://gateway.vgr.example/orbit/", "https://gateway.vgr.example/orbit"),
        ("http://127.0.0.1:7071", "http://127.0.0.1:7071"),
    ],
)
def test_a_public_base_url_is_taken_as_configured(value: str, expected: str) -> None:
    assert public_base_url(value) == expected


# --- the body: strict, and never echoing unknown keys --------------------------------


def test_an_unknown_key_named_after_the_patient_is_not_echoed(world: LaunchWorld) -> None:
    body = launch_body()
    body.update({"Tolvansson": "x", PNR: 1})
    result = create(world, body)
    assert isinstance(result, ProblemResponse) and result.status == 400
    assert [error.path for error in result.errors] == ["<key>", "<key>"]
    text = result.body().decode()
    assert "Tolvansson" not in text and PNR not in text


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"bookingId": 123}, "bookingId"),
        ({"user": {"hsaId": True}}, "user.hsaId"),
        ({"target": 1}, "target"),
    ],
)
def test_the_launch_body_is_parsed_strictly(world: LaunchWorld, change, path) -> None:
    result = create(world, launch_body(**change))
    assert isinstance(result, ProblemResponse) and result.status == 400
    assert [error.path for error in result.errors] == [path]


def test_an_identity_number_as_booking_id_is_refused_without_echo(world: LaunchWorld) -> None:
    result = create(world, launch_body(bookingId=OTHER_PNR))
    assert isinstance(result, ProblemResponse) and result.status == 422
    assert [error.path for error in result.errors] == ["bookingId"]
    assert OTHER_PNR not in result.body().decode()


# --- dead codes: one answer, one cost, audited once -----------------------------------


class CountingStore:
    """Passes everything to ``store`` and records the name of each call."""

    def __init__(self, store: object) -> None:
        self._store = store
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> object:
        self.calls.append(name)
        return getattr(self._store, name)


def _dead_codes(world: LaunchWorld) -> dict[str, str]:
    """One used, one expired, one unknown and one malformed code, each refused once."""
    used = code_of(created(world).launch_url)
    expired = code_of(created(world).launch_url)
    assert follow(world, used).status == 302
    world.clock.advance(CODE_LIFETIME)
    codes = {"used": used, "expired": expired, "unknown": "B" * 43, "malformed": "<script>"}
    for code in codes.values():
        assert follow(world, code).status == 410
    return codes


def test_used_expired_unknown_and_malformed_codes_cost_the_same_after_the_first_refusal(
    world: LaunchWorld,
) -> None:
    codes = _dead_codes(world)
    answers = {}
    for kind, code in codes.items():
        counting = CountingStore(world.store)
        answer = follow_launch(code, store=counting, clock=world.clock)  # type: ignore[arg-type]
        answers[kind] = (answer.status, answer.body, dict(answer.headers))
        assert counting.calls == ["get"], kind  # one read, no write
    assert len(set(map(repr, answers.values()))) == 1  # the same answer for all four


def test_repeated_refusals_of_a_code_are_audited_once(world: LaunchWorld) -> None:
    codes = _dead_codes(world)
    for _ in range(3):
        for code in codes.values():
            follow(world, code)
    rows = audit_of_day(world.store, NOW.date())
    gone = sorted(row["reason"] for row in rows if row["event"] == "gone")
    assert gone == ["expired", "used"]
