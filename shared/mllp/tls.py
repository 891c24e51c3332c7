"""The TLS context for MLLP to Millennium, trusting a private CA when one is set.

A hospital's interface engine usually presents a certificate signed by the
region's internal CA, which no public trust store holds. The setting
``MILLENNIUM_MLLP_CA_BUNDLE`` then names that CA: a path to a PEM file (relative
paths are taken from the project folder), or the PEM text itself, which is what a
Key Vault reference resolves to in Azure. With a bundle only its CAs are trusted;
without one, the system trust store. Host names are always verified.

Fail closed: an unresolved Key Vault reference, a missing file or text without a
certificate raises `TlsNotConfigured`; no connection is opened with weaker trust.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from shared.errors import TlsNotConfigured
from shared.secrets import SecretSetting, SecretState

if TYPE_CHECKING:
    from shared.settings import Settings

CA_BUNDLE_SETTING = "MILLENNIUM_MLLP_CA_BUNDLE"
_PROJECT_ROOT = Path(__file__).resolve().parents[2]


def client_context(ca_bundle: SecretSetting) -> ssl.SSLContext:
    """A TLS 1.2+ client context that verifies the server against ``ca_bundle``.

    Raises:
        TlsNotConfigured: the bundle is an unresolved reference, no file, or no PEM.
    """
    if ca_bundle.state is SecretState.UNRESOLVED:
        raise TlsNotConfigured(ca_bundle.problem())
    try:
        context = _context(ca_bundle.value) if ca_bundle.configured else _system_context()
    except (ssl.SSLError, ValueError):
        raise TlsNotConfigured(f"{CA_BUNDLE_SETTING} holds no valid PEM certificate") from None
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def trust_description(ca_bundle: SecretSetting) -> str:
    """What the TLS link trusts, for the health endpoint: ``system``, ``private-ca``,
    or why it cannot start (never the bundle's text or path)."""
    if ca_bundle.state is SecretState.UNRESOLVED:
        return str(SecretState.UNRESOLVED)
    try:
        client_context(ca_bundle)
    except TlsNotConfigured:
        return "invalid-ca-bundle"
    return "private-ca" if ca_bundle.configured else "system"


def context_factory(settings: Settings) -> Callable[[], ssl.SSLContext]:
    """The link's TLS context, built on first use (a broken bundle fails sends, not
    the app's start)."""
    return lambda: client_context(settings.secret(CA_BUNDLE_SETTING))


def _system_context() -> ssl.SSLContext:
    return ssl.create_default_context(ssl.Purpose.SERVER_AUTH)


def _context(bundle: str) -> ssl.SSLContext:
    if "-----BEGIN CERTIFICATE-----" in bundle:
        return ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cadata=bundle.strip() + "\n")
    path = Path(bundle)
    path = path if path.is_absolute() else _PROJECT_ROOT / path
    if not path.is_file():
        raise TlsNotConfigured(f"{CA_BUNDLE_SETTING} names no readable file")
    return ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(path))
