"""Serve a FunctionApp's HTTP triggers the way the Functions host does.

Routes are the triggers' `route` templates under the `/api` prefix, with
`{name}` segments passed as route parameters. Each request is translated into a
`func.HttpRequest`, the decorated function is called, and its
`func.HttpResponse` is written back.

The host's own answers (no route, wrong method, a malformed or lying
``Content-Length``, oversized headers, a client too slow to send) are problem
documents too, and never quote the request: the standard library's HTML error
pages and tracebacks do. Every connection has a timeout: a body announced but
not sent, or a keep-alive connection left idle, is closed after it.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from email.message import Message
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BufferedIOBase
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import azure.functions as func

from shared.problems import problem

log = logging.getLogger(__name__)

ROUTE_PREFIX = "/api/"
MAX_BODY = 1024 * 1024  # the app itself answers 413 above its own, smaller limit
CONNECTION_TIMEOUT_SECONDS = 10.0
"""How long the host waits for the next request on a keep-alive connection, and
for each read of a request's headers and body, before it closes the connection."""

_HOST_PROBLEMS: dict[int, tuple[str, str]] = {
    400: (
        "Bad request",
        "The request is not well-formed HTTP/1.1. Send a valid request line, "
        "headers and a Content-Length of whole bytes.",
    ),
    404: (
        "Not found",
        "No function serves this path. The routes are under /api/, e.g. POST /api/orbit/events.",
    ),
    405: ("Method not allowed", "This path does not serve this method; see the Allow header."),
    408: (
        "Request timeout",
        "The request was not received in time (a body shorter than its "
        "Content-Length?). Send the whole request again.",
    ),
    411: (
        "Length required",
        "Send the body with a Content-Length header or chunked (no other transfer coding).",
    ),
    413: ("Body too large", f"Request bodies are at most {MAX_BODY} bytes."),
    414: ("URI too long", "The request line is too long."),
    431: ("Headers too large", "The request's header lines are too long or too many."),
    500: (
        "Internal error",
        "The function failed. Retry later; if it keeps failing, contact "
        "the integration team with the correlationId.",
    ),
    501: ("Method not allowed", "This method is not served here."),
}
"""The host's own answers. Fixed texts: the standard library's messages quote the
request (a header value, the request line), and those may hold anything."""


@dataclass(frozen=True)
class HttpRoute:
    name: str
    template: str
    methods: frozenset[str]
    pattern: re.Pattern[str]
    function: Callable[..., Any]
    arg_name: str


def http_routes(functions: list[Any]) -> list[HttpRoute]:
    """The HTTP-triggered ``functions`` (from ``app.get_functions()``) with their routes."""
    routes = []
    for function in functions:
        trigger = function.get_trigger()
        binding = trigger.get_dict_repr()
        if binding.get("type") != "httpTrigger":
            continue
        template = str(binding.get("route") or function.get_function_name())
        methods = frozenset(
            str(getattr(m, "value", m)).upper() for m in binding.get("methods") or ()
        )
        routes.append(
            HttpRoute(
                name=function.get_function_name(),
                template=template,
                methods=methods or frozenset({"GET", "POST"}),
                pattern=_compile(template),
                function=function.get_user_function(),
                arg_name=str(binding["name"]),
            )
        )
    return routes


def _compile(template: str) -> re.Pattern[str]:
    parts = []
    for segment in template.strip("/").split("/"):
        match = re.fullmatch(r"\{(\w+)(?::[^}]*)?\}", segment)
        parts.append(f"(?P<{match.group(1)}>[^/]+)" if match else re.escape(segment))
    return re.compile("^" + "/".join(parts) + "/?$")


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """An exception escaped a handler thread: log its type only. The standard
        library prints the traceback, and its frames may quote the request."""
        import sys

        error = sys.exc_info()[1]
        log.warning("http host dropped a connection error_type=%s", type(error).__name__)


class HttpHost:
    """A threaded HTTP server on loopback for a FunctionApp's HTTP triggers."""

    def __init__(
        self,
        functions: list[Any],
        host: str = "127.0.0.1",
        port: int = 7071,
        *,
        timeout: float = CONNECTION_TIMEOUT_SECONDS,
    ) -> None:
        self.routes = http_routes(functions)
        handler = _handler_class(self.routes, timeout)
        self._server = _Server((host, port), handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="http-host", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _handler_class(
    routes: list[HttpRoute], connection_timeout: float
) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes; with Nagle on, the body waits for
        # the client's delayed ACK (~40 ms) on every keep-alive request.
        disable_nagle_algorithm = True

        # The socket timeout: an idle keep-alive connection, or a read of headers or
        # body that stalls, ends the connection (by default the stdlib waits forever).
        timeout = connection_timeout

        def send_error(
            self, code: int, message: str | None = None, explain: str | None = None
        ) -> None:
            """The standard library's error answers (bad request line, too long or too
            many headers, unknown methods), as problem documents with fixed texts."""
            self.close_connection = True
            # A request line that could not be read leaves HTTP/0.9, which has no
            # status line or headers: answer in our own protocol instead.
            self.request_version = self.protocol_version
            if code == HTTPStatus.NOT_IMPLEMENTED:  # a method no function serves (TRACE, …)
                self._method_not_served()
            else:
                self._problem(code if code in _HOST_PROBLEMS else 400)

        def _method_not_served(self) -> None:
            relative = urlsplit(getattr(self, "path", "")).path[len(ROUTE_PREFIX) :]
            for route in routes:
                if route.pattern.match(relative):
                    self._problem(405, headers={"Allow": ", ".join(sorted(route.methods))})
                    return
            self._problem(404)

        def handle_one_request(self) -> None:
            try:
                super().handle_one_request()
            except TimeoutError:
                # Idle keep-alive (nothing to answer) or a stalled body (answered in _read).
                self.close_connection = True

        def do_GET(self) -> None:
            self._dispatch()

        def do_POST(self) -> None:
            self._dispatch()

        def do_PUT(self) -> None:
            self._dispatch()

        def do_DELETE(self) -> None:
            self._dispatch()

        def log_message(self, format: str, *args: Any) -> None:
            pass  # access logs would carry URLs; the app logs what matters

        def _dispatch(self) -> None:
            url = urlsplit(self.path)
            path = url.path
            if not path.startswith(ROUTE_PREFIX):
                self._problem(404)
                return
            relative = path[len(ROUTE_PREFIX) :]
            for route in routes:
                match = route.pattern.match(relative)
                if match is None:
                    continue
                if self.command not in route.methods:
                    self._problem(405, headers={"Allow": ", ".join(sorted(route.methods))})
                    return
                self._call(route, match.groupdict(), url.query)
                return
            self._problem(404)

        def _read_body(self) -> bytes | None:
            """The body as announced, or None after answering why it cannot be read."""
            if "Transfer-Encoding" in self.headers:
                return self._read_chunked()
            announced = self.headers.get("Content-Length", "0").strip()
            if not announced.isdigit() or len(announced) > 12:
                self.close_connection = True
                self._problem(400)
                return None
            length = int(announced)
            if length > MAX_BODY:
                self.close_connection = True
                self._problem(413)
                return None
            try:
                body = self.rfile.read(length) if length else b""
            except TimeoutError:
                body = b""
            if len(body) < length:  # the client stopped sending: timed out or closed
                self.close_connection = True
                self._problem(408)
                return None
            return body

        def _read_chunked(self) -> bytes | None:
            """A chunked body (as Azure's front end takes one); both framings at once,
            or any other coding, are refused: a proxy could read the two differently."""
            coding = self.headers.get("Transfer-Encoding", "").strip().lower()
            status = 0
            if coding != "chunked" or "Content-Length" in self.headers:
                status = 400 if coding == "chunked" else 411
            else:
                try:
                    return read_chunked(self.rfile, MAX_BODY)
                except BodyTooLarge:
                    status = 413
                except TimeoutError:
                    status = 408
                except ValueError:
                    status = 400
            self.close_connection = True
            self._problem(status)
            return None

        def _call(self, route: HttpRoute, params: dict[str, str], query: str) -> None:
            body = self._read_body()
            if body is None:
                return
            port = getattr(self.server, "server_port", 0)
            request = func.HttpRequest(
                method=self.command,
                # Our own address, never the Host header: the URL is not the caller's to choose.
                url=f"http://127.0.0.1:{port}{self.path}",
                headers=_joined_headers(self.headers),
                params=dict(parse_qsl(query)),
                route_params=params,
                body=body,
            )
            try:
                response = route.function(**{route.arg_name: request})
            except Exception as error:
                # Type only: an exception's text may quote the request body.
                log.error("function %s raised %s; answered 500", route.name, type(error).__name__)
                self._problem(500)
                return
            self._write(response)

        def _write(self, response: func.HttpResponse) -> None:
            body = response.get_body() or b""
            self.send_response(response.status_code)
            content_type = _content_type(response)
            for key, value in response.headers.items():
                if key.lower() not in {"content-length", "content-type"}:
                    self.send_header(key, value)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _problem(self, status: int, *, headers: dict[str, str] | None = None) -> None:
            title, detail = _HOST_PROBLEMS[status]
            answer = problem(status, title, detail, type_suffix=f"http-{status}")
            body = answer.body()
            try:
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Type", answer.content_type)
                self.send_header("Content-Length", str(len(body)))
                if self.close_connection:
                    self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)
            except OSError:
                self.close_connection = True  # the client is gone; nothing to answer

    return Handler


def _content_type(response: func.HttpResponse) -> str:
    """An explicit Content-Type header wins over ``mimetype``, as in the Functions host."""
    explicit = response.headers.get("Content-Type") or response.headers.get("content-type")
    if explicit:
        return str(explicit)
    mimetype = str(response.mimetype)
    if mimetype.startswith("text/"):
        return f"{mimetype}; charset={response.charset}"
    return mimetype


def _joined_headers(headers: Message) -> dict[str, str]:
    """Header names in lower case; a header sent on several lines gets one value, the
    lines joined with ``", "`` (RFC 9110 §5.3), as the Functions host passes it on.
    (``dict(headers)`` kept only the last line.)"""
    joined: dict[str, str] = {}
    for name, value in headers.items():
        key = name.lower()
        joined[key] = f"{joined[key]}, {value}" if key in joined else value
    return joined


class BodyTooLarge(ValueError):
    """The body grew past the host's limit."""


_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,8}")


def read_chunked(stream: BufferedIOBase, limit: int) -> bytes:
    """The body of a chunked request (RFC 9112 §7.1), trailer fields read and dropped.

    Raises:
        BodyTooLarge: the chunks add up to more than ``limit`` bytes.
        ValueError: a chunk's size line or framing is malformed, or the stream ended.
        TimeoutError: the client stopped sending.
    """
    body = bytearray()
    while True:
        size_line = stream.readline(1024).split(b";", 1)[0].strip()
        if not _CHUNK_SIZE.fullmatch(size_line):
            raise ValueError("malformed chunk size")
        size = int(size_line, 16)
        if size == 0:
            break
        if len(body) + size > limit:
            raise BodyTooLarge(f"more than {limit} bytes")
        chunk = stream.read(size)
        if len(chunk) < size or stream.readline(3) not in (b"\r\n", b"\n"):
            raise ValueError("chunk shorter than its size")
        body += chunk
    for _ in range(100):  # trailer fields, up to the empty line
        if stream.readline(8192) in (b"\r\n", b"\n", b""):
            return bytes(body)
    raise ValueError("too many trailer fields")
