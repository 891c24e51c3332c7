"""The launch handlers' ports from the app's services (the composition root's part
for the jump-out): the FHIR adapter is built on the first launch and kept."""

from __future__ import annotations

import threading

from shared.launch.fhir import build_fhir
from shared.launch.handler import LaunchPorts
from shared.launch.refusal import not_configured
from shared.launch.request import Caller
from shared.services import Services

_lock = threading.Lock()


def launch_ports(services: Services) -> LaunchPorts:
    """Raises:
    LaunchRefused: 503 when the FHIR settings or LAUNCH_LOOKUP_SECRET are missing.
    """
    settings = services.settings
    if not settings.launch_lookup_secret:
        raise not_configured("set LAUNCH_LOOKUP_SECRET (a random secret, Key Vault)")
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
    )
