"""The clean-up handler: remove the rows that are past their retention age.

One run goes through the sweeps (``shared.retention.sweeps``) in order. For each
it resumes at the saved position, asks the store for one page of due rows at a
time (filtered in the store: only old rows come back), deletes each row on the
condition of the ETag it was read with, and saves the position after each page.
It stops when every sweep reached the end of its table, or when the run's budget
is spent — a number of deletes and a time, so that a run ends well within the
function timeout (host.json: 5 minutes) — and the next run continues from there.

Nothing here is needed by the hot path: see ``sweeps`` for what is never swept.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from shared.crosswalk.port import Entity, OlderThan, ScanPage, TableStore
from shared.errors import ConcurrencyConflict, TransientError
from shared.retention.cursors import Cursors
from shared.retention.policy import RetentionPolicy
from shared.retention.report import (
    STOP_MAX_DELETES,
    STOP_MISCONFIGURED,
    STOP_TIME_BUDGET,
    STOP_UNAVAILABLE,
    CleanUpReport,
    SweepResult,
)
from shared.retention.sweeps import SWEEPS, Sweep

DEFAULT_MAX_DELETES = 5000
"""Deletes per run: about a minute of single-entity deletes in Table storage."""
DEFAULT_TIME_BUDGET = dt.timedelta(minutes=2)
"""Time per run: well within the 5-minute function timeout, with room for the
last page (Table storage may scan up to ~5 s for one) and its deletes."""
PAGE_SIZE = 200
"""Rows per page: one page's deletes take a few seconds at most."""


@dataclass(frozen=True)
class CleanUp:
    """Remove what is older than ``policy`` allows, as of ``now``.

    ``problem``: a setting was malformed (``Settings.retention_problem``); the run
    then removes nothing and reports it. ``dry_run``: count what is due from the
    start of each table, within the same budget, and change nothing (no delete,
    no saved position).
    """

    now: dt.datetime
    policy: RetentionPolicy
    max_deletes: int = DEFAULT_MAX_DELETES
    time_budget: dt.timedelta = DEFAULT_TIME_BUDGET
    problem: str = ""
    dry_run: bool = False


@dataclass(frozen=True)
class RetentionPorts:
    store: TableStore
    seconds: Callable[[], float]  # a monotonic clock (time.monotonic)
    sweeps: tuple[Sweep, ...] = field(default=SWEEPS)


class _Budget:
    """What is left of the run: deletes and time."""

    def __init__(self, command: CleanUp, seconds: Callable[[], float]) -> None:
        self._seconds = seconds
        self._started = seconds()
        self._deadline = self._started + command.time_budget.total_seconds()
        self.deletes_left = command.max_deletes

    def spent(self) -> str:
        """Why the run must stop now, or "" while it may go on."""
        if self.deletes_left <= 0:
            return STOP_MAX_DELETES
        if self.out_of_time():
            return STOP_TIME_BUDGET
        return ""

    def out_of_time(self) -> bool:
        return self._seconds() >= self._deadline

    def elapsed_ms(self) -> int:
        return round((self._seconds() - self._started) * 1000)


def clean_up(command: CleanUp, ports: RetentionPorts) -> CleanUpReport:
    """Run the sweeps within the command's budget; returns what was removed.

    Never raises for the store: an unreachable store (``TransientError``) stops
    the run, which says so in its report; the next run resumes.
    """
    report = CleanUpReport(dry_run=command.dry_run)
    budget = _Budget(command, ports.seconds)
    if command.problem:
        report.stopped, report.problem = STOP_MISCONFIGURED, command.problem
        return report
    cursors = Cursors(ports.store)
    try:
        for sweep in ports.sweeps:
            result = report.sweeps[sweep.kind] = SweepResult()
            stopped = _run_sweep(sweep, command, ports.store, cursors, budget, result)
            if stopped:
                report.stopped = stopped
                break
    except TransientError as error:
        # The adapters' messages name the table and status, never keys or values.
        report.stopped, report.problem = STOP_UNAVAILABLE, f"{type(error).__name__}: {error}"
    report.elapsed_ms = budget.elapsed_ms()
    return report


def _run_sweep(
    sweep: Sweep,
    command: CleanUp,
    store: TableStore,
    cursors: Cursors,
    budget: _Budget,
    result: SweepResult,
) -> str:
    """Page through one sweep until its end or the budget; returns why the run
    must stop ("" when the sweep finished and the run goes on).

    Raises:
        TransientError: the store could not be reached (progress so far is saved).
    """
    selection = sweep.select(command.now, command.policy)
    if selection is None:
        result.kept = True
        return ""
    if command.dry_run:
        return _count_due(store, sweep.table, selection, budget, result)
    resume = cursors.load(sweep.kind)
    while True:
        stopped = budget.spent()
        if stopped:
            return stopped
        page = store.scan_older(sweep.table, selection, resume=resume, page_size=PAGE_SIZE)
        if not _delete_page(store, sweep.table, page, budget, result):
            # Stopped inside the page: resume at its start, whose rows that were
            # deleted are gone, so the next run reads only what is left of it.
            cursors.save(sweep.kind, resume, command.now)
            return STOP_MAX_DELETES
        cursors.save(sweep.kind, page.resume, command.now)
        if page.resume is None:
            result.finished = True
            return ""
        resume = page.resume


def _count_due(
    store: TableStore, table: str, selection: OlderThan, budget: _Budget, result: SweepResult
) -> str:
    """A dry run of one sweep: count its due rows from the start of the table,
    within the time budget; no delete, no saved position.

    Raises:
        TransientError: the store could not be reached.
    """
    resume: str | None = None
    while True:
        if budget.out_of_time():
            return STOP_TIME_BUDGET
        page = store.scan_older(table, selection, resume=resume, page_size=PAGE_SIZE)
        result.removed += len(page.entities)  # due, not removed: the report says so
        if page.resume is None:
            result.finished = True
            return ""
        resume = page.resume


def _delete_page(
    store: TableStore, table: str, page: ScanPage, budget: _Budget, result: SweepResult
) -> bool:
    """Delete the page's rows while the budget lasts; False if it ran out first.

    Raises:
        TransientError: the store could not be reached.
    """
    for entity in page.entities:
        if budget.deletes_left <= 0:
            return False
        _delete(store, table, entity, result)
        budget.deletes_left -= 1
    return True


def _delete(store: TableStore, table: str, entity: Entity, result: SweepResult) -> None:
    """Delete one row if it is still as it was read (a row that changed since is
    someone's current business: it is left alone, and looked at again next pass)."""
    try:
        store.delete(table, entity.partition_key, entity.row_key, entity.etag)
    except ConcurrencyConflict:
        result.changed += 1
        return
    result.removed += 1
