"""Write benchmark figures into docs/performance.md between markers.

Each benchmark owns one section, delimited by ``<!-- bench:NAME -->`` and
``<!-- /bench:NAME -->``; a run replaces its section and leaves the rest.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "performance.md"


def machine() -> str:
    return f"{os.cpu_count()} cores, Python {platform.python_version()}, {platform.machine()}"


def write_figures(name: str, lines: list[str], doc: Path = DOC) -> None:
    """Replace section ``name`` of ``doc`` with ``lines`` (appending it if absent)."""
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    stamp = f"_Measured {dt.date.today():%Y-%m-%d} on {machine()}._"
    block = "\n".join([start, stamp, "", *lines, end])
    text = doc.read_text() if doc.exists() else "# Performance\n"
    if start in text and end in text:
        before, rest = text.split(start, 1)
        after = rest.split(end, 1)[1]
        text = before + block + after
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    doc.write_text(text)
