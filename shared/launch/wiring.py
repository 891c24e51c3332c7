"""The launch handlers' ports from the app's services (the composition root's part
for the jump-out): the FHIR adapter is built on the first launch and kept."""

from __future__ import annotations

import threading
from urllib.parse import urlsplit

from shared.launch.fhir import build_fhir
from shared.launch.handler import LaunchPorts
from shared.launch.refusal import not_configured
from shared.launch.request import Caller
from shared.services import Services

_lock = threading.Lock()


def launch_ports(services: Services) -> LaunchPorts:
    """Raises:
    RequestDeferred: 503 when the FHIR settings, LAUNCH_LOOKUP_SECRET or
        PUBLIC_BASE_URL are missing.
    """
    settings = services.settings
    if not settings.launch_lookup_secret:
        raise not_configured("set LAUNCH_LOOKUP_SECRET (a random secret, Key Vault)")
    base_url = public_base_url(settings.public_base_url)
    with _lock:
        if services.fhir is None:
            try:
                services.fhir = build_fhir(
                    settings.fhir_base_url,
                    settings.fhir_token_url,
                    settings.fhir_client_id,
                    settings.fhir_secret,
                    settings.fhir_scope,
                )
            except ValueError as error:
                raise not_configured(str(error)) from None
        fhir = services.fhir
    return LaunchPorts(
        store=services.store,
        profiles=services.profiles,
        fhir=fhir,
        secrets={
            Caller.ORBIT: settings.launch_secrets_orbit,
            Caller.MILLENNIUM: settings.launch_secrets_millennium,
        },
        lookup_key=settings.launch_lookup_secret.encode(),
        clock=services.clock,
        public_base_url=base_url,
    )


def public_base_url(value: str) -> str:
    """``PUBLIC_BASE_URL`` checked: http(s), a host, nothing but an optional path.

    Raises:
        RequestDeferred: 503 (not configured) when it is missing or malformed.
    """
    try:
        parts = urlsplit(value)
        valid = (
            parts.scheme in {"https", "http"}
            and bool(parts.hostname)
            and "@" not in parts.netloc
            and not parts.query
            and not parts.fragment
        )
        parts.port  # noqa: B018 (raises ValueError for a port that is not a number)
    except ValueError:
        valid = False
    if not valid:
        raise not_configured(
            "set PUBLIC_BASE_URL to the stamp's address, e.g. https://<app>.azurewebsites.net"
        )
    return value.rstrip("/")
