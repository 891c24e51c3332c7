"""Fixtures for end-to-end tests through the local run (real HTTP, MLLP, SQLite)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Iterator

import pytest

from localrun.app import LocalRun, local_settings
from shared.sync.policy import RetryPolicy
from shared.webhook.signature import new_secret
from tests.e2e.harness import Orbit

FAST_RETRIES = RetryPolicy(first_delay=0.1, max_delay=0.5, max_in_doubt=dt.timedelta(minutes=5))


class LogCapture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def captured_logs() -> Iterator[LogCapture]:
    """Everything any logger says during the test, at every level, with tracebacks."""
    capture = LogCapture()
    capture.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    previous = root.level
    root.setLevel(logging.DEBUG)
    root.addHandler(capture)
    yield capture
    root.removeHandler(capture)
    root.setLevel(previous)


@pytest.fixture
def local_run(tmp_path, monkeypatch) -> Iterator[LocalRun]:
    """The real function_app on ephemeral loopback ports with the simulator."""
    secret = new_secret()
    monkeypatch.setenv("ORBIT_WEBHOOK_SECRETS", secret)
    monkeypatch.setenv("LOCAL_DATA_DIR", str(tmp_path / "data"))
    settings = dataclasses.replace(
        local_settings(), host_port=0, mllp_port=0, mllp_timeout_seconds=0.5
    )
    run = LocalRun(settings, simulator_http_port=0, retry=FAST_RETRIES).start()
    # The suite runs against the strict simulator (issue 9): nothing the integration
    # sends may be refused for what a Cerner interface team would refuse.
    assert run.simulator.faults.lenient is False
    yield run
    stats = run.simulator.stats()
    run.stop()
    assert stats["strict_rejections"] == 0, "the strict simulator refused a message"
    assert stats["patient_mismatches"] == 0, "a visit alias arrived for another person"


@pytest.fixture
def orbit(local_run: LocalRun, captured_logs: LogCapture, capfd) -> Iterator[Orbit]:
    """A signed Orbit client; afterwards, nothing it sent personally may be in any log."""
    client = Orbit(local_run.base_url, local_run.settings.orbit_webhook_secrets[0])
    yield client
    out, err = capfd.readouterr()
    everything = "\n".join([*captured_logs.lines, out, err])
    leaked = sorted(datum for datum in client.personal_data if datum in everything)
    assert not leaked, f"{len(leaked)} personal data items appeared in logs or output"
    assert captured_logs.lines, "no log line was captured: the scan would prove nothing"
