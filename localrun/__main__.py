"""`make run`: serve the function app locally until Ctrl-C."""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
import threading

from localrun.app import LocalRun, local_settings


def main() -> int:
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stdout,
    )
    settings = local_settings()
    try:
        run = LocalRun(settings).start()
    except OSError as error:
        print(
            f"Cannot start the local run: {error.strerror or error}. Is another one running? "
            "Choose free ports with HOST_PORT, MILLENNIUM_MLLP_PORT and SIMULATOR_HTTP_PORT.",
            file=sys.stderr,
        )
        return 1
    _print_banner(run)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    with contextlib.suppress(KeyboardInterrupt):
        stopped.wait()
    run.stop()
    return 0


def _print_banner(run: LocalRun) -> None:
    settings = run.settings
    print(f"Orbit webhook:        POST {run.base_url}/api/orbit/events", flush=True)
    for route in run.http.routes:
        methods = ",".join(sorted(route.methods))
        print(f"  {route.name:<20} {methods:<5} {run.base_url}/api/{route.template}")
    print(
        f"Millennium MLLP:      {settings.mllp_host}:{settings.mllp_port}"
        + (" (simulator)" if run.simulator else " (external)")
    )
    if run.simulator is not None:
        print(f"Simulator state:      http://127.0.0.1:{run.simulator.http_port}/state")
    print(f"Data folder:          {settings.local_data_dir}")
    assert run.services is not None
    codes = ", ".join(run.services.profiles.codes())
    print(f"Profiles:             {settings.profiles_dir} ({codes})")
    print("Webhook secret:       in ORBIT_WEBHOOK_SECRETS or <data folder>/dev-secrets.json")
    print("Launch secrets:       LAUNCH_SECRETS_ORBIT / _MILLENNIUM, or the same file")
    print("Stop with Ctrl-C.", flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
