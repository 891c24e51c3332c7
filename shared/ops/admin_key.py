"""The operators' key for the ops HTTP endpoints and for showing patient data.

The local host checks no function keys, and a function key alone is one more
shared secret nobody rotates; so the ops endpoints also require a key from the
setting ``OPS_ADMIN_SECRETS`` (space-separated, a Key Vault reference in Azure, so
it can be rotated: any listed key is accepted). Without the setting, or while its
Key Vault reference is unresolved (the literal reference text is never a key), the
endpoints answer 503 saying so: they are never open.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

ADMIN_KEY_HEADER = "x-ops-key"
"""Request header that carries the operators' key."""
ADMIN_KEY_ENV = "ORBITSYNC_OPS_KEY"
"""Environment variable the CLI reads the operator's key from (never a command-line
argument: those end up in shell history and process lists)."""


def configured_keys() -> tuple[str, ...]:
    """The keys in ``OPS_ADMIN_SECRETS`` (read on first use, like every setting).

    Raises:
        SettingsError: some setting is malformed.
    """
    from shared.settings import get_settings

    return tuple(get_settings().secret("OPS_ADMIN_SECRETS").value.split())


def keys_problem() -> str:
    """Why ``OPS_ADMIN_SECRETS`` gives no key (not set, or an unresolved Key Vault
    reference, which is never accepted as a key); empty when it gives some.

    Raises:
        SettingsError: some setting is malformed.
    """
    from shared.settings import get_settings

    return get_settings().secret("OPS_ADMIN_SECRETS").problem()


def is_authorised(presented: str | None, keys: Sequence[str]) -> bool:
    """Whether ``presented`` is one of ``keys``, compared in constant time."""
    return authorised_key_id(presented, keys) is not None


def key_id(key: str) -> str:
    """The public id of an operators' key: ``k-`` and 12 hex digits of its SHA-256.

    Audit rows and log lines name a key by it, never by the key. Keys are long
    random strings, so the id gives nothing away; an operator finds their key's
    id with ``python -c "from shared.ops.admin_key import key_id; print(key_id('…'))"``.
    """
    return "k-" + hashlib.sha256(key.strip().encode()).hexdigest()[:12]


def authorised_key_id(presented: str | None, keys: Sequence[str]) -> str | None:
    """The id of the key ``presented`` matches (all compared in constant time), or None."""
    if not presented or not keys:
        return None
    given = presented.strip().encode()
    matches = [hmac.compare_digest(given, key.encode()) for key in keys]
    return key_id(keys[matches.index(True)]) if any(matches) else None
