"""`make run`: serve the function app locally until Ctrl-C."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any

DESCRIPTION = """\
Serve the function app on 127.0.0.1 with the embedded queue, the SQLite crosswalk
and the Millennium simulator, all under the data folder, until Ctrl-C.

Settings come from the environment (README, "Settings"): HOST_PORT (7071),
MILLENNIUM_MLLP_PORT (2575), SIMULATOR_HTTP_PORT (8090), SIMULATOR (on/off),
SIMULATOR_RESET (on: start the simulator empty), LOCAL_DATA_DIR (.local),
ADMINISTRATION_PROFILES (profiles). A port of 0 picks a free one; the banner
says which. One local run per data folder: a second one is refused.
"""


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=".venv/bin/python -m localrun",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the start-up details (URLs, ports, data folder, profiles) as one "
        "JSON line instead of the banner, for scripts",
    )
    parser.add_argument(
        "--worker-processes",
        type=int,
        default=1,
        metavar="N",
        help="run the queue triggers in N worker processes of their own (default 1), so "
        "the HTTP host never waits behind the workers; 0 runs them in this process",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _arguments(argv)  # --help exits here, before anything starts
    from localrun.app import LocalRun, local_settings
    from localrun.lock import DataFolderInUse
    from localrun.worker_processes import WorkerProcessFailed

    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stdout,
    )
    settings = local_settings()
    try:
        run = LocalRun(settings, worker_processes=args.worker_processes).start()
    except DataFolderInUse as refused:
        print(f"Cannot start the local run: {refused}", file=sys.stderr)
        return 1
    except WorkerProcessFailed as failed:
        print(f"Cannot start the local run: {failed} (its output is above)", file=sys.stderr)
        return 1
    except OSError as error:
        print(
            f"Cannot start the local run: {error.strerror or error}. Is another program "
            "using the port? Choose free ports with HOST_PORT, MILLENNIUM_MLLP_PORT and "
            "SIMULATOR_HTTP_PORT (0 picks a free one).",
            file=sys.stderr,
        )
        return 1
    details = startup_details(run)
    if args.json:
        print(json.dumps(details), flush=True)
    else:
        print(banner(details), flush=True)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    with contextlib.suppress(KeyboardInterrupt):
        stopped.wait()
    run.stop()
    return 0


def startup_details(run: Any) -> dict[str, Any]:
    """Where everything of a started ``LocalRun`` listens and lives."""
    settings = run.settings
    assert run.services is not None
    return {
        "baseUrl": run.base_url,
        "webhook": f"{run.base_url}/api/orbit/events",
        "routes": [
            {
                "name": route.name,
                "methods": sorted(route.methods),
                "url": f"{run.base_url}/api/{route.template}",
            }
            for route in run.http.routes
        ],
        "millenniumMllp": f"{settings.mllp_host}:{settings.mllp_port}",
        "mllpMaxConnections": settings.mllp_max_connections,
        "simulator": run.simulator.http_url if run.simulator is not None else None,
        "dataFolder": settings.local_data_dir,
        "profilesFolder": settings.profiles_dir,
        "profiles": run.services.profiles.codes(),
        "pid": os.getpid(),
        "workerProcesses": run.worker_processes.pids if run.worker_processes else [],
        "opsKeys": bool(settings.ops_admin_secrets),
        "timers": [
            {"name": t.name, "schedule": t.schedule, "localIntervalSeconds": run.timers.interval}
            for t in run.timers.triggers
        ],
    }


def banner(details: dict[str, Any]) -> str:
    """The start-up banner ``make run`` prints."""
    lines = [f"Orbit webhook:        POST {details['webhook']}"]
    for route in details["routes"]:
        methods = ",".join(route["methods"])
        lines.append(f"  {route['name']:<20} {methods:<8} {route['url']}")
    simulator = details["simulator"]
    lines.append(
        f"Millennium MLLP:      {details['millenniumMllp']}"
        + (" (simulator)" if simulator else " (external)")
        + f", at most {details['mllpMaxConnections']} connection(s) for this data folder"
    )
    if simulator:
        lines.append(f"Simulator:            {simulator}/ (what Millennium holds; kept on disk)")
    lines += [
        "Queue workers:        "
        + (
            f"{len(details['workerProcesses'])} worker process(es) "
            f"({', '.join(map(str, details['workerProcesses']))})"
            if details["workerProcesses"]
            else "in this process"
        ),
        f"Data folder:          {details['dataFolder']}",
        f"Profiles:             {details['profilesFolder']} ({', '.join(details['profiles'])}; "
        "reread when a file changes)",
        "Webhook secret:       in ORBIT_WEBHOOK_SECRETS or <data folder>/dev-secrets.json",
        "Launch secrets:       LAUNCH_SECRETS_ORBIT / _MILLENNIUM, or the same file",
        f"Message browser:      {details['baseUrl']}/api/ops/browser "
        + (
            "(sign in with a key from OPS_ADMIN_SECRETS)"
            if details["opsKeys"]
            else "(off: set OPS_ADMIN_SECRETS to switch it on)"
        ),
    ]
    for timer in details["timers"]:
        seconds = timer["localIntervalSeconds"]
        every = f"{seconds / 60:.0f} min" if seconds >= 60 else f"{seconds:g} s"
        lines.append(
            f"Timer:                {timer['name']} every {every} "
            f"(Azure: '{timer['schedule']}' UTC)"
        )
    lines.append("Stop with Ctrl-C.")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
