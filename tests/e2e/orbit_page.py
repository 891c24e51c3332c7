"""A tiny Orbit stand-in for the browser test: a booking page with a jump-out link.

The link points at Orbit's own ``/orbit/jumpout/<booking>``; following it, the
server asks the integration for a launch link (server to server, signed) and
sends the browser there with ``303 See Other``. This is the pattern Orbit's
vendor is asked to follow (docs/jumpout.md): a launch code is minted at the
click, never when the page is drawn, so it cannot expire while the page is open.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.e2e.launching import launch_body, post_launch


class OrbitPage:
    """Serves ``/orbit/bookings/<id>`` and ``/orbit/jumpout/<id>`` on loopback."""

    def __init__(self, integration_url: str, secret: str, patients: dict[str, str]) -> None:
        self.integration_url = integration_url
        self.secret = secret
        self.patients = patients  # booking id → identity number (kept server-side only)
        self.launch_urls: list[str] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def mint(self, booking_id: str) -> str | None:
        """A launch URL for the booking's patient, or None when the integration refused."""
        body = launch_body(self.patients[booking_id], bookingId=booking_id)
        response = post_launch(self.integration_url, self.secret, body)
        if response.status_code != 201:
            return None
        launch_url = str(response.json()["launchUrl"])
        self.launch_urls.append(launch_url)
        return launch_url

    @contextmanager
    def serving(self) -> Iterator[OrbitPage]:
        self._thread.start()
        try:
            yield self
        finally:
            self._server.shutdown()
            self._server.server_close()


def _handler(page: OrbitPage) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.startswith("/orbit/bookings/"):
                booking_id = self.path.removeprefix("/orbit/bookings/")
                self._send(200, _booking_page(booking_id))
            elif self.path.startswith("/orbit/jumpout/"):
                launch_url = page.mint(self.path.removeprefix("/orbit/jumpout/"))
                if launch_url is None:
                    self._send(502, "<p>The jump-out is unavailable.</p>")
                    return
                self.send_response(303)
                self.send_header("Location", launch_url)
                self.send_header("Referrer-Policy", "no-referrer")
                self.send_header("Content-Length", "0")
                self.end_headers()
            else:
                self._send(404, "<p>Not found</p>")

        def log_message(self, format: str, *args: Any) -> None:
            pass  # stderr is scanned for personal data; request lines are noise

        def _send(self, status: int, html: str) -> None:
            body = f"<!doctype html><html><body>{html}</body></html>".encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


def _booking_page(booking_id: str) -> str:
    return (
        f"<h1>Orbit</h1><p>Booking <span id='booking'>{booking_id}</span></p>"
        f"<a id='jumpout' href='/orbit/jumpout/{booking_id}'>Öppna i Millennium</a>"
    )
