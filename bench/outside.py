"""The measured local run and its counterparts, each in a process of its own.

A benchmark that runs the simulator, the load generator and the local run in one
interpreter measures their contention for its lock as much as the pipeline. Here:

* `Simulator`: ``python -m simulator --json`` (Millennium, with the connection limit);
* `LocalRunProcess`: ``python -m localrun --json`` on a data folder of its own, with
  ``SIMULATOR=off`` and the simulator's MLLP port, and its worker processes;
* the benchmark's own process only posts (`Poster`) and watches, over HTTP and by
  reading the queue file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from shared.names import ALL_QUEUES
from shared.queue.embedded import EmbeddedQueue
from shared.webhook.signature import new_secret, sign

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT_SECONDS = 60.0


def _start_json_process(
    arguments: list[str], env: dict[str, str], log: Path
) -> tuple[subprocess.Popen[bytes], dict[str, Any]]:
    """Start a ``--json`` command with its output in ``log``; its first JSON line."""
    process = subprocess.Popen(
        [sys.executable, "-m", *arguments],
        cwd=ROOT,
        env={**env, "PYTHONPATH": str(ROOT)},
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        for line in log.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                return process, json.loads(line)
        if process.poll() is not None:
            break
        time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"{arguments[0]} did not start; see {log}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class Simulator:
    """The Millennium simulator in its own process, driven over its HTTP API."""

    def __init__(self, folder: Path, *, connection_limit: int) -> None:
        arguments = ["simulator", "--mllp-port", "0", "--http-port", "0", "--json"]
        arguments += ["--connection-limit", str(connection_limit)]
        self._process, ports = _start_json_process(
            arguments, dict(os.environ), folder / "simulator.log"
        )
        self.mllp_port = int(ports["mllpPort"])
        self.url = str(ports["httpUrl"])
        self.http = httpx.Client(base_url=self.url, timeout=120)

    def stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = self.http.get("/stats").raise_for_status().json()
        return stats

    def wait_for_acks(self, code: str, at_least: int, timeout: float) -> int:
        """How many ``code`` ACKs the simulator sent, once at least ``at_least`` (or
        after ``timeout`` s): one request that waits, instead of polling ``stats``."""
        response = self.http.get(
            "/stats/acks",
            params={"code": code, "atLeast": at_least, "timeout": timeout},
            timeout=timeout + 10,
        )
        count: int = response.raise_for_status().json()["count"]
        return count

    def state(self) -> dict[str, Any]:
        state: dict[str, Any] = self.http.get("/state").raise_for_status().json()
        return state

    def set_latency(self, milliseconds: int) -> None:
        self.http.post("/faults", json={"latency_ms": milliseconds}).raise_for_status()

    def stop(self) -> None:
        self.http.close()
        _stop(self._process)


class LocalRunProcess:
    """``python -m localrun`` on a fresh data folder, pointed at ``simulator``."""

    def __init__(
        self,
        folder: Path,
        simulator: Simulator,
        *,
        worker_processes: int,
        connections: int = 1,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.secret = new_secret()
        self.data_dir = folder / "data"
        env = {
            **os.environ,
            **(extra_env or {}),
            "LOCAL_DATA_DIR": str(self.data_dir),
            "ORBIT_WEBHOOK_SECRETS": self.secret,
            "SIMULATOR": "off",
            "HOST_PORT": "0",
            "MILLENNIUM_MLLP_HOST": "127.0.0.1",
            "MILLENNIUM_MLLP_PORT": str(simulator.mllp_port),
            "MILLENNIUM_MLLP_MAX_CONNECTIONS": str(connections),
        }
        arguments = ["localrun", "--json", "--worker-processes", str(worker_processes)]
        self._process, details = _start_json_process(arguments, env, folder / "localrun.log")
        self.base_url = str(details["baseUrl"])
        self.pids = [int(details["pid"]), *map(int, details["workerProcesses"])]
        self._queue = EmbeddedQueue(self.data_dir / "queue.sqlite3")

    def idle(self) -> bool:
        """No message ready, in flight or scheduled on any queue (from the queue file)."""
        return not any(
            self._queue.has_work(queue, include_scheduled=True)
            for queue in ALL_QUEUES
            if queue != "dead-letters"
        )

    def wait_idle(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.idle():
                time.sleep(0.05)  # settle: a handler may be about to send
                if self.idle():
                    return True
            time.sleep(0.05)
        return False

    def cpu_seconds(self) -> float:
        """User + system CPU of the run's processes so far (Linux /proc)."""
        return sum(_cpu_seconds(pid) for pid in self.pids)

    def stop(self) -> None:
        self._queue.close()
        _stop(self._process)


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Poster:
    """Signs and posts Orbit events over one kept-alive connection."""

    def __init__(self, base_url: str, secret: str) -> None:
        self._secret = secret
        self._client = httpx.Client(base_url=base_url, timeout=60)

    def __enter__(self) -> Poster:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._client.close()

    def post(self, event: dict[str, Any]) -> None:
        body = json.dumps(event, ensure_ascii=False).encode()
        headers = sign(self._secret, f"msg_{uuid.uuid4().hex}", int(time.time()), body)
        headers["content-type"] = "application/cloudevents+json"
        response = self._client.post("/api/orbit/events", content=body, headers=headers)
        if response.status_code != 202:
            raise RuntimeError(f"webhook answered {response.status_code}: {response.text}")


def timed(action: Callable[[], object]) -> float:
    """Milliseconds ``action`` took."""
    started = time.perf_counter()
    action()
    return (time.perf_counter() - started) * 1000
