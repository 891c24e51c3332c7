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


def simulator_view(data_dir: Path, *, all_at_once: bool = True) -> MillenniumView | None:
    """What the local simulator holds, or None when this data folder has no simulator
    state (``SIMULATOR=off``: Millennium is elsewhere and is not asked).

    ``all_at_once`` reads every holding now (the go-live asks about every booking);
    otherwise each call reads its own alias's row (a page about one booking).
    """
    from simulator.journal import Holding, read_holdings

    path = data_dir / SIMULATOR_STATE_FILE
    try:
        everything = read_holdings(path) if all_at_once else read_holdings(path, [])
    except (FileNotFoundError, sqlite3.Error):
        return None

    def held(alias: str) -> Holding | None:
        if all_at_once:
            return everything.get(alias)
        try:
            return read_holdings(path, [alias]).get(alias)
        except (FileNotFoundError, sqlite3.Error):
            return None

    def view(alias: str) -> MillenniumHolds | None:
        holding = held(alias)
        if holding is None:
            return NOTHING_HELD
        return MillenniumHolds(
            encounter=holding.encounter, appointment=holding.appointment, bed=holding.pending_admit
        )

    return view


def local_view(settings: Settings, *, all_at_once: bool = True) -> MillenniumView | None:
    """The view for an operator command: the simulator's, when the settings are a local
    run's with the simulator on; otherwise None."""
    if not is_local(settings) or not settings.simulator:
        return None
    return simulator_view(Path(settings.local_data_dir), all_at_once=all_at_once)
