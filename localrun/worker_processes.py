"""The local run's queue workers in their own processes (``python -m localrun.worker``).

Why: one Python process runs one thread at a time. With the HTTP host and the
queue triggers in one process, a webhook waits behind the workers' Python code
while a backlog drains; in a process of their own the workers run on the other
core and the webhook answers as fast as when they are idle. The processes share
the data folder as the Functions host's instances share Service Bus and Table
storage: the same queue file (its doorbell wakes their receivers at once), the
same crosswalk and the same connection budget (its lease file).

A worker process reads its settings from the environment, as the Functions host
does; the local run passes on what it chose itself (the simulator's ports, the
data folder). Settings given to `LocalRun` only as Python objects (a retry
policy) stay in the local run's process.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

from shared.names import QUEUE_EVENTS, SYNC_QUEUES
from shared.queue.embedded import EmbeddedQueue
from shared.settings import Settings

READY_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 15.0
REPO_ROOT = Path(__file__).resolve().parents[1]


class WorkerProcessFailed(RuntimeError):
    """A worker process exited, or did not start receiving in time."""


class WorkerProcesses:
    """``count`` worker processes on the local run's data folder."""

    def __init__(self, count: int, settings: Settings, variables: Mapping[str, str]) -> None:
        self._count = count
        self._environment = {**os.environ, **variables, **_settings_environment(settings)}
        self._processes: list[subprocess.Popen[bytes]] = []

    @property
    def pids(self) -> list[int]:
        return [process.pid for process in self._processes]

    def start(self, queue: EmbeddedQueue) -> None:
        """Start the processes and return once each one's receivers wait on the queue.

        Raises:
            WorkerProcessFailed: a process exited or was not receiving within
                ``READY_TIMEOUT_SECONDS``.
        """
        command = [sys.executable, "-m", "localrun.worker", "--parent-pid", str(os.getpid())]
        for index in range(self._count):
            self._processes.append(
                subprocess.Popen(  # noqa: S603 - this interpreter, our own module
                    [*command, *_queue_arguments(index, self._count)],
                    env=self._environment,
                    cwd=REPO_ROOT,
                )
            )
        self._wait_until_receiving(queue)

    def stop(self) -> None:
        """Ask every process to stop (SIGTERM), then kill what is left."""
        for process in self._processes:
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        for process in self._processes:
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._processes = []

    def _wait_until_receiving(self, queue: EmbeddedQueue) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            exited = [p.pid for p in self._processes if p.poll() is not None]
            if exited:
                raise WorkerProcessFailed(f"worker process {exited[0]} exited at start")
            if set(self.pids) <= queue.listening_processes():
                return
            time.sleep(0.05)
        raise WorkerProcessFailed(
            f"the worker processes were not receiving within {READY_TIMEOUT_SECONDS:g} s"
        )


def _queue_arguments(index: int, count: int) -> list[str]:
    """Which queues worker process ``index`` of ``count`` drives: one process, all of
    them; two or more, the first takes the Orbit events (intake) and the others the
    three sync queues, so intake runs beside the Millennium sends, not between them.
    (More than one process on the sync queues share the connection budget by turns.)"""
    if count == 1:
        return []
    if index == 0:
        return ["--queues", QUEUE_EVENTS]
    return ["--queues", *SYNC_QUEUES]


def _settings_environment(settings: Settings) -> dict[str, str]:
    """What the local run chose at start, as the settings a worker process reads."""
    return {
        "LOCAL_DATA_DIR": str(settings.local_data_dir),
        "ADMINISTRATION_PROFILES": str(settings.profiles_dir),
        "MILLENNIUM_MLLP_HOST": settings.mllp_host,
        "MILLENNIUM_MLLP_PORT": str(settings.mllp_port),
        "MILLENNIUM_MLLP_MAX_CONNECTIONS": str(settings.mllp_max_connections),
        "PYTHONPATH": str(REPO_ROOT),
    }
