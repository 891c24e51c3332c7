"""The launch handlers' ports from the app's services (the composition root,
shared.services, builds the FHIR adapter on the first launch and keeps it)."""

from __future__ import annotations

from shared.launch.handler import LaunchPorts
from shared.launch.refusal import not_configured
from shared.launch.request import Caller
from shared.services import Services


def launch_ports(services: Services) -> LaunchPorts:
    """Raises:
    LaunchRefused: 503 when the FHIR settings or LAUNCH_LOOKUP_SECRET are missing.
    """
    settings = services.settings
    if not settings.launch_lookup_secret:
        raise not_configured("set LAUNCH_LOOKUP_SECRET (a random secret, Key Vault)")
    try:
        fhir = services.fhir()
    except ValueError as error:
        raise not_configured(str(error)) from None
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
