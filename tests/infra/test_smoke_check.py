"""The post-deployment smoke check (infra/scripts/smoke_check.py), offline: its
reading of the deployment outputs and its verdicts, with a fake resolver and a fake
HTTP fetch (it cannot reach a subscription from here)."""

from __future__ import annotations

import json

import pytest
from infra_support import MAIN_BICEP, parsed

from infra.scripts.smoke_check import (
    Outputs,
    check_dns,
    check_health,
    main,
    parse_outputs,
    run,
)

OUTPUTS = {
    "functionAppName": {"type": "String", "value": "func-orbitmil-su-prod-abc123"},
    "functionAppHostName": {
        "type": "String",
        "value": "func-orbitmil-su-prod-abc123.azurewebsites.net",
    },
    "privateNetworking": {"type": "Bool", "value": True},
    "privateEndpointSubnetPrefix": {"type": "String", "value": "10.212.1.64/27"},
    "privateEndpointHostNames": {
        "type": "Array",
        "value": [
            "sb-orbitmil-su-prod-abc123.servicebus.windows.net",
            "stxwsuprodabc123.table.core.windows.net",
            "sthostsuprodabc123.blob.core.windows.net",
            "kv-su-prod-abc123.vault.azure.net",
        ],
    },
}
HEALTHY = json.dumps({"status": "ok", "checks": {"queue": {"status": "ok"}}}).encode()


def _resolver(answers: dict[str, list[str]]):
    def resolve(host: str) -> list[str]:
        if host not in answers:
            raise OSError("NXDOMAIN")
        return answers[host]

    return resolve


def _outputs() -> Outputs:
    return parse_outputs(OUTPUTS)


def test_the_outputs_it_reads_are_the_ones_main_declares() -> None:
    declared = set(parsed(MAIN_BICEP)["outputs"])
    assert set(OUTPUTS) <= declared


def test_every_name_in_the_private_endpoint_subnet_passes() -> None:
    outputs = _outputs()
    answers = {host: [f"10.212.1.{68 + i}"] for i, host in enumerate(outputs.host_names)}
    checks = check_dns(outputs, _resolver(answers))
    assert len(checks) == 4
    assert all(check.passed for check in checks), [c.line() for c in checks]


def test_a_public_answer_fails_and_points_at_the_dns_topology() -> None:
    outputs = _outputs()
    answers = {host: ["10.212.1.68"] for host in outputs.host_names}
    answers["sb-orbitmil-su-prod-abc123.servicebus.windows.net"] = ["20.91.3.5"]
    checks = {check.name: check for check in check_dns(outputs, _resolver(answers))}
    failed = checks["sb-orbitmil-su-prod-abc123.servicebus.windows.net"]
    assert not failed.passed
    assert "public 20.91.3.5" in failed.detail and "privateDnsZoneMode" in failed.detail
    assert sum(check.passed for check in checks.values()) == 3


def test_a_name_that_does_not_resolve_or_lands_outside_the_subnet_fails() -> None:
    outputs = _outputs()
    answers = {host: ["10.99.0.4"] for host in outputs.host_names[1:]}
    checks = check_dns(outputs, _resolver(answers))
    assert "does not resolve" in checks[0].detail
    assert all(not check.passed for check in checks)
    assert "outside 10.212.1.64/27" in checks[1].detail


def test_without_private_networking_dns_is_not_checked() -> None:
    document = {**OUTPUTS, "privateNetworking": {"type": "Bool", "value": False}}
    (check,) = check_dns(parse_outputs(document), _resolver({}))
    assert check.passed and "off" in check.detail


def test_health_ok_passes_and_degraded_names_the_unresolved_setting() -> None:
    url = "https://app/api/health"
    assert check_health(url, lambda _: (200, HEALTHY)).passed
    degraded = {
        "status": "degraded",
        "checks": {
            "settings": {"LAUNCH_SECRETS_ORBIT": "unresolved-key-vault-reference"},
            "millennium": {"status": "not-configured"},
        },
    }
    check = check_health(url, lambda _: (200, json.dumps(degraded).encode()))
    assert not check.passed
    assert "LAUNCH_SECRETS_ORBIT unresolved-key-vault-reference" in check.detail
    assert "millennium not-configured" in check.detail


def test_health_unreachable_or_not_json_fails() -> None:
    def refuse(_: str) -> tuple[int, bytes]:
        raise OSError("connection refused")

    assert "did not answer" in check_health("https://app/api/health", refuse).detail
    assert "not a JSON" in check_health("https://app/api/health", lambda _: (502, b"<html>")).detail


def test_run_asks_the_apps_own_health_endpoint() -> None:
    asked: list[str] = []

    def fetch(url: str) -> tuple[int, bytes]:
        asked.append(url)
        return 200, HEALTHY

    outputs = _outputs()
    answers = {host: ["10.212.1.70"] for host in outputs.host_names}
    checks = run(outputs, _resolver(answers), fetch)
    assert asked == ["https://func-orbitmil-su-prod-abc123.azurewebsites.net/api/health"]
    assert len(checks) == 5


def test_main_without_an_outputs_file_explains_itself(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "az deployment group show" in capsys.readouterr().err


def test_parse_outputs_rejects_an_older_deployment() -> None:
    with pytest.raises(KeyError):
        parse_outputs({"functionAppName": {"value": "x"}})
