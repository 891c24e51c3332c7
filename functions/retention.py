"""Timer trigger ``retention_cleanup``: the nightly clean-up of old rows.

Thin: it calls ``shared.retention.run.run_clean_up`` with the app's services; what
is removed, and why it is safe, is in ``shared/retention/`` and docs/operations.md
("Retention"). The local run calls the same function on its own interval
(``localrun/timers.py``).

The schedule is UTC: Flex Consumption on Linux does not honour
``WEBSITE_TIME_ZONE``. 01:17 UTC is 02:17 or 03:17 in Sweden, when Orbit is
quiet, and off the full hour when other jobs start. The host runs one instance
of a timer function however far the app has scaled out (a lock blob in the host
storage); ``use_monitor`` keeps the schedule's last run there too, so a run
missed while the app was being deployed starts when it is back (past due).
``run_on_startup`` stays off: on Flex Consumption every scale-out and restart is
a start-up.
"""

from __future__ import annotations

import logging

import azure.functions as func

bp = func.Blueprint()  # type: ignore[no-untyped-call]

logger = logging.getLogger("orbitsync.retention")

RETENTION_SCHEDULE = "0 17 1 * * *"
"""NCRONTAB {second} {minute} {hour} {day} {month} {day-of-week}: daily at 01:17 UTC."""


@bp.function_name("retention_cleanup")
@bp.timer_trigger(
    arg_name="timer", schedule=RETENTION_SCHEDULE, run_on_startup=False, use_monitor=True
)
def retention_cleanup(timer: func.TimerRequest) -> None:
    # Imported here, not at module level: importing function_app must stay cheap.
    from shared.retention.run import run_clean_up
    from shared.services import get_services

    if timer.past_due:
        logger.info("retention clean-up is past due (a scheduled run was missed); running now")
    run_clean_up(get_services())
