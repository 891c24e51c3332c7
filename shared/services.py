"""The composition root: which adapter serves each port, chosen by settings.

Every entrypoint builds its services here and nowhere else: the Azure triggers
(`get_services()`), the local run, `tools.ops`, the go-live command and the
jump-out. `build_services(settings, overrides)` wires the adapters the settings
ask for; `ServiceOverrides` lets the local run and tests hand in their own
(an embedded queue with its lock settings, a fake channel). Capabilities are
decided here too, so no entrypoint inspects an adapter's type: whether the app
may read dead letters, which channel serves each Millennium target.

Nothing is built at import time; heavy SDKs are imported by the builder that
needs them.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from shared.crosswalk.port import TableStore
from shared.crosswalk.repository import Crosswalk
from shared.names import ALL_TABLES, CONTAINER_LINK_LEASES
from shared.profiles import Profiles, load_profiles
from shared.queue.port import MessageBus
from shared.settings import Settings, get_settings
from shared.sync.channel import Channels
from shared.sync.policy import RetryPolicy
from shared.sync.ports import SyncPorts
from shared.targets import Target

if TYPE_CHECKING:  # the FHIR adapter pulls in httpx: only the launch endpoint needs it
    from shared.deadletters.port import DeadLetterStore
    from shared.launch.fhir import MillenniumFhir
    from shared.link.budget import BudgetedLink
    from shared.link.leases import LeaseStore
    from shared.mllp.link import HL7Link


class OwnedBus(MessageBus, Protocol):
    """A bus the composition root built, so it also closes it."""

    def close(self) -> None: ...


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class Services:
    settings: Settings
    store: TableStore
    bus: MessageBus
    profiles: Profiles
    channels: Channels = field(default_factory=dict)
    # Dead letters this process may read: the local run's embedded queue, or the
    # operators' tool in Azure. None for the app in Azure (no receive right there).
    dead_letters: DeadLetterStore | None = None
    clock: Callable[[], dt.datetime] = field(default=utc_now)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    closers: list[Callable[[], None]] = field(default_factory=list)
    _fhir: MillenniumFhir | None = field(default=None, repr=False)
    _fhir_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def sync_ports(self) -> SyncPorts:
        """The ports the sync handlers take."""
        return SyncPorts(
            crosswalk=Crosswalk(self.store),
            bus=self.bus,
            profiles=self.profiles,
            channels=self.channels,
            clock=self.clock,
            retry=self.retry,
        )

    def fhir(self) -> MillenniumFhir:
        """Millennium's FHIR API for the jump-out, built on first use and kept.

        Raises:
            ValueError: the FHIR settings are missing or malformed.
        """
        with self._fhir_lock:
            if self._fhir is None:
                self._fhir = build_fhir(self.settings)
            return self._fhir

    def close(self) -> None:
        for close in self.closers:
            close()


@dataclass(frozen=True)
class ServiceOverrides:
    """Adapters a caller supplies instead of those the settings would build."""

    store: TableStore | None = None
    bus: MessageBus | None = None
    profiles: Profiles | None = None
    channels: Channels | None = None
    link: HL7Link | None = None
    # The link budget's lease slots (the link is then built around them), e.g. a
    # benchmark's counting wrapper; ignored when ``link`` or ``channels`` is given.
    leases: LeaseStore | None = None
    clock: Callable[[], dt.datetime] | None = None
    retry: RetryPolicy | None = None
    fhir: MillenniumFhir | None = None


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


def build_services(
    settings: Settings, overrides: ServiceOverrides | None = None, *, operator: bool = False
) -> Services:
    """Wire the adapters the settings ask for, or those ``overrides`` supplies.

    ``operator``: for the operators' tools, which may read Service Bus dead
    letters (their identity has the rights the app's has not).

    Raises:
        SettingsError, ValueError: a backend setting is missing or malformed.
    """
    given = overrides or ServiceOverrides()
    closers: list[Callable[[], None]] = []
    bus = given.bus
    if bus is None:
        owned = build_bus(settings)
        closers.append(owned.close)
        bus = owned
    link = given.link
    if given.channels is None and link is None:
        owned_link = build_mllp_link(settings, given.leases)
        closers.append(owned_link.close)  # closes the connections, releases their slots
        link = owned_link
    return Services(
        settings=settings,
        store=given.store if given.store is not None else build_store(settings),
        bus=bus,
        profiles=given.profiles
        if given.profiles is not None
        else load_profiles(settings.profiles_dir),
        channels=given.channels if given.channels is not None else build_channels(settings, link),
        dead_letters=build_dead_letters(settings, bus, operator=operator),
        clock=given.clock or utc_now,
        retry=given.retry or RetryPolicy(),
        closers=closers,
        _fhir=given.fhir,
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


def build_bus(settings: Settings) -> OwnedBus:
    if settings.queue_backend == "servicebus":
        from shared.queue.servicebus import service_bus_from_namespace

        return service_bus_from_namespace(settings.service_bus_namespace)
    from shared.queue.embedded import EmbeddedQueue

    data_dir = Path(settings.local_data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    return EmbeddedQueue(data_dir / "queue.sqlite3")


def build_dead_letters(
    settings: Settings, bus: MessageBus, *, operator: bool
) -> DeadLetterStore | None:
    """Where this process may read dead letters (see `Services.dead_letters`)."""
    from shared.queue.embedded import EmbeddedQueue

    if isinstance(bus, EmbeddedQueue):
        from shared.deadletters.embedded import EmbeddedDeadLetters

        return EmbeddedDeadLetters(bus)
    if operator and settings.queue_backend == "servicebus":
        from shared.deadletters.servicebus import service_bus_dead_letters

        return service_bus_dead_letters(settings.service_bus_namespace)
    return None


def build_channels(settings: Settings, link: HL7Link | None = None) -> Channels:
    """The channel of each Millennium target: HL7 v2 over one MLLP link.

    A second channel (say FHIR R4 for appointments) is one module behind the
    port in shared.sync.channel plus one line here (docs/architecture.md).
    """
    from shared.hl7.channel import Hl7Channel

    hl7_link = link or build_mllp_link(settings)
    return {
        target: Hl7Channel(target, hl7_link, processing_id=settings.processing_id)
        for target in Target
    }


def build_mllp_link(settings: Settings, leases: LeaseStore | None = None) -> BudgetedLink:
    """MLLP to Millennium under the stamp's connection budget (shared.link.budget),
    its slots in ``leases`` or, by default, those the settings ask for."""
    from shared.link.budget import Budget, BudgetedLink
    from shared.mllp.client import MllpClient
    from shared.mllp.tls import context_factory

    # MILLENNIUM_MLLP_CA_BUNDLE: built on the first connection, failing closed.
    tls_context = context_factory(settings) if settings.mllp_tls else None
    budget = Budget(
        slots=settings.mllp_max_connections,
        max_messages_per_second=settings.mllp_max_messages_per_second,
        idle_seconds=settings.mllp_idle_seconds,
        wait_seconds=settings.mllp_link_wait_seconds,
    )

    def connect() -> MllpClient:
        return MllpClient(
            settings.mllp_host,
            settings.mllp_port,
            timeout=settings.mllp_timeout_seconds,
            ssl_context=tls_context() if tls_context is not None else None,
        )

    return BudgetedLink(connect, leases if leases is not None else build_leases(settings), budget)


def build_leases(settings: Settings) -> LeaseStore:
    """The budget's lease slots: blob leases on the stamp's storage in Azure, a
    SQLite file in the local data folder (shared by its worker processes)."""
    if settings.queue_backend == "servicebus":
        from shared.link.blob_leases import blob_leases
        from shared.link.leases import UnconfiguredLeases

        try:
            return blob_leases(settings.link_lease_account_url, CONTAINER_LINK_LEASES)
        except ValueError as error:
            # Fail closed, and only for what needs it: no send goes out (each says
            # why and is retried), while the webhook and everything else still work.
            return UnconfiguredLeases(f"MILLENNIUM_LINK_LEASE_ACCOUNT_URL: {error}")
    from shared.link.sqlite_leases import SqliteLeases

    data_dir = Path(settings.local_data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    return SqliteLeases(data_dir / "link-leases.sqlite3")


def build_fhir(settings: Settings) -> MillenniumFhir:
    """Raises ValueError: the FHIR settings are missing or malformed."""
    from shared.launch.fhir import build_fhir as fhir_client

    return fhir_client(
        settings.fhir_base_url,
        settings.fhir_token_url,
        settings.fhir_client_id,
        settings.fhir_secret,
        settings.fhir_scope,
    )
