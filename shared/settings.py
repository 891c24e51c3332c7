"""App settings, read lazily into one typed object.

Nothing is read at import time: `get_settings()` reads the environment on first
use and caches it. Tests and the local run call `reset_settings()` after changing
the environment. Names are listed (with meanings) in `shared.names.SETTINGS`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from shared.names import SETTING_SERVICE_BUS_NAMESPACE

_PROJECT_ROOT = Path(__file__).resolve().parent.parent


class SettingsError(ValueError):
    """A setting has a value the app cannot use; the message names the setting."""


@dataclass(frozen=True)
class Settings:
    host_port: int
    orbit_webhook_secrets: tuple[str, ...]
    launch_secrets_orbit: tuple[str, ...]
    launch_secrets_millennium: tuple[str, ...]
    mllp_host: str
    mllp_port: int
    mllp_tls: bool
    mllp_timeout_seconds: float
    fhir_base_url: str
    simulator: bool
    profiles_dir: str
    processing_id: str
    queue_backend: str
    crosswalk_backend: str
    table_endpoint: str
    local_data_dir: str
    service_bus_namespace: str
    app_insights_connection_string: str
    # The jump-out's FHIR client and lookup cache (defaults keep older callers working).
    fhir_token_url: str = ""
    fhir_client_id: str = ""
    fhir_secret: str = ""
    fhir_scope: str = ""
    launch_lookup_secret: str = ""
    # The operators' keys for the ops endpoints (booking trace); empty: switched off.
    ops_admin_secrets: tuple[str, ...] = ()
    # Where browsers reach this stamp (launch links); empty: the jump-out is off.
    public_base_url: str = ""


def _text(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def _int(name: str, default: int) -> int:
    raw = _text(name)
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number") from None


def _float(name: str, default: float) -> float:
    raw = _text(name)
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number") from None


def _switch(name: str, default: bool) -> bool:
    raw = _text(name).lower()
    if not raw:
        return default
    if raw in {"on", "true", "1", "yes"}:
        return True
    if raw in {"off", "false", "0", "no"}:
        return False
    raise SettingsError(f"{name} must be 'on' or 'off'")


def _choice(name: str, default: str, allowed: set[str]) -> str:
    value = _text(name, default) or default
    if value not in allowed:
        raise SettingsError(f"{name} must be one of {', '.join(sorted(allowed))}")
    return value


def _project_path(value: str) -> str:
    """A relative path is taken from the project folder, not the working directory
    (the Functions host starts the worker from a folder of its own)."""
    path = Path(value)
    return str(path if path.is_absolute() else _PROJECT_ROOT / path)


def read_settings() -> Settings:
    """Read every setting from the environment.

    Raises:
        SettingsError: a setting is malformed (names the setting, not its value).
    """
    return Settings(
        host_port=_int("HOST_PORT", 7071),
        orbit_webhook_secrets=tuple(_text("ORBIT_WEBHOOK_SECRETS").split()),
        launch_secrets_orbit=tuple(_text("LAUNCH_SECRETS_ORBIT").split()),
        launch_secrets_millennium=tuple(_text("LAUNCH_SECRETS_MILLENNIUM").split()),
        mllp_host=_text("MILLENNIUM_MLLP_HOST", "127.0.0.1"),
        mllp_port=_int("MILLENNIUM_MLLP_PORT", 2575),
        mllp_tls=_switch("MILLENNIUM_MLLP_TLS", False),
        mllp_timeout_seconds=_float("MILLENNIUM_MLLP_TIMEOUT_SECONDS", 10.0),
        fhir_base_url=_text("MILLENNIUM_FHIR_BASE_URL"),
        simulator=_switch("SIMULATOR", True),
        profiles_dir=_project_path(_text("ADMINISTRATION_PROFILES") or "profiles"),
        processing_id=_choice("HL7_PROCESSING_ID", "T", {"P", "T", "D"}),
        queue_backend=_choice("QUEUE_BACKEND", "embedded", {"embedded", "servicebus"}),
        crosswalk_backend=_choice("CROSSWALK_BACKEND", "sqlite", {"sqlite", "table"}),
        table_endpoint=_text("CROSSWALK_TABLE_ENDPOINT"),
        local_data_dir=_project_path(_text("LOCAL_DATA_DIR") or ".local"),
        service_bus_namespace=_text(SETTING_SERVICE_BUS_NAMESPACE),
        app_insights_connection_string=_text("APPLICATIONINSIGHTS_CONNECTION_STRING"),
        fhir_token_url=_text("MILLENNIUM_FHIR_TOKEN_URL"),
        fhir_client_id=_text("MILLENNIUM_FHIR_CLIENT_ID"),
        fhir_secret=_text("MILLENNIUM_FHIR_SECRET"),
        fhir_scope=_text("MILLENNIUM_FHIR_SCOPE"),
        launch_lookup_secret=_text("LAUNCH_LOOKUP_SECRET"),
        ops_admin_secrets=tuple(_text("OPS_ADMIN_SECRETS").split()),
        public_base_url=_text("PUBLIC_BASE_URL"),
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings, read on first use."""
    return read_settings()


def reset_settings() -> None:
    """Forget cached settings (after the environment changed)."""
    get_settings.cache_clear()
