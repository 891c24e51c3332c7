"""The deployment pipelines (GitHub Actions, Azure DevOps, azd) do what a first
deployment into a fresh subscription needs, on supported action runtimes."""

from __future__ import annotations

import re

from infra_support import INFRA, PARAMS_DIR, REPO

GITHUB = REPO / ".github" / "workflows" / "deploy.yml"
AZURE_DEVOPS = REPO / ".azuredevops" / "deploy.yml"
AZD = REPO / "azure.yaml"
REGISTER = INFRA / "scripts" / "register-providers.sh"

NODE24_SINCE = {
    "actions/checkout": 6,
    "actions/setup-python": 6,
    "actions/setup-node": 6,
    "actions/upload-artifact": 7,
    "azure/login": 3,
    "Azure/functions-action": 1,
}
"""First major version of each action whose action.yml says ``using: node24``
(read from the actions' repositories, 2026-12). GitHub deprecated the Node 20
runtime; an action not listed here must be checked and added before it is used."""

_USES = re.compile(r"uses: ([\w.-]+/[\w.-]+)@v(\d+)")


def test_every_action_runs_on_a_current_node_runtime() -> None:
    used = _USES.findall(GITHUB.read_text(encoding="utf-8"))
    assert used
    for action, major in used:
        assert action in NODE24_SINCE, f"{action}: check its runtime, then list it here"
        assert int(major) >= NODE24_SINCE[action], f"{action}@v{major} runs on Node 20"


def test_no_pinned_node_20() -> None:
    text = GITHUB.read_text(encoding="utf-8")
    assert not re.search(r"node-version: \"?20", text)


def test_the_provider_script_registers_microsoft_app_first_thing() -> None:
    script = REGISTER.read_text(encoding="utf-8")
    assert "Microsoft.App " in script and "az provider register" in script
    assert "--check-only" in script


def test_every_pipeline_registers_the_providers_before_it_deploys() -> None:
    for path in (GITHUB, AZURE_DEVOPS):
        text = path.read_text(encoding="utf-8")
        register = text.index("infra/scripts/register-providers.sh")
        assert register < text.index("az deployment group what-if"), path.name
        assert "register-providers.sh --check-only" in text, path.name
        assert text.index("register-providers.sh --check-only") < text.index(
            "az deployment group create"
        ), path.name
    azd = AZD.read_text(encoding="utf-8")
    assert "preprovision:" in azd and "infra/scripts/register-providers.sh" in azd


def test_every_environment_value_the_parameters_read_is_given_by_both_pipelines() -> None:
    wanted: set[str] = set()
    for path in PARAMS_DIR.glob("*.bicepparam"):
        wanted |= set(re.findall(r"readEnvironmentVariable\('(\w+)'", path.read_text("utf-8")))
    assert "PRIVATE_DNS_ZONES_GROUP_ID" in wanted
    for path in (GITHUB, AZURE_DEVOPS):
        text = path.read_text(encoding="utf-8")
        for name in wanted:
            assert re.search(rf"^\s+{name}: ", text, re.M), f"{path.name} does not set {name}"


def test_the_deployment_outputs_are_kept_for_the_smoke_check() -> None:
    for path in (GITHUB, AZURE_DEVOPS):
        text = path.read_text(encoding="utf-8")
        assert '--query properties.outputs > "outputs-${CODE}.json"' in text, path.name
        assert "infra/scripts/smoke_check.py" in text, path.name
