"""The MLLP listener: python-hl7's asyncio server in front of :class:`Millennium`.

Framing on the server side is python-hl7's (``readblock`` / ``writeblock``), a
real MLLP implementation independent of the client's own framing. The listener
reads raw blocks rather than parsed messages so the simulator can decode each
one by its own MSH-18.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

from hl7.mllp import InvalidBlockError, start_hl7_server

from simulator.millennium import Millennium


class MllpListener:
    """Accepts connections and answers each message in order, one at a time."""

    def __init__(self, millennium: Millennium) -> None:
        self._millennium = millennium
        self._server: asyncio.Server | None = None
        self._writers: set[Any] = set()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the listener is not started")
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def start(self, host: str, port: int, ssl_context: ssl.SSLContext | None) -> None:
        """Listen on ``host``:``port`` (0 picks a free port).

        Raises:
            OSError: the address is in use or cannot be bound.
        """
        self._server = await start_hl7_server(
            self._serve, host=host, port=port, ssl=ssl_context, limit=1024 * 1024
        )

    async def stop(self) -> None:
        """Stop listening and close every open connection."""
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        if self._server is not None:
            await self._server.wait_closed()

    async def _serve(self, reader: Any, writer: Any) -> None:
        self._writers.add(writer)
        counted = self._millennium.connection_opened()
        try:
            if counted and self._millennium.accept_connection():
                await self._answer_messages(reader, writer)
        except (ConnectionError, ssl.SSLError):
            pass  # the peer went away; it will see no ACK and resend later
        finally:
            if counted:
                self._millennium.connection_closed()
            self._writers.discard(writer)
            writer.transport.abort()

    async def _answer_messages(self, reader: Any, writer: Any) -> None:
        while True:
            try:
                block = await reader.readblock()
            except asyncio.IncompleteReadError:
                return  # the peer closed the connection
            except (InvalidBlockError, ValueError):
                # Bytes outside a frame, or an oversized frame: a real MLLP
                # listener cannot find the next message boundary, so it hangs up.
                self._millennium.count_framing_error()
                return
            latency_ms = self._millennium.faults.latency_ms
            if latency_ms:
                await asyncio.sleep(latency_ms / 1000)
            reply = self._millennium.handle(block)
            if reply.close:
                return
            if reply.ack is not None:
                writer.writeblock(reply.ack)
                await writer.drain()
