"""Secret settings fail closed: missing or unresolved means "not configured".

In Azure every secret setting is a Key Vault reference,
``@Microsoft.KeyVault(SecretUri=…)``. When the platform cannot resolve one (the
secret does not exist yet, the identity lacks Key Vault Secrets User, the vault is
unreachable), it passes the reference's literal text to the app as the value. Used
as a value, that text would become an HMAC key anyone can recompute, a client
secret, or an operators' key anyone who guesses the reference could present. So a
setting whose value is a reference is never used: its state is ``UNRESOLVED``, its
value empty, and the feature that needs it answers 503 naming the setting (never
the value). ``GET /api/health`` lists every secret setting's state.

Each setting stands alone: one broken setting switches off only what needs it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

KEY_VAULT_REFERENCE_PREFIX = "@microsoft.keyvault("
"""How every Key Vault reference starts (compared case-insensitively, as the platform does)."""


class SecretState(StrEnum):
    CONFIGURED = "configured"
    MISSING = "missing"
    UNRESOLVED = "unresolved-key-vault-reference"


@dataclass(frozen=True)
class SecretSetting:
    """One secret setting as read: its state, and its value only when configured."""

    name: str
    state: SecretState
    value: str = field(default="", repr=False)  # repr=False: never in a log or traceback

    @property
    def configured(self) -> bool:
        return self.state is SecretState.CONFIGURED

    def problem(self) -> str:
        """Why the setting cannot be used, for operators and problem documents; empty
        when it can. Names the setting, never its value."""
        if self.state is SecretState.UNRESOLVED:
            return (
                f"{self.name} is an unresolved Key Vault reference: the platform could not "
                "read the secret (check that it exists in the stamp's Key Vault and that the "
                "app's identity has Key Vault Secrets User)"
            )
        if self.state is SecretState.MISSING:
            return f"{self.name} is not set"
        return ""


def is_key_vault_reference(raw: str) -> bool:
    """Whether ``raw`` is (still) a Key Vault reference rather than a secret."""
    return raw.strip().lower().startswith(KEY_VAULT_REFERENCE_PREFIX)


def read_secret(name: str, environ: Mapping[str, str]) -> SecretSetting:
    """The setting ``name`` from ``environ``, classified; an unresolved reference
    is never returned as a value."""
    raw = environ.get(name, "").strip()
    if not raw:
        return SecretSetting(name, SecretState.MISSING)
    if is_key_vault_reference(raw):
        return SecretSetting(name, SecretState.UNRESOLVED)
    return SecretSetting(name, SecretState.CONFIGURED, raw)


def state_of(states: Mapping[str, SecretState], name: str, value: object) -> SecretState:
    """The state of setting ``name`` whose usable value is ``value``: a value says
    for itself (tests and the local run may set one directly); no value is missing,
    unless the setting was an unresolved reference when it was read."""
    if value:
        text = " ".join(value) if isinstance(value, tuple) else str(value)
        return SecretState.UNRESOLVED if is_key_vault_reference(text) else SecretState.CONFIGURED
    if states.get(name) is SecretState.UNRESOLVED:
        return SecretState.UNRESOLVED
    return SecretState.MISSING
