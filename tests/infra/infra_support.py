"""Helpers shared by the infrastructure tests: paths, parsed Bicep, a small
``.bicepparam`` reader, and the checkov runner (in its own virtual environment).

checkov pins its own pycep-parser (0.5.1) and older ``packaging`` and
``python-dateutil`` than the project uses, so it cannot live in ``.venv``: it gets
``.venv-checkov``, created on first use from ``requirements-checkov.txt`` beside
this file. The project's own parse test uses pycep-parser 0.7.1 from ``.venv``;
every Bicep file must parse with both.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"
MAIN_BICEP = INFRA / "main.bicep"
PARAMS_DIR = INFRA / "params"
OPERATIONS_DOC = REPO / "docs" / "operations.md"
CHECKOV_VENV = REPO / ".venv-checkov"
CHECKOV_REQUIREMENTS = Path(__file__).with_name("requirements-checkov.txt")

ADMINISTRATIONS = ("SU", "SAS", "SKAS", "NU", "SIV")
"""Sahlgrenska, Södra Älvsborg, Skaraborg, NU-sjukvården, Sjukhusen i väster."""


def bicep_files() -> list[Path]:
    return sorted(INFRA.rglob("*.bicep"))


def relative(path: Path) -> str:
    return str(path.relative_to(REPO))


@cache
def _parser() -> Any:
    from pycep import BicepParser

    # cache=False: lark would otherwise write its grammar cache to the system temp dir.
    return BicepParser(cache=False)


@cache
def parsed(path: Path) -> dict[str, Any]:
    """The pycep JSON of one Bicep file.

    Raises:
        lark.exceptions.LarkError, ValueError: the file is not valid Bicep for pycep.
    """
    result: dict[str, Any] = _parser().parse(file_path=path)
    return result


def variable(path: Path, name: str) -> Any:
    """The literal value of ``var name = …`` in a Bicep file (KeyError if absent)."""
    return parsed(path)["variables"][name]["value"]


def resources_of_type(path: Path, resource_type: str) -> dict[str, dict[str, Any]]:
    """Resources of one type in a Bicep file, by symbolic name."""
    return {
        name: resource
        for name, resource in parsed(path)["resources"].items()
        if resource["type"] == resource_type
    }


# --- .bicepparam ---------------------------------------------------------------


@dataclass(frozen=True)
class FromEnvironment:
    """A ``readEnvironmentVariable('NAME')`` value: supplied by the pipeline."""

    name: str


_PARAM_LINE = re.compile(r"^param (\w+) = (.*)$")
_USING_LINE = re.compile(r"^using '([^']+)'$")
_ENV_CALL = re.compile(r"^readEnvironmentVariable\('(\w+)'(?:, '[^']*')?\)$")


def _scalar(text: str) -> Any:
    """One literal: 'string', integer, true/false or readEnvironmentVariable('X').

    Raises:
        ValueError: anything else (keep parameter files to plain literals).
    """
    if text.startswith("'") and text.endswith("'"):
        return text[1:-1].replace("\\'", "'")
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    if text in ("true", "false"):
        return text == "true"
    match = _ENV_CALL.match(text)
    if match:
        return FromEnvironment(match.group(1))
    raise ValueError(f"unsupported value in a .bicepparam file: {text!r}")


@dataclass(frozen=True)
class BicepParams:
    using: str
    values: dict[str, Any]


def read_bicepparam(path: Path) -> BicepParams:
    """The ``using`` target and the parameter values of a ``.bicepparam`` file.

    Raises:
        ValueError: a line this reader does not understand (names the file and line).
    """
    using = ""
    values: dict[str, Any] = {}
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if not line or line.startswith("//"):
            continue
        if match := _USING_LINE.match(line):
            using = match.group(1)
        elif match := _PARAM_LINE.match(line):
            name, text = match.groups()
            if text == "[":
                items = []
                while lines[index] != "]":
                    items.append(_scalar(lines[index]))
                    index += 1
                index += 1
                values[name] = items
            else:
                values[name] = _scalar(text)
        else:
            raise ValueError(f"{relative(path)}:{index}: cannot read {line!r}")
    return BicepParams(using=using, values=values)


# --- checkov -------------------------------------------------------------------


@dataclass(frozen=True)
class CheckovRun:
    summary: dict[str, Any]
    failed: list[dict[str, Any]]
    skipped: list[dict[str, Any]]
    stderr: str


def checkov_executable() -> Path:
    """checkov in ``.venv-checkov``, installed from the pinned requirements if missing.

    Raises:
        subprocess.CalledProcessError: the virtual environment could not be built.
    """
    executable = CHECKOV_VENV / "bin" / "checkov"
    if not executable.exists():
        subprocess.run([sys.executable, "-m", "venv", str(CHECKOV_VENV)], check=True)
        pip = CHECKOV_VENV / "bin" / "pip"
        subprocess.run(
            [
                str(pip),
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-r",
                str(CHECKOV_REQUIREMENTS),
            ],
            check=True,
        )
    return executable


def run_checkov() -> CheckovRun:
    """Run checkov over ``infra/`` without network access and read its JSON report.

    TMPDIR points into ``.venv-checkov``: the Bicep grammar cache checkov's parser
    writes stays inside the repository (ignored by git) and is reused by the next
    run, which saves some 15 seconds.

    Raises:
        AssertionError: checkov crashed or wrote no JSON report.
    """
    executable = checkov_executable()
    temp_dir = CHECKOV_VENV / "tmp"
    temp_dir.mkdir(exist_ok=True)
    environment = {
        **os.environ,
        "TMPDIR": str(temp_dir),
        "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true",
        "BC_SKIP_MAPPING": "TRUE",
    }
    completed = subprocess.run(
        [str(executable), "--framework", "bicep", "--skip-download", "-d", "infra/", "-o", "json"],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    # Exit code 1 means "failed checks"; anything else is a crash.
    assert completed.returncode in (0, 1), completed.stderr[-2000:]
    report = json.loads(completed.stdout)
    results = report.get("results", {})
    return CheckovRun(
        summary=report["summary"],
        failed=results.get("failed_checks", []),
        skipped=results.get("skipped_checks", []),
        stderr=completed.stderr,
    )
