"""Notice when a booking has converged, and report its sync lag once per version.

Converged means: every target holds exactly what the snapshot asks for (the
confirmed facts equal the desired facts) and no send is in doubt. The lag runs
from the webhook's acceptance of the snapshot to that moment: the figure the
sync-lag alert watches. Several workers may notice at the same time (the
appointment and the bed booking often confirm together); a conditional insert
in the crosswalk lets exactly one of them report it.
"""

from __future__ import annotations

from collections.abc import Mapping

from shared import telemetry
from shared.crosswalk.repository import StoredSnapshot, TargetState
from shared.sync.ports import SyncPorts
from shared.targets import Target, desired_facts


def is_converged(stored: StoredSnapshot, states: Mapping[Target, TargetState]) -> bool:
    """Whether every target holds what ``stored``'s snapshot asks for."""
    return all(
        states[target].intent is None
        and states[target].confirmed
        == desired_facts(stored.snapshot, target, stored.patient_generation)
        for target in Target
    )


def note_if_converged(
    ports: SyncPorts, stored: StoredSnapshot, states: Mapping[Target, TargetState]
) -> None:
    """Record and report the sync lag if the booking just converged for this version.

    Raises:
        TransientError: the crosswalk is unreachable.
    """
    if not is_converged(stored, states):
        return
    now = ports.clock()
    lag = now - stored.received_at
    lag_ms = max(0, round(lag.total_seconds() * 1000))
    if ports.crosswalk.mark_converged(stored.snapshot.booking_id, stored.version, now, lag_ms):
        telemetry.sync_converged(stored.version, lag)
