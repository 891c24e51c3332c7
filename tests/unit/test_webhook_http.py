"""The Orbit webhook through the registered Azure Functions entry point.

Every request goes through the function the blueprint registers (as the host
would call it) with `func.HttpRequest` objects; the services are an in-memory
SQLite table store and a recording bus installed with `use_services`.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import json
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import azure.functions as func
import pytest

from functions.orbit_webhook import bp
from shared.booking import BookingSnapshot
from shared.crosswalk.sqlite import SqliteTableStore
from shared.messages import EventMessage
from shared.names import ALL_TABLES, QUEUE_EVENTS, TABLE_DELIVERIES
from shared.profiles import Mode
from shared.services import Services, use_services
from shared.settings import read_settings
from shared.webhook.media import MAX_BODY_BYTES
from shared.webhook.signature import sign
from tests.builders import (
    make_patient,
    make_snapshot,
    synthetic_personnummer,
    synthetic_reservnummer,
    synthetic_samordningsnummer,
)
from tests.fakes import FixedClock, RecordingBus, StoreOutage, make_profiles

OLD_SECRET = "whsec_" + base64.b64encode(b"old-secret-for-tests-only-32byte").decode()
NEW_SECRET = "whsec_" + base64.b64encode(b"new-secret-for-tests-only-32byte").decode()
STRANGER_SECRET = "whsec_" + base64.b64encode(b"some-other-systems-secret-32byte").decode()

FAMILY_NAME = "Webhooksson"
GIVEN_NAME = "Synnöve"
PATIENT_NUMBER = synthetic_personnummer(7)
NOW = dt.datetime(2026, 11, 22, 7, 15, tzinfo=dt.UTC)
URL = "http://127.0.0.1:7071/api/orbit/events"
TYPE_PREFIX = "se.vgr.orbit.booking."


def _registered_function() -> Callable[[func.HttpRequest], func.HttpResponse]:
    app = func.FunctionApp()
    app.register_functions(bp)
    (function,) = [f for f in app.get_functions() if f.get_function_name() == "orbit_webhook"]
    user_function: Callable[[func.HttpRequest], func.HttpResponse] = function.get_user_function()
    return user_function


WEBHOOK = _registered_function()


@dataclasses.dataclass
class World:
    store: Any
    bus: RecordingBus
    services: Services


@pytest.fixture
def world() -> Iterator[World]:
    store = SqliteTableStore(":memory:")
    store.create_tables(ALL_TABLES)
    bus = RecordingBus()
    settings = dataclasses.replace(read_settings(), orbit_webhook_secrets=(OLD_SECRET, NEW_SECRET))
    services = Services(
        settings=settings,
        store=store,
        bus=bus,
        profiles=make_profiles(SU=Mode.INTEGRATED, SAS=Mode.JUMPOUT, NU=Mode.OFF),
        clock=FixedClock(NOW),
    )
    use_services(services)
    yield World(store, bus, services)
    use_services(None)


def in_administration(code: str) -> dict[str, Any]:
    """Snapshot data of an administration the builders know no sites for."""
    data = snapshot().model_dump(mode="json", by_alias=True)
    data["administration"] = code
    return data


def snapshot(**overrides: Any) -> BookingSnapshot:
    patient = make_patient(7, family_name=FAMILY_NAME, given_name=GIVEN_NAME)
    return make_snapshot(**{"patient": patient, **overrides})


def event(data: BookingSnapshot | dict[str, Any] | None = None, **envelope: Any) -> dict[str, Any]:
    """A CloudEvent as JSON-ready data; ``envelope`` replaces attributes."""
    if data is None:
        data = snapshot()
    if isinstance(data, BookingSnapshot):
        data = data.model_dump(mode="json", by_alias=True)
    kind = "cancelled" if data["status"] == "cancelled" else "updated"
    document = {
        "specversion": "1.0",
        "id": f"evt-{data['bookingId']}-v{data['version']}",
        "source": f"orbit://vgr/{data['administration']}",
        "type": f"{TYPE_PREFIX}{kind}.v1",
        "subject": f"bookings/{data['bookingId']}",
        "time": "2026-11-22T08:15:00+01:00",
        "datacontenttype": "application/json",
        "data": data,
    }
    document.update(envelope)
    return document


def encode(document: dict[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False).encode()


def post(
    body: bytes,
    *,
    secret: str | None = NEW_SECRET,
    webhook_id: str = "msg_2f9Xq",
    age: int = 0,
    content_type: str | None = "application/cloudevents+json",
    extra_headers: dict[str, str] | None = None,
) -> func.HttpResponse:
    headers: dict[str, str] = {}
    if secret is not None:
        headers.update(sign(secret, webhook_id, int(time.time()) - age, body))
    if content_type is not None:
        headers["Content-Type"] = content_type
    headers.update(extra_headers or {})
    return WEBHOOK(func.HttpRequest("POST", URL, headers=headers, body=body))


def problem_of(response: func.HttpResponse, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_body()
    assert response.mimetype == "application/problem+json"
    document: dict[str, Any] = json.loads(response.get_body())
    assert document["status"] == status
    assert document["type"].startswith("https://orbit-millennium.vgr.se/problems/")
    assert document["title"] and document["detail"] and document["correlationId"]
    return document


def paths(document: dict[str, Any]) -> set[str]:
    return {error["path"] for error in document.get("errors", [])}


def with_bad_check_digit(value: str) -> str:
    return value[:-1] + str((int(value[-1]) + 1) % 10)


# --- 202 and idempotency -------------------------------------------------------------


def test_accepted_event_is_enqueued_with_its_snapshot(world: World) -> None:
    document = event(snapshot(version=3))
    response = post(encode(document), webhook_id="msg_first")

    assert response.status_code == 202
    body = json.loads(response.get_body())
    assert body["eventId"] == document["id"]
    assert body["bookingId"] == "OB-2026-000123"
    (message,) = world.bus.sent
    assert message.queue == QUEUE_EVENTS
    assert message.session_id == "OB-2026-000123"
    assert message.message_id == "SU:OB-2026-000123:v3"
    assert message.properties["correlationId"] == body["correlationId"]
    enqueued = EventMessage.model_validate_json(message.body)
    assert enqueued.snapshot == snapshot(version=3)
    assert enqueued.event_id == document["id"]
    assert enqueued.event_type == document["type"]
    assert enqueued.webhook_id == "msg_first"
    assert enqueued.correlation_id == body["correlationId"]
    assert enqueued.received_at == NOW


def test_same_webhook_id_gets_the_original_202_and_no_second_message(world: World) -> None:
    body = encode(event())
    first = post(body, webhook_id="msg_again")
    second = post(body, webhook_id="msg_again")

    assert first.status_code == second.status_code == 202
    assert json.loads(second.get_body()) == json.loads(first.get_body())
    assert len(world.bus.sent) == 1


def test_webhook_id_with_characters_forbidden_in_table_keys_works(world: World) -> None:
    body = encode(event())
    for _ in range(2):
        assert post(body, webhook_id="orbit/2026#17?a\\b").status_code == 202
    assert len(world.bus.sent) == 1
    (entity,) = list(world.store.scan(TABLE_DELIVERIES))
    assert all(character in "0123456789abcdef" for character in entity.partition_key)


def test_a_new_webhook_id_for_the_same_event_is_enqueued_again_under_the_same_message_id(
    world: World,
) -> None:
    body = encode(event())
    assert post(body, webhook_id="msg_a").status_code == 202
    assert post(body, webhook_id="msg_b").status_code == 202
    # The bus's duplicate detection drops the second copy: same MessageId.
    assert [m.message_id for m in world.bus.sent] == ["SU:OB-2026-000123:v1"] * 2


def test_reusing_a_webhook_id_for_a_different_body_is_refused(world: World) -> None:
    assert post(encode(event(snapshot(version=1))), webhook_id="msg_x").status_code == 202
    response = post(encode(event(snapshot(version=2))), webhook_id="msg_x")

    document = problem_of(response, 422)
    assert paths(document) == {"webhook-id"}
    assert len(world.bus.sent) == 1


def test_cancellation_is_accepted(world: World) -> None:
    cancelled = snapshot(version=2, status="cancelled", cancellation_reason="Patienten sjuk")
    response = post(encode(event(cancelled)))
    assert response.status_code == 202
    assert EventMessage.model_validate_json(world.bus.sent[0].body).snapshot.status == "cancelled"


def test_charset_parameter_and_plain_json_media_type_are_accepted(world: World) -> None:
    response = post(encode(event()), content_type="application/json; charset=UTF-8")
    assert response.status_code == 202


def test_jumpout_administration_is_accepted(world: World) -> None:
    assert post(encode(event(snapshot(administration="SAS")))).status_code == 202
    assert len(world.bus.sent) == 1


# --- 401 -------------------------------------------------------------------------------


def test_second_of_two_rotated_secrets_is_accepted(world: World) -> None:
    assert post(encode(event()), secret=NEW_SECRET, webhook_id="m1").status_code == 202
    assert post(encode(event()), secret=OLD_SECRET, webhook_id="m2").status_code == 202


@pytest.mark.parametrize(
    ("description", "request_kwargs"),
    [
        ("no signature headers", {"secret": None}),
        ("secret not in the list", {"secret": STRANGER_SECRET}),
        ("expired timestamp", {"age": 301}),
        ("timestamp from the future", {"age": -310}),
        ("malformed signature", {"extra_headers": {"webhook-signature": "v1,not base64!"}}),
        ("wrong signature version", {"extra_headers": {"webhook-signature": "v1a,AAAA"}}),
        ("non-numeric timestamp", {"extra_headers": {"webhook-timestamp": "yesterday"}}),
    ],
)
def test_unauthentic_deliveries_get_401(
    world: World, description: str, request_kwargs: dict[str, Any]
) -> None:
    response = post(encode(event()), **request_kwargs)
    problem_of(response, 401)
    assert world.bus.sent == []


def test_a_body_changed_after_signing_gets_401(world: World) -> None:
    body = encode(event())
    headers = sign(NEW_SECRET, "msg_t", int(time.time()), body)
    headers["Content-Type"] = "application/cloudevents+json"
    tampered = body.replace(b'"version": 1', b'"version": 9')
    response = WEBHOOK(func.HttpRequest("POST", URL, headers=headers, body=tampered))
    problem_of(response, 401)


def test_without_configured_secrets_the_event_is_not_accepted_and_orbit_retries(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    world.services.settings = dataclasses.replace(world.services.settings, orbit_webhook_secrets=())
    with caplog.at_level(logging.INFO, logger="orbitsync.webhook"):
        response = post(encode(event()))
    problem_of(response, 503)
    assert response.headers["Retry-After"]
    (line,) = [r for r in caplog.records if r.name == "orbitsync.webhook"]
    assert line.levelno == logging.ERROR
    assert "reason=not-configured" in line.getMessage()
    assert "ORBIT_WEBHOOK_SECRETS" in line.getMessage()


# --- 400, 413, 415 ---------------------------------------------------------------------


def test_invalid_json_gets_400(world: World) -> None:
    document = problem_of(post(b'{"specversion": "1.0", '), 400)
    assert paths(document) == {"body"}
    assert "line 1" in document["errors"][0]["message"]


def test_json_that_is_not_an_object_gets_400(world: World) -> None:
    assert paths(problem_of(post(b"[1, 2]"), 400)) == {"body"}


def test_deeply_nested_json_gets_400_not_500(world: World) -> None:
    problem_of(post(b"[" * 100_000 + b"]" * 100_000), 400)


def test_body_that_is_not_utf8_gets_400(world: World) -> None:
    body = encode(event()).replace("ö".encode(), "ö".encode("latin-1"))
    headers = {"Content-Type": "application/json", "webhook-id": "m", "webhook-signature": "v1,AA"}
    headers["webhook-timestamp"] = str(int(time.time()))
    response = WEBHOOK(func.HttpRequest("POST", URL, headers=headers, body=body))
    assert paths(problem_of(response, 400)) == {"body"}


def _without(path: str) -> Callable[[dict[str, Any]], None]:
    def remove(document: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        for part in parents:
            document = document[part]
        del document[last]

    return remove


def _setting(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def assign(document: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        for part in parents:
            document = document[part]
        document[last] = value

    return assign


@pytest.mark.parametrize(
    ("change", "expected_paths"),
    [
        (
            _setting("data.patient.identifier.system", "passport"),
            {"data.patient.identifier.system"},
        ),
        (_without("data.patient.identifier.system"), {"data.patient.identifier.system"}),
        (
            _setting("data.patient.identifier.value", PATIENT_NUMBER + "1"),
            {"data.patient.identifier.value"},
        ),
        (_setting("data.patient.familyName", "x" * 201), {"data.patient.familyName"}),
        (_setting("data.version", 0), {"data.version"}),
        (_setting("data.status", "tentative"), {"data.status"}),
        (_setting("data.procedure.code", "hip"), {"data.procedure.code"}),
        (_setting("data.operatingUnit.hsaId", "unit-1"), {"data.operatingUnit.hsaId"}),
        (_setting("data.plannedStart", "2026-12-01T08:00:00"), {"data.plannedStart"}),
        (_setting("data.admission.type", "overnight"), {"data.admission.type"}),
        (_without("data.bookingId"), {"data.bookingId"}),
        (_without("data"), {"data"}),
        (_setting("specversion", "0.3"), {"specversion"}),
        (_setting("type", "se.vgr.orbit.booking.moved.v1"), {"type"}),
        (_setting("time", "yesterday"), {"time"}),
        (_setting("id", ""), {"id"}),
        (_setting("BadExtension", "x"), {"<key>"}),
        (_setting("data.version", True), {"data.version"}),
        (_setting("data.version", 3.0), {"data.version"}),
        (_setting("data.patient.protectedIdentity", 0), {"data.patient.protectedIdentity"}),
        (_setting("datacontenttype", None), {"datacontenttype"}),
        (_setting("source", "https://evil.example"), {"source"}),
    ],
)
def test_schema_errors_get_400_listing_the_failing_paths(
    world: World, change: Callable[[dict[str, Any]], None], expected_paths: set[str]
) -> None:
    document = event()
    change(document)
    problem = problem_of(post(encode(document)), 400)
    assert paths(problem) == expected_paths
    assert world.bus.sent == []


def test_many_schema_errors_are_listed_together(world: World) -> None:
    document = event()
    document["data"]["patient"] = {"identifier": {"system": "passport", "value": "x"}}
    document["data"]["version"] = "three"
    problem = problem_of(post(encode(document)), 400)
    assert {
        "data.patient.identifier.system",
        "data.patient.identifier.value",
        "data.patient.familyName",
        "data.patient.givenName",
        "data.version",
    } <= paths(problem)


def test_base64_data_is_refused_with_a_hint(world: World) -> None:
    document = event()
    document["data_base64"] = base64.b64encode(json.dumps(document.pop("data")).encode()).decode()
    assert "data_base64" in paths(problem_of(post(encode(document)), 400))


def test_announced_body_over_the_limit_gets_413(world: World) -> None:
    response = post(encode(event()), extra_headers={"Content-Length": str(MAX_BODY_BYTES + 1)})
    problem_of(response, 413)


def test_actual_body_over_the_limit_gets_413(world: World) -> None:
    document = event()
    document["padding"] = "x" * MAX_BODY_BYTES
    problem_of(post(encode(document)), 413)
    assert world.bus.sent == []


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "text/plain",
        "application/xml",
        "application/cloudevents-batch+json",
        "application/json; charset=latin-1",
    ],
)
def test_wrong_media_type_gets_415(world: World, content_type: str | None) -> None:
    problem_of(post(encode(event()), content_type=content_type), 415)


# --- 422 and 409 -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("system", "valid_number"),
    [
        ("personnummer", synthetic_personnummer(7)),
        ("samordningsnummer", synthetic_samordningsnummer(7)),
        ("reservnummer", synthetic_reservnummer(7)),
    ],
)
def test_bad_check_digit_gets_422_for_every_identifier_system(
    world: World, system: str, valid_number: str
) -> None:
    document = event()
    document["data"]["patient"]["identifier"] = {"system": system, "value": valid_number}
    assert post(encode(document), webhook_id=f"ok-{system}").status_code == 202

    document["data"]["patient"]["identifier"]["value"] = with_bad_check_digit(valid_number)
    problem = problem_of(post(encode(document), webhook_id=f"bad-{system}"), 422)
    assert paths(problem) == {"data.patient.identifier.value"}
    assert "check digit" in problem["errors"][0]["message"]


def test_end_before_start_gets_422(world: World) -> None:
    data = snapshot().model_dump(mode="json", by_alias=True)
    data["plannedEnd"] = "2026-12-01T07:00:00+01:00"
    assert paths(problem_of(post(encode(event(data))), 422)) == {"data.plannedEnd"}


def test_inpatient_without_ward_gets_422(world: World) -> None:
    data = snapshot(admission={"type": "inpatient"})
    assert paths(problem_of(post(encode(event(data))), 422)) == {"data.admission.ward"}


@pytest.mark.parametrize(
    ("status", "event_type"),
    [("booked", "cancelled"), ("cancelled", "updated"), ("cancelled", "created")],
)
def test_type_that_disagrees_with_status_gets_422(
    world: World, status: str, event_type: str
) -> None:
    document = event(snapshot(status=status), type=f"{TYPE_PREFIX}{event_type}.v1")
    assert paths(problem_of(post(encode(document)), 422)) == {"type"}


def test_subject_naming_another_booking_gets_422(world: World) -> None:
    document = event(subject="bookings/OB-2026-999999")
    assert paths(problem_of(post(encode(document)), 422)) == {"subject"}


def test_event_without_subject_is_accepted(world: World) -> None:
    document = event()
    del document["subject"]
    assert post(encode(document)).status_code == 202


def test_unknown_administration_gets_422_naming_the_code(world: World) -> None:
    problem = problem_of(post(encode(event(in_administration("XYZ")))), 422)
    assert paths(problem) == {"data.administration"}
    assert "XYZ" in problem["detail"]


def test_administration_switched_off_gets_409(world: World) -> None:
    problem = problem_of(post(encode(event(in_administration("NU")))), 409)
    assert problem["type"].endswith("/administration-off")
    assert "not switched on" in problem["detail"]
    assert world.bus.sent == []


# --- 503 and 500 -----------------------------------------------------------------------


def test_bus_down_gets_503_and_nothing_is_recorded_as_accepted(world: World) -> None:
    world.bus.down = True
    body = encode(event())
    problem = problem_of(post(body, webhook_id="msg_down"), 503)
    assert problem["type"].endswith("/unavailable")
    assert list(world.store.scan(TABLE_DELIVERIES)) == []  # the claim is given up

    world.bus.down = False  # Orbit retries the same delivery once the queue is back
    assert post(body, webhook_id="msg_down").status_code == 202
    assert len(world.bus.sent) == 1


def test_503_carries_retry_after(world: World) -> None:
    world.bus.down = True
    response = post(encode(event()))
    assert int(response.headers["Retry-After"]) > 0


def test_store_down_before_the_claim_gets_503_and_nothing_is_enqueued(world: World) -> None:
    world.services.store = StoreOutage(world.store, {"insert"})
    problem_of(post(encode(event())), 503)
    assert world.bus.sent == []


def test_store_down_after_enqueue_still_answers_202_and_a_retry_reuses_the_message_id(
    world: World,
) -> None:
    body = encode(event())
    world.services.store = StoreOutage(world.store, {"update"})
    assert post(body, webhook_id="msg_half").status_code == 202  # it *is* on the queue

    world.services.store = world.store
    assert post(body, webhook_id="msg_half").status_code == 202
    first, second = world.bus.sent
    assert first.message_id == second.message_id  # dropped by duplicate detection


def test_a_claim_cut_short_before_the_enqueue_is_enqueued_by_the_retry(world: World) -> None:
    body = encode(event())
    world.bus.down = True
    problem_of(post(body, webhook_id="msg_cut"), 503)
    world.bus.down = False

    first = post(body, webhook_id="msg_cut")
    again = post(body, webhook_id="msg_cut")

    assert first.status_code == again.status_code == 202
    assert len(world.bus.sent) == 1  # the second retry found the claim accepted
    assert json.loads(first.get_body()) == json.loads(again.get_body())


def test_unexpected_failure_gets_a_500_without_details(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    def explode(messages: Any) -> None:
        raise RuntimeError(f"boom {PATIENT_NUMBER}")

    world.bus.send = explode  # type: ignore[method-assign]
    with caplog.at_level(logging.INFO):
        problem = problem_of(post(encode(event())), 500)
    assert "boom" not in json.dumps(problem)
    assert "error_type=RuntimeError" in caplog.text
    assert PATIENT_NUMBER not in caplog.text


def test_services_that_cannot_be_built_get_500(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> Services:
        raise ValueError("ORBIT_WEBHOOK_SECRETS is broken")

    monkeypatch.setattr("shared.services.get_services", broken)
    problem_of(post(encode(event())), 500)


# --- registration and personal data ----------------------------------------------------


def test_function_is_registered_as_anonymous_post_on_orbit_events() -> None:
    app = func.FunctionApp()
    app.register_functions(bp)
    (function,) = app.get_functions()
    trigger: Any = function.get_trigger()
    assert function.get_function_name() == "orbit_webhook"
    assert trigger.route == "orbit/events"
    assert [str(method.value) for method in trigger.methods] == ["POST"]
    assert trigger.auth_level is func.AuthLevel.ANONYMOUS


def test_no_response_or_log_line_contains_identity_numbers_or_names(
    world: World, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    def mutated(change: Callable[[dict[str, Any]], None]) -> bytes:
        document = event()
        change(document)
        return encode(document)

    bodies = [
        encode(event()),
        encode(event()),  # replay
        mutated(_setting("data.patient.identifier.value", with_bad_check_digit(PATIENT_NUMBER))),
        mutated(_setting("data.patient.identifier.value", PATIENT_NUMBER + "0")),
        mutated(_setting("data.patient.identifier.value", PATIENT_NUMBER[:11] + "X")),
        mutated(_setting("data.patient.identifier.system", PATIENT_NUMBER)),
        mutated(_setting("data.patient.familyName", FAMILY_NAME * 30)),
        mutated(_setting("data.patient.givenName", 12)),
        mutated(_setting("data.version", PATIENT_NUMBER)),
        mutated(_setting("data.bookingId", PATIENT_NUMBER + "/")),
        mutated(_setting(PATIENT_NUMBER, GIVEN_NAME)),
        mutated(_setting("subject", f"{FAMILY_NAME} {PATIENT_NUMBER}")),
        mutated(_setting("type", f"{FAMILY_NAME}.{GIVEN_NAME}")),
        mutated(_setting("data.plannedEnd", "2026-12-01T07:00:00+01:00")),
    ]
    responses = []
    with caplog.at_level(logging.DEBUG):
        for index, body in enumerate(bodies):
            responses.append(post(body, webhook_id="msg_same" if index < 2 else f"msg_{index}"))
            responses.append(post(body, secret=STRANGER_SECRET, webhook_id=f"bad_{index}"))
    world.bus.down = True
    with caplog.at_level(logging.DEBUG):
        responses.append(post(encode(event(snapshot(version=5))), webhook_id="msg_down"))

    statuses = {response.status_code for response in responses}
    assert {202, 400, 401, 422, 503} <= statuses
    captured = capsys.readouterr()
    texts = [r.get_body().decode() for r in responses] + [caplog.text, captured.out, captured.err]
    texts += [json.dumps(dict(r.headers)) for r in responses]
    for text in texts:
        for secret in (PATIENT_NUMBER, FAMILY_NAME, GIVEN_NAME):
            assert secret not in text


def test_each_delivery_logs_exactly_one_line(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="orbitsync.webhook"):
        post(encode(event()), webhook_id="msg_log")
        post(encode(event()), webhook_id="msg_log")
        post(b"{", webhook_id="msg_bad")
    lines = [r.getMessage() for r in caplog.records if r.name == "orbitsync.webhook"]
    assert len(lines) == 3
    assert "status=202 reason=accepted booking=OB-2026-000123" in lines[0]
    assert "version=1" in lines[0]
    assert "status=202 reason=replayed" in lines[1]
    assert "status=400 reason=invalid-event" in lines[2]


def test_an_event_id_that_looks_like_an_identity_number_is_refused_and_not_logged(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="orbitsync.webhook"):
        response = post(encode(event(id=PATIENT_NUMBER)))
    assert paths(problem_of(response, 422)) == {"id"}
    assert "event=(withheld:looks-like-an-identity-number)" in caplog.text
    assert PATIENT_NUMBER not in caplog.text + response.get_body().decode()
    assert world.bus.sent == []


def test_a_booking_id_that_is_an_identity_number_is_refused_and_goes_nowhere(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    data = snapshot().model_dump(mode="json", by_alias=True)
    data["bookingId"] = PATIENT_NUMBER
    document = event(data, id="evt-identity-as-booking")
    with caplog.at_level(logging.DEBUG):
        response = post(encode(document))
    assert paths(problem_of(response, 422)) == {"data.bookingId"}
    assert PATIENT_NUMBER not in caplog.text + response.get_body().decode()
    assert world.bus.sent == []
    assert list(world.store.scan(TABLE_DELIVERIES)) == []


def test_an_unknown_key_named_after_the_patient_is_not_echoed(world: World) -> None:
    extensions: dict[str, Any] = {FAMILY_NAME: "x", "tolvan": [GIVEN_NAME]}
    document = event(**extensions)
    response = post(encode(document))
    body = response.get_body().decode()
    assert paths(problem_of(response, 400)) == {"<key>"}
    assert FAMILY_NAME not in body and "tolvan" not in body and GIVEN_NAME not in body


@pytest.mark.parametrize("byte", ["\x0b", "\x1c", "\x00", "\r"])
def test_a_control_character_in_a_name_gets_422_naming_the_field(world: World, byte: str) -> None:
    """Defect 6: a frame byte in a name was accepted (202) and then stuck the booking."""
    data = snapshot().model_dump(mode="json", by_alias=True)
    data["patient"]["familyName"] = f"Berg{byte}ström"
    problem = problem_of(post(encode(event(data))), 422)
    assert paths(problem) == {"data.patient.familyName"}
    assert "control character" in problem["errors"][0]["message"]
    assert "Berg" not in json.dumps(problem)


@pytest.mark.parametrize("shape", ["evt-{}", "{}.1", "x{}"])
def test_an_event_id_holding_an_identity_number_is_refused_and_not_stored(
    world: World, shape: str
) -> None:
    """Before, only an id that was an identity number as a whole was refused; one that
    held one was accepted, stored with the booking and shown to operators."""
    event_id = shape.format(PATIENT_NUMBER)
    response = post(encode(event(id=event_id)))
    assert paths(problem_of(response, 422)) == {"id"}
    assert event_id not in response.get_body().decode()
    assert world.bus.sent == []


def test_a_uuid_event_id_is_accepted_even_where_its_digits_look_like_a_birth_date(
    world: World,
) -> None:
    """About one random UUID in 430 has a group of decimal digits shaped like an
    identity number; refusing those would lose real events."""
    event_id = f"{PATIENT_NUMBER[:8]}-{PATIENT_NUMBER[8:]}-4000-8000-000000000000"
    response = post(encode(event(id=event_id)))
    assert response.status_code == 202
