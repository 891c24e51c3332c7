"""Benchmark: cold `import function_app` time in a fresh interpreter.

    python -m bench.import_time [--runs 7] [--write]

Each run starts a new Python process with no app settings and times the import
alone (interpreter start-up excluded). Target (brief §9): ≤ 1 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

from bench.report import write_figures

ROOT = Path(__file__).resolve().parents[1]
PROBE = "import time; t = time.perf_counter(); import function_app; print(time.perf_counter() - t)"


def import_seconds() -> float:
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(out.stdout.strip())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="cold import time of function_app")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args(argv)
    times = sorted(import_seconds() for _ in range(args.runs))
    line = (
        f"- Cold `import function_app` ({args.runs} fresh interpreters): median "
        f"{statistics.median(times) * 1000:.0f} ms, worst {times[-1] * 1000:.0f} ms"
    )
    print(line)
    if args.write:
        write_figures("import", [line])


if __name__ == "__main__":
    main()
