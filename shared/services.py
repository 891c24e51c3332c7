"""The composition root: which adapter serves each port, chosen by settings.

Entrypoints call `get_services()`; it builds the adapters on first use (never at
import time). Tests and the local run install their own with `use_services()`.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from shared.crosswalk.port import TableStore
from shared.crosswalk.repository import Crosswalk
from shared.millennium import MillenniumLink
from shared.names import ALL_TABLES
from shared.profiles import Profiles, load_profiles
from shared.queue.port import MessageBus
from shared.settings import Settings, get_settings
from shared.sync.policy import RetryPolicy
from shared.sync.ports import SyncPorts

if TYPE_CHECKING:  # the FHIR adapter pulls in httpx: only the launch endpoint needs it
    from shared.launch.fhir import MillenniumFhir


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class Services:
    settings: Settings
    store: TableStore
    bus: MessageBus
    profiles: Profiles
    millennium: MillenniumLink
    clock: Callable[[], dt.datetime] = field(default=utc_now)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    fhir: MillenniumFhir | None = None  # built on the first launch (shared.launch.wiring)

    def sync_ports(self) -> SyncPorts:
        """The ports the sync handlers take."""
        return SyncPorts(
            crosswalk=Crosswalk(self.store),
            bus=self.bus,
            profiles=self.profiles,
            millennium=self.millennium,
            clock=self.clock,
            retry=self.retry,
            processing_id=self.settings.processing_id,
        )


_lock = threading.Lock()
_services: Services | None = None


def get_services() -> Services:
    """The app's services, built from the settings on first use."""
    global _services
    with _lock:
        if _services is None:
            _services = build_services(get_settings())
        return _services


def use_services(services: Services | None) -> None:
    """Install ``services`` (or forget them, with None) — for tests and the local run."""
    global _services
    with _lock:
        _services = services


def build_services(settings: Settings) -> Services:
    """Wire the adapters the settings ask for."""
    return Services(
        settings=settings,
        store=build_store(settings),
        bus=build_bus(settings),
        profiles=load_profiles(settings.profiles_dir),
        millennium=build_millennium_link(settings),
    )


def build_store(settings: Settings) -> TableStore:
    if settings.crosswalk_backend == "table":
        from shared.crosswalk.azure_table import azure_table_store_from_endpoint

        return azure_table_store_from_endpoint(settings.table_endpoint)
    from shared.crosswalk.sqlite import SqliteTableStore

    data_dir = Path(settings.local_data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    store = SqliteTableStore(data_dir / "crosswalk.sqlite3")
    store.create_tables(ALL_TABLES)
    return store


def build_bus(settings: Settings) -> MessageBus:
    if settings.queue_backend == "servicebus":
        from shared.queue.servicebus import service_bus_from_namespace

        return service_bus_from_namespace(settings.service_bus_namespace)
    from shared.queue.embedded import EmbeddedQueue

    data_dir = Path(settings.local_data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    return EmbeddedQueue(data_dir / "queue.sqlite3")


def build_millennium_link(settings: Settings) -> MillenniumLink:
    from shared.millennium import MllpLink
    from shared.mllp.tls import context_factory

    return MllpLink(
        settings.mllp_host,
        settings.mllp_port,
        timeout=settings.mllp_timeout_seconds,
        tls=settings.mllp_tls,
        tls_context=context_factory(settings),  # MILLENNIUM_MLLP_CA_BUNDLE, fail closed
    )
