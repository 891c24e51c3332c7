"""The FHIR adapter and its OAuth2 token against scripted HTTP answers (httpx.MockTransport)."""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable
from urllib.parse import parse_qs

import httpx
import pytest

from shared.launch.fhir import ClientCredentials, FhirUnavailable, HttpxFhir, build_fhir
from tests.builders import synthetic_personnummer

BASE = "https://fhir.example/r4"
TOKEN_URL = "https://auth.example/token"
PNR = synthetic_personnummer(5)
SYSTEM = "urn:oid:1.2.752.129.2.1.3.1"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def client(handler: Callable[[httpx.Request], httpx.Response]) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(handler))


def bundle(*resources: dict) -> dict:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"resource": r, "search": {"mode": "match"}} for r in resources],
    }


def test_patient_search_sends_system_and_value_and_reads_the_ids():
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=bundle({"resourceType": "Patient", "id": "P1"}))

    fhir = HttpxFhir(BASE, client=client(answer))
    assert fhir.person_ids(SYSTEM, PNR) == ["P1"]
    (request,) = seen
    assert request.url.path == "/r4/Patient"
    assert parse_qs(request.url.query.decode()) == {"identifier": [f"{SYSTEM}|{PNR}"]}
    assert request.headers["accept"] == "application/fhir+json"
    assert "authorization" not in request.headers


def test_included_resources_and_other_types_are_not_matches():
    page = bundle({"resourceType": "Patient", "id": "P1"})
    page["entry"].append(
        {"resource": {"resourceType": "Patient", "id": "P9"}, "search": {"mode": "include"}}
    )
    page["entry"].append({"resource": {"resourceType": "OperationOutcome"}})
    fhir = HttpxFhir(BASE, client=client(lambda _: httpx.Response(200, json=page)))
    assert fhir.person_ids(SYSTEM, PNR) == ["P1"]


def test_encounters_carry_their_person_and_identifiers():
    encounter = {
        "resourceType": "Encounter",
        "id": "E7",
        "identifier": [{"system": "ORBIT", "value": "OB-1"}],
        "subject": {"reference": "Patient/P1"},
    }

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/Encounter/E7"):
            return httpx.Response(200, json=encounter)
        if request.url.path.endswith("/Encounter/E404"):
            return httpx.Response(404, json={"resourceType": "OperationOutcome"})
        return httpx.Response(200, json=bundle(encounter))

    fhir = HttpxFhir(BASE, client=client(answer))
    (found,) = fhir.encounters_with_identifier("OB-1")
    assert (found.encounter_id, found.person_id, found.identifiers) == (
        "E7",
        "P1",
        (("ORBIT", "OB-1"),),
    )
    assert fhir.encounter("E7") == found
    assert fhir.encounter("E404") is None


@pytest.mark.parametrize(
    "failure",
    [
        lambda _: httpx.Response(500, text=f"database error for {PNR}"),
        lambda _: httpx.Response(200, text="<html>not json</html>"),
        lambda _: httpx.Response(200, json=[1, 2]),
        lambda request: (_ for _ in ()).throw(httpx.ConnectError(f"cannot reach {request.url}")),
        lambda request: (_ for _ in ()).throw(httpx.ReadTimeout("timed out", request=request)),
    ],
)
def test_failures_are_transient_and_never_name_the_url_or_identifier(failure, caplog):
    caplog.set_level(logging.DEBUG)
    fhir = HttpxFhir(BASE, client=client(failure))
    with pytest.raises(FhirUnavailable) as raised:
        fhir.person_ids(SYSTEM, PNR)
    assert PNR not in str(raised.value) and "fhir.example" not in str(raised.value)
    error = raised.value  # no chained httpx error (its text holds the URL) in a traceback
    assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)
    assert PNR not in caplog.text


def test_httpx_request_logging_is_silenced_because_urls_carry_identifiers(caplog):
    caplog.set_level(logging.DEBUG)
    fhir = HttpxFhir(
        BASE,
        client=httpx.Client(
            transport=httpx.MockTransport(lambda _: httpx.Response(200, json=bundle()))
        ),
    )
    fhir.person_ids(SYSTEM, PNR)
    assert logging.getLogger("httpx").getEffectiveLevel() >= logging.WARNING
    assert PNR not in caplog.text


def token_server(tokens: list[str], seen: list[httpx.Request], lifetime: int = 3600):
    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200, json={"access_token": tokens[len(seen) - 1], "expires_in": lifetime}
        )

    return answer


def test_client_credentials_use_basic_auth_and_cache_the_token_until_near_expiry():
    seen: list[httpx.Request] = []
    clock = Clock()
    token = ClientCredentials(
        TOKEN_URL,
        "orbit-app",
        "s3cret",
        "system/Patient.read",
        client=client(token_server(["t1", "t2"], seen)),
        clock=clock,
    )
    assert token.token() == "t1"
    assert token.token() == "t1"
    assert len(seen) == 1
    request = seen[0]
    assert request.method == "POST"
    assert parse_qs(request.content.decode()) == {
        "grant_type": ["client_credentials"],
        "scope": ["system/Patient.read"],
    }
    assert (
        request.headers["authorization"]
        == "Basic " + base64.b64encode(b"orbit-app:s3cret").decode()
    )
    clock.now += 3600 - 59  # within the last minute: renewed early
    assert token.token() == "t2"


def test_a_401_from_fhir_renews_the_token_once():
    tokens: list[httpx.Request] = []
    token = ClientCredentials(
        TOKEN_URL, "id", "secret", "", client=client(token_server(["old", "new"], tokens))
    )
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["authorization"])
        if request.headers["authorization"] == "Bearer old":
            return httpx.Response(401)
        return httpx.Response(200, json=bundle({"resourceType": "Patient", "id": "P1"}))

    fhir = HttpxFhir(BASE, token=token, client=client(answer))
    assert fhir.person_ids(SYSTEM, PNR) == ["P1"]
    assert seen == ["Bearer old", "Bearer new"]


def test_a_failing_token_endpoint_is_transient_and_names_no_secret():
    answers = client(lambda _: httpx.Response(400, json={"error": "invalid_client"}))
    token = ClientCredentials(TOKEN_URL, "id", "s3cret", "", client=answers)
    with pytest.raises(FhirUnavailable, match="HTTP 400") as raised:
        token.token()
    assert "s3cret" not in str(raised.value)
    broken = ClientCredentials(
        TOKEN_URL, "id", "s", "", client=client(lambda _: httpx.Response(200, json={}))
    )
    with pytest.raises(FhirUnavailable, match="no access_token"):
        broken.token()


def test_build_fhir_checks_the_settings():
    with pytest.raises(ValueError, match="MILLENNIUM_FHIR_BASE_URL"):
        build_fhir("", "", "", "", "")
    with pytest.raises(ValueError, match="MILLENNIUM_FHIR_SECRET"):
        build_fhir(BASE, TOKEN_URL, "id", "", "")
    assert isinstance(build_fhir(BASE, "", "", "", ""), HttpxFhir)
