"""``--help`` on every command explains its arguments and starts nothing (issue 12:
``python -m localrun --help`` and ``python -m localrun.demo --help`` started servers
and replayed a day into another run's data folder)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

COMMANDS = {
    "localrun": ["--json"],
    "localrun.demo": ["--bookings", "--first-booking", "--wait", "--json"],
    "localrun.reset": ["--json"],
    "shared.golive": ["administration", "--dry-run", "--json"],
    "tools.ops": ["booking", "deadletters", "retention"],
    "simulator": ["--mllp-port", "--http-port", "--state-file"],
}


@pytest.mark.parametrize("module", COMMANDS)
def test_help_explains_each_argument_and_starts_nothing(module: str, tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {
        **os.environ,
        "LOCAL_DATA_DIR": str(data),
        # Were anything started, it would take these ports; --help must not get that far.
        "HOST_PORT": "0",
        "MILLENNIUM_MLLP_PORT": "0",
        "SIMULATOR_HTTP_PORT": "0",
    }
    done = subprocess.run(
        [sys.executable, "-m", module, "--help"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: ")
    for argument in COMMANDS[module]:
        assert argument in done.stdout
    assert not data.exists(), f"{module} --help created the data folder"
    assert "Orbit webhook" not in done.stdout and "Replayed" not in done.stdout
