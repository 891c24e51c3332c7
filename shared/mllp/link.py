"""The MLLP link to Millennium: the HL7 channel's transport.

One persistent connection per worker thread: one message is in flight per
connection (original acknowledgment mode), so each thread keeps its own client
rather than sharing one.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from shared.hl7.ack import Ack

if TYPE_CHECKING:
    from shared.mllp.client import MllpClient


class HL7Link(Protocol):
    """Raises (exchange):
    AckTimeout, ConnectionFailed, AckMismatch: the message is in doubt.
    """

    def exchange(self, payload: bytes, *, codec: str) -> Ack:
        """Send ``payload`` (HL7 bytes encoded with ``codec``); return its checked ACK."""


class MllpLink:
    """MLLP over TCP (optionally TLS) to one host and port."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        timeout: float,
        tls_context: Callable[[], ssl.SSLContext] | None = None,
    ) -> None:
        """``tls_context`` (None: plain TCP) is called on the first send, so a broken
        CA bundle (shared.mllp.tls) fails the sends with TlsNotConfigured, never the
        app's start."""
        self._host = host
        self._port = port
        self._timeout = timeout
        self._tls_context = tls_context
        self._ssl_context: ssl.SSLContext | None = None
        self._local = threading.local()

    def exchange(self, payload: bytes, *, codec: str) -> Ack:
        from shared.mllp.client import exchange

        return exchange(self._client(), payload, codec)

    def _client(self) -> MllpClient:
        client: MllpClient | None = getattr(self._local, "client", None)
        if client is None:
            from shared.mllp.client import MllpClient

            if self._tls_context is not None and self._ssl_context is None:
                self._ssl_context = self._tls_context()
            client = MllpClient(
                self._host, self._port, timeout=self._timeout, ssl_context=self._ssl_context
            )
            self._local.client = client
        return client
