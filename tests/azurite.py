"""Azurite (the Azure Storage emulator) for tests: its Table service on loopback.

The npm package is pinned in package.json; ``make test`` runs ``npm install``.
Azurite runs with telemetry off and in-memory persistence on a free port of
127.0.0.1, and is stopped when the test session ends.

Use the session fixture ``azurite_table_port`` (import it into a conftest.py) and
``azurite_table_store(port)`` for a store connected to it.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import pytest

from shared.crosswalk.azure_table import AzureTableStore

REPO_ROOT = Path(__file__).resolve().parent.parent
AZURITE_TABLE = REPO_ROOT / "node_modules" / ".bin" / "azurite-table"
AZURITE_BLOB = REPO_ROOT / "node_modules" / ".bin" / "azurite-blob"

# Azurite's built-in development account. The key is public, documented for the
# emulator only, and must never appear outside the tests.
DEV_ACCOUNT = "devstoreaccount1"
DEV_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

STARTUP_TIMEOUT_SECONDS = 30.0


class AzuriteNotInstalled(RuntimeError):
    """node_modules/.bin/azurite-table is missing."""


class AzuriteTable:
    """A running ``azurite-table`` process; a context manager that stops it on exit."""

    binary = AZURITE_TABLE
    service = "table"

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = 0
        self.log_path = workdir / "azurite.log"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start Azurite and wait until its port answers.

        Raises:
            AzuriteNotInstalled: the npm package is not installed.
            RuntimeError: Azurite exited or did not answer in time (with its log).
        """
        if not self.binary.exists():
            raise AzuriteNotInstalled(
                f"Azurite is not installed ({self.binary} is missing): "
                f"run `npm install` in {REPO_ROOT} (or `make test`, which does it)"
            )
        self.port = _free_loopback_port()
        command = [
            str(self.binary),
            f"--{self.service}Host",
            "127.0.0.1",
            f"--{self.service}Port",
            str(self.port),
            "--disableTelemetry",
            "--inMemoryPersistence",
            "--skipApiVersionCheck",
            "--loose",
        ]
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(
                command, cwd=self.workdir, stdout=log, stderr=subprocess.STDOUT
            )
        self._wait_until_listening()

    def stop(self) -> None:
        """Stop Azurite (terminate, then kill if it lingers)."""
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    def __enter__(self) -> AzuriteTable:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _wait_until_listening(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                self._process = None
                raise RuntimeError(f"Azurite exited at start-up:\n{self._log_tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(
            f"Azurite did not answer on port {self.port} within "
            f"{STARTUP_TIMEOUT_SECONDS:.0f} s:\n{self._log_tail()}"
        )

    def _log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-2000:]
        except OSError:
            return "(no log)"


class AzuriteBlob(AzuriteTable):
    """A running ``azurite-blob`` process (the link leases' blob service)."""

    binary = AZURITE_BLOB
    service = "blob"


def _free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def azurite_table_store(port: int, *, retry_total: int = 3) -> AzureTableStore:
    """An ``AzureTableStore`` on the Azurite at ``port``, with the development account."""
    from azure.core.credentials import AzureNamedKeyCredential

    endpoint = f"http://127.0.0.1:{port}/{DEV_ACCOUNT}"
    credential = AzureNamedKeyCredential(DEV_ACCOUNT, DEV_KEY)
    return AzureTableStore(endpoint, credential, retry_total=retry_total)


@pytest.fixture(scope="session")
def azurite_table_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """Port of an Azurite Table service on 127.0.0.1, shared by the whole session.

    Fails (never skips) when Azurite is not installed, saying to run ``npm install``.
    """
    yield from _running(AzuriteTable(tmp_path_factory.mktemp("azurite")))


@pytest.fixture(scope="session")
def azurite_blob_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """Port of an Azurite Blob service on 127.0.0.1, shared by the whole session."""
    yield from _running(AzuriteBlob(tmp_path_factory.mktemp("azurite-blob")))


def _running(azurite: AzuriteTable) -> Iterator[int]:
    problem = ""
    try:
        azurite.start()
    except RuntimeError as error:  # includes AzuriteNotInstalled
        problem = str(error)
    if problem:
        pytest.fail(problem, pytrace=False)
    try:
        yield azurite.port
    finally:
        azurite.stop()
