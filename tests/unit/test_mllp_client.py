"""The MLLP client against tiny scripted peers on 127.0.0.1 (real sockets, no simulator)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from shared.errors import (
    AckMismatch,
    AckTimeout,
    ConnectionFailed,
    LinkUnavailable,
    UnencodableText,
)
from shared.hl7.ack import parse_ack
from shared.mllp.client import MllpClient, exchange
from shared.mllp.framing import FrameReader, frame

Script = Callable[[socket.socket, "FakePeer"], None]


def message(control_id: str, name: str = "Åkerström") -> str:
    return (
        f"MSH|^~\\&|ORBIT|SU|MILLENNIUM|SU|20261122081500||ADT^A05^ADT_A05|{control_id}|T|2.5.1"
        f"|||||SE|UNICODE UTF-8\rPID|1||X^^^&1.2.752.129.2.1.3.1&ISO||{name}^Märta"
    )


def ack_for(payload: bytes, code: str = "AA", control_id: str | None = None) -> bytes:
    """An ACK echoing the MSH-10 of ``payload`` (or ``control_id``)."""
    echoed = control_id if control_id is not None else payload.split(b"|")[9].decode()
    header = "MSH|^~\\&|MILLENNIUM|SU|ORBIT|SU|20261122||ACK^A05^ACK|A1|T|2.5.1"
    return f"{header}\rMSA|{code}|{echoed}".encode()


def read_frame(conn: socket.socket) -> bytes | None:
    reader = FrameReader()
    while True:
        data = conn.recv(4096)
        if not data:
            return None
        frames = reader.feed(data)
        if frames:
            return frames[0]


class FakePeer:
    """A one-thread-per-connection TCP server that runs ``script`` on each connection."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.connections = 0
        self.received: list[bytes] = []
        self.got_message = threading.Event()
        self.release = threading.Event()
        self.closed = threading.Event()  # set whenever the peer has closed a connection
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._threads: list[threading.Thread] = []
        self._accepting = threading.Thread(target=self._accept, daemon=True)
        self._accepting.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            thread = threading.Thread(target=self._run, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _run(self, conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            self.script(conn, self)
        self.closed.set()

    def next_message(self, conn: socket.socket) -> bytes | None:
        payload = read_frame(conn)
        if payload is not None:
            self.received.append(payload)
            self.got_message.set()
        return payload

    def close(self) -> None:
        self.release.set()
        self._listener.close()
        for thread in self._threads:
            thread.join(timeout=2)


@pytest.fixture
def peer() -> Iterator[Callable[[Script], FakePeer]]:
    peers: list[FakePeer] = []

    def start(script: Script) -> FakePeer:
        fake = FakePeer(script)
        peers.append(fake)
        return fake

    yield start
    for fake in peers:
        fake.close()


def answer_all(conn: socket.socket, fake: FakePeer) -> None:
    """Acknowledge every message on the connection with AA."""
    while (payload := fake.next_message(conn)) is not None:
        conn.sendall(frame(ack_for(payload)))


def client_for(fake: FakePeer, timeout: float = 2.0) -> MllpClient:
    return MllpClient("127.0.0.1", fake.port, timeout=timeout)


def test_exchange_returns_the_parsed_ack_and_reuses_the_connection(peer):
    fake = peer(answer_all)
    with client_for(fake) as client:
        first = exchange(client, message("C1"), "utf-8")
        second = exchange(client, message("C2"), "UNICODE UTF-8")
    assert (first.code, first.control_id) == ("AA", "C1")
    assert second.control_id == "C2"
    assert fake.connections == 1
    assert fake.received[0].decode("utf-8") == message("C1")


def test_a_reply_split_across_many_writes_is_reassembled(peer):
    def trickle(conn: socket.socket, fake: FakePeer) -> None:
        payload = fake.next_message(conn)
        assert payload is not None
        framed = frame(ack_for(payload))
        for start in range(0, len(framed), 7):
            conn.sendall(framed[start : start + 7])
            time.sleep(0.005)

    with client_for(peer(trickle)) as client:
        assert exchange(client, message("C1"), "utf-8").code == "AA"


def test_a_peer_that_closed_an_idle_connection_costs_a_reconnect_not_an_error(peer):
    def one_per_connection(conn: socket.socket, fake: FakePeer) -> None:
        payload = fake.next_message(conn)
        assert payload is not None
        conn.sendall(frame(ack_for(payload)))
        # ...and close, as an interface engine with an idle timeout would

    fake = peer(one_per_connection)
    with client_for(fake) as client:
        exchange(client, message("C1"), "utf-8")
        assert fake.closed.wait(5)  # on loopback the FIN is queued once close() returns
        assert exchange(client, message("C2"), "utf-8").control_id == "C2"
    assert fake.connections == 2


def test_a_refused_connection_sent_nothing_so_it_is_not_in_doubt():
    with socket.create_server(("127.0.0.1", 0)) as placeholder:
        port = placeholder.getsockname()[1]
    client = MllpClient("127.0.0.1", port, timeout=1)
    with pytest.raises(LinkUnavailable, match=f"127.0.0.1:{port}"):
        client.send(b"MSH|x")
    assert not client.connected


def test_a_peer_closing_before_the_ack_is_connection_failed(peer):
    def hang_up(conn: socket.socket, fake: FakePeer) -> None:
        fake.next_message(conn)

    with (
        client_for(peer(hang_up)) as client,
        pytest.raises(ConnectionFailed, match="closed the connection"),
    ):
        client.send(b"MSH|x")


def test_no_ack_within_the_timeout_is_ack_timeout_and_drops_the_connection(peer):
    def silent(conn: socket.socket, fake: FakePeer) -> None:
        fake.next_message(conn)
        fake.release.wait(5)

    fake = peer(silent)
    client = client_for(fake, timeout=0.2)
    with pytest.raises(AckTimeout, match=r"within 0\.2 s"):
        client.send(b"MSH|x")
    assert not client.connected  # a late ACK must not be read as the next message's


def test_an_ack_for_another_message_is_ack_mismatch(peer):
    def wrong_echo(conn: socket.socket, fake: FakePeer) -> None:
        while (payload := fake.next_message(conn)) is not None:
            conn.sendall(frame(ack_for(payload, control_id="SOMEONE-ELSE")))

    with client_for(peer(wrong_echo)) as client, pytest.raises(AckMismatch) as caught:
        exchange(client, message("C1"), "utf-8")
    assert "SOMEONE-ELSE" in str(caught.value)
    assert "C1" in str(caught.value)


def test_a_reply_that_is_not_hl7_is_ack_mismatch(peer):
    def nonsense(conn: socket.socket, fake: FakePeer) -> None:
        fake.next_message(conn)
        conn.sendall(frame(b"hello"))

    with client_for(peer(nonsense)) as client, pytest.raises(AckMismatch, match="parseable"):
        exchange(client, message("C1"), "utf-8")


def test_an_unframed_reply_is_connection_failed(peer):
    def unframed(conn: socket.socket, fake: FakePeer) -> None:
        fake.next_message(conn)
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")

    client = client_for(peer(unframed))
    with pytest.raises(ConnectionFailed, match="not MLLP"):
        client.send(b"MSH|x")
    assert not client.connected


def test_extra_frames_after_the_ack_make_the_connection_unusable(peer):
    def chatty(conn: socket.socket, fake: FakePeer) -> None:
        while (payload := fake.next_message(conn)) is not None:
            conn.sendall(frame(ack_for(payload)) + frame(ack_for(payload)))

    fake = peer(chatty)
    with client_for(fake) as client:
        assert exchange(client, message("C1"), "utf-8").control_id == "C1"
        assert not client.connected
        assert exchange(client, message("C2"), "utf-8").control_id == "C2"
    assert fake.connections == 2


def test_latin1_is_sent_and_the_ack_decoded_as_latin1(peer):
    latin1 = message("C1").replace("UNICODE UTF-8", "8859/1")

    def latin1_peer(conn: socket.socket, fake: FakePeer) -> None:
        payload = fake.next_message(conn)
        assert payload is not None
        text = ack_for(payload, "AE").decode() + "|Fel för Åkerström"
        conn.sendall(frame(text.encode("iso-8859-1")))

    fake = peer(latin1_peer)
    with client_for(fake) as client:
        ack = exchange(client, latin1, "8859/1")
    assert fake.received[0] == latin1.encode("iso-8859-1")
    assert b"\xc5kerstr\xf6m" in fake.received[0]
    assert (ack.code, ack.error_text) == ("AE", "Fel för Åkerström")


def test_a_character_latin1_cannot_carry_is_unencodable_and_nothing_is_sent(peer):
    fake = peer(answer_all)
    with client_for(fake) as client, pytest.raises(UnencodableText) as caught:
        exchange(client, message("C1", name="Łukasiewicz"), "iso-8859-1")
    assert "Łukasiewicz" not in str(caught.value)
    assert "Ł" not in str(caught.value)
    assert fake.connections == 0


def test_two_threads_on_one_client_is_a_loud_error(peer):
    def held(conn: socket.socket, fake: FakePeer) -> None:
        payload = fake.next_message(conn)
        assert payload is not None
        fake.release.wait(5)
        conn.sendall(frame(ack_for(payload)))

    fake = peer(held)
    client = client_for(fake)
    results: list[bytes] = []
    worker = threading.Thread(target=lambda: results.append(client.send(message("C1").encode())))
    worker.start()
    assert fake.got_message.wait(5)
    with pytest.raises(RuntimeError, match="two threads"):
        client.send(message("C2").encode())
    fake.release.set()
    worker.join(5)
    assert parse_ack(results[0].decode()).control_id == "C1"
    client.close()
