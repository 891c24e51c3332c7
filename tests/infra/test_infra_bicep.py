"""Every Bicep file parses, and what main.bicep points at exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from infra_support import INFRA, MAIN_BICEP, bicep_files, parsed, relative


def test_infra_has_the_main_template_and_its_modules() -> None:
    names = {relative(path) for path in bicep_files()}
    assert "infra/main.bicep" in names
    assert len(names) >= 8, names


@pytest.mark.parametrize("path", bicep_files(), ids=relative)
def test_bicep_file_parses_with_pycep(path: Path) -> None:
    document = parsed(path)
    declared = [*document.get("parameters", {}), *document.get("resources", {})]
    assert declared, f"{relative(path)} declares no parameter and no resource"


def test_every_module_of_main_exists() -> None:
    modules = parsed(MAIN_BICEP)["modules"]
    assert modules
    for name, module in modules.items():
        target = INFRA / module["detail"]["path"]
        assert target.is_file(), f"module {name}: {target} does not exist"


@pytest.mark.parametrize("path", bicep_files(), ids=relative)
def test_loaded_files_exist(path: Path) -> None:
    for loaded in re.findall(r"loadTextContent\('([^']+)'\)", path.read_text(encoding="utf-8")):
        assert (path.parent / loaded).is_file(), f"{relative(path)} loads missing {loaded}"
