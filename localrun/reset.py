"""`make reset`: wipe the local world (queue, crosswalk, simulator's Millennium, secrets).

Refused while a local run holds the data folder: deleting its files under it
would leave it writing to deleted databases.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=".venv/bin/python -m localrun.reset",
        description="Delete the local run's data folder (LOCAL_DATA_DIR, default .local): "
        "the queue, the crosswalk, the simulator's Millennium and the dev secrets. The next "
        "make run starts empty, with Millennium and the crosswalk consistent.",
    )
    parser.add_argument("--json", action="store_true", help="print the outcome as JSON")
    args = parser.parse_args(argv)  # --help exits here, before anything is deleted
    from localrun.lock import running_run
    from shared.settings import read_settings

    data_dir = Path(read_settings().local_data_dir)
    holder = running_run(data_dir)
    if holder is not None:
        message = (
            f"Not reset: a local run (process {holder.get('pid', '?')}) uses {data_dir}. "
            "Stop it first (Ctrl-C in its terminal)."
        )
        _say(args.json, {"reset": False, "dataFolder": str(data_dir), "message": message})
        return 2
    existed = data_dir.exists()
    if existed:
        shutil.rmtree(data_dir)
    message = (
        f"Deleted {data_dir}." if existed else f"Nothing to delete: {data_dir} does not exist."
    )
    _say(args.json, {"reset": existed, "dataFolder": str(data_dir), "message": message})
    return 0


def _say(as_json: bool, outcome: dict[str, object]) -> None:
    print(json.dumps(outcome) if as_json else outcome["message"], file=sys.stdout)


if __name__ == "__main__":
    raise SystemExit(main())
