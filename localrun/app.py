"""Start and stop everything the local run consists of."""

from __future__ import annotations

import base64
import dataclasses
import functools
import json
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shared.names import ALL_TABLES
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
    settings: Settings, retry: RetryPolicy | None = None
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
    services = build_services(settings, ServiceOverrides(store=store, bus=queue, retry=retry))
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
    ) -> None:
        self.settings = settings
        self._simulator_http_port = (
            simulator_http_port
            if simulator_http_port is not None
            else int(os.environ.get("SIMULATOR_HTTP_PORT", DEFAULT_SIMULATOR_HTTP_PORT))
        )
        self._threads_per_queue = threads_per_queue
        self._retry = retry or RetryPolicy()
        self.simulator: Any = None
        self.services: Services | None = None
        self.dispatcher: Any = None
        self.http: Any = None

    def start(self) -> LocalRun:
        settings = self._start_simulator()
        self.services, queue = local_services(settings, self._retry)
        use_services(self.services)
        self._start_app(queue)
        return self

    def _start_simulator(self) -> Settings:
        if not self.settings.simulator:
            return self.settings
        from simulator import start_simulator

        self.simulator = start_simulator(
            LOOPBACK,
            mllp_port=self.settings.mllp_port,
            http_port=self._simulator_http_port,
            # Like Millennium's interface engine: no more connections than agreed.
            connection_limit=self.settings.mllp_max_connections,
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

        functions = app_functions()
        self.dispatcher = Dispatcher(functions, queue, threads_per_queue=self._threads_per_queue)
        self.dispatcher.start()
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
        if self.http is not None:
            self.http.stop()
        if self.dispatcher is not None:
            self.dispatcher.stop()
        if self.services is not None:
            self.services.close()  # the Millennium link: connections and their slots
        if self.simulator is not None:
            self.simulator.stop()
        use_services(None)
