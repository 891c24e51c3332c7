"""infra/scripts/register-providers.sh against a stand-in ``az`` (no subscription
here): it reports what is missing, registers only that, and --check-only fails."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from infra_support import INFRA

SCRIPT = INFRA / "scripts" / "register-providers.sh"

FAKE_AZ = """#!/usr/bin/env bash
# az provider show --namespace X --query registrationState --output tsv
# az provider register --namespace X --wait
echo "$*" >> "$AZ_CALLS"
if [ "$1" = "account" ]; then echo 11111111-2222-3333-4444-555555555555; exit 0; fi
if [ "$2" = "show" ]; then
  if [ "$4" = "Microsoft.App" ]; then echo NotRegistered; else echo Registered; fi
fi
"""


def _run(
    tmp_path: Path, *args: str, subscription: str = ""
) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    az = tmp_path / "az"
    az.write_text(FAKE_AZ)
    az.chmod(0o755)
    calls = tmp_path / "calls.txt"
    calls.touch()
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}", "AZ_CALLS": str(calls)}
    env.pop("AZURE_SUBSCRIPTION_ID", None)
    if subscription:
        env["AZURE_SUBSCRIPTION_ID"] = subscription
    done = subprocess.run(
        ["bash", str(SCRIPT), *args], env=env, capture_output=True, text=True, check=False
    )
    return done, calls.read_text().splitlines()


def test_check_only_fails_and_names_the_missing_provider(tmp_path: Path) -> None:
    done, calls = _run(tmp_path, "--check-only")
    assert done.returncode == 1
    assert "Microsoft.App: NotRegistered (not registered" in done.stderr
    assert not [call for call in calls if call.startswith("provider register")]


def test_registers_only_what_is_missing(tmp_path: Path) -> None:
    done, calls = _run(tmp_path)
    assert done.returncode == 0, done.stderr
    registered = [call for call in calls if call.startswith("provider register")]
    assert registered == [
        "provider register --namespace Microsoft.App --wait "
        "--subscription 11111111-2222-3333-4444-555555555555"
    ]
    assert "Microsoft.Web: Registered" in done.stdout


def test_every_call_names_azds_subscription(tmp_path: Path) -> None:
    """azd deploys into AZURE_SUBSCRIPTION_ID; the CLI's default subscription may be
    another one, where the script would register and report "Registered" in vain."""
    done, calls = _run(tmp_path, subscription="00000000-0000-0000-0000-00000000abcd")
    assert done.returncode == 0, done.stderr
    provider_calls = [call for call in calls if call.startswith("provider ")]
    assert provider_calls
    for call in provider_calls:
        assert call.endswith("--subscription 00000000-0000-0000-0000-00000000abcd"), call
    assert "00000000-0000-0000-0000-00000000abcd" in done.stdout


def test_without_azds_subscription_it_names_the_clis_and_uses_it(tmp_path: Path) -> None:
    done, calls = _run(tmp_path)
    assert done.returncode == 0, done.stderr
    assert "11111111-2222-3333-4444-555555555555" in done.stdout
    assert all(
        call.endswith("--subscription 11111111-2222-3333-4444-555555555555")
        for call in calls
        if call.startswith("provider ")
    )
