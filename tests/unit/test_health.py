"""``GET /api/health`` (shared/health.py and its trigger): liveness, readiness of the
queue, the crosswalk and the Millennium link, and every Key Vault setting's state,
with nothing a stranger could use (no secrets, no host names, no addresses)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator
from typing import Any

import azure.functions as func
import pytest

from functions.health import bp
from shared import names
from shared.crosswalk.sqlite import SqliteTableStore
from shared.health import HealthPorts, health
from shared.services import Services, use_services
from shared.settings import Settings, read_settings
from shared.webhook.signature import new_secret
from tests.fakes import RecordingBus, StoreOutage

NAMESPACE = "sb-orbitmil-su-prod-abc123.servicebus.windows.net"
TABLES = "https://stxwsuprodabc123.table.core.windows.net/"
REFERENCE = (
    "@Microsoft.KeyVault(SecretUri=https://kv-su.vault.azure.net/secrets/launch-secrets-orbit/)"
)
WEBHOOK_SECRET = new_secret()


def _store() -> SqliteTableStore:
    store = SqliteTableStore(":memory:")
    store.create_tables(names.ALL_TABLES)
    return store


def _settings(monkeypatch: pytest.MonkeyPatch, **env: str) -> Settings:
    monkeypatch.setenv("ORBIT_WEBHOOK_SECRETS", WEBHOOK_SECRET)
    monkeypatch.setenv("MILLENNIUM_MLLP_HOST", "127.0.0.1")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return read_settings()


def _azure(monkeypatch: pytest.MonkeyPatch, **env: str) -> Settings:
    """Settings as in a stamp (the store stays SQLite: the probe only calls get)."""
    settings = _settings(monkeypatch, **env)
    return dataclasses.replace(
        settings,
        queue_backend="servicebus",
        service_bus_namespace=NAMESPACE,
        crosswalk_backend="table",
        table_endpoint=TABLES,
        administrations=("SU",),
    )


def _resolver(answers: dict[str, list[str]]) -> Callable[[str], list[str]]:
    def resolve(host: str) -> list[str]:
        if host not in answers:
            raise OSError("does not resolve")
        return answers[host]

    return resolve


PRIVATE = {NAMESPACE: ["10.212.1.68"], "stxwsuprodabc123.table.core.windows.net": ["10.212.1.69"]}


def _connected(calls: list[tuple[str, int]]) -> Callable[[str, int, float], None]:
    def connect(host: str, port: int, timeout: float) -> None:
        calls.append((host, port))

    return connect


def _refused(host: str, port: int, timeout: float) -> None:
    raise ConnectionRefusedError("refused")


def test_the_local_run_is_ok(monkeypatch: pytest.MonkeyPatch) -> None:
    answer = health(
        HealthPorts(
            _settings(monkeypatch), _store(), resolve=_resolver({"127.0.0.1": ["127.0.0.1"]})
        )
    )
    assert answer.status == 200, answer.document
    checks = answer.document["checks"]
    assert answer.document["status"] == "ok"
    assert checks["queue"] == {"status": "ok", "backend": "embedded"}
    assert checks["crosswalk"] == {"status": "ok", "backend": "sqlite"}
    assert checks["millennium"]["status"] == "ok"
    assert checks["administrations"] == "all"
    assert set(checks["settings"]) == set(names.KEY_VAULT_SETTINGS)
    assert checks["retention"] == {"status": "ok"}
    assert answer.headers["Cache-Control"] == "no-store"


def test_a_malformed_retention_age_is_degraded_and_names_the_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The clean-up switches itself off; before, only its own log said so."""
    settings = _settings(monkeypatch, RETENTION_AUDIT_DAYS="365")
    answer = health(
        HealthPorts(settings, _store(), resolve=_resolver({"127.0.0.1": ["127.0.0.1"]}))
    )
    assert answer.status == 200
    assert answer.document["status"] == "degraded"
    retention = answer.document["checks"]["retention"]
    assert retention["status"] == "off"
    assert retention["problem"].startswith("RETENTION_AUDIT_DAYS must be 1827 or more")


def test_a_stamp_with_private_endpoints_reports_their_addresses(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple[str, int]] = []
    resolve = _resolver({**PRIVATE, "127.0.0.1": ["127.0.0.1"]})
    answer = health(HealthPorts(_azure(monkeypatch), _store(), resolve, _connected(calls)))
    checks = answer.document["checks"]
    assert checks["queue"] == {"status": "ok", "backend": "servicebus", "address": "private"}
    assert checks["crosswalk"]["address"] == "private"
    assert calls == [(NAMESPACE, 5671)]  # AMQP; never the Millennium interface engine
    assert checks["administrations"] == ["SU"]


def test_a_private_endpoint_name_answering_public_is_visible(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    resolve = _resolver({**PRIVATE, NAMESPACE: ["20.91.3.5"], "127.0.0.1": ["127.0.0.1"]})
    answer = health(HealthPorts(_azure(monkeypatch), _store(), resolve, _connected([])))
    assert answer.document["checks"]["queue"]["address"] == "public"


def test_an_unreachable_queue_makes_the_instance_unavailable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    answer = health(HealthPorts(_azure(monkeypatch), _store(), _resolver(PRIVATE), _refused))
    assert answer.status == 503
    assert answer.document["status"] == "unavailable"
    assert answer.document["checks"]["queue"]["error"] == "ConnectionRefusedError"


def test_an_unreachable_crosswalk_makes_the_instance_unavailable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = StoreOutage(_store(), {"get"})
    answer = health(
        HealthPorts(_settings(monkeypatch), store, resolve=_resolver({"127.0.0.1": ["127.0.0.1"]}))
    )
    assert answer.status == 503
    assert answer.document["checks"]["crosswalk"]["status"] == "unavailable"


def test_an_unresolved_secret_is_degraded_by_name_not_failed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = _azure(monkeypatch, LAUNCH_SECRETS_ORBIT=REFERENCE)
    answer = health(
        HealthPorts(
            settings, _store(), _resolver({**PRIVATE, "127.0.0.1": ["127.0.0.1"]}), _connected([])
        )
    )
    # Configuration is the same on every instance: replacing instances cannot fix it.
    assert answer.status == 200
    assert answer.document["status"] == "degraded"
    states = answer.document["checks"]["settings"]
    assert states["LAUNCH_SECRETS_ORBIT"] == "unresolved-key-vault-reference"
    assert states["ORBIT_WEBHOOK_SECRETS"] == "configured"


def test_no_webhook_secret_is_degraded(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = dataclasses.replace(_settings(monkeypatch), orbit_webhook_secrets=())
    answer = health(
        HealthPorts(settings, _store(), resolve=_resolver({"127.0.0.1": ["127.0.0.1"]}))
    )
    assert answer.document["status"] == "degraded"
    assert answer.document["checks"]["settings"]["ORBIT_WEBHOOK_SECRETS"] == "missing"


@pytest.mark.parametrize(
    ("env", "answers", "expected"),
    [
        (
            {"MILLENNIUM_MLLP_HOST": "mllp-su.millennium.vgr.internal"},
            {},
            {"address": "unresolvable"},
        ),
        (
            {"MILLENNIUM_MLLP_TLS": "on", "MILLENNIUM_MLLP_CA_BUNDLE": REFERENCE},
            {"127.0.0.1": ["127.0.0.1"]},
            {"trust": "unresolved-key-vault-reference"},
        ),
    ],
)
def test_a_millennium_link_that_cannot_work_is_not_configured(
    env: dict[str, str],
    answers: dict[str, list[str]],
    expected: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    answer = health(
        HealthPorts(_settings(monkeypatch, **env), _store(), resolve=_resolver(answers))
    )
    millennium = answer.document["checks"]["millennium"]
    assert millennium["status"] == "not-configured"
    assert expected.items() <= millennium.items()
    assert (answer.status, answer.document["status"]) == (200, "degraded")


def test_tls_with_the_system_trust_store_is_ready(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _settings(monkeypatch, MILLENNIUM_MLLP_TLS="on")
    answer = health(
        HealthPorts(settings, _store(), resolve=_resolver({"127.0.0.1": ["127.0.0.1"]}))
    )
    assert answer.document["checks"]["millennium"] == {
        "status": "ok",
        "tls": True,
        "trust": "system",
        "address": "private",
    }


# --- through the registered function ------------------------------------------------


def _registered() -> Callable[[func.HttpRequest], func.HttpResponse]:
    app = func.FunctionApp()
    app.register_functions(bp)
    (function,) = app.get_functions()
    assert function.get_function_name() == "health"
    user_function: Callable[[func.HttpRequest], func.HttpResponse] = function.get_user_function()
    return user_function


@pytest.fixture
def installed(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    settings = _settings(
        monkeypatch, LAUNCH_SECRETS_ORBIT=REFERENCE, OPS_ADMIN_SECRETS="operators-key-1"
    )
    use_services(
        Services(
            settings=settings,
            store=_store(),
            bus=RecordingBus(),
            profiles=None,  # type: ignore[arg-type]  # health reads no profile
        )
    )
    yield
    use_services(None)


def _get() -> tuple[int, dict[str, Any], str]:
    response = _registered()(func.HttpRequest("GET", "http://127.0.0.1:7071/api/health", body=b""))
    text = response.get_body().decode()
    return response.status_code, json.loads(text), text


def test_the_endpoint_is_anonymous_get_and_says_no_secret(installed: None) -> None:
    status, document, text = _get()
    assert status == 200 and document["status"] == "degraded"
    for secret in (WEBHOOK_SECRET, "operators-key-1", REFERENCE, "vault.azure.net"):
        assert secret not in text
    assert "127.0.0.1" not in text, "no host or address, only their states"


def test_the_endpoint_answers_503_when_the_services_cannot_be_built(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken() -> Services:
        raise ValueError("HOST_PORT must be a whole number")

    monkeypatch.setattr("shared.services.get_services", broken)
    status, document, text = _get()
    assert (status, document["status"], document["error"]) == (503, "unavailable", "ValueError")
    assert "whole number" not in text


@pytest.mark.parametrize("name", names.KEY_VAULT_SETTINGS)
def test_every_key_vault_setting_left_unresolved_is_reported_by_name(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _settings(monkeypatch, MILLENNIUM_MLLP_TLS="on", **{name: REFERENCE})
    answer = health(
        HealthPorts(settings, _store(), resolve=_resolver({"127.0.0.1": ["127.0.0.1"]}))
    )
    states = answer.document["checks"]["settings"]
    assert states[name] == "unresolved-key-vault-reference"
    assert [other for other, state in states.items() if state.startswith("unresolved")] == [name]
    assert (answer.status, answer.document["status"]) == (200, "degraded")
    assert "vault.azure.net" not in answer.body().decode()
