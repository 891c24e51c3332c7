"""The Millennium port: send one HL7 message, get its acknowledgment.

The sync layer depends only on `MillenniumLink`; the MLLP adapter lives here and a
FHIR R4 target (or another EHR) would be another adapter of the same port.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from shared.hl7.ack import Ack

if TYPE_CHECKING:
    from shared.mllp.client import MllpClient


class MillenniumLink(Protocol):
    """Raises (exchange):
    AckTimeout, ConnectionFailed, AckMismatch: the message is in doubt.
    """

    def exchange(self, message: str, *, encoding: str) -> Ack:
        """Send ``message`` encoded as ``encoding``; return its checked ACK."""


class MllpLink:
    """MLLP to Millennium: one persistent connection per worker thread.

    One message is in flight per connection (original acknowledgment mode), so
    each thread keeps its own client rather than sharing one.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        timeout: float,
        tls: bool = False,
        tls_context: Callable[[], ssl.SSLContext] = ssl.create_default_context,
    ) -> None:
        self._host = host
        self._port = port
        self._timeout = timeout
        # Built on the first send: a broken CA bundle (shared.mllp.tls) then fails
        # the sends with TlsNotConfigured, never the app's start.
        self._tls = tls
        self._tls_context = tls_context
        self._ssl_context: ssl.SSLContext | None = None
        self._local = threading.local()

    def exchange(self, message: str, *, encoding: str) -> Ack:
        from shared.mllp.client import exchange

        return exchange(self._client(), message, encoding)

    def _client(self) -> MllpClient:
        client: MllpClient | None = getattr(self._local, "client", None)
        if client is None:
            from shared.mllp.client import MllpClient

            if self._tls and self._ssl_context is None:
                self._ssl_context = self._tls_context()
            client = MllpClient(
                self._host, self._port, timeout=self._timeout, ssl_context=self._ssl_context
            )
            self._local.client = client
        return client
