"""The local run's HTTP host under malformed, slow and hostile requests (real sockets).

Every answer of the host's own is a problem document that quotes nothing of the
request, no traceback is printed, and every connection times out.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import azure.functions as func
import pytest

from localrun.http_host import HttpHost

TIMEOUT = 0.5
"""The host's connection timeout in these tests."""
MARKER = "Tolvansson191212121212"
"""A value the host must never repeat (it stands for anything a client sends)."""


def _functions() -> list[Any]:
    app = func.FunctionApp()

    @app.route(route="echo", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
    def echo(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse(body=req.get_body(), status_code=200, mimetype="text/plain")

    @app.route(route="header", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
    def header(req: func.HttpRequest) -> func.HttpResponse:
        value = req.headers.get("x-repeated", "")
        return func.HttpResponse(body=value, status_code=200, mimetype="text/plain")

    return list(app.get_functions())


@pytest.fixture(scope="module")
def host() -> Iterator[HttpHost]:
    server = HttpHost(_functions(), "127.0.0.1", 0, timeout=TIMEOUT)
    server.start()
    yield server
    server.stop()


def exchange(host: HttpHost, raw: bytes) -> bytes:
    """Send ``raw`` and read until the host closes the connection (or 5 s pass)."""
    with socket.create_connection(("127.0.0.1", host.port), timeout=5) as connection:
        connection.sendall(raw)
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
        return received


def status_and_problem(response: bytes) -> tuple[int, dict[str, str], dict[str, Any]]:
    head, _, body = response.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    assert headers["content-type"] == "application/problem+json", response[:300]
    return int(status_line.split()[1]), headers, json.loads(body)


def request(method: str = "POST", path: str = "/api/echo", headers: str = "", body: bytes = b""):
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}"
    if "Content-Length" not in headers and method == "POST":
        head += f"Content-Length: {len(body)}\r\n"
    return head.encode() + b"Connection: close\r\n\r\n" + body


def test_a_valid_request_is_served(host: HttpHost) -> None:
    response = exchange(host, request(body=b"hello"))
    assert response.startswith(b"HTTP/1.1 200") and response.endswith(b"hello")


@pytest.mark.parametrize("value", [MARKER, "-1", "1e3", "0x10", " ", "9" * 40])
def test_a_malformed_content_length_gets_400_without_a_traceback(
    host: HttpHost, value: str, capfd: pytest.CaptureFixture[str]
) -> None:
    response = exchange(host, request(headers=f"Content-Length: {value}\r\n", body=b"x"))
    status, _, problem = status_and_problem(response)
    assert status == 400 and problem["status"] == 400
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err
    assert MARKER.encode() not in response and MARKER not in out + err


def test_a_body_shorter_than_its_content_length_gets_408_after_the_timeout(
    host: HttpHost,
) -> None:
    started = time.monotonic()
    response = exchange(host, request(headers="Content-Length: 100\r\n", body=b"short"))
    status, headers, _ = status_and_problem(response)
    assert status == 408 and headers["connection"] == "close"
    assert time.monotonic() - started < 5  # it did not wait for the client to give up


def test_an_idle_connection_is_closed_after_the_timeout(host: HttpHost) -> None:
    with socket.create_connection(("127.0.0.1", host.port), timeout=5) as connection:
        started = time.monotonic()
        assert connection.recv(1) == b""  # closed by the host, nothing said
        assert time.monotonic() - started < 5


def test_an_idle_keep_alive_connection_is_closed_after_a_request(host: HttpHost) -> None:
    raw = b"POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi"
    with socket.create_connection(("127.0.0.1", host.port), timeout=5) as connection:
        connection.sendall(raw)
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    assert received.startswith(b"HTTP/1.1 200") and received.endswith(b"hi")


@pytest.mark.parametrize("method", ["TRACE", "PATCH", "OPTIONS", "HEAD", "GET"])
def test_a_method_no_function_serves_gets_405_with_allow(host: HttpHost, method: str) -> None:
    response = exchange(host, request(method, headers=f"X-Note: {MARKER}\r\n"))
    assert response.startswith(b"HTTP/1.1 405")
    if method != "HEAD":  # a HEAD answer is read without its body
        status, headers, _ = status_and_problem(response)
        assert status == 405 and headers["allow"] == "POST"
    assert MARKER.encode() not in response


def test_an_unknown_path_gets_404(host: HttpHost) -> None:
    status, _, _ = status_and_problem(exchange(host, request(path=f"/api/{MARKER}")))
    assert status == 404


@pytest.mark.parametrize(
    "headers",
    [f"X-Long: {MARKER * 4000}\r\n", "".join(f"X-{n}: {MARKER}\r\n" for n in range(120))],
    ids=["header-line-too-long", "too-many-headers"],
)
def test_oversized_headers_get_431(host: HttpHost, headers: str) -> None:
    response = exchange(host, request(headers=headers))
    status, _, _ = status_and_problem(response)
    assert status == 431
    assert MARKER.encode() not in response


def test_a_malformed_request_line_gets_400_without_echo(host: HttpHost) -> None:
    response = exchange(host, f"POST /api/echo HTTP/{MARKER}\r\n\r\n".encode())
    status, _, _ = status_and_problem(response)
    assert status == 400
    assert MARKER.encode() not in response


def chunked(chunks: list[bytes], *, extra: str = "", trailer: bytes = b"") -> bytes:
    head = f"POST /api/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n{extra}"
    body = b"".join(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n" for chunk in chunks)
    return head.encode() + b"Connection: close\r\n\r\n" + body + b"0\r\n" + trailer + b"\r\n"


def test_a_chunked_body_is_read_as_azures_front_end_reads_it(host: HttpHost) -> None:
    """Before, 411: a sender that streams its body, which Azure takes, failed
    against the local run (and 4xx is never retried)."""
    response = exchange(host, chunked([b"hel", b"lo ", b"w\xc3\xb6rld"], trailer=b"X-T: 1\r\n"))
    assert response.startswith(b"HTTP/1.1 200") and response.endswith("hello wörld".encode())


def test_chunked_with_a_content_length_or_another_coding_is_refused(host: HttpHost) -> None:
    both = chunked([b"x"], extra="Content-Length: 1\r\n")
    assert status_and_problem(exchange(host, both))[0] == 400
    gzip = request(headers="Transfer-Encoding: gzip\r\n", body=b"")
    assert status_and_problem(exchange(host, gzip))[0] == 411


def test_a_malformed_or_oversized_chunked_body_is_refused(host: HttpHost) -> None:
    malformed = chunked([b"x"]).replace(b"1\r\nx", b"zz\r\nx")
    assert status_and_problem(exchange(host, malformed))[0] == 400
    # Two chunks of 600,000 bytes announced, the second refused from its size line alone.
    huge = chunked([b"x" * 600_000]).removesuffix(b"0\r\n\r\n") + b"927c0\r\nyy"
    assert status_and_problem(exchange(host, huge))[0] == 413


def test_a_header_sent_on_two_lines_reaches_the_function_as_one_joined_value(
    host: HttpHost,
) -> None:
    """As the Functions host passes it on (RFC 9110 §5.3). Before, only the last line
    reached the function: a webhook signed once per secret, on one line each,
    verified only when the valid signature came last."""
    raw = request(path="/api/header", headers="X-Repeated: first\r\nX-Repeated: second\r\n")
    response = exchange(host, raw)
    assert response.startswith(b"HTTP/1.1 200") and response.endswith(b"first, second")
