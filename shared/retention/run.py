"""One clean-up run with the app's services: for the timer trigger, the local run
and the operators' command, so all three do exactly the same."""

from __future__ import annotations

import datetime as dt
import time
from typing import TYPE_CHECKING

from shared.retention.cleanup import (
    DEFAULT_MAX_DELETES,
    DEFAULT_TIME_BUDGET,
    CleanUp,
    RetentionPorts,
    clean_up,
)
from shared.retention.report import CleanUpReport, emit

if TYPE_CHECKING:
    from shared.services import Services


def run_clean_up(
    services: Services,
    *,
    max_deletes: int = DEFAULT_MAX_DELETES,
    time_budget: dt.timedelta = DEFAULT_TIME_BUDGET,
    dry_run: bool = False,
) -> CleanUpReport:
    """Clean up as of now with the settings' ages, then log and count what was done.

    Never raises for the store (see ``clean_up``).
    """
    settings = services.settings
    command = CleanUp(
        now=services.clock(),
        policy=settings.retention,
        max_deletes=max_deletes,
        time_budget=time_budget,
        problem=settings.retention_problem,
        dry_run=dry_run,
    )
    report = clean_up(command, RetentionPorts(store=services.store, seconds=time.monotonic))
    emit(report)
    return report
