"""Open the crosswalk and the dead letters the settings point at."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from shared.crosswalk.repository import Crosswalk
from shared.deadletters.port import DeadLetterStore
from shared.settings import Settings

if TYPE_CHECKING:
    from shared.services import Services


@dataclass
class Backends:
    crosswalk: Crosswalk
    dead_letters: DeadLetterStore
    clock: Callable[[], dt.datetime]
    closers: list[Callable[[], None]] = field(default_factory=list)
    services: Services | None = None  # for commands that run app code (retention)

    def close(self) -> None:
        for close in self.closers:
            close()


def open_backends(settings: Settings) -> Backends:
    """The crosswalk and dead-letter store of the local data folder or the Azure stamp,
    built by the app's composition root with the operators' rights.

    Raises:
        ValueError: a Service Bus or Table endpoint setting is missing or malformed.
        QueueUnavailable, TransientError: a backend cannot be opened.
    """
    from shared.profiles import Profiles
    from shared.services import ServiceOverrides, build_services

    # The tools read the profile files themselves when they need them (a resubmit
    # checks the fix is in the files), so a profile that does not parse must not
    # keep an operator from listing dead letters or tracing a booking.
    no_profiles = ServiceOverrides(profiles=Profiles({}))
    services = build_services(settings, no_profiles, operator=True)
    assert services.dead_letters is not None  # operator=True: every backend has one
    return Backends(
        Crosswalk(services.store),
        services.dead_letters,
        services.clock,
        [services.close],
        services=services,
    )
