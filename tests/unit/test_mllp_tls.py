"""MLLP over TLS with a private CA bundle (MILLENNIUM_MLLP_CA_BUNDLE), against a
real TLS listener on 127.0.0.1 whose certificate a throw-away CA signed (made with
``cryptography``, which azure-identity in requirements.txt already installs)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from shared.errors import ConnectionFailed, LinkUnavailable, TlsNotConfigured
from shared.link.budget import Budget, BudgetedLink
from shared.link.sqlite_leases import SqliteLeases
from shared.mllp.client import MllpClient
from shared.mllp.framing import FrameReader, frame
from shared.mllp.tls import client_context, context_factory, trust_description
from shared.secrets import SecretSetting, SecretState
from shared.settings import read_settings
from tests.unit.test_mllp_client import ack_for, message

REFERENCE = (
    "@Microsoft.KeyVault(SecretUri=https://kv.vault.azure.net/secrets/millennium-mllp-ca-bundle/)"
)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(
    subject: str, key: ec.EllipticCurvePrivateKey, issuer: str, signer: ec.EllipticCurvePrivateKey
) -> x509.CertificateBuilder:
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
    )


class PrivateCa:
    """A CA and a server certificate for 127.0.0.1, as PEM."""

    def __init__(self) -> None:
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca = (
            _certificate("VGR test interface CA", ca_key, "VGR test interface CA", ca_key)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(ca_key, hashes.SHA256())
        )
        server_key = ec.generate_private_key(ec.SECP256R1())
        server = (
            _certificate("mllp-su.test", server_key, "VGR test interface CA", ca_key)
            .add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False,
            )
            .sign(ca_key, hashes.SHA256())
        )
        self.ca_pem = ca.public_bytes(serialization.Encoding.PEM).decode()
        self.server_pem = server.public_bytes(serialization.Encoding.PEM).decode()
        self.server_key_pem = server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()


class TlsPeer:
    """A TLS MLLP listener that acknowledges every message (AA)."""

    def __init__(self, ca: PrivateCa, directory: Path) -> None:
        (directory / "server.pem").write_text(ca.server_pem + ca.server_key_pem)
        self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._context.load_cert_chain(directory / "server.pem")
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self.connections = 0
        self.handshakes = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                raw, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._answer, args=(raw,), daemon=True).start()

    def _answer(self, raw: socket.socket) -> None:
        try:
            with self._context.wrap_socket(raw, server_side=True) as conn:
                self.handshakes += 1
                reader = FrameReader()
                while data := conn.recv(4096):
                    for payload in reader.feed(data):
                        conn.sendall(frame(ack_for(payload)))
        except (OSError, ssl.SSLError):
            pass  # the client refused our certificate: that is what some tests expect

    def close(self) -> None:
        self._listener.close()


@pytest.fixture(scope="module")
def ca() -> PrivateCa:
    return PrivateCa()


@pytest.fixture
def peer(ca: PrivateCa, tmp_path: Path) -> Iterator[TlsPeer]:
    peer = TlsPeer(ca, tmp_path)
    yield peer
    peer.close()


def _tls_link(port: int, tls_context: Callable[[], ssl.SSLContext]) -> BudgetedLink:
    """The production link (budget of one), its client built with ``tls_context``."""
    return BudgetedLink(
        lambda: MllpClient("127.0.0.1", port, timeout=5, ssl_context=tls_context()),
        SqliteLeases(":memory:"),
        Budget(slots=1),
    )


def _link(peer: TlsPeer, bundle: SecretSetting) -> BudgetedLink:
    return _tls_link(peer.port, lambda: client_context(bundle))


def _configured(value: str) -> SecretSetting:
    return SecretSetting("MILLENNIUM_MLLP_CA_BUNDLE", SecretState.CONFIGURED, value)


def test_pem_text_from_key_vault_verifies_the_interface_engine(
    ca: PrivateCa, peer: TlsPeer
) -> None:
    ack = _link(peer, _configured(ca.ca_pem)).exchange(message("C1").encode(), codec="utf-8")
    assert (ack.code, peer.handshakes) == ("AA", 1)


def test_a_pem_file_path_verifies_the_interface_engine(
    ca: PrivateCa, peer: TlsPeer, tmp_path: Path
) -> None:
    bundle = tmp_path / "vgr-ca.pem"
    bundle.write_text(ca.ca_pem)
    ack = _link(peer, _configured(str(bundle))).exchange(message("C2").encode(), codec="utf-8")
    assert ack.code == "AA"


def test_the_system_trust_store_refuses_a_private_ca(peer: TlsPeer) -> None:
    missing = SecretSetting("MILLENNIUM_MLLP_CA_BUNDLE", SecretState.MISSING)
    with pytest.raises(LinkUnavailable, match="TLS handshake"):
        _link(peer, missing).exchange(message("C3").encode(), codec="utf-8")
    assert peer.handshakes == 0


def test_an_unresolved_reference_opens_no_connection(peer: TlsPeer) -> None:
    unresolved = SecretSetting("MILLENNIUM_MLLP_CA_BUNDLE", SecretState.UNRESOLVED)
    with pytest.raises(TlsNotConfigured, match="MILLENNIUM_MLLP_CA_BUNDLE is an unresolved"):
        _link(peer, unresolved).exchange(message("C4").encode(), codec="utf-8")
    assert peer.connections == 0
    # In doubt like a refused connection: resent with the same MSH-10 after backoff.
    assert issubclass(TlsNotConfigured, ConnectionFailed)


@pytest.mark.parametrize("value", ["/nowhere/ca.pem", "-----BEGIN CERTIFICATE-----\nnot pem\n"])
def test_a_bundle_that_is_no_certificate_fails_closed(value: str) -> None:
    with pytest.raises(TlsNotConfigured, match="MILLENNIUM_MLLP_CA_BUNDLE"):
        client_context(_configured(value))
    assert trust_description(_configured(value)) == "invalid-ca-bundle"


def test_the_setting_reaches_the_link(
    ca: PrivateCa, peer: TlsPeer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MILLENNIUM_MLLP_CA_BUNDLE", ca.ca_pem)
    settings = read_settings()
    assert trust_description(settings.secret("MILLENNIUM_MLLP_CA_BUNDLE")) == "private-ca"
    link = _tls_link(peer.port, context_factory(settings))
    assert link.exchange(message("C5").encode(), codec="utf-8").code == "AA"
    monkeypatch.setenv("MILLENNIUM_MLLP_CA_BUNDLE", REFERENCE)
    unresolved = read_settings().secret("MILLENNIUM_MLLP_CA_BUNDLE")
    assert trust_description(unresolved) == "unresolved-key-vault-reference"
    assert client_context(_configured(ca.ca_pem)).minimum_version is ssl.TLSVersion.TLSv1_2
