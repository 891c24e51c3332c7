"""The jump-out in a real headless browser: Debian's chromium, driven by Selenium
through Debian's chromium-driver.

A planner clicks the jump-out link on an Orbit-like page; the browser lands on
the simulated Millennium chart of the right patient; the same launch link used
again shows the 410 page. Nothing identifying is in any URL the browser saw.

Why Selenium with chromium-driver rather than Playwright: Debian builds chromium
and chromium-driver from one source at one version, so the driver always speaks
the browser's protocol; Playwright pins its own Chromium build and supports other
builds only on a best-effort basis (and ships a Node.js runtime of its own).
Passing the driver's path keeps Selenium Manager, which would download drivers,
out of the picture.

The test needs ``apt-get install -y chromium chromium-driver``; without them it
fails (never skips) and says so.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.builders import make_snapshot, synthetic_personnummer
from tests.e2e.chromium import WAIT_SECONDS, headless_chromium
from tests.e2e.launching import aim_launch_at_simulator, seed_patient
from tests.e2e.orbit_page import OrbitPage

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

pytestmark = pytest.mark.e2e

FAMILY, GIVEN = "Lindqvist", "Öjvind"
BOOKING = make_snapshot().booking_id


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    with headless_chromium(tmp_path / "chromium-profile") as driver:
        yield driver


def test_clicking_the_jump_out_link_opens_the_patient_and_a_reused_link_shows_410(
    local_run, browser, captured_logs, capfd
):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver = browser
    aim_launch_at_simulator(local_run)
    simulator = local_run.simulator.http_url
    value = synthetic_personnummer(9)
    person_id = seed_patient(simulator, value, FAMILY, GIVEN)
    orbit = OrbitPage(
        local_run.base_url, local_run.settings.launch_secrets_orbit[0], {BOOKING: value}
    )
    with orbit.serving():
        driver.get(f"{orbit.url}/orbit/bookings/{BOOKING}")
        driver.find_element(By.ID, "jumpout").click()
        WebDriverWait(driver, WAIT_SECONDS).until(
            lambda d: d.current_url.startswith(f"{simulator}/millennium/launch")
        )
        landed_url = driver.current_url
        assert driver.find_element(By.ID, "person-id").text == person_id
        assert driver.find_element(By.ID, "patient-name").text == f"{FAMILY}, {GIVEN}"

        (launch_url,) = orbit.launch_urls
        driver.get(launch_url)
        body = driver.find_element(By.TAG_NAME, "body").text
        assert "Länken gäller inte längre" in body
        assert "This link is no longer valid" in body
        assert driver.current_url == launch_url  # no redirect: the page is the answer

    out, err = capfd.readouterr()
    seen = "\n".join([landed_url, launch_url, *captured_logs.lines, out, err])
    leaked = [datum for datum in (value, FAMILY, GIVEN) if datum in seen]
    assert not leaked, f"{len(leaked)} personal data items in URLs or logs"
