"""The operators' message browser in real headless chromium (issue 12, "Done when").

An operator signs in with the operators' key, finds the dead-lettered booking
(a ward the profile does not map), sees its timeline, is refused a resubmit
while the cause is still there, fixes the profile file, resubmits once (no
restart) and watches the booking converge. No page shows personal data until
the operator asks for the patient, and that request is in the audit trail.

``UPDATE_SCREENSHOTS=1`` copies the screenshots into docs/images/.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from localrun.app import LocalRun, local_settings
from shared.crosswalk.repository import Crosswalk
from shared.deadletters.embedded import EmbeddedDeadLetters
from shared.queue.embedded import EmbeddedQueue
from shared.webhook.signature import new_secret
from tests.builders import PROFILES_DIR, make_patient, make_snapshot
from tests.e2e.chromium import WAIT_SECONDS, headless_chromium
from tests.e2e.conftest import FAST_RETRIES
from tests.e2e.harness import Orbit, wait_converged

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

pytestmark = pytest.mark.e2e

KEY = "ops-key-for-the-browser-test"
UNMAPPED_WARD = "SE2321000131-E000000000299"
BOOKING = "OB-2026-770001"
DOCS_IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"


@dataclasses.dataclass
class World:
    run: LocalRun
    profiles: Path
    screenshots: Path


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    profiles = tmp_path / "profiles"
    shutil.copytree(PROFILES_DIR, profiles)
    monkeypatch.setenv("ADMINISTRATION_PROFILES", str(profiles))
    monkeypatch.setenv("OPS_ADMIN_SECRETS", KEY)
    monkeypatch.setenv("ORBIT_WEBHOOK_SECRETS", new_secret())
    monkeypatch.setenv("LOCAL_DATA_DIR", str(tmp_path / "data"))
    settings = dataclasses.replace(
        local_settings(), host_port=0, mllp_port=0, mllp_timeout_seconds=0.5
    )
    run = LocalRun(settings, simulator_http_port=0, retry=FAST_RETRIES).start()
    shots = tmp_path / "screenshots"
    shots.mkdir()
    yield World(run, profiles, shots)
    run.stop()
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
        for shot in shots.glob("*.png"):
            shutil.copy(shot, DOCS_IMAGES / shot.name)


@pytest.fixture
def driver(tmp_path: Path) -> Iterator[WebDriver]:
    with headless_chromium(tmp_path / "chromium-profile") as browser:
        yield browser


def parked(run: LocalRun) -> list[str]:
    assert run.services is not None and isinstance(run.services.bus, EmbeddedQueue)
    letters = EmbeddedDeadLetters(run.services.bus).letters()
    return [x.id for x in letters if x.booking_id == BOOKING]


def test_find_a_dead_letter_resubmit_after_the_fix_and_see_it_converge(
    world, driver, captured_logs, capfd
):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    run = world.run
    orbit = Orbit(run.base_url, run.settings.orbit_webhook_secrets[0])
    snapshot = make_snapshot(
        booking_id=BOOKING,
        patient=make_patient(31, family_name="Bäckström", given_name="Ylva"),
        admission={"type": "inpatient", "ward": {"hsaId": UNMAPPED_WARD}, "expectedNights": 2},
    )
    assert orbit.send(snapshot).status_code == 202
    waiting = WebDriverWait(driver, WAIT_SECONDS, poll_frequency=0.1)
    waiting.until(lambda _: parked(run))
    [letter] = parked(run)
    pages: list[str] = []

    def seen() -> None:
        pages.append(driver.page_source)

    browser_url = f"{run.base_url}/api/ops/browser"
    driver.get(browser_url)
    seen()
    assert driver.find_element(By.ID, "sign-in")  # no session: the sign-in form
    driver.find_element(By.ID, "key").send_keys(KEY)
    driver.find_element(By.ID, "sign-in").click()
    waiting.until(lambda d: d.find_elements(By.ID, "count-dead-lettered"))
    assert driver.find_element(By.ID, "count-dead-lettered").text == "dead-lettered: 1"
    driver.find_element(By.ID, "count-dead-lettered").click()
    waiting.until(lambda d: d.find_elements(By.CSS_SELECTOR, f'tr[data-booking="{BOOKING}"]'))
    seen()
    driver.save_screenshot(str(world.screenshots / "browser-overview.png"))

    driver.find_element(By.LINK_TEXT, BOOKING).click()
    waiting.until(lambda d: d.find_elements(By.ID, "booking-status"))
    assert driver.find_element(By.ID, "booking-status").text == "dead-lettered"
    assert "unmapped-location" in driver.find_element(By.ID, "timeline").text
    seen()
    driver.save_screenshot(str(world.screenshots / "browser-booking-dead-lettered.png"))

    # Resubmitting before the fix is refused, and the letter stays parked.
    driver.find_element(By.ID, f"resubmit-{letter}").click()
    waiting.until(lambda d: d.find_elements(By.ID, "problem"))
    assert (
        f"HSA-id {UNMAPPED_WARD} is still not mapped" in driver.find_element(By.ID, "problem").text
    )
    seen()
    assert parked(run) == [letter]

    # The fix: the ward goes into the profile file; the running app rereads it.
    su = world.profiles / "SU.toml"
    su.write_text(su.read_text() + f'\n[locations."{UNMAPPED_WARD}"]\npoint_of_care = "SU-NY"\n')
    driver.get(f"{browser_url}/bookings/{BOOKING}")
    driver.find_element(By.ID, f"resubmit-{letter}").click()
    waiting.until(lambda d: d.find_elements(By.ID, "notice"))
    assert "Resubmitted" in driver.find_element(By.ID, "notice").text

    def converged(d: WebDriver) -> bool:
        d.refresh()
        return bool(d.find_element(By.ID, "booking-status").text == "converged")

    WebDriverWait(driver, WAIT_SECONDS, poll_frequency=0.2).until(converged)
    seen()
    driver.save_screenshot(str(world.screenshots / "browser-booking-converged.png"))
    assert wait_converged(run.simulator.http_url, [snapshot]) == []
    assert parked(run) == []

    # The simulator's view of what Millennium holds: ids, places, times.
    driver.get(f"{run.simulator.http_url}/?visit={BOOKING}")
    assert driver.find_element(By.CSS_SELECTOR, f'tr[data-visit="{BOOKING}"]')
    seen()
    driver.save_screenshot(str(world.screenshots / "simulator-holdings.png"))

    personal = {orbit_value for orbit_value in orbit.personal_data}
    leaked = sorted(datum for datum in personal if any(datum in page for page in pages))
    assert not leaked, f"{len(leaked)} personal data items on pages nobody asked to see"

    # Only now, asked for explicitly: the patient, and the request is audited.
    driver.get(f"{browser_url}/bookings/{BOOKING}")
    driver.find_element(By.ID, "show-patient").click()
    waiting.until(lambda d: d.find_elements(By.ID, "patient"))
    assert "Bäckström, Ylva" in driver.find_element(By.ID, "patient").text
    assert run.services is not None
    audit = Crosswalk(run.services.store).audit_trail(BOOKING)
    assert [row.get("detail") for row in audit if row.get("kind") == "patient-shown"] == [
        "ops-browser"
    ]
    out, err = capfd.readouterr()
    logged = "\n".join([*captured_logs.lines, out, err])
    assert not [datum for datum in personal if datum in logged]


def test_without_the_key_every_page_is_the_sign_in_or_refused(world):
    base = f"{world.run.base_url}/api/ops/browser"
    assert httpx.get(base).status_code == 401
    assert httpx.get(f"{base}/bookings/{BOOKING}").status_code == 401
    wrong = httpx.post(f"{base}/login", data={"key": "not-the-key"})
    assert wrong.status_code == 401 and "set-cookie" not in wrong.headers
    signed = httpx.post(f"{base}/login", data={"key": KEY})
    assert signed.status_code == 303
    cookie = signed.headers["set-cookie"]
    assert KEY not in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    session = dict(part.split("=", 1) for part in [cookie.split(";")[0]])
    # A form without the page's token (another site posting it) is refused.
    forged = httpx.post(f"{base}/bookings/{BOOKING}/patient", cookies=session, data={})
    assert forged.status_code == 403
    page = httpx.get(base, cookies=session)
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert "default-src 'none'" in page.headers["content-security-policy"]
