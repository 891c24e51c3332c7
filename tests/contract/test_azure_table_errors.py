"""How the Azure Table adapter reports failures the emulator cannot produce on demand.

A tiny HTTP server on 127.0.0.1 answers every request with a chosen status and
Table-service error body; a closed port stands for an unreachable service.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from shared.crosswalk.azure_table import AzureTableStore
from shared.errors import ConcurrencyConflict, StoreError, TransientError
from tests.azurite import azurite_table_store

REPO_ROOT = Path(__file__).resolve().parents[2]
PK = "OB-2026-000999"


class _FailingService:
    """Answers every request with ``status`` and the service's JSON error format."""

    def __init__(self) -> None:
        self.status = 500
        self.code = "InternalError"
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _fail(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                body = json.dumps(
                    {"odata.error": {"code": outer.code, "message": {"value": "failed"}}}
                ).encode()
                self.send_response(outer.status)
                self.send_header("Content-Type", "application/json;odata=minimalmetadata")
                self.send_header("x-ms-error-code", outer.code)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                self._fail()

            def do_POST(self) -> None:
                self._fail()

            def do_PUT(self) -> None:
                self._fail()

            def do_DELETE(self) -> None:
                self._fail()

            def do_PATCH(self) -> None:
                self._fail()

            def log_message(self, format: str, *args: object) -> None:
                pass  # keep test output quiet

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]


@pytest.fixture(scope="module")
def failing() -> Iterator[_FailingService]:
    service = _FailingService()
    thread = threading.Thread(target=service.server.serve_forever, daemon=True)
    thread.start()
    yield service
    service.server.shutdown()
    service.server.server_close()


@pytest.fixture
def store(failing: _FailingService) -> Iterator[AzureTableStore]:
    store = azurite_table_store(failing.port, retry_total=0)
    yield store
    store.close()


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (500, "InternalError"),
        (503, "ServerBusy"),  # how Table storage throttles
        (429, "TooManyRequests"),
        (408, "OperationTimedOut"),
        (403, "AuthorizationPermissionMismatch"),  # role not (yet) assigned
    ],
)
def test_outages_throttling_and_refused_credentials_are_transient(
    failing: _FailingService, store: AzureTableStore, status: int, code: str
) -> None:
    failing.status, failing.code = status, code

    with pytest.raises(TransientError) as raised:
        store.upsert("bookings", PK, "snapshot", {"family": "Tolvansson"})

    assert PK not in str(raised.value)
    assert "Tolvansson" not in str(raised.value)


def test_a_rejected_request_is_a_store_error_naming_status_and_code(
    failing: _FailingService, store: AzureTableStore
) -> None:
    failing.status, failing.code = 400, "InvalidInput"

    with pytest.raises(StoreError, match="400 InvalidInput") as raised:
        store.insert("bookings", PK, "snapshot", {"family": "Tolvansson"})

    assert PK not in str(raised.value)


def test_a_412_is_a_conflict(failing: _FailingService, store: AzureTableStore) -> None:
    failing.status, failing.code = 412, "UpdateConditionNotSatisfied"

    with pytest.raises(ConcurrencyConflict):
        store.update("bookings", PK, "snapshot", {"version": 2}, 'W/"stale"')


def test_an_unreachable_service_is_transient() -> None:
    closed_port = _closed_loopback_port()
    store = azurite_table_store(closed_port, retry_total=0)

    with pytest.raises(TransientError, match="could not be reached"):
        store.get("bookings", PK, "snapshot")
    with pytest.raises(TransientError):
        list(store.scan("bookings"))
    store.close()


def test_importing_the_adapter_does_not_import_the_sdk() -> None:
    probe = (
        "import sys, shared.crosswalk.azure_table; "
        "print(sorted(m for m in sys.modules if m.startswith('azure')))"
    )

    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )

    assert result.stdout.strip() == "[]"


def _closed_loopback_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
