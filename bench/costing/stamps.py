"""What each administration's stamp deploys, read from ``infra/`` (not restated).

One stamp per administration (``infra/params/<CODE>.bicepparam``): its own
function app, Service Bus namespace, storage accounts, Key Vault and Log
Analytics workspace. The fixed cost of a stamp follows from a few settings:
``privateNetworking`` (Premium Service Bus and four private endpoints, see
``infra/main.bicep``), the always-ready instances (at least two when
``zoneRedundant``, as ``infra/modules/functionapp.bicep`` enforces), the
instance memory and the Premium namespace's messaging units.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

INFRA = Path(__file__).resolve().parents[2] / "infra"
PRIVATE_ENDPOINTS = ("servicebus", "crosswalk", "host", "keyvault")
"""The endpoints infra/main.bicep creates when privateNetworking is on."""


@dataclass(frozen=True)
class Stamp:
    administration: str
    mode: str
    private_networking: bool
    always_ready_instances: int
    instance_memory_gb: float
    messaging_units: int
    """Premium messaging units (0 for a Standard namespace)."""

    @property
    def service_bus_tier(self) -> str:
        return "Premium" if self.private_networking else "Standard"

    @property
    def private_endpoints(self) -> int:
        return len(PRIVATE_ENDPOINTS) if self.private_networking else 0


def _params(text: str) -> dict[str, str]:
    """``param name = literal`` lines of a .bicepparam file (quotes dropped)."""
    found = {}
    for match in re.finditer(r"^param\s+(\w+)\s*=\s*(.+?)\s*$", text, re.MULTILINE):
        found[match.group(1)] = match.group(2).strip("'")
    return found


def _module_value(module: str, pattern: str) -> str:
    match = re.search(pattern, (INFRA / "modules" / module).read_text())
    if match is None:
        raise ValueError(f"infra/modules/{module}: {pattern!r} not found")
    return match.group(1)


def load_stamps(infra: Path = INFRA) -> list[Stamp]:
    """Every production stamp in ``infra/params``, in file-name order.

    Raises:
        ValueError: a module no longer states what the estimate reads from it.
    """
    memory_mb = int(_module_value("functionapp.bicep", r"instanceMemoryMB:\s*(\d+)"))
    units = int(_module_value("servicebus.bicep", r"capacity:\s*(\d+)"))
    stamps = []
    for path in sorted((infra / "params").glob("*.bicepparam")):
        params = _params(path.read_text())
        private = params.get("privateNetworking") == "true"
        always_ready = int(params.get("alwaysReadyHttpInstances", "1"))
        if params.get("zoneRedundant") == "true":
            always_ready = max(always_ready, 2)
        stamps.append(
            Stamp(
                administration=params["administration"],
                mode=params.get("mode", "off"),
                private_networking=private,
                always_ready_instances=always_ready,
                instance_memory_gb=memory_mb / 1024,
                messaging_units=units if private else 0,
            )
        )
    return stamps
