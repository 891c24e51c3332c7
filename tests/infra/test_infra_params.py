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
        return  # no profile yet: the administration cannot receive events anyway
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
