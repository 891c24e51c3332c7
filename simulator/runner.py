"""Run the simulator on background threads: an asyncio loop for MLLP, a thread pool for HTTP."""

from __future__ import annotations

import asyncio
import ssl
import threading
from concurrent.futures import Future
from pathlib import Path

from simulator.faults import Faults
from simulator.http_api import SimulatorHttpServer
from simulator.journal import Journal
from simulator.listener import MllpListener
from simulator.millennium import Millennium
from simulator.state import MillenniumState

START_TIMEOUT_SECONDS = 10.0


class SimulatorHandle:
    """A running simulator. ``stop()`` it (or use it as a context manager)."""

    def __init__(
        self,
        millennium: Millennium,
        listener: MllpListener,
        loop: asyncio.AbstractEventLoop,
        loop_thread: threading.Thread,
        http_server: SimulatorHttpServer,
        http_thread: threading.Thread,
        host: str,
    ) -> None:
        self.millennium = millennium
        self.host = host
        self.mllp_port = listener.port
        self.http_port: int = http_server.server_address[1]
        self._listener = listener
        self._loop = loop
        self._loop_thread = loop_thread
        self._http_server = http_server
        self._http_thread = http_thread

    @property
    def state(self) -> MillenniumState:
        """The live state: read it while no message is in flight, or use ``with_state``."""
        return self.millennium.state

    @property
    def faults(self) -> Faults:
        """Fault settings; assignments take effect for the next message."""
        return self.millennium.faults

    @property
    def http_url(self) -> str:
        return f"http://{self.host}:{self.http_port}"

    def stats(self) -> dict[str, object]:
        return self.millennium.stats()

    def reset(self) -> None:
        self.millennium.reset()

    def stop(self) -> None:
        """Close every connection, stop both servers and join their threads."""
        if self._loop.is_running():
            stopping = asyncio.run_coroutine_threadsafe(self._listener.stop(), self._loop)
            stopping.result(timeout=START_TIMEOUT_SECONDS)
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._loop_thread.join(timeout=START_TIMEOUT_SECONDS)
        self._http_server.shutdown()
        self._http_server.server_close()
        self._http_thread.join(timeout=START_TIMEOUT_SECONDS)
        self.millennium.close()

    def __enter__(self) -> SimulatorHandle:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start_simulator(
    host: str = "127.0.0.1",
    mllp_port: int = 0,
    http_port: int = 0,
    *,
    seed: int | None = None,
    enforce_order: bool = True,
    ssl_context: ssl.SSLContext | None = None,
    connection_limit: int | None = None,
    state_file: Path | None = None,
) -> SimulatorHandle:
    """Start the simulator in the background and return once both ports listen.

    Port 0 picks a free port (read it from the handle). With ``ssl_context`` the
    MLLP listener speaks TLS. ``seed`` makes fault injection reproducible;
    ``enforce_order=False`` lets appointments and admits exist without an encounter.
    ``connection_limit`` closes every connection beyond that many at once, as an
    interface engine with a per-interface connection limit does.
    With ``state_file`` what Millennium holds survives a restart (simulator/journal.py);
    without it the simulator starts empty and forgets on stop.

    Raises:
        OSError: a port is in use or the host cannot be bound.
    """
    journal = Journal(state_file) if state_file is not None else None
    millennium = Millennium(
        seed=seed, enforce_order=enforce_order, connection_limit=connection_limit, journal=journal
    )
    listener = MllpListener(millennium)
    loop = asyncio.new_event_loop()
    started: Future[None] = Future()
    loop_thread = threading.Thread(
        target=_run_loop,
        args=(loop, listener, host, mllp_port, ssl_context, started),
        name="simulator-mllp",
        daemon=True,
    )
    loop_thread.start()
    try:
        started.result(timeout=START_TIMEOUT_SECONDS)  # re-raises a bind error here
    except BaseException:
        millennium.close()
        raise
    try:
        http_server = SimulatorHttpServer((host, http_port), millennium)
    except OSError:
        asyncio.run_coroutine_threadsafe(listener.stop(), loop).result(START_TIMEOUT_SECONDS)
        loop.call_soon_threadsafe(loop.stop)
        millennium.close()
        raise
    http_thread = threading.Thread(
        target=http_server.serve_forever,
        kwargs={"poll_interval": 0.05},  # how quickly stop() is noticed
        name="simulator-http",
        daemon=True,
    )
    http_thread.start()
    return SimulatorHandle(millennium, listener, loop, loop_thread, http_server, http_thread, host)


def _run_loop(
    loop: asyncio.AbstractEventLoop,
    listener: MllpListener,
    host: str,
    port: int,
    ssl_context: ssl.SSLContext | None,
    started: Future[None],
) -> None:
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(listener.start(host, port, ssl_context))
    except BaseException as error:
        started.set_exception(error)
        loop.close()
        return
    started.set_result(None)
    try:
        loop.run_forever()
    finally:
        _cancel_remaining_tasks(loop)
        loop.close()


def _cancel_remaining_tasks(loop: asyncio.AbstractEventLoop) -> None:
    tasks = asyncio.all_tasks(loop)
    for task in tasks:
        task.cancel()
    if tasks:
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
