"""Debian's headless chromium through Selenium and chromium-driver, for the page tests.

The same set-up as tests/e2e/test_launch_browser.py (see its docstring for why
Selenium with Debian's driver rather than Playwright). Without the packages the
tests fail (never skip) and say how to install them.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WAIT_SECONDS = 20


def chromium_args(profile_dir: Path) -> list[str]:
    return [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1280,900",
        f"--user-data-dir={profile_dir}",
        # Belt and braces for "loopback only": no name resolves except loopback.
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    ]


@contextmanager
def headless_chromium(profile_dir: Path) -> Iterator[WebDriver]:
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not shutil.which(path)]
    if missing:
        pytest.fail(
            f"{' and '.join(missing)} not found: the browser tests need Debian's chromium "
            "and chromium-driver. Install them with `apt-get update && apt-get install -y "
            "chromium chromium-driver` (make test does).",
            pytrace=False,
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in chromium_args(profile_dir):
        options.add_argument(argument)
    # The driver's DEBUG lines echo page text; they are the test reading the page,
    # not the app logging, so they stay out of the personal-data scan.
    quiet = {name: logging.getLogger(name) for name in ("selenium", "urllib3")}
    levels = {name: logger.level for name, logger in quiet.items()}
    for logger in quiet.values():
        logger.setLevel(logging.WARNING)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(WAIT_SECONDS)
    try:
        yield driver
    finally:
        driver.quit()
        for name, logger in quiet.items():
            logger.setLevel(levels[name])
