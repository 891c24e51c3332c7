"""The deployed package holds runtime code only.

What Azure runs is ``function_app.py``, ``functions/``, ``shared/`` and
``profiles/`` (the pipelines' zip, .funcignore). Code only the tests, the docs or
the benchmarks use lives elsewhere (``docgen/``, ``tests/``, ``bench/``); none of it
may be imported by the deployed code, or the app would fail to import in Azure.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEPLOYED = [
    ROOT / "function_app.py",
    *(ROOT / "functions").rglob("*.py"),
    *(ROOT / "shared").rglob("*.py"),
]
NOT_DEPLOYED = ("docgen", "tests", "bench", "tools", "localrun", "simulator", "hl7apy", "hl7")


def _guarded(tree: ast.AST) -> set[int]:
    """Ids of import nodes inside ``try: … except ImportError``: optional local-only
    helpers, which cannot break the app's import in Azure."""
    guarded: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try) and any(
            isinstance(h.type, ast.Name) and h.type.id == "ImportError" for h in node.handlers
        ):
            guarded |= {id(inner) for stmt in node.body for inner in ast.walk(stmt)}
    return guarded


def _imports(path: Path) -> list[str]:
    names: list[str] = []
    tree = ast.parse(path.read_text())
    optional = _guarded(tree)
    for node in ast.walk(tree):
        if id(node) in optional:
            continue
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return names


@pytest.mark.parametrize("path", DEPLOYED, ids=lambda p: str(p.relative_to(ROOT)))
def test_deployed_code_imports_nothing_that_is_not_deployed(path: Path) -> None:
    wrong = [n for n in _imports(path) if n.split(".")[0] in NOT_DEPLOYED]
    assert wrong == [], f"{path.relative_to(ROOT)} imports {wrong}"


def test_the_runtime_requirements_hold_no_test_only_package() -> None:
    runtime = (ROOT / "requirements.txt").read_text().lower()
    assert "hl7apy" not in runtime and "hypothesis" not in runtime
