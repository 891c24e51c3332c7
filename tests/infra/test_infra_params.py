"""Each administration has a .bicepparam with its wave, mode, Millennium endpoints
and network, and the values fit main.bicep and each other."""

from __future__ import annotations

import ipaddress
import json
import re
import tomllib
from pathlib import Path

import pytest
from infra_support import (
    ADMINISTRATIONS,
    INFRA,
    MAIN_BICEP,
    PARAMS_DIR,
    REPO,
    BicepParams,
    FromEnvironment,
    parsed,
    read_bicepparam,
)

MODES = {"off", "jumpout", "integrated"}
CODES = sorted(path.stem for path in PARAMS_DIR.glob("*.bicepparam"))
"""Every administration with a parameter file (the five of the brief and any added)."""
WAVE_LINE = re.compile(r"^param wave = (\d+)$", re.MULTILINE)
"""The pipelines pick a wave's administrations with this pattern (grep -E)."""


def _params(code: str) -> BicepParams:
    return read_bicepparam(PARAMS_DIR / f"{code}.bicepparam")


def _network(prefix: str) -> ipaddress.IPv4Network:
    return ipaddress.IPv4Network(prefix)


@pytest.mark.parametrize("code", CODES)
def test_administration_has_a_parameter_file_for_main(code: str) -> None:
    params = _params(code)
    assert params.using == "../main.bicep"
    assert params.values["administration"] == code


@pytest.mark.parametrize("code", CODES)
def test_wave_and_mode(code: str) -> None:
    values = _params(code).values
    assert isinstance(values["wave"], int) and values["wave"] >= 1
    assert values["mode"] in MODES
    assert values["environmentName"] == "prod"


@pytest.mark.parametrize("code", CODES)
def test_millennium_endpoints(code: str) -> None:
    values = _params(code).values
    assert values["millenniumMllpHost"], "MLLP host"
    assert 1 <= values["millenniumMllpPort"] <= 65535
    assert isinstance(values["millenniumMllpTls"], bool)
    assert 1 <= values["millenniumMllpTimeoutSeconds"] <= 120
    assert values["millenniumFhirBaseUrl"].startswith("https://")
    for prefix in values["millenniumAddressPrefixes"]:
        assert _network(prefix).is_private, prefix


@pytest.mark.parametrize("code", CODES)
def test_network(code: str) -> None:
    values = _params(code).values
    vnet = _network(values["vnetAddressPrefix"])
    integration = _network(values["integrationSubnetPrefix"])
    endpoints = _network(values["privateEndpointSubnetPrefix"])
    assert vnet.is_private
    assert integration.subnet_of(vnet) and endpoints.subnet_of(vnet)
    assert not integration.overlaps(endpoints)
    assert integration.prefixlen <= 27, "Flex Consumption needs a /27 or larger"
    assert len(values["dnsServers"]) >= 2
    assert values["allowedInboundAddressPrefixes"], "inbound must be restricted"
    assert isinstance(values["hubVirtualNetworkId"], FromEnvironment)
    assert isinstance(values["privateNetworking"], bool)


def test_the_five_administrations_have_parameter_files() -> None:
    assert set(ADMINISTRATIONS) <= set(CODES)


def test_spokes_do_not_overlap() -> None:
    spokes = {code: _network(_params(code).values["vnetAddressPrefix"]) for code in CODES}
    for code, spoke in spokes.items():
        for other, other_spoke in spokes.items():
            assert code == other or not spoke.overlaps(other_spoke), f"{code} overlaps {other}"


def test_every_parameter_file_sets_known_parameters_and_all_required_ones() -> None:
    declared = parsed(MAIN_BICEP)["parameters"]
    required = {name for name, param in declared.items() if param["default"] is None}
    files = sorted(PARAMS_DIR.glob("*.bicepparam"))
    assert {path.stem for path in files} >= set(ADMINISTRATIONS)
    for path in files:
        values = read_bicepparam(path).values
        assert set(values) <= set(declared), f"{path.name}: unknown {set(values) - set(declared)}"
        assert required <= set(values), f"{path.name}: missing {required - set(values)}"


def test_the_wave_line_is_what_the_pipelines_grep_for() -> None:
    for code in CODES:
        text = (PARAMS_DIR / f"{code}.bicepparam").read_text(encoding="utf-8")
        assert len(WAVE_LINE.findall(text)) == 1, code
    pipeline = (REPO / ".github" / "workflows" / "deploy.yml").read_text(encoding="utf-8")
    assert "^param wave = ${" in pipeline


@pytest.mark.parametrize("code", CODES)
def test_mode_agrees_with_the_profile_the_app_reads(code: str) -> None:
    # The app takes its mode from profiles/<CODE>.toml; the stamp's alerts and
    # network from the .bicepparam. A go-live changes both in one pull request.
    profile = REPO / "profiles" / f"{code}.toml"
    if not profile.exists():
        # No profile yet: every event would be refused as an unknown administration
        # (422, which Orbit never retries), so the stamp must stay switched off.
        assert _params(code).values["mode"] == "off", f"add profiles/{code}.toml first"
        return
    with profile.open("rb") as handle:
        profile_mode = tomllib.load(handle).get("mode", "integrated")
    assert _params(code).values["mode"] == profile_mode


def test_azd_parameters_are_declared_in_main() -> None:
    declared = parsed(MAIN_BICEP)["parameters"]
    required = {name for name, param in declared.items() if param["default"] is None}
    document = json.loads((INFRA / "main.parameters.json").read_text(encoding="utf-8"))
    given = set(document["parameters"])
    assert given <= set(declared), given - set(declared)
    assert required <= given, required - given


def test_bicepparam_reader_rejects_expressions(tmp_path: Path) -> None:
    path = tmp_path / "X.bicepparam"
    path.write_text("using '../main.bicep'\nparam wave = 1 + 1\n", encoding="utf-8")
    with pytest.raises(ValueError, match="unsupported value"):
        read_bicepparam(path)


def test_infra_readme_explains_every_parameter_of_main() -> None:
    readme = (INFRA / "README.md").read_text(encoding="utf-8")
    undocumented = [name for name in parsed(MAIN_BICEP)["parameters"] if f"`{name}`" not in readme]
    assert not undocumented, f"add to the parameter table in infra/README.md: {undocumented}"


# --- Flex Consumption, zones, peering, DNS: what Azure refuses or silently breaks ---

FLEX_MINIMUM_INSTANCES = 40
"""Flex Consumption rejects a maximumInstanceCount below 40 outside a few preview
regions (Microsoft Learn, "Flex Consumption plan": instance limits 40-1000)."""

FUNCTION_APP = INFRA / "modules" / "functionapp.bicep"
NETWORK = INFRA / "modules" / "network.bicep"
PRIVATE_LINK = INFRA / "modules" / "private-link.bicep"


def relative_name(path: Path) -> str:
    return str(path.relative_to(REPO))


def _main_parameter(name: str) -> dict:
    parameter: dict = parsed(MAIN_BICEP)["parameters"][name]
    return parameter


def _decorator(parameter: dict, name: str) -> object:
    for decorator in parameter.get("decorators", []):
        if decorator["type"] == name:
            return decorator["argument"]
    return None


def _stamps() -> dict[str, dict]:
    """Every stamp's values: the administrations' files and the azd developer stamp."""
    stamps = {code: _params(code).values for code in CODES}
    document = json.loads((INFRA / "main.parameters.json").read_text(encoding="utf-8"))
    stamps["azd"] = {name: item["value"] for name, item in document["parameters"].items()}
    return stamps


def _value(values: dict, name: str) -> object:
    return values.get(name, _main_parameter(name)["default"])


def test_maximum_instance_count_is_validated_against_the_flex_minimum() -> None:
    for path in (MAIN_BICEP, FUNCTION_APP):
        parameter = parsed(path)["parameters"]["maximumInstanceCount"]
        assert _decorator(parameter, "min_value") == FLEX_MINIMUM_INSTANCES, relative_name(path)
        assert _decorator(parameter, "max_value") == 1000
    for stamp, values in _stamps().items():
        count = _value(values, "maximumInstanceCount")
        assert isinstance(count, int) and count >= FLEX_MINIMUM_INSTANCES, stamp


def test_zone_redundancy_is_a_parameter_off_by_default() -> None:
    text = FUNCTION_APP.read_text(encoding="utf-8")
    assert "zoneRedundant: zoneRedundant" in text
    assert "zoneRedundant: true" not in text
    assert _main_parameter("zoneRedundant")["default"] is False
    assert _stamps()["azd"]["zoneRedundant"] is False, "a developer stamp scales to zero"


def test_a_zone_redundant_stamp_says_it_keeps_two_always_ready_instances() -> None:
    for stamp, values in _stamps().items():
        if _value(values, "zoneRedundant"):
            warm = _value(values, "alwaysReadyHttpInstances")
            assert isinstance(warm, int) and warm >= 2, stamp
    assert "max(alwaysReadyHttpInstances, 2)" in FUNCTION_APP.read_text(encoding="utf-8")


def test_gateway_transit_is_a_parameter_and_needs_a_hub() -> None:
    text = NETWORK.read_text(encoding="utf-8")
    assert "useRemoteGateways: hubUseRemoteGateways" in text
    assert "useRemoteGateways: true" not in text
    assert _main_parameter("hubUseRemoteGateways")["default"] is False
    for stamp, values in _stamps().items():
        if _value(values, "hubUseRemoteGateways"):
            assert values.get("hubVirtualNetworkId"), f"{stamp}: gateway transit without a hub"


def test_private_dns_zones_are_where_the_stamps_resolver_looks() -> None:
    # A VNet with custom DNS servers never consults zones linked to it: with the
    # hub's resolvers, the stamp must register in the central zones they consult.
    for stamp, values in _stamps().items():
        if not _value(values, "privateNetworking"):
            continue
        mode = _value(values, "privateDnsZoneMode")
        if values.get("dnsServers"):
            assert mode == "central", f"{stamp}: custom DNS servers need central zones"
            assert isinstance(values.get("privateDnsZoneResourceGroupId"), FromEnvironment), stamp
        else:
            assert mode == "stamp", f"{stamp}: Azure-provided DNS reads the spoke's own zones"


def test_private_link_creates_zones_only_in_stamp_mode() -> None:
    resources = parsed(PRIVATE_LINK)["resources"]
    text = PRIVATE_LINK.read_text(encoding="utf-8")
    assert "for endpoint in (createZones ? endpoints : [])" in text
    assert "(endpoint, i) in (createZones ? endpoints : [])" in text
    assert "centralZoneResourceGroupId}/providers/Microsoft.Network/privateDnsZones/" in text
    assert {"zone", "zoneLink", "privateEndpoint", "zoneGroup"} <= set(resources)


PRIVATE_ENDPOINT_PORTS = {"443", "5671", "5672"}
"""What the app reaches over the private endpoints: HTTPS for Blob, Table and Key
Vault, and AMQP over TLS for Service Bus, which the Functions host's Service Bus
extension and the azure-servicebus SDK use by default (Microsoft Learn, "Troubleshooting
guide for Azure Service Bus": "check that the AMQP ports 5671 and 5672 are open")."""


def _private_endpoint_rules(*, operators: bool = False) -> list[dict]:
    """The private-endpoint NSG's rules: ``concat(privateEndpointRules, operatorRules)``,
    the second only when operator prefixes are given."""
    document = parsed(NETWORK)
    nsg = document["resources"]["privateEndpointNsg"]["config"]["properties"]
    parts = nsg["securityRules"]["function"]["parameters"]
    assert parts == {"arg_1": "privateEndpointRules", "arg_2": "operatorRules"}, parts
    rules = list(document["variables"]["privateEndpointRules"]["value"])
    if operators:
        condition = document["variables"]["operatorRules"]["value"]
        rules += condition["operator"]["operands"]["false_value"]
    return rules


def _ports(rule: dict) -> set[str]:
    properties = rule["properties"]
    ranges = properties.get("destinationPortRanges") or [properties["destinationPortRange"]]
    ports: set[str] = set()
    for item in ranges:
        low, _, high = str(item).partition("-")
        ports |= {str(port) for port in range(int(low), int(high or low) + 1)}
    return ports


def test_the_private_endpoint_subnet_admits_amqp_from_the_app_before_its_deny_rule() -> None:
    """With only 443 allowed, the deny rule at 4000 blocked AMQP to Service Bus's
    private endpoint: on a private stamp (SU) no trigger received and every webhook
    answered 503."""
    rules = sorted(_private_endpoint_rules(), key=lambda rule: rule["properties"]["priority"])
    allowed: set[str] = set()
    for rule in rules:
        properties = rule["properties"]
        if properties["access"] == "Deny":
            break
        if properties["sourceAddressPrefix"] == "integrationSubnetPrefix":
            allowed |= _ports(rule)
    assert allowed >= PRIVATE_ENDPOINT_PORTS, sorted(PRIVATE_ENDPOINT_PORTS - allowed)


def test_the_app_subnet_has_no_service_bus_service_endpoint() -> None:
    """Service Bus admits virtual networks only on Premium, where this app uses a private
    endpoint; the Standard stamps' namespaces cannot use one (Microsoft Learn,
    "Configure virtual network service endpoints for Azure Service Bus": "Virtual
    Networks are supported only in Premium tier Service Bus namespaces"). No rule
    used it, so it only changed the source address Service Bus saw."""
    vnet = parsed(NETWORK)["resources"]["vnet"]["config"]["properties"]
    for subnet in vnet["subnets"]:
        services = [item["service"] for item in subnet["properties"].get("serviceEndpoints", [])]
        assert "Microsoft.ServiceBus" not in services, subnet["name"]


KEY_VAULT = INFRA / "modules" / "keyvault.bicep"
STORAGE = INFRA / "modules" / "storage.bicep"


def test_operators_can_reach_the_vault_and_the_crosswalk_from_their_addresses() -> None:
    """The vault and the crosswalk admitted only the app's subnet, delegated to Flex
    (no jump host can sit in it), and on a private stamp the NSG denied the hub too:
    nobody could set the secrets the features need, or read a booking's trail."""
    assert _main_parameter("operatorAddressPrefixes")["default"] == []
    main = MAIN_BICEP.read_text(encoding="utf-8")
    assert main.count("operatorAddressPrefixes: operatorAddressPrefixes") == 2  # KV, crosswalk
    assert "operatorAddressPrefixes: privateNetworking ? operatorAddressPrefixes : []" in main
    for path in (KEY_VAULT, STORAGE):
        text = path.read_text(encoding="utf-8")
        assert "ipRules: disablePublicNetworkAccess ? [] : operatorIpRules" in text, path
        assert re.search(r"operatorIpRules = \[for prefix in operatorAddressPrefixes", text), path
    # Azure Storage refuses /31 and /32 ranges in IP rules: a single address goes in bare.
    assert "value: replace(prefix, '/32', '')" in STORAGE.read_text(encoding="utf-8")
    operators = [
        rule
        for rule in _private_endpoint_rules(operators=True)
        if rule not in _private_endpoint_rules()
    ]
    assert [rule["properties"]["sourceAddressPrefixes"] for rule in operators] == [
        "operatorAddressPrefixes"
    ]
    assert [rule["properties"]["destinationPortRange"] for rule in operators] == ["443"]


def test_the_developer_stamp_lets_its_deployer_maintain_the_secrets() -> None:
    """With no secrets officer, the azd stamp's features could never be switched on."""
    document = json.loads((INFRA / "main.parameters.json").read_text(encoding="utf-8"))
    parameters = document["parameters"]
    assert parameters["secretsOfficerGroupId"]["value"] == "${AZURE_PRINCIPAL_ID}"
    assert parameters["secretsOfficerPrincipalType"]["value"] == "${AZURE_PRINCIPAL_TYPE=User}"
    allowed = _decorator(_main_parameter("secretsOfficerPrincipalType"), "allowed")
    assert allowed == ["Group", "User", "ServicePrincipal"]


def test_no_diagnostic_setting_is_put_on_the_flex_site() -> None:
    """Microsoft Learn, "Azure Functions Flex Consumption plan hosting", considerations:
    "Diagnostic settings aren't currently supported." The app's logs go through
    Application Insights."""
    resources = parsed(FUNCTION_APP)["resources"].values()
    assert not [r for r in resources if r["type"] == "Microsoft.Insights/diagnosticSettings"]
