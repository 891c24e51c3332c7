"""Serve a FunctionApp's HTTP triggers the way the Functions host does.

Routes are the triggers' `route` templates under the `/api` prefix, with
`{name}` segments passed as route parameters. Each request is translated into a
`func.HttpRequest`, the decorated function is called, and its
`func.HttpResponse` is written back.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import azure.functions as func

log = logging.getLogger(__name__)

ROUTE_PREFIX = "/api/"
MAX_BODY = 1024 * 1024  # the app itself answers 413 above its own, smaller limit


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


class HttpHost:
    """A threaded HTTP server on loopback for a FunctionApp's HTTP triggers."""

    def __init__(self, functions: list[Any], host: str = "127.0.0.1", port: int = 7071) -> None:
        self.routes = http_routes(functions)
        handler = _handler_class(self.routes)
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
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


def _handler_class(routes: list[HttpRoute]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes; with Nagle on, the body waits for
        # the client's delayed ACK (~40 ms) on every keep-alive request.
        disable_nagle_algorithm = True

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
                self._plain(404, "not found")
                return
            relative = path[len(ROUTE_PREFIX) :]
            for route in routes:
                match = route.pattern.match(relative)
                if match is None:
                    continue
                if self.command not in route.methods:
                    self._plain(405, "method not allowed")
                    return
                self._call(route, match.groupdict(), url.query)
                return
            self._plain(404, "not found")

        def _call(self, route: HttpRoute, params: dict[str, str], query: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self._plain(413, "request body too large")
                self.close_connection = True
                return
            body = self.rfile.read(length) if length else b""
            request = func.HttpRequest(
                method=self.command,
                url=f"http://{self.headers.get('Host', '127.0.0.1')}{self.path}",
                headers={k.lower(): v for k, v in self.headers.items()},
                params=dict(parse_qsl(query)),
                route_params=params,
                body=body,
            )
            try:
                response = route.function(**{route.arg_name: request})
            except Exception as error:
                # Type only: an exception's text may quote the request body.
                log.error("function %s raised %s; answered 500", route.name, type(error).__name__)
                self._plain(500, "internal error")
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

        def _plain(self, status: int, text: str) -> None:
            body = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

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
