"""The simulator's holdings as a ``MillenniumView`` for the operator tools (local only).

Reads the holdings table of the simulator's journal in the data folder
(simulator/journal.py), so it works whether or not the local run is running.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from shared.ops.backend_info import is_local
from shared.ops.millennium_view import NOTHING_HELD, MillenniumHolds, MillenniumView
from shared.settings import Settings

SIMULATOR_STATE_FILE = "simulator.sqlite3"


def simulator_view(data_dir: Path) -> MillenniumView | None:
    """What the local simulator holds, or None when this data folder has no simulator
    state (``SIMULATOR=off``: Millennium is elsewhere and is not asked)."""
    from simulator.journal import read_holdings

    try:
        holdings = read_holdings(data_dir / SIMULATOR_STATE_FILE)
    except (FileNotFoundError, sqlite3.Error):
        return None

    def view(booking_id: str) -> MillenniumHolds | None:
        held = holdings.get(booking_id)
        if held is None:
            return NOTHING_HELD
        return MillenniumHolds(
            encounter=held.encounter, appointment=held.appointment, bed=held.pending_admit
        )

    return view


def local_view(settings: Settings) -> MillenniumView | None:
    """The view for an operator command: the simulator's, when the settings are a local
    run's with the simulator on; otherwise None."""
    if not is_local(settings) or not settings.simulator:
        return None
    return simulator_view(Path(settings.local_data_dir))
