"""What one clean-up run did: counts per kind, as a log line and as metrics.

No personal data and no keys: kinds, counts, why the run stopped, how long it took.
The rows removed hold booking ids, HSA-ids and Millennium ids; none of it is named.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from shared import telemetry
from shared.retention.sweeps import Kind

log = logging.getLogger("orbitsync.retention")

STOP_DONE = "done"  # every sweep reached the end of its table
STOP_MAX_DELETES = "max-deletes"
STOP_TIME_BUDGET = "time-budget"
STOP_UNAVAILABLE = "store-unavailable"
STOP_MISCONFIGURED = "misconfigured"


@dataclass
class SweepResult:
    removed: int = 0
    changed: int = 0  # rows that changed after they were read: left for the next run
    finished: bool = False  # reached the end of the table in this run
    kept: bool = False  # not swept at all: its age is off


@dataclass
class CleanUpReport:
    sweeps: dict[Kind, SweepResult] = field(default_factory=dict)
    stopped: str = STOP_DONE
    elapsed_ms: int = 0
    problem: str = ""  # why nothing ran (a setting), or the store's error
    dry_run: bool = False  # counts are rows due, nothing was removed

    @property
    def removed(self) -> int:
        return sum(result.removed for result in self.sweeps.values())

    def as_json(self) -> dict[str, object]:
        return {
            "dryRun": self.dry_run,
            "stopped": self.stopped,
            "problem": self.problem,
            "elapsedMs": self.elapsed_ms,
            "removed": self.removed,
            "sweeps": {
                kind.value: {
                    "removed": result.removed,
                    "changed": result.changed,
                    "finished": result.finished,
                    "kept": result.kept,
                }
                for kind, result in self.sweeps.items()
            },
        }


def emit(report: CleanUpReport) -> None:
    """One log line for the run and one metric value per kind removed (none for a
    dry run, which removed nothing)."""
    for kind, result in report.sweeps.items():
        if result.removed and not report.dry_run:
            telemetry.retention_removed(kind.value, result.removed)
    counts = " ".join(f"{kind.value}={_state(result)}" for kind, result in report.sweeps.items())
    level = (
        logging.WARNING
        if report.stopped in (STOP_UNAVAILABLE, STOP_MISCONFIGURED)
        else logging.INFO
    )
    log.log(
        level,
        "retention %s=%s stopped=%s elapsed_ms=%s %s%s",
        "dry run due" if report.dry_run else "clean-up removed",
        report.removed,
        report.stopped,
        report.elapsed_ms,
        counts,
        f" problem={report.problem}" if report.problem else "",
        extra={
            "dry_run": report.dry_run,
            "removed": report.removed,
            "stopped": report.stopped,
            "elapsed_ms": report.elapsed_ms,
            **{kind.value.replace("-", "_"): r.removed for kind, r in report.sweeps.items()},
        },
    )


def _state(result: SweepResult) -> str:
    if result.kept:
        return "kept"
    return f"{result.removed}{'' if result.finished else '+'}"
