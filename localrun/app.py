"""Start and stop everything the local run consists of.

Everything lives under the data folder (``LOCAL_DATA_DIR``, default ``.local``):
the queue, the crosswalk, the simulator's Millennium (``simulator.sqlite3``), the
dev secrets and the lock that keeps a second run off the folder. ``make reset``
deletes the folder: the local world starts empty and consistent.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import json
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any

from localrun.lock import DataFolderLock
from localrun.millennium_view import SIMULATOR_STATE_FILE
from shared.names import ALL_TABLES
from shared.profiles import Profiles, load_profiles
from shared.services import ServiceOverrides, Services, build_services, use_services
from shared.settings import Settings, read_settings, reset_settings
from shared.sync.policy import RetryPolicy

if TYPE_CHECKING:
    from shared.queue.embedded import EmbeddedQueue

LOOPBACK = "127.0.0.1"
DEFAULT_SIMULATOR_HTTP_PORT = 8090
# As the Service Bus queues are configured in infra/modules/servicebus.bicep.
LOCK_DURATION_SECONDS = 60.0
MAX_DELIVERY_COUNT = 5


DEV_SECRET_SETTINGS = (
    "ORBIT_WEBHOOK_SECRETS",
    "LAUNCH_SECRETS_ORBIT",
    "LAUNCH_SECRETS_MILLENNIUM",
    "LAUNCH_LOOKUP_SECRET",
)
"""Secret settings the local run makes up when they are not set."""


def dev_secrets(data_dir: Path) -> dict[str, str]:
    """Local-only secrets, made once and kept in ``<data folder>/dev-secrets.json``
    (a file from an older run gets the missing ones added)."""
    path = data_dir / "dev-secrets.json"
    stored: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    missing = [name for name in DEV_SECRET_SETTINGS if name not in stored]
    if missing:
        for name in missing:
            stored[name] = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
        data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(stored, indent=2))
    return stored


def dev_webhook_secret(data_dir: Path) -> str:
    """The local-only webhook secret (see `dev_secrets`)."""
    return dev_secrets(data_dir)["ORBIT_WEBHOOK_SECRETS"]


def local_settings(environ: dict[str, str] | None = None) -> Settings:
    """Settings for the local run: embedded backends, loopback, dev secrets for
    every secret setting that is not set."""
    env = os.environ if environ is None else environ
    env.setdefault("QUEUE_BACKEND", "embedded")
    env.setdefault("CROSSWALK_BACKEND", "sqlite")
    reset_settings()
    settings = read_settings()
    unset = [name for name in DEV_SECRET_SETTINGS if not env.get(name, "").strip()]
    if unset:
        made_up = dev_secrets(Path(settings.local_data_dir))
        for name in unset:
            env[name] = made_up[name]
        settings = read_settings()
    return settings


@functools.cache
def app_functions() -> list[Any]:
    """The function_app's functions; azure-functions allows one get_functions() per app,
    and tests start several local runs in one process."""
    from function_app import app

    return list(app.get_functions())


def local_services(
    settings: Settings, retry: RetryPolicy | None = None, profiles: Profiles | None = None
) -> tuple[Services, EmbeddedQueue]:
    """The app's services on the data folder: the embedded queue with the Service Bus
    queues' lock and delivery settings, the SQLite crosswalk, and the Millennium link
    under the connection budget (whose lease file is in the data folder too, so
    every process of one local run shares it). Returns them with the queue, which
    the dispatcher receives from."""
    from shared.crosswalk.sqlite import SqliteTableStore
    from shared.queue.embedded import EmbeddedQueue

    data_dir = Path(settings.local_data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    queue = EmbeddedQueue(
        data_dir / "queue.sqlite3",
        lock_duration=LOCK_DURATION_SECONDS,
        max_delivery_count=MAX_DELIVERY_COUNT,
    )
    store = SqliteTableStore(data_dir / "crosswalk.sqlite3")
    store.create_tables(ALL_TABLES)
    overrides = ServiceOverrides(store=store, bus=queue, retry=retry, profiles=profiles)
    services = build_services(settings, overrides)
    return services, queue


class LocalRun:
    """The real function_app on loopback with embedded queue, SQLite and simulator."""

    def __init__(
        self,
        settings: Settings,
        *,
        simulator_http_port: int | None = None,
        threads_per_queue: int = 4,
        retry: RetryPolicy | None = None,
        durable_simulator: bool = True,
        worker_processes: int = 0,
        timer_interval_seconds: float | None = None,
    ) -> None:
        """``worker_processes`` > 0 runs the queue triggers in that many processes of
        their own (`localrun.worker_processes`) instead of in this one."""
        self.settings = settings
        self._simulator_http_port = (
            simulator_http_port
            if simulator_http_port is not None
            else int(os.environ.get("SIMULATOR_HTTP_PORT", DEFAULT_SIMULATOR_HTTP_PORT))
        )
        self._threads_per_queue = threads_per_queue
        # False: the simulator forgets on stop (benchmarks measure the integration,
        # not the simulator's journal; docs/simulator.md has its cost).
        self._durable_simulator = durable_simulator
        self._retry = retry or RetryPolicy()
        self._worker_process_count = worker_processes
        self.worker_processes: Any = None
        # None: localrun.timers.LOCAL_TIMER_INTERVAL_SECONDS (Azure: the schedule).
        self._timer_interval_seconds = timer_interval_seconds
        self.simulator: Any = None
        self.timers: Any = None
        self.services: Services | None = None
        self.dispatcher: Any = None
        self.http: Any = None
        self._lock: DataFolderLock | None = None

    def start(self) -> LocalRun:
        """Start everything; on failure stop what was started.

        Raises:
            DataFolderInUse: another local run holds the data folder.
            OSError: a port is in use.
            WorkerProcessFailed: a worker process did not start receiving.
        """
        data_dir = Path(self.settings.local_data_dir)
        self._lock = DataFolderLock(data_dir).acquire()
        try:
            self._start(data_dir)
        except BaseException:
            self.stop()
            raise
        self._lock.describe(
            {
                "baseUrl": self.base_url,
                "simulatorUrl": self.simulator.http_url if self.simulator else "",
            }
        )
        return self

    def _start(self, data_dir: Path) -> None:
        settings = self._start_simulator(data_dir)
        profiles = load_profiles(settings.profiles_dir, self._profile_variables())
        self.services, queue = self._services(settings, profiles)
        use_services(self.services)
        self._start_app(queue)

    def _services(self, settings: Settings, profiles: Profiles) -> tuple[Services, EmbeddedQueue]:
        """The services and queue this run uses (a benchmark may count what they do)."""
        return local_services(settings, self._retry, profiles)

    def _functions(self) -> list[Any]:
        """The app's functions this run drives (a benchmark may time them)."""
        return app_functions()

    def _profile_variables(self) -> dict[str, str]:
        """The settings a profile's launch templates may use: the environment, with
        the chart and booking views of the simulator this run started (whatever its
        port) in place of Millennium's and Orbit's."""
        variables = dict(os.environ)
        if self.simulator is not None:
            variables.update(simulator_web_urls(self.simulator.http_url))
        return variables

    def _start_simulator(self, data_dir: Path) -> Settings:
        if not self.settings.simulator:
            return self.settings
        from simulator import start_simulator

        state_file = data_dir / SIMULATOR_STATE_FILE
        if simulator_reset_requested():
            # Only the simulator forgets: the crosswalk still says what it confirmed,
            # and the trace and go-live report the disagreement (docs/simulator.md).
            # With its WAL and shared-memory files: a WAL left by a killed run would
            # otherwise be replayed into the new, empty file.
            for suffix in ("", "-wal", "-shm"):
                Path(f"{state_file}{suffix}").unlink(missing_ok=True)
        self.simulator = start_simulator(
            LOOPBACK,
            mllp_port=self.settings.mllp_port,
            http_port=self._simulator_http_port,
            # Like Millennium's interface engine: no more connections than agreed.
            connection_limit=self.settings.mllp_max_connections,
            state_file=state_file if self._durable_simulator else None,
        )
        self.settings = dataclasses.replace(
            self.settings,
            mllp_host=LOOPBACK,
            mllp_port=self.simulator.mllp_port,
            # The jump-out asks the simulator's FHIR API, without a token.
            fhir_base_url=self.settings.fhir_base_url or f"{self.simulator.http_url}/fhir",
        )
        return self.settings

    def _start_app(self, queue: Any) -> None:
        from localrun.dispatcher import Dispatcher
        from localrun.http_host import HttpHost
        from localrun.timers import LOCAL_TIMER_INTERVAL_SECONDS, Timers

        functions = self._functions()
        in_this_process = None if not self._worker_process_count else ()
        self.dispatcher = Dispatcher(
            functions, queue, threads_per_queue=self._threads_per_queue, queues=in_this_process
        )
        self.dispatcher.start()
        if self._worker_process_count:
            from localrun.worker_processes import WorkerProcesses

            self.worker_processes = WorkerProcesses(
                self._worker_process_count, self.settings, self._profile_variables()
            )
            self.worker_processes.start(queue)
        interval = self._timer_interval_seconds or LOCAL_TIMER_INTERVAL_SECONDS
        self.timers = Timers(functions, interval_seconds=interval)
        self.timers.start()
        self.http = HttpHost(functions, LOOPBACK, self.settings.host_port)
        self._set_public_base_url(self.http.port)
        self.http.start()

    def _set_public_base_url(self, port: int) -> None:
        """Launch links lead back to this local run, unless PUBLIC_BASE_URL says
        otherwise (never to whatever Host header a request carried)."""
        assert self.services is not None
        if not self.services.settings.public_base_url:
            self.settings = dataclasses.replace(
                self.settings, public_base_url=f"http://{LOOPBACK}:{port}"
            )
            self.services.settings = self.settings

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.http.port}"

    def stop(self) -> None:
        if self.timers is not None:
            self.timers.stop()
        if self.http is not None:
            self.http.stop()
        if self.dispatcher is not None:
            self.dispatcher.stop()
        if self.worker_processes is not None:
            self.worker_processes.stop()
            self.worker_processes = None
        if self.services is not None:
            self.services.close()  # the Millennium link: connections and their slots
        if self.simulator is not None:
            self.simulator.stop()
        use_services(None)
        if self._lock is not None:
            self._lock.release()
            self._lock = None


def simulator_web_urls(simulator_url: str) -> dict[str, str]:
    """``MILLENNIUM_WEB_URL`` and ``ORBIT_WEB_URL`` for the simulator at ``simulator_url``:
    its stand-ins for Millennium's chart and Orbit's booking view (docs/simulator.md)."""
    base = simulator_url.rstrip("/")
    return {"MILLENNIUM_WEB_URL": f"{base}/millennium", "ORBIT_WEB_URL": f"{base}/orbit"}


def simulator_reset_requested(environ: dict[str, str] | None = None) -> bool:
    """``SIMULATOR_RESET=on``: start the simulator's Millennium empty (a test of what
    the tools say when Millennium and the crosswalk disagree)."""
    env = os.environ if environ is None else environ
    return env.get("SIMULATOR_RESET", "").strip().lower() in {"on", "true", "1", "yes"}
