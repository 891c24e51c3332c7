"""`python -m localrun.worker`: one more worker process beside a running local run.

It drives the queue-triggered functions from the same data folder (embedded
queue, SQLite crosswalk) against the same Millennium, under the same connection
budget: the lease file is in the data folder, so all processes together keep to
``MILLENNIUM_MLLP_MAX_CONNECTIONS``, as Azure's instances do with blob leases.
It serves no HTTP and starts no simulator; point it at the local run's
Millennium with ``MILLENNIUM_MLLP_HOST`` / ``MILLENNIUM_MLLP_PORT`` (the port the
local run prints). Stop it with Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence

from localrun.app import app_functions, local_services, local_settings
from shared.profiles import load_profiles
from shared.services import use_services

PARENT_CHECK_SECONDS = 0.5


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m localrun.worker",
        description="Run more queue workers on the local run's data folder (LOCAL_DATA_DIR).",
    )
    parser.add_argument(
        "--threads-per-queue",
        type=int,
        default=4,
        help="worker threads per queue in this process (default 4)",
    )
    parser.add_argument(
        "--queues",
        nargs="+",
        metavar="QUEUE",
        help="drive only these queues' triggers (default: every queue trigger)",
    )
    parser.add_argument(
        "--parent-pid",
        type=int,
        default=None,
        help="stop when this process (the local run that started this one) is gone",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stdout,
    )
    from localrun.dispatcher import Dispatcher

    settings = local_settings()
    # Launch templates name MILLENNIUM_WEB_URL and ORBIT_WEB_URL: the local run's, from the
    # environment it started this process with.
    profiles = load_profiles(settings.profiles_dir, dict(os.environ))
    services, queue = local_services(settings, profiles=profiles)
    use_services(services)
    dispatcher = Dispatcher(
        app_functions(), queue, threads_per_queue=args.threads_per_queue, queues=args.queues
    )
    dispatcher.start()
    print(
        f"Workers on {settings.local_data_dir} → Millennium {settings.mllp_host}:"
        f"{settings.mllp_port} (budget {settings.mllp_max_connections} connection(s))",
        flush=True,
    )
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    if args.parent_pid is not None:
        threading.Thread(
            target=_stop_without_parent, args=(args.parent_pid, stopped), daemon=True
        ).start()
    with contextlib.suppress(KeyboardInterrupt):
        stopped.wait()
    dispatcher.stop()
    services.close()
    return 0


def _stop_without_parent(parent_pid: int, stopped: threading.Event) -> None:
    """A local run killed with SIGKILL cannot stop its worker processes: each one
    notices that its parent is gone and stops itself."""
    while not stopped.wait(PARENT_CHECK_SECONDS):
        if os.getppid() != parent_pid:
            print("The local run that started this worker is gone; stopping.", flush=True)
            stopped.set()


if __name__ == "__main__":
    raise SystemExit(main())
