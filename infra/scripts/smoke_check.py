"""Post-deployment smoke check of one stamp: do the private endpoints resolve to
private addresses, and does the app say it is ready?

Run it where DNS answers as it does for the spoke VNet: a host that uses the hub's
DNS servers (an admin workstation on VGR's network or a VM in the hub), so a
privatelink zone the resolvers never consult shows up as a public address here
too. The app's health endpoint is reached from the same host (it must be in
``allowedInboundAddressPrefixes``)::

    az deployment group show -g rg-orbitmil-su-prod -n <deployment> \\
        --query properties.outputs > outputs.json
    python infra/scripts/smoke_check.py outputs.json

Exit status 0 when every check passed, 1 otherwise; one line per check. Only the
standard library: the rollout host needs nothing installed.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Resolver = Callable[[str], list[str]]
"""Host name -> its IP addresses; raises OSError when the name does not resolve."""
Fetcher = Callable[[str], tuple[int, bytes]]
"""URL -> (HTTP status, body); raises OSError when nothing answers."""


@dataclass(frozen=True)
class Outputs:
    """What the smoke check needs from ``main.bicep``'s outputs."""

    private_networking: bool
    private_endpoint_subnet: ipaddress.IPv4Network | ipaddress.IPv6Network
    host_names: tuple[str, ...]
    app_host_name: str


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str

    def line(self) -> str:
        return f"{'PASS' if self.passed else 'FAIL'} {self.name}: {self.detail}"


def parse_outputs(document: dict[str, Any]) -> Outputs:
    """The outputs of ``az deployment group show --query properties.outputs``.

    Raises:
        KeyError: an output is missing (a deployment of an older template).
        ValueError: the subnet prefix is not a network.
    """

    def value(name: str) -> Any:
        return document[name]["value"]

    return Outputs(
        private_networking=bool(value("privateNetworking")),
        private_endpoint_subnet=ipaddress.ip_network(value("privateEndpointSubnetPrefix")),
        host_names=tuple(str(name) for name in value("privateEndpointHostNames")),
        app_host_name=str(value("functionAppHostName")),
    )


def check_name(host: str, subnet: Any, resolve: Resolver) -> Check:
    """One private endpoint's name must resolve only to addresses in ``subnet``."""
    try:
        addresses = resolve(host)
    except OSError as error:
        return Check(host, False, f"does not resolve ({error.__class__.__name__})")
    if not addresses:
        return Check(host, False, "resolves to no address")
    outside = [a for a in addresses if ipaddress.ip_address(a) not in subnet]
    if not outside:
        return Check(host, True, f"{', '.join(addresses)} (private endpoint subnet)")
    public = [a for a in outside if ipaddress.ip_address(a).is_global]
    if public:
        return Check(
            host,
            False,
            f"resolves to public {', '.join(public)}: the privatelink zone is not consulted "
            "by this resolver (custom DNS servers? see privateDnsZoneMode in infra/README.md)",
        )
    return Check(host, False, f"resolves to {', '.join(outside)}, outside {subnet}")


def check_dns(outputs: Outputs, resolve: Resolver) -> list[Check]:
    if not outputs.private_networking:
        return [Check("dns", True, "privateNetworking is off: public endpoints by design")]
    return [
        check_name(host, outputs.private_endpoint_subnet, resolve) for host in outputs.host_names
    ]


def check_health(url: str, fetch: Fetcher) -> Check:
    """``GET /api/health``: 200 with status ok passes; anything else fails and says why."""
    try:
        status, body = fetch(url)
    except OSError as error:
        return Check("health", False, f"{url} did not answer ({error.__class__.__name__})")
    try:
        document = json.loads(body)
    except ValueError:
        return Check("health", False, f"HTTP {status}, not a JSON health document")
    overall = document.get("status", "?")
    problems = _problems(document.get("checks", {}))
    if status == 200 and overall == "ok":
        return Check("health", True, "ok")
    return Check("health", False, f"HTTP {status}, status {overall}: {'; '.join(problems) or '-'}")


def _problems(checks: dict[str, Any]) -> list[str]:
    problems = []
    for name, check in sorted(checks.items()):
        if name == "settings":
            problems += [
                f"{s} {state}" for s, state in sorted(check.items()) if state != "configured"
            ]
        elif isinstance(check, dict) and check.get("status") not in ("ok", None):
            problems.append(f"{name} {check['status']}")
    return problems


def resolve_with_system(host: str) -> list[str]:
    infos = socket.getaddrinfo(host, 443, proto=socket.IPPROTO_TCP)
    return sorted({str(info[4][0]) for info in infos})


def fetch_with_urllib(url: str) -> tuple[int, bytes]:
    if not url.startswith("https://"):
        raise ValueError("the health endpoint is reached over https only")
    request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=15) as response:  # noqa: S310 (https only, above)
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as error:  # 503 still carries the health document
        return int(error.code), bytes(error.read())


def run(
    outputs: Outputs, resolve: Resolver = resolve_with_system, fetch: Fetcher = fetch_with_urllib
) -> list[Check]:
    checks = check_dns(outputs, resolve)
    checks.append(check_health(f"https://{outputs.app_host_name}/api/health", fetch))
    return checks


def main(argv: Sequence[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    outputs = parse_outputs(json.loads(Path(argv[0]).read_text(encoding="utf-8")))
    checks = run(outputs)
    for check in checks:
        print(check.line())
    return 0 if all(check.passed for check in checks) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
