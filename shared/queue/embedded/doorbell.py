"""Waking receivers in other processes that use the same queue file.

A process whose receivers wait on the file (the local run, each
``python -m localrun.worker``) listens on a UDP socket on loopback and writes its
port into the file's ``doorbells`` table. After every change to a queue (send,
complete, abandon) a process sends each queue's name and how many of its messages
may have become receivable, one line per queue, in one datagram to each other
listener, which wakes that many of its waiting receivers at once instead of at
their next poll.

A datagram is only a hint: a lost one, or a listener not yet seen (the list of
listeners is re-read at most every ``REFRESH_SECONDS``), costs one poll interval
(``wakeups.CROSS_PROCESS_POLL``), never a message. Any datagram is harmless: a
wake only makes a receiver look at the file again. Rows of processes that are
gone are skipped, and pruned by the next process that starts listening.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping

from shared.errors import QueueUnavailable
from shared.queue.embedded.commit import Database

LOOPBACK = "127.0.0.1"
REFRESH_SECONDS = 1.0
"""How stale this process's list of other listeners may get."""

ANSWER_TIMEOUT_SECONDS = 0.5
"""How soon the listening thread notices that its bell was closed."""
_MAX_DATAGRAM = 4096


class Doorbell:
    """This process's bell (once `listen` is called) and the other processes' bells."""

    def __init__(self, database: Database, on_ring: Callable[[Mapping[str, int]], None]) -> None:
        self._database = database
        self._on_ring = on_ring
        self._socket: socket.socket | None = None
        self._sender: socket.socket | None = None
        self._port = 0
        self._others: list[int] = []
        self._read_at = -REFRESH_SECONDS
        self._guard = threading.Lock()

    def listen(self) -> None:
        """Start listening (idempotent); receivers in this process are then woken by
        changes other processes make.

        Raises:
            QueueUnavailable: the file could not be written.
            OSError: no loopback UDP socket could be opened.
        """
        with self._guard:
            if self._socket is not None:
                return
            bell = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                bell.bind((LOOPBACK, 0))
                bell.settimeout(ANSWER_TIMEOUT_SECONDS)
            except OSError:
                bell.close()
                raise
            self._port = bell.getsockname()[1]
            try:
                self._register()
            except BaseException:
                bell.close()
                raise
            self._socket = bell
        threading.Thread(
            target=self._answer, args=(bell,), name="queue-doorbell", daemon=True
        ).start()

    def ring(self, arrivals: Mapping[str, int]) -> None:
        """Tell the other listening processes how many messages of each queue may
        have become receivable (best effort)."""
        ports = self._other_ports()
        if not ports:
            return
        datagram = ring_datagram(arrivals)
        sender = self._sending_socket()
        for port in ports:
            with contextlib.suppress(OSError):  # a listener that just went away
                sender.sendto(datagram, (LOOPBACK, port))

    def close(self) -> None:
        """Stop listening and take this process's row out of the file."""
        with self._guard:
            bell, self._socket = self._socket, None
            sender, self._sender = self._sender, None
        if sender is not None:
            sender.close()
        if bell is None:
            return
        bell.close()
        with contextlib.suppress(QueueUnavailable, sqlite3.Error), self._database.write() as db:
            db.execute(
                "DELETE FROM doorbells WHERE port = ? AND pid = ?", (self._port, os.getpid())
            )

    def listening_processes(self) -> set[int]:
        """The process ids of every process listening on the file (this one included).

        Raises:
            QueueUnavailable: the file could not be read.
        """
        with self._database.guarded() as db:
            rows = db.execute("SELECT pid FROM doorbells").fetchall()
        return {pid for (pid,) in rows if _alive(pid)}

    # --- plumbing ---

    def _sending_socket(self) -> socket.socket:
        with self._guard:
            if self._sender is None:
                self._sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            return self._sender

    def _register(self) -> None:
        with self._database.write() as db:
            rows = db.execute("SELECT port, pid FROM doorbells").fetchall()
            gone = [port for port, pid in rows if not _alive(pid)]
            db.executemany("DELETE FROM doorbells WHERE port = ?", [(port,) for port in gone])
            db.execute(
                "INSERT OR REPLACE INTO doorbells (port, pid) VALUES (?, ?)",
                (self._port, os.getpid()),
            )

    def _other_ports(self) -> list[int]:
        now = time.monotonic()
        if now - self._read_at < REFRESH_SECONDS:
            return self._others
        self._read_at = now
        try:
            with self._database.guarded() as db:
                rows = db.execute("SELECT port, pid FROM doorbells").fetchall()
        except (QueueUnavailable, sqlite3.Error):  # a hint only: keep the last list
            return self._others
        mine = os.getpid()
        self._others = [port for port, pid in rows if pid != mine and _alive(pid)]
        return self._others

    def _answer(self, bell: socket.socket) -> None:
        # A close from another thread does not reliably wake a blocked recv, so the
        # wait is bounded (see listen) and the thread looks whether its bell is
        # still the one.
        while self._socket is bell:
            try:
                datagram = bell.recv(_MAX_DATAGRAM)
            except TimeoutError:
                continue
            except OSError:  # closed
                return
            self._on_ring(arrivals_of(datagram))


def ring_datagram(arrivals: Mapping[str, int]) -> bytes:
    """``queue count`` lines, at most ``_MAX_DATAGRAM`` bytes (the rest is left to
    the poll)."""
    datagram = b""
    for queue, count in sorted(arrivals.items()):
        line = f"{queue} {count}".encode("ascii", "replace")
        if len(datagram) + len(line) + 1 > _MAX_DATAGRAM:
            break
        datagram += (b"\n" if datagram else b"") + line
    return datagram


def arrivals_of(datagram: bytes) -> dict[str, int]:
    """The counts of a ring; a line without a usable count wakes one receiver."""
    arrivals: dict[str, int] = {}
    for line in datagram.decode("ascii", "replace").split("\n"):
        queue, _, count = line.partition(" ")
        if queue:
            arrivals[queue] = arrivals.get(queue, 0) + (int(count) if count.isdigit() else 1)
    return arrivals


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    return True
