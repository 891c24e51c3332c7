"""``GET /api/health``: liveness and readiness, for Azure's health check, the smoke
check after a deployment, and ``make run``.

Anonymous, so it says nothing a stranger could use: no personal data, no secret,
no host name or address; only states. The answer:

* ``503`` (``unavailable``) when this instance cannot accept webhooks: the queue or
  the crosswalk is unreachable. The platform takes such an instance out of rotation.
* ``200`` otherwise, ``degraded`` when a feature is switched off by configuration (a
  Key Vault reference the platform could not resolve, no webhook secret, an MLLP TLS
  trust that cannot start, a Millennium host that does not resolve, a malformed
  retention age), else ``ok``.
  Configuration is the same on every instance, so replacing instances cannot fix
  it: it is reported, not failed.

The Millennium link is checked without connecting: hospital interface engines
accept few connections (MILLENNIUM_MLLP_MAX_CONNECTIONS), and a probe every minute
from every instance must not take one of them.
"""

from __future__ import annotations

import ipaddress
import json
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from shared.crosswalk.port import TableStore
from shared.mllp.tls import CA_BUNDLE_SETTING, trust_description
from shared.names import KEY_VAULT_SETTINGS, TABLE_DELIVERIES
from shared.secrets import SecretState
from shared.settings import Settings

SERVICE_BUS_AMQP_PORT = 5671
PROBE_TIMEOUT_SECONDS = 3.0
_PROBE_PARTITION = "health-probe"  # a key no delivery ever has (webhook-ids are opaque ids)

Resolver = Callable[[str], list[str]]
Connector = Callable[[str, int, float], None]


def resolve_with_system(host: str) -> list[str]:
    """Raises OSError when ``host`` does not resolve."""
    infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    return sorted({str(info[4][0]) for info in infos})


def connect_with_socket(host: str, port: int, timeout: float) -> None:
    """Open and close one TCP connection. Raises OSError when it cannot."""
    with socket.create_connection((host, port), timeout=timeout):
        pass


@dataclass(frozen=True)
class HealthPorts:
    settings: Settings
    store: TableStore
    resolve: Resolver = resolve_with_system
    connect: Connector = connect_with_socket


@dataclass(frozen=True)
class HealthAnswer:
    status: int
    document: dict[str, Any]
    headers: dict[str, str] = field(
        default_factory=lambda: {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
    )
    content_type = "application/json"

    def body(self) -> bytes:
        return json.dumps(self.document, sort_keys=True).encode()


def health(ports: HealthPorts) -> HealthAnswer:
    """The health document; never raises (a failing check is reported, not thrown)."""
    settings = ports.settings
    queue = _queue(ports)
    crosswalk = _crosswalk(ports)
    millennium = _millennium(ports)
    states = {name: str(settings.secret(name).state) for name in KEY_VAULT_SETTINGS}
    checks: dict[str, Any] = {
        "live": {"status": "ok"},
        "queue": queue,
        "crosswalk": crosswalk,
        "millennium": millennium,
        "settings": states,
        "retention": _retention(settings),
        "administrations": list(settings.administrations) or "all",
    }
    if queue["status"] != "ok" or crosswalk["status"] != "ok":
        return HealthAnswer(503, {"status": "unavailable", "checks": checks})
    degraded = (
        millennium["status"] != "ok"
        or str(SecretState.UNRESOLVED) in states.values()
        or states["ORBIT_WEBHOOK_SECRETS"] != SecretState.CONFIGURED
        or checks["retention"]["status"] != "ok"
    )
    return HealthAnswer(200, {"status": "degraded" if degraded else "ok", "checks": checks})


def _queue(ports: HealthPorts) -> dict[str, Any]:
    settings = ports.settings
    if settings.queue_backend != "servicebus":
        return {"status": "ok", "backend": settings.queue_backend}
    host = settings.service_bus_namespace
    report: dict[str, Any] = {"backend": "servicebus", "address": _address(host, ports.resolve)}
    try:
        ports.connect(host, SERVICE_BUS_AMQP_PORT, PROBE_TIMEOUT_SECONDS)
    except (OSError, ValueError) as error:
        return {**report, "status": "unavailable", "error": type(error).__name__}
    return {**report, "status": "ok"}


def _crosswalk(ports: HealthPorts) -> dict[str, Any]:
    settings = ports.settings
    report: dict[str, Any] = {"backend": settings.crosswalk_backend}
    if settings.crosswalk_backend == "table":
        host = urlsplit(settings.table_endpoint).hostname or ""
        report["address"] = _address(host, ports.resolve)
    try:
        # A real read with the app's identity: DNS, network, firewall and role at once.
        ports.store.get(TABLE_DELIVERIES, _PROBE_PARTITION, _PROBE_PARTITION)
    except Exception as error:
        # Any failure of the dependency, whatever the SDK raises; the type is enough.
        return {**report, "status": "unavailable", "error": type(error).__name__}
    return {**report, "status": "ok"}


def _millennium(ports: HealthPorts) -> dict[str, Any]:
    settings = ports.settings
    report: dict[str, Any] = {
        "tls": settings.mllp_tls,
        "address": _address(settings.mllp_host, ports.resolve),
    }
    if settings.mllp_tls:
        report["trust"] = trust_description(settings.secret(CA_BUNDLE_SETTING))
    ready = report["address"] != "unresolvable" and report.get("trust") in (
        None,
        "system",
        "private-ca",
    )
    return {**report, "status": "ok" if ready else "not-configured"}


def _retention(settings: Settings) -> dict[str, Any]:
    """``off`` with the rule it broke when a retention age is malformed (the nightly
    clean-up then does nothing, so old rows are kept, never removed by a guess)."""
    if settings.retention_problem:
        return {"status": "off", "problem": settings.retention_problem}
    return {"status": "ok"}


def _address(host: str, resolve: Resolver) -> str:
    """``private``, ``public`` or ``unresolvable``: how ``host`` resolves here (a
    private-endpoint name answering ``public`` means the privatelink zone is not
    consulted by this network's DNS)."""
    if not host:
        return "unresolvable"
    try:
        addresses = [ipaddress.ip_address(address) for address in resolve(host)]
    except (OSError, ValueError):
        return "unresolvable"
    if not addresses:
        return "unresolvable"
    return "public" if any(address.is_global for address in addresses) else "private"
