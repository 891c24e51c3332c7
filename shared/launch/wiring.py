"""The launch handlers' ports from the app's services (the composition root,
shared.services, builds the FHIR adapter on the first launch and keeps it)."""

from __future__ import annotations

from urllib.parse import urlsplit

from shared.launch.handler import LaunchPorts
from shared.launch.refusal import not_configured
from shared.launch.request import Caller
from shared.secrets import SecretState
from shared.services import Services


def launch_ports(services: Services) -> LaunchPorts:
    """Raises:
    RequestDeferred: 503 when the FHIR settings, LAUNCH_LOOKUP_SECRET or
        PUBLIC_BASE_URL are missing.
    """
    settings = services.settings
    lookup_key = settings.secret("LAUNCH_LOOKUP_SECRET")
    if not lookup_key.configured:
        raise not_configured(f"{lookup_key.problem()}; it is a random secret, in Key Vault")
    fhir_secret = settings.secret("MILLENNIUM_FHIR_SECRET")
    if settings.fhir_token_url and not fhir_secret.configured:
        raise not_configured(fhir_secret.problem())
    base_url = public_base_url(settings.public_base_url)
    try:
        fhir = services.fhir()
    except ValueError as error:
        raise not_configured(str(error)) from None
    return LaunchPorts(
        store=services.store,
        profiles=services.profiles,
        fhir=fhir,
        secrets={caller: tuple(settings.secret(name).value.split()) for caller, name in _CALLERS},
        lookup_key=lookup_key.value.encode(),
        clock=services.clock,
        # A caller whose setting is an unresolved Key Vault reference is broken (503
        # for its requests), not merely switched off; the other caller is unaffected.
        secret_problems={
            caller: settings.secret(name).problem()
            for caller, name in _CALLERS
            if settings.secret(name).state is SecretState.UNRESOLVED
        },
        administrations=frozenset(settings.administrations),
        public_base_url=base_url,
    )


_CALLERS = (
    (Caller.ORBIT, "LAUNCH_SECRETS_ORBIT"),
    (Caller.MILLENNIUM, "LAUNCH_SECRETS_MILLENNIUM"),
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
