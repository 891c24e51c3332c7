"""Every role the stamp assigns is an Azure built-in role that exists, referred to
by its published name, and each identity gets exactly the roles its work needs.

``infra/builtin-roles.json`` is the data file: the ids and names of the built-in
roles the infra uses, copied from Microsoft's published list (Azure built-in
roles, learn.microsoft.com). A role definition id that is not in it (a typo, a
role someone made up) fails here instead of at ``az deployment group create``,
where a rejected assignment stops the deployment before the function app exists.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from infra_support import INFRA, MAIN_BICEP, bicep_files, parsed, relative

ROLES_FILE = INFRA / "builtin-roles.json"
GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
ROLE_BY_NAME = re.compile(r"roles\['([^']+)'\]")

BROAD_ROLES = {
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635": "Owner",
    "b24988ac-6180-42a0-ab88-20f7382dd24c": "Contributor",
    "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9": "User Access Administrator",
    "17d1049b-9a84-46fb-8f53-869881c3d3ab": "Storage Account Contributor",
}
"""Control-plane roles no identity of the stamp may get (ids from the same list)."""

# Who gets what, where, and why. Keys: (module, principal parameter, scope).
EXPECTED_GRANTS: dict[tuple[str, str, str], set[str]] = {
    # Sends to every queue: the webhook enqueues, intake fans out, workers schedule
    # retry kicks and park dead letters.
    ("servicebus", "appPrincipalId", "queue[i]"): {"Azure Service Bus Data Sender"},
    # Triggered by every queue but dead-letters. Data Owner, as the Functions
    # documentation lists for the trigger: the scale controller reads queue lengths.
    ("servicebus", "appPrincipalId", "receivedQueue[i]"): {"Azure Service Bus Data Owner"},
    # Operators peek dead letters and resubmit them.
    ("servicebus", "operatorsGroupId", "namespace"): {
        "Azure Service Bus Data Sender",
        "Azure Service Bus Data Receiver",
    },
    # The app reads Key Vault references; officers maintain the secrets.
    ("keyvault", "appPrincipalId", "vault"): {"Key Vault Secrets User"},
    ("keyvault", "secretsOfficerGroupId", "vault"): {"Key Vault Secrets Officer"},
    # Entra ID authenticated telemetry export.
    ("monitoring", "appPrincipalId", "appInsights"): {"Monitoring Metrics Publisher"},
}
STORAGE_GRANTS = {
    # The crosswalk: rows read and written by the app, read by operators.
    "crosswalkStorage": {
        "appRoleNames": ["Storage Table Data Contributor"],
        "operatorRoleNames": ["Storage Table Data Reader"],
    },
    # The Functions host keeps leases and keys in blobs and reads the package.
    "hostStorage": {"appRoleNames": ["Storage Blob Data Owner"]},
}


def _published() -> dict[str, str]:
    """name -> id from the data file."""
    roles: dict[str, str] = json.loads(ROLES_FILE.read_text(encoding="utf-8"))["roles"]
    return roles


def _role_assignment_blocks(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    blocks = re.split(r"\n(?=resource |module |output |var |param |//|/\*)", text)
    return [block for block in blocks if "'Microsoft.Authorization/roleAssignments@" in block]


def test_the_data_file_lists_well_formed_unique_roles() -> None:
    roles = _published()
    assert len(roles) >= 8
    for name, role_id in roles.items():
        assert GUID.fullmatch(role_id), name
        assert role_id == role_id.lower(), name
    assert len(set(roles.values())) == len(roles), "two names share an id"
    assert not set(roles.values()) & set(BROAD_ROLES)


@pytest.mark.parametrize("path", bicep_files(), ids=relative)
def test_every_id_in_the_bicep_is_a_published_builtin_role(path: Path) -> None:
    # Today's main fails here: 'b7e6dc6d-f1e8-4753-8033-0f4feb48ff88' is not the id
    # of Storage Blob Data Owner (…-0f276bb0955b).
    known = set(_published().values())
    for literal in GUID.findall(path.read_text(encoding="utf-8")):
        assert literal.lower() in known, f"{relative(path)}: {literal} is not a built-in role id"


@pytest.mark.parametrize("path", bicep_files(), ids=relative)
def test_roles_are_referred_to_by_published_name(path: Path) -> None:
    names = set(_published())
    text = path.read_text(encoding="utf-8")
    for name in ROLE_BY_NAME.findall(text):
        assert name in names, f"{relative(path)}: no built-in role named {name!r}"
    for block in _role_assignment_blocks(path):
        (definition,) = re.findall(r"roleDefinitionId: (.+)", block)
        assert definition.startswith(
            "subscriptionResourceId('Microsoft.Authorization/roleDefinitions', "
        ), definition
        assert not GUID.search(definition), "a role by id; use roles['<published name>']"
    if _role_assignment_blocks(path):
        assert "loadJsonContent('../builtin-roles.json').roles" in text


def _variables(path: Path) -> dict[str, str]:
    """``var x = roles['Name']`` lines of a module: variable -> role name."""
    pattern = re.compile(r"^var (\w+) = roles\['([^']+)'\]$", re.M)
    return dict(pattern.findall(path.read_text(encoding="utf-8")))


def _grants(module: str) -> dict[tuple[str, str, str], set[str]]:
    """(module, principal, scope) -> role names, read from one module's assignments."""
    path = INFRA / "modules" / f"{module}.bicep"
    variables = _variables(path)
    grants: dict[tuple[str, str, str], set[str]] = {}
    for block in _role_assignment_blocks(path):
        (principal,) = re.findall(r"principalId: (\w+)", block)
        (scope,) = re.findall(r"scope: (\S+)", block)
        (definition,) = re.findall(r"roleDefinitionId: .+?, (.+)\)$", block, re.M)
        if definition in variables:
            names = {variables[definition]}
        elif definition.startswith("roles["):
            names = set(ROLE_BY_NAME.findall(definition))
        else:  # a loop over role variables: [for roleId in (… [dataSender, …])]
            (loop,) = re.findall(r"\[for \w+ in \((?:.|\n)*?\]\)", block)
            names = {
                variables[word] for word in re.findall(r"\b(\w+)\b", loop) if word in variables
            }
        grants.setdefault((module, principal, scope), set()).update(names)
    return grants


def test_each_identity_gets_exactly_the_roles_its_work_needs() -> None:
    found: dict[tuple[str, str, str], set[str]] = {}
    for module in ("servicebus", "keyvault", "monitoring"):
        found.update(_grants(module))
    assert found == EXPECTED_GRANTS


def test_the_storage_accounts_get_the_roles_their_use_needs() -> None:
    modules = parsed(MAIN_BICEP)["modules"]
    for name, expected in STORAGE_GRANTS.items():
        params = modules[name]["config"]["params"]
        for parameter in ("appRoleNames", "operatorRoleNames"):
            assert params.get(parameter, []) == expected.get(parameter, []), (name, parameter)
    # The storage module assigns only the names main passes in.
    storage = (INFRA / "modules" / "storage.bicep").read_text(encoding="utf-8")
    assert "for roleName in appRoleNames" in storage
    assert "operatorRoleNames): {" in storage


def test_no_broad_control_plane_role_anywhere() -> None:
    text = "".join(path.read_text(encoding="utf-8") for path in INFRA.rglob("*.bicep"))
    for role_id, name in BROAD_ROLES.items():
        assert role_id not in text, f"{name} is never granted"
        assert f"roles['{name}']" not in text, f"{name} is never granted"
