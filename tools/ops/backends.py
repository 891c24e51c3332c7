"""Open the crosswalk and the dead letters the settings point at."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from shared.crosswalk.repository import Crosswalk
from shared.deadletters.port import DeadLetterStore
from shared.settings import Settings


@dataclass
class Backends:
    crosswalk: Crosswalk
    dead_letters: DeadLetterStore
    clock: Callable[[], dt.datetime]
    closers: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        for close in self.closers:
            close()


def open_backends(settings: Settings) -> Backends:
    """The crosswalk and dead-letter store of the local data folder or the Azure stamp.

    Raises:
        ValueError: a Service Bus or Table endpoint setting is missing or malformed.
        QueueUnavailable, TransientError: a backend cannot be opened.
    """
    from shared.services import build_store, utc_now

    crosswalk = Crosswalk(build_store(settings))
    if settings.queue_backend == "servicebus":
        from shared.deadletters.servicebus import service_bus_dead_letters

        return Backends(
            crosswalk, service_bus_dead_letters(settings.service_bus_namespace), utc_now
        )
    from shared.deadletters.embedded import EmbeddedDeadLetters
    from shared.queue.embedded import EmbeddedQueue

    queue = EmbeddedQueue(Path(settings.local_data_dir) / "queue.sqlite3")
    return Backends(crosswalk, EmbeddedDeadLetters(queue), utc_now, [queue.close])
