"""The Bicep defines exactly the app settings, queues and tables the code reads
(shared/names.py), both ways, and connects to them with the app's identity only."""

from __future__ import annotations

from typing import Any

from infra_support import INFRA, MAIN_BICEP, parsed, resources_of_type, variable

from shared import names

FUNCTION_APP = INFRA / "modules" / "functionapp.bicep"
SERVICE_BUS = INFRA / "modules" / "servicebus.bicep"
STORAGE = INFRA / "modules" / "storage.bicep"
KEY_VAULT = INFRA / "modules" / "keyvault.bicep"

LOCAL_ONLY_SETTINGS = {
    "HOST_PORT",  # port of the local run's HTTP host; Azure Functions serves on its own
    "SIMULATOR",  # starts the Millennium simulator in the local run; never in Azure
    "SIMULATOR_HTTP_PORT",  # the local simulator's HTTP side
    "SIMULATOR_RESET",  # starts the local simulator empty
    "LOCAL_DATA_DIR",  # SQLite queue and crosswalk of the local run
}
"""Settings of shared/names.py that only make sense on a developer's machine."""

PLATFORM_SETTINGS = {
    # Functions host storage, identity-based.
    "AzureWebJobsStorage__accountName",
    "AzureWebJobsStorage__credential",
    "AzureWebJobsStorage__clientId",
    # The Service Bus extension picks the user-assigned identity with these.
    f"{names.SERVICE_BUS_CONNECTION}__credential",
    f"{names.SERVICE_BUS_CONNECTION}__clientId",
    # Entra ID authenticated telemetry export (the component has local auth off).
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
}
"""Settings the platform reads (host, extensions, exporter), not the project's code."""

SECRET_SETTINGS = {name for name in names.SETTINGS if "SECRET" in name}
"""ORBIT_WEBHOOK_SECRETS, LAUNCH_SECRETS_*, and any secret setting added later."""


def _app_settings() -> dict[str, Any]:
    return {item["name"]: item["value"] for item in variable(FUNCTION_APP, "appSettings")}


def _literal(value: Any) -> Any:
    """A setting's value with the ``secretReference`` variable expanded."""
    if isinstance(value, str):
        return value.replace("${secretReference}", variable(FUNCTION_APP, "secretReference"))
    return value


def test_every_setting_the_code_reads_is_deployed() -> None:
    deployed = set(_app_settings())
    missing = set(names.SETTINGS) - LOCAL_ONLY_SETTINGS - deployed
    assert not missing, f"add to infra/modules/functionapp.bicep: {sorted(missing)}"


def test_every_deployed_setting_is_read_by_the_code_or_the_platform() -> None:
    unknown = set(_app_settings()) - set(names.SETTINGS) - PLATFORM_SETTINGS
    assert not unknown, f"not in shared/names.py: {sorted(unknown)}"


def test_local_only_settings_are_not_deployed() -> None:
    stale = LOCAL_ONLY_SETTINGS - set(names.SETTINGS)
    assert not stale, f"local-only list names settings the code no longer reads: {stale}"
    assert not LOCAL_ONLY_SETTINGS & set(_app_settings())


def test_azure_backends_are_selected() -> None:
    settings = _app_settings()
    assert settings["QUEUE_BACKEND"] == "servicebus"
    assert settings["CROSSWALK_BACKEND"] == "table"


def test_secrets_are_key_vault_references_never_values() -> None:
    settings = _app_settings()
    assert len(SECRET_SETTINGS) >= 3
    for name in SECRET_SETTINGS:
        value = _literal(settings[name])
        assert value.startswith("@Microsoft.KeyVault(SecretUri="), name
        assert value.endswith("/)"), f"{name} must reference the latest version"


def test_connections_are_identity_based() -> None:
    settings = _app_settings()
    assert names.SETTING_SERVICE_BUS_NAMESPACE in settings
    assert settings[f"{names.SERVICE_BUS_CONNECTION}__credential"] == "managedidentity"
    assert settings["AzureWebJobsStorage__credential"] == "managedidentity"
    assert settings["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"].endswith("Authorization=AAD")


def test_queues_match_the_code_both_ways() -> None:
    deployed = [queue["name"] for queue in variable(SERVICE_BUS, "queues")]
    assert sorted(deployed) == sorted(names.ALL_QUEUES)


def test_queues_are_sessioned_deduplicated_and_dead_letter_on_expiry() -> None:
    declared = resources_of_type(SERVICE_BUS, "Microsoft.ServiceBus/namespaces/queues").values()
    (queue,) = [resource for resource in declared if not resource["existing"]]
    properties = queue["config"]["config"]["properties"]
    assert properties["requiresSession"] is True
    assert properties["requiresDuplicateDetection"] is True
    assert properties["deadLetteringOnMessageExpiration"] is True
    assert 1 <= properties["maxDeliveryCount"] <= 10
    assert properties["lockDuration"] == "PT1M"


def test_the_app_receives_from_every_queue_but_dead_letters() -> None:
    received = {q["name"] for q in variable(SERVICE_BUS, "queues") if q["appReceives"]}
    assert received == set(names.ALL_QUEUES) - {names.QUEUE_DEAD_LETTERS}


def test_tables_match_the_code_both_ways() -> None:
    assert sorted(variable(MAIN_BICEP, "crosswalkTables")) == sorted(names.ALL_TABLES)


def test_local_authentication_is_off_everywhere() -> None:
    (namespace,) = resources_of_type(SERVICE_BUS, "Microsoft.ServiceBus/namespaces").values()
    assert namespace["config"]["properties"]["disableLocalAuth"] is True
    (account,) = resources_of_type(STORAGE, "Microsoft.Storage/storageAccounts").values()
    assert account["config"]["properties"]["allowSharedKeyAccess"] is False
    (vault,) = resources_of_type(KEY_VAULT, "Microsoft.KeyVault/vaults").values()
    assert vault["config"]["properties"]["enableRbacAuthorization"] is True
    monitoring = parsed(INFRA / "modules" / "monitoring.bicep")["resources"]
    assert monitoring["appInsights"]["config"]["properties"]["DisableLocalAuth"] is True


def test_the_health_check_path_is_the_health_function() -> None:
    # Azure probes this path; the anonymous function must answer on it.
    from tests.unit.test_function_app import EXPECTED_FUNCTIONS

    path = variable(FUNCTION_APP, "healthCheckPath")
    assert path == f"/api/{EXPECTED_FUNCTIONS['health'][1]}"
    assert "healthCheckPath: healthCheckPath" in FUNCTION_APP.read_text(encoding="utf-8")


def test_the_stamp_scope_and_the_ca_bundle_are_deployed() -> None:
    settings = _app_settings()
    join = settings["ADMINISTRATIONS"]["function"]
    assert join["type"] == "join" and join["parameters"]["input_array"] == "administrations"
    main = parsed(MAIN_BICEP)["modules"]["functionApp"]["config"]["params"]
    assert main["administrations"] == ["administration"], "each stamp serves its own code"
    text = FUNCTION_APP.read_text(encoding="utf-8")
    assert "${secretReference}millennium-mllp-ca-bundle/)" in text


def test_the_func_start_sample_names_only_settings_the_code_reads() -> None:
    """The sample still named SIMULATOR_URL after the launch templates moved to
    MILLENNIUM_WEB_URL and ORBIT_WEB_URL, so under func start the jump-out answered
    503 naming a setting the sample seemed to set."""
    import json
    from pathlib import Path

    sample = Path(__file__).resolve().parents[2] / "local.settings.sample.json"
    values = json.loads(sample.read_text(encoding="utf-8"))["Values"]
    platform = {"AzureWebJobsStorage", "FUNCTIONS_WORKER_RUNTIME", "AzureWebJobsFeatureFlags"}
    unknown = set(values) - set(names.SETTINGS) - platform - PLATFORM_SETTINGS
    assert not unknown, f"not read by the code (shared/names.py): {sorted(unknown)}"
