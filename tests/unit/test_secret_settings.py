"""Secret settings fail closed (shared/secrets.py): a value that is missing or still
an unresolved ``@Microsoft.KeyVault(...)`` reference is "not configured", is never
used as a value, and the endpoint that needs it answers 503 problem+json naming the
setting (never its value). Every secret setting of shared/names.py is covered,
each through the registered Azure Functions entry point that uses it."""

from __future__ import annotations

import json
import logging
import secrets as random
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import azure.functions as func
import pytest

from functions.launch import bp as launch_bp
from functions.ops import bp as ops_bp
from functions.orbit_webhook import bp as webhook_bp
from shared import names
from shared.crosswalk.sqlite import SqliteTableStore
from shared.names import ALL_TABLES
from shared.ops.admin_key import ADMIN_KEY_HEADER
from shared.secrets import SecretState, is_key_vault_reference, read_secret
from shared.services import Services, use_services
from shared.settings import read_settings, reset_settings
from shared.webhook.signature import new_secret, sign
from tests.fakes import FixedClock, RecordingBus
from tests.launch_fakes import NOW, launch_body, make_world

VAULT = "https://kv-su-prod-abc123.vault.azure.net"


def reference(secret: str) -> str:
    """What the platform passes when it cannot resolve a Key Vault reference."""
    return f"@Microsoft.KeyVault(SecretUri={VAULT}/secrets/{secret}/)"


def _function(bp: Any, name: str) -> Callable[[func.HttpRequest], func.HttpResponse]:
    app = func.FunctionApp()
    app.register_functions(bp)
    (function,) = [f for f in app.get_functions() if f.get_function_name() == name]
    user_function: Callable[[func.HttpRequest], func.HttpResponse] = function.get_user_function()
    return user_function


WEBHOOK = _function(webhook_bp, "orbit_webhook")
LAUNCH = _function(launch_bp, "launch_create")
OPS = _function(ops_bp, "ops_booking_trace")

ORBIT_LAUNCH_SECRET = new_secret()
MILLENNIUM_LAUNCH_SECRET = new_secret()
OPS_KEY = random.token_urlsafe(24)

GOOD_ENVIRONMENT = {
    "ORBIT_WEBHOOK_SECRETS": new_secret(),
    "LAUNCH_SECRETS_ORBIT": ORBIT_LAUNCH_SECRET,
    "LAUNCH_SECRETS_MILLENNIUM": MILLENNIUM_LAUNCH_SECRET,
    "LAUNCH_LOOKUP_SECRET": random.token_urlsafe(32),
    # Loopback and never called: every request below stops before a FHIR lookup.
    "MILLENNIUM_FHIR_BASE_URL": "http://127.0.0.1:9/r4",
    "MILLENNIUM_FHIR_TOKEN_URL": "http://127.0.0.1:9/token",
    "MILLENNIUM_FHIR_CLIENT_ID": "orbit-millennium-tests",
    "MILLENNIUM_FHIR_SECRET": random.token_urlsafe(24),
    "OPS_ADMIN_SECRETS": OPS_KEY,
    "PUBLIC_BASE_URL": "http://127.0.0.1:7071",
}


@pytest.fixture
def install(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[dict[str, str]], None]]:
    """Install services whose settings are read from ``GOOD_ENVIRONMENT`` + changes."""

    def install_with(changes: dict[str, str]) -> None:
        for name, value in {**GOOD_ENVIRONMENT, **changes}.items():
            monkeypatch.setenv(name, value)
        reset_settings()
        store = SqliteTableStore(":memory:")
        store.create_tables(ALL_TABLES)
        use_services(
            Services(
                settings=read_settings(),
                store=store,
                bus=RecordingBus(),
                profiles=make_world().profiles,
                clock=FixedClock(NOW),
            )
        )

    yield install_with
    use_services(None)
    reset_settings()


def _webhook_request() -> func.HttpRequest:
    body = json.dumps({"specversion": "1.0"}).encode()
    headers = sign(new_secret(), f"msg_{uuid.uuid4().hex}", int(NOW.timestamp()), body)
    headers["Content-Type"] = "application/cloudevents+json"
    url = "http://127.0.0.1:7071/api/orbit/events"
    return func.HttpRequest("POST", url, headers=headers, body=body)


def _launch_request(secret: str) -> func.HttpRequest:
    body = json.dumps(launch_body()).encode()
    headers = sign(secret, f"msg_{uuid.uuid4().hex}", int(time.time()), body)
    headers["Content-Type"] = "application/json"
    return func.HttpRequest("POST", "http://127.0.0.1:7071/api/launch", headers=headers, body=body)


def _ops_request(key: str) -> func.HttpRequest:
    return func.HttpRequest(
        "GET",
        "http://127.0.0.1:7071/api/ops/bookings/OB-2026-000123",
        headers={ADMIN_KEY_HEADER: key},
        route_params={"bookingId": "OB-2026-000123"},
        body=b"",
    )


# Per secret setting: the request to the endpoint that uses it. The launch requests
# are signed with a secret nobody configured, as if by the caller whose setting is
# broken; the ops request presents the literal reference text as its key.
ENDPOINT_OF: dict[str, Callable[[], func.HttpResponse]] = {
    "ORBIT_WEBHOOK_SECRETS": lambda: WEBHOOK(_webhook_request()),
    "LAUNCH_SECRETS_ORBIT": lambda: LAUNCH(_launch_request(new_secret())),
    "LAUNCH_SECRETS_MILLENNIUM": lambda: LAUNCH(_launch_request(new_secret())),
    "LAUNCH_LOOKUP_SECRET": lambda: LAUNCH(_launch_request(ORBIT_LAUNCH_SECRET)),
    "MILLENNIUM_FHIR_SECRET": lambda: LAUNCH(_launch_request(ORBIT_LAUNCH_SECRET)),
    "OPS_ADMIN_SECRETS": lambda: OPS(_ops_request(reference("ops-admin-secrets"))),
}


def test_the_list_of_secret_settings_is_complete() -> None:
    assert set(names.SECRET_SETTINGS) == {name for name in names.SETTINGS if "SECRET" in name}
    assert set(names.KEY_VAULT_SETTINGS) <= set(names.SETTINGS)
    assert set(ENDPOINT_OF) == set(names.SECRET_SETTINGS), "every secret has an endpoint test"


@pytest.mark.parametrize("name", names.KEY_VAULT_SETTINGS)
@pytest.mark.parametrize(
    "raw",
    [
        reference("x"),
        "  @microsoft.keyvault(VaultName=kv-su;SecretName=x)  ",
        "@MICROSOFT.KEYVAULT(SecretUri=https://kv.vault.azure.net/secrets/x)",
    ],
)
def test_an_unresolved_reference_is_never_a_value(
    name: str, raw: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(name, raw)
    settings = read_settings()
    secret = settings.secret(name)
    assert secret.state is SecretState.UNRESOLVED
    assert secret.value == ""
    assert "keyvault" not in repr(settings).lower(), "the literal must not be kept anywhere"
    assert name in secret.problem() and "unresolved Key Vault reference" in secret.problem()
    assert "kv" not in secret.problem().replace("Key Vault", "")


@pytest.mark.parametrize("name", names.KEY_VAULT_SETTINGS)
def test_missing_and_configured(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(name, raising=False)
    assert read_settings().secret(name).state is SecretState.MISSING
    assert read_settings().secret(name).problem() == f"{name} is not set"
    monkeypatch.setenv(name, "whsec_value-for-tests")
    secret = read_settings().secret(name)
    assert (secret.state, secret.value, secret.problem()) == (
        SecretState.CONFIGURED,
        "whsec_value-for-tests",
        "",
    )
    assert "whsec_value" not in repr(secret)


def test_reference_detection() -> None:
    assert is_key_vault_reference(reference("a"))
    assert not is_key_vault_reference("whsec_abc")
    assert not is_key_vault_reference("Microsoft.KeyVault is a service")
    assert read_secret("X", {"X": "   "}).state is SecretState.MISSING


@pytest.mark.parametrize("name", names.SECRET_SETTINGS)
def test_the_endpoint_answers_503_naming_the_unresolved_setting(
    name: str, install, caplog: pytest.LogCaptureFixture
) -> None:
    install({name: reference(name.lower().replace("_", "-"))})
    with caplog.at_level(logging.DEBUG):
        response = ENDPOINT_OF[name]()
    body = response.get_body().decode()
    assert response.status_code == 503, body
    assert response.mimetype == "application/problem+json"
    assert name in body and "unresolved Key Vault reference" in body
    assert "KeyVault(" not in body and VAULT not in body, "never the value"
    assert VAULT not in caplog.text and "KeyVault(" not in caplog.text


@pytest.mark.parametrize("name", names.SECRET_SETTINGS)
def test_with_every_secret_resolved_the_endpoint_is_not_refused_as_unconfigured(
    name: str, install
) -> None:
    # The control: the same request gets past the configuration (the launches then
    # try the loopback FHIR address, which refuses: 503 unavailable, not configured).
    install({})
    body = ENDPOINT_OF[name]().get_body().decode()
    assert "problems/not-configured" not in body, body
    assert name not in body


def test_the_reference_text_is_not_an_operators_key(install) -> None:
    # Before the fix the literal reference was accepted as a key: anyone who guessed
    # it could read the booking trace.
    install({"OPS_ADMIN_SECRETS": reference("ops-admin-secrets")})
    for key in (reference("ops-admin-secrets"), OPS_KEY):
        assert OPS(_ops_request(key)).status_code == 503


def test_a_broken_orbit_setting_does_not_refuse_launches_signed_by_millennium(install) -> None:
    install({"LAUNCH_SECRETS_ORBIT": reference("launch-secrets-orbit")})
    response = LAUNCH(_launch_request(MILLENNIUM_LAUNCH_SECRET))
    # Verified as Millennium's: refused only because Millennium must open Orbit.
    assert response.status_code == 422, response.get_body()
    assert "target" in response.get_body().decode()


def test_a_malformed_orbit_setting_does_not_refuse_launches_signed_by_millennium(
    install,
) -> None:
    install({"LAUNCH_SECRETS_ORBIT": "whsec_not-base64!"})
    assert LAUNCH(_launch_request(MILLENNIUM_LAUNCH_SECRET)).status_code == 422
    refused = LAUNCH(_launch_request(ORBIT_LAUNCH_SECRET))
    assert refused.status_code == 503
    assert "LAUNCH_SECRETS_ORBIT" in refused.get_body().decode()


def test_a_caller_never_set_up_is_simply_not_accepted(install) -> None:
    install({"LAUNCH_SECRETS_MILLENNIUM": ""})
    assert LAUNCH(_launch_request(new_secret())).status_code == 401
