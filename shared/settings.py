"""App settings, read lazily into one typed object.

Nothing is read at import time: `get_settings()` reads the environment on first
use and caches it. Tests and the local run call `reset_settings()` after changing
the environment. Names are listed (with meanings) in `shared.names.SETTINGS`.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from shared.errors import PermanentError
from shared.names import (
    KEY_VAULT_SETTINGS,
    SETTING_SERVICE_BUS_NAMESPACE,
)
from shared.retention import policy as retention
from shared.secrets import SecretSetting, SecretState, read_secret, state_of

_PROJECT_ROOT = Path(__file__).resolve().parent.parent


class SettingsError(PermanentError, ValueError):
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
    # The Millennium link's budget, for the whole stamp (shared.link.budget).
    mllp_max_connections: int = 1
    mllp_max_messages_per_second: float = 0.0  # 0: no limit
    mllp_idle_seconds: float = 60.0
    mllp_link_wait_seconds: float = 15.0
    link_lease_account_url: str = ""  # blob endpoint of the leases in Azure
    go_live_bookings_per_second: float = 20.0
    # MLLP TLS trust: a PEM path or PEM text; empty: the system trust store.
    mllp_ca_bundle: str = ""
    # Where browsers reach this stamp (launch links); empty: the jump-out is off.
    public_base_url: str = ""
    # Stamp scoping: the administrations this stamp accepts; empty: every profile.
    administrations: tuple[str, ...] = ()
    # How long the clean-up keeps rows (shared.retention.policy). A malformed age
    # switches the clean-up off, and only it: ``retention_problem`` says which.
    retention: retention.RetentionPolicy = field(default_factory=retention.RetentionPolicy)
    retention_problem: str = ""
    # State of every Key Vault setting as read (shared.secrets): a secret that is
    # missing or an unresolved reference has an empty value above.
    secret_states: Mapping[str, SecretState] = field(default_factory=dict)

    def secret(self, name: str) -> SecretSetting:
        """One Key Vault setting (``shared.names.KEY_VAULT_SETTINGS``) with its state.

        Raises:
            KeyError: ``name`` is not a Key Vault setting.
        """
        value = getattr(self, _SECRET_FIELDS[name])
        text = " ".join(value) if isinstance(value, tuple) else str(value)
        state = state_of(self.secret_states, name, value)
        return SecretSetting(name, state, text if state is SecretState.CONFIGURED else "")


_SECRET_FIELDS: dict[str, str] = {
    "ORBIT_WEBHOOK_SECRETS": "orbit_webhook_secrets",
    "LAUNCH_SECRETS_ORBIT": "launch_secrets_orbit",
    "LAUNCH_SECRETS_MILLENNIUM": "launch_secrets_millennium",
    "LAUNCH_LOOKUP_SECRET": "launch_lookup_secret",
    "MILLENNIUM_FHIR_SECRET": "fhir_secret",
    "OPS_ADMIN_SECRETS": "ops_admin_secrets",
    "MILLENNIUM_MLLP_CA_BUNDLE": "mllp_ca_bundle",
}
"""Key Vault setting -> the Settings field holding its (usable) value."""


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


def _positive_int(name: str, default: int) -> int:
    value = _int(name, default)
    if value < 1:
        raise SettingsError(f"{name} must be 1 or more")
    return value


def _float(name: str, default: float) -> float:
    raw = _text(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number") from None
    if not value >= 0:  # also refuses nan
        raise SettingsError(f"{name} must not be negative")
    return value


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


_ADMINISTRATION_CODE = re.compile(r"[A-Z0-9]{2,10}")


def _administrations(name: str) -> tuple[str, ...]:
    codes = tuple(_text(name).upper().split())
    if not all(_ADMINISTRATION_CODE.fullmatch(code) for code in codes):
        raise SettingsError(f"{name} must list administration codes such as SU or SKAS")
    return codes


def _project_path(value: str) -> str:
    """A relative path is taken from the project folder, not the working directory
    (the Functions host starts the worker from a folder of its own)."""
    path = Path(value)
    return str(path if path.is_absolute() else _PROJECT_ROOT / path)


def _days(name: str, default: int, minimum: int) -> dt.timedelta:
    days = _int(name, default)
    if days < minimum:
        raise SettingsError(f"{name} must be {minimum} or more (days)")
    return dt.timedelta(days=days)


def _audit_days(name: str) -> dt.timedelta | None:
    if _text(name).lower() == retention.AUDIT_OFF:
        return None
    try:
        return _days(name, retention.DEFAULT_AUDIT_DAYS, retention.MIN_AUDIT_DAYS)
    except SettingsError:
        raise SettingsError(
            f"{name} must be {retention.MIN_AUDIT_DAYS} or more (days, at least five years) "
            f"or '{retention.AUDIT_OFF}'"
        ) from None


def _retention() -> tuple[retention.RetentionPolicy, str]:
    """The retention ages, or the defaults and why the clean-up must stay off.

    A bad age must not stop the webhook or the workers, and the clean-up must not
    guess what an operator meant: it does nothing and says which setting is wrong.
    """
    try:
        policy = retention.RetentionPolicy(
            deliveries=_days(
                "RETENTION_DELIVERIES_DAYS",
                retention.DEFAULT_DELIVERIES_DAYS,
                retention.MIN_DELIVERIES_DAYS,
            ),
            launch_codes=_days(
                "RETENTION_LAUNCH_CODES_DAYS",
                retention.DEFAULT_LAUNCH_CODES_DAYS,
                retention.MIN_LAUNCH_CODES_DAYS,
            ),
            audit=_audit_days("RETENTION_AUDIT_DAYS"),
        )
    except SettingsError as error:
        return retention.RetentionPolicy(), str(error)
    return policy, ""


def read_settings() -> Settings:
    """Read every setting from the environment.

    Raises:
        SettingsError: a setting is malformed (names the setting, not its value).
    """
    # Secrets fail closed: an unresolved Key Vault reference reads as "" (never its text).
    secrets = {name: read_secret(name, os.environ) for name in KEY_VAULT_SETTINGS}
    retention_policy, retention_problem = _retention()
    return Settings(
        host_port=_int("HOST_PORT", 7071),
        orbit_webhook_secrets=tuple(secrets["ORBIT_WEBHOOK_SECRETS"].value.split()),
        launch_secrets_orbit=tuple(secrets["LAUNCH_SECRETS_ORBIT"].value.split()),
        launch_secrets_millennium=tuple(secrets["LAUNCH_SECRETS_MILLENNIUM"].value.split()),
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
        fhir_secret=secrets["MILLENNIUM_FHIR_SECRET"].value,
        fhir_scope=_text("MILLENNIUM_FHIR_SCOPE"),
        launch_lookup_secret=secrets["LAUNCH_LOOKUP_SECRET"].value,
        ops_admin_secrets=tuple(secrets["OPS_ADMIN_SECRETS"].value.split()),
        mllp_ca_bundle=secrets["MILLENNIUM_MLLP_CA_BUNDLE"].value,
        administrations=_administrations("ADMINISTRATIONS"),
        secret_states={name: secret.state for name, secret in secrets.items()},
        public_base_url=_text("PUBLIC_BASE_URL"),
        mllp_max_connections=_positive_int("MILLENNIUM_MLLP_MAX_CONNECTIONS", 1),
        mllp_max_messages_per_second=_float("MILLENNIUM_MLLP_MAX_MESSAGES_PER_SECOND", 0.0),
        mllp_idle_seconds=_float("MILLENNIUM_MLLP_IDLE_SECONDS", 60.0),
        mllp_link_wait_seconds=_float("MILLENNIUM_MLLP_LINK_WAIT_SECONDS", 15.0),
        link_lease_account_url=_text("MILLENNIUM_LINK_LEASE_ACCOUNT_URL"),
        go_live_bookings_per_second=_float("GO_LIVE_BOOKINGS_PER_SECOND", 20.0),
        retention=retention_policy,
        retention_problem=retention_problem,
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings, read on first use."""
    return read_settings()


def reset_settings() -> None:
    """Forget cached settings (after the environment changed)."""
    get_settings.cache_clear()
