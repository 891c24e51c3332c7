"""A blocking MLLP client for worker threads: one message in flight per connection.

The connection stays open between sends (a TCP and TLS handshake per message
would dominate latency) and is dropped after any error, so the next send starts
on a fresh connection. Every failure maps onto the worker's decision:

* :class:`~shared.errors.LinkUnavailable`: the connection could not be opened
  (refused, timed out, TLS handshake failed): nothing was sent, so this is not
  in doubt; the worker simply tries again later.
* :class:`~shared.errors.ConnectionFailed`: the connection broke before a
  complete acknowledgment arrived.
* :class:`~shared.errors.AckTimeout`: no complete acknowledgment within ``timeout``.

The last two are *in doubt*: the peer may have applied the message, so the worker
resends the same message (same MSH-10) later.

Thread-safety: an :class:`MllpClient` belongs to one thread at a time; give
each sender its own (``shared.link.budget.BudgetedLink`` lends one per send).
Concurrent use of one client raises ``RuntimeError`` instead of interleaving two
exchanges.

:func:`exchange` adds the HL7 layer: encode, send, parse the ACK, and check
that its MSA-2 echoes the message's MSH-10.
"""

from __future__ import annotations

import codecs
import contextlib
import select
import socket
import ssl
import threading
import time
from types import TracebackType

from shared.errors import (
    AckMismatch,
    AckTimeout,
    ConnectionFailed,
    LinkUnavailable,
    UnencodableText,
)
from shared.hl7.ack import Ack, MalformedHl7, message_control_id, parse_ack
from shared.mllp.charset import HL7_CHARSET_CODECS, codec_for
from shared.mllp.framing import DEFAULT_MAX_FRAME_BYTES, FrameReader, FramingError, frame

RECV_BYTES = 64 * 1024


class MllpClient:
    """Send MLLP-framed payloads to one host and port and return the reply payload.

    ``timeout`` bounds one whole exchange (sending plus waiting for the complete
    acknowledgment); ``connect_timeout`` (default: ``timeout``) bounds opening a
    connection, TLS handshake included. With ``ssl_context`` the connection is
    TLS, verified against ``server_hostname`` (default: ``host``).
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        timeout: float,
        ssl_context: ssl.SSLContext | None = None,
        connect_timeout: float | None = None,
        server_hostname: str | None = None,
        max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
    ) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self.connect_timeout = timeout if connect_timeout is None else connect_timeout
        self._ssl_context = ssl_context
        self._server_hostname = server_hostname or host
        self._max_frame_bytes = max_frame_bytes
        self._sock: socket.socket | None = None
        self._in_use = threading.Lock()

    def __enter__(self) -> MllpClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def connected(self) -> bool:
        """True while a connection is open for reuse."""
        return self._sock is not None

    def send(self, payload: bytes) -> bytes:
        """Send one framed ``payload`` and return the payload of the reply frame.

        Raises:
            LinkUnavailable: the connection could not be opened (refused, timed
                out, TLS failure): nothing was sent.
            ConnectionFailed: reset or closed connection, or a reply that is not
                MLLP-framed (in doubt).
            AckTimeout: no complete reply frame within ``timeout``.
            FramingError: ``payload`` itself contains an MLLP block character
                (raised before anything is sent).
            RuntimeError: another thread is using this client.
        """
        framed = frame(payload)
        if not self._in_use.acquire(blocking=False):
            raise RuntimeError("MllpClient is used by two threads at once; use one per thread")
        try:
            sock = self._connection()
            try:
                return self._exchange(sock, framed)
            except BaseException:
                # After an error the stream position is unknown (a late reply may
                # still arrive), so the connection must not carry another message.
                self._disconnect()
                raise
        finally:
            self._in_use.release()

    def close(self) -> None:
        """Close the connection, if any. The client may be used again afterwards."""
        self._disconnect()

    def _connection(self) -> socket.socket:
        if self._sock is not None and not _is_stale(self._sock):
            return self._sock
        self._disconnect()
        self._sock = self._connect()
        return self._sock

    def _connect(self) -> socket.socket:
        where = f"MLLP peer {self.host}:{self.port}"
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self.connect_timeout)
        except TimeoutError:
            raise LinkUnavailable(
                f"{where} did not accept a connection within {self.connect_timeout} s"
            ) from None
        except OSError as error:
            raise LinkUnavailable(f"cannot connect to {where}: {_describe(error)}") from None
        # HL7 messages are small: don't let Nagle's algorithm hold them back.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self._ssl_context is None:
            return sock
        try:
            return self._ssl_context.wrap_socket(sock, server_hostname=self._server_hostname)
        except (OSError, ValueError) as error:
            sock.close()
            raise LinkUnavailable(
                f"TLS handshake with {where} failed: {_describe(error)}"
            ) from None

    def _exchange(self, sock: socket.socket, framed: bytes) -> bytes:
        deadline = time.monotonic() + self.timeout
        try:
            sock.settimeout(self.timeout)
            sock.sendall(framed)
            return self._read_reply(sock, deadline)
        except TimeoutError:
            raise AckTimeout(
                f"no acknowledgment from MLLP peer {self.host}:{self.port} within {self.timeout} s"
            ) from None
        except FramingError as error:
            raise ConnectionFailed(
                f"MLLP peer {self.host}:{self.port} sent a reply that is not MLLP: {error}"
            ) from None
        except OSError as error:
            raise ConnectionFailed(
                f"connection to MLLP peer {self.host}:{self.port} failed: {_describe(error)}"
            ) from None

    def _read_reply(self, sock: socket.socket, deadline: float) -> bytes:
        """Read until one frame is complete; raise TimeoutError at the deadline."""
        reader = FrameReader(self._max_frame_bytes)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            sock.settimeout(remaining)
            data = sock.recv(RECV_BYTES)
            if not data:
                raise ConnectionFailed(
                    f"MLLP peer {self.host}:{self.port} closed the connection "
                    "before a complete acknowledgment"
                )
            frames = reader.feed(data)
            if frames:
                if len(frames) > 1 or reader.has_partial_frame:
                    # More than the one reply we asked for: the stream is out of
                    # step, so don't reuse it (the first frame is still ours).
                    self._disconnect()
                return frames[0]

    def abort(self) -> None:
        """Shut the connection down from another thread: an exchange in flight on it
        fails at once (``ConnectionFailed``, in doubt). Never raises."""
        sock = self._sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def _disconnect(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            # Closing a broken socket can fail; it is gone either way.
            with contextlib.suppress(OSError):
                sock.close()


def _is_stale(sock: socket.socket) -> bool:
    """True when an idle connection has something to read: EOF, a reset, or stray bytes.

    Between exchanges nothing should arrive, so readability means the peer closed
    the connection (for example an idle timeout) or is out of step. Checking
    before sending turns an avoidable in-doubt send into a clean reconnect.
    """
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def _describe(error: BaseException) -> str:
    """A short reason for an OS or TLS error (no payload data is ever in these)."""
    if isinstance(error, ssl.SSLError) and error.reason:
        return str(error.reason)
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return type(error).__name__


def exchange(client: MllpClient, message: str | bytes, encoding: str) -> Ack:
    """Send ``message`` and return its acknowledgment.

    ``message`` is the HL7 text, or its bytes already encoded with ``encoding``
    (the HL7 channel encodes once, when it prepares a message). ``encoding`` is a
    Python codec name (``"utf-8"``, ``"iso-8859-1"``) or an MSH-18 value
    (``"UNICODE UTF-8"``, ``"8859/1"``); the ACK is decoded with the same codec.
    What to do with AA / AE / AR is the caller's decision; this function only
    guarantees that the ACK belongs to this message.

    Raises:
        LinkUnavailable: the connection could not be opened (nothing was sent).
        ConnectionFailed: the connection broke (in doubt).
        AckTimeout: no acknowledgment within the client's timeout (in doubt).
        AckMismatch: the reply is not a parseable ACK, or its MSA-2 does not
            echo the message's MSH-10 (in doubt).
        UnencodableText: a character cannot be encoded (nothing was sent).
        FramingError: the bytes hold an MLLP block character (nothing was sent).
        MalformedHl7: ``message`` has no MSH segment (a bug; nothing was sent).
        UnsupportedCharset: ``encoding`` is neither a codec nor a known MSH-18 value.
    """
    codec = _codec(encoding)
    payload = message if isinstance(message, bytes) else _encode(message, codec)
    control_id = message_control_id(_header_text(payload, codec))
    reply = client.send(payload)
    # 'replace': a mis-encoded ERR text must not hide an otherwise valid ACK code.
    ack = _parse_reply(reply.decode(codec, errors="replace"), control_id)
    if ack.control_id != control_id:
        raise AckMismatch(
            f"acknowledgment echoes MSA-2 {ack.control_id[:20]!r}, not MSH-10 {control_id!r}"
        )
    return ack


def _encode(text: str, codec: str) -> bytes:
    try:
        return text.encode(codec)
    except UnicodeEncodeError as error:
        # The codec's own message would quote the character: name its offset only.
        raise UnencodableText(
            f"message has a character at offset {error.start} that {codec} cannot encode"
        ) from None


def _header_text(payload: bytes, codec: str) -> str:
    """The first segment of ``payload`` as text (MSH-10 is read from it)."""
    return payload.split(b"\r", 1)[0].decode(codec, errors="replace")


def _parse_reply(reply_text: str, control_id: str) -> Ack:
    try:
        return parse_ack(reply_text)
    except MalformedHl7:
        raise AckMismatch(
            f"reply to message {control_id} is not a parseable HL7 acknowledgment"
        ) from None


def _codec(encoding: str) -> str:
    if encoding.strip().upper() in HL7_CHARSET_CODECS:
        return codec_for(encoding)
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        return codec_for(encoding)  # raises UnsupportedCharset naming the supported sets
