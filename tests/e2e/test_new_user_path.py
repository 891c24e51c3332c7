"""A new user's path through the local run, end to end on random ports (issue 12).

The commands as the README gives them, each a real process: ``python -m
localrun`` (all ports 0), ``localrun.demo``, a restart and the demo again (it
converges: the simulator's Millennium is durable), a second run on the same
data folder (refused), the jump-out followed in headless chromium to the
simulator on its random port, an unmapped ward fixed in the profile file and
resubmitted once with ``tools.ops`` (no restart), the go-live of the jump-out
administration rehearsed, and ``SIMULATOR_RESET`` reported by the trace and the
go-live instead of "in sync". Nothing personal appears in any output.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from localrun.demo import shadow_day
from localrun.hospital_day import FAMILY_NAMES, GIVEN_NAMES, hospital_day
from shared.booking import BookingSnapshot
from tests.builders import PROFILES_DIR, make_patient, make_snapshot
from tests.e2e.chromium import WAIT_SECONDS, headless_chromium
from tests.e2e.harness import Orbit, wait_converged
from tests.e2e.orbit_page import OrbitPage

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
BOOKINGS = 40
UNMAPPED_WARD = "SE2321000131-E000000000298"
FIXED_BOOKING = "OB-2026-880001"


class LocalWorld:
    """The data folder, profiles and environment of one new user's local run."""

    def __init__(self, tmp_path: Path) -> None:
        self.data = tmp_path / "data"
        self.profiles = tmp_path / "profiles"
        shutil.copytree(PROFILES_DIR, self.profiles)
        self.log = tmp_path / "localrun.log"
        self.outputs: list[str] = []
        self.env = {
            **os.environ,
            "LOCAL_DATA_DIR": str(self.data),
            "ADMINISTRATION_PROFILES": str(self.profiles),
            "HOST_PORT": "0",
            "MILLENNIUM_MLLP_PORT": "0",
            "SIMULATOR_HTTP_PORT": "0",
            "MILLENNIUM_MLLP_TIMEOUT_SECONDS": "0.5",
        }
        for name in ("ORBIT_WEBHOOK_SECRETS", "LAUNCH_SECRETS_ORBIT", "SIMULATOR_RESET"):
            self.env.pop(name, None)
        self.process: subprocess.Popen[str] | None = None
        self.details: dict[str, Any] = {}

    def start(self, **extra_env: str) -> dict[str, Any]:
        """``python -m localrun --json``; its start-up details once it listens.

        Its output goes to a file, not a pipe: a pipe nobody reads fills up and
        the run's next log line blocks it."""
        offset = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("a") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "localrun", "--json"],
                cwd=ROOT,
                env={**self.env, **extra_env},
                stdout=log,
                stderr=subprocess.STDOUT,
                text=True,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and self.process.poll() is None:
            with self.log.open() as log:
                log.seek(offset)
                for line in log:
                    if line.startswith("{"):
                        self.details = json.loads(line)
                        return self.details
            time.sleep(0.1)
        raise AssertionError(f"the local run did not start; see {self.log}")

    def stop(self, how: signal.Signals = signal.SIGTERM) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(how)
            self.process.wait(timeout=30)
        self.process = None

    def command(self, *argv: str, expect: int | None = 0, **extra_env: str) -> str:
        """Run ``python -m <argv>``; its stdout and stderr together."""
        out, err = self.run(*argv, expect=expect, **extra_env)
        return out + err

    def json(self, *argv: str) -> Any:
        """Run a command with ``--json``; its stdout parsed."""
        out, _ = self.run(*argv, "--json")
        return json.loads(out)

    def run(self, *argv: str, expect: int | None = 0, **extra_env: str) -> tuple[str, str]:
        done = subprocess.run(
            [sys.executable, "-m", *argv],
            cwd=ROOT,
            env={**self.env, **extra_env},
            capture_output=True,
            text=True,
            timeout=240,
        )
        self.outputs += [done.stdout, done.stderr]
        if expect is not None:
            assert done.returncode == expect, f"{argv}: {done.stdout}\n{done.stderr}"
        return done.stdout, done.stderr

    def secrets(self) -> dict[str, str]:
        return dict(json.loads((self.data / "dev-secrets.json").read_text()))

    @property
    def simulator(self) -> str:
        return str(self.details["simulator"])


@pytest.fixture
def world(tmp_path: Path) -> Iterator[LocalWorld]:
    local = LocalWorld(tmp_path)
    yield local
    local.stop()


def demo(world: LocalWorld) -> dict[str, Any]:
    return dict(world.json("localrun.demo", "--bookings", str(BOOKINGS)))


def the_days_patients() -> dict[str, str]:
    """Booking id → identity number of the demo's day (the demo replays it exactly)."""
    patients = {}
    for event in hospital_day(BOOKINGS):
        data = event["data"]
        patients[data["bookingId"]] = data["patient"]["identifier"]["value"]
    return patients


def test_a_new_users_path_on_random_ports(world: LocalWorld, tmp_path: Path) -> None:
    first = world.start()
    assert first["baseUrl"] != "http://127.0.0.1:7071" and first["simulator"]
    refused = world.command("localrun", expect=1)
    assert f"Another local run uses the data folder {world.data}" in refused
    assert f"process {world.process.pid if world.process else '?'}" in refused

    result = demo(world)
    assert result["converged"] is True and result["bookings"] == BOOKINGS
    assert result["shadow"] == {"SKAS": 20}

    world.stop()
    second = world.start()
    assert second["simulator"] != first["simulator"] or second["baseUrl"] != first["baseUrl"]
    again = demo(world)
    assert again["converged"] is True, again["differing"]
    assert again["already_known"] == BOOKINGS + 20
    assert again["duplicate_creates"] == 0

    _jump_out_in_the_browser(world, tmp_path)
    _fix_an_unmapped_ward_and_resubmit_once(world)
    _rehearse_the_go_live_of_the_jumpout_administration(world)
    _report_a_simulator_reset(world)

    everything = "\n".join([*world.outputs, world.log.read_text()])
    personal = set(the_days_patients().values()) | {"Tallqvist", "Ingegerd"}
    personal |= set(FAMILY_NAMES) | set(GIVEN_NAMES)
    leaked = sorted(datum for datum in personal if datum in everything)
    assert not leaked, f"{len(leaked)} personal data items in the commands' output"


def _jump_out_in_the_browser(world: LocalWorld, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    booking, value = next(iter(the_days_patients().items()))
    page = OrbitPage(world.details["baseUrl"], world.secrets()["LAUNCH_SECRETS_ORBIT"], {})
    page.patients[booking] = value
    with headless_chromium(tmp_path / "chromium") as driver, page.serving():
        driver.get(f"{page.url}/orbit/bookings/{booking}")
        driver.find_element(By.ID, "jumpout").click()
        WebDriverWait(driver, WAIT_SECONDS).until(
            lambda d: d.current_url.startswith(f"{world.simulator}/millennium/launch")
        )
        assert driver.find_element(By.ID, "person-id").text.startswith("P")
        assert driver.find_element(By.ID, "visit-number").text == booking


def _fix_an_unmapped_ward_and_resubmit_once(world: LocalWorld) -> None:
    orbit = Orbit(world.details["baseUrl"], world.secrets()["ORBIT_WEBHOOK_SECRETS"])
    snapshot = make_snapshot(
        booking_id=FIXED_BOOKING,
        patient=make_patient(41, family_name="Tallqvist", given_name="Ingegerd"),
        admission={"type": "inpatient", "ward": {"hsaId": UNMAPPED_WARD}, "expectedNights": 1},
    )
    assert orbit.send(snapshot).status_code == 202
    letters = _wait_for_letters(world)
    [letter] = [x for x in letters if x["bookingId"] == FIXED_BOOKING]
    assert UNMAPPED_WARD in letter["description"]
    su = world.profiles / "SU.toml"
    su.write_text(su.read_text() + f'\n[locations."{UNMAPPED_WARD}"]\npoint_of_care = "SU-NY"\n')
    out = world.command("tools.ops", "deadletters", "resubmit", letter["id"])
    assert "1 of 1 resubmitted" in out
    assert wait_converged(world.simulator, [snapshot], timeout=30) == []
    trace = world.json("tools.ops", "booking", FIXED_BOOKING)
    assert trace["inSync"] is True and trace["millennium"]["agrees"] is True
    assert len([a for a in trace["operatorActions"] if "resubmitted" in a["kind"]]) == 1


def _wait_for_letters(world: LocalWorld) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        letters = world.json("tools.ops", "deadletters", "list")
        if letters:
            return list(letters)
        time.sleep(0.2)
    raise AssertionError("the booking with the unmapped ward was never dead-lettered")


def _rehearse_the_go_live_of_the_jumpout_administration(world: LocalWorld) -> None:
    refused = world.command("shared.golive", "skas", "--dry-run", expect=2)
    assert "mode jumpout" in refused
    skas = world.profiles / "SKAS.toml"
    skas.write_text(skas.read_text().replace('mode = "jumpout"', 'mode = "integrated"'))
    dry = world.json("shared.golive", "skas", "--dry-run")
    assert dry["administration"] == "SKAS" and dry["kicked"] == 0
    future = len(dry["bookings"])
    live = world.command("shared.golive", "SKAS")
    assert f"kicked: {future} bookings" in live
    assert future > 0, "the rehearsal had nothing to bring into Millennium"
    shadowed = {}
    for event in shadow_day("SKAS", 0, 20):
        snapshot = BookingSnapshot.model_validate(event["data"])
        shadowed[snapshot.booking_id] = snapshot
    assert wait_converged(world.simulator, shadowed.values(), timeout=60) == []


def _report_a_simulator_reset(world: LocalWorld) -> None:
    # Killed, so the simulator's WAL file is left behind: the reset must not replay it.
    world.stop(signal.SIGKILL)
    world.start(SIMULATOR_RESET="on")
    counts = httpx.get(f"{world.simulator}/state").json()["counts"]
    assert counts["encounters"] == 0
    booking = next(iter(the_days_patients()))
    trace = world.command("tools.ops", "booking", booking)
    assert "in sync with Millennium: NO" in trace
    assert "MILLENNIUM DISAGREES: encounter: confirmed in the crosswalk" in trace
    report = world.command("shared.golive", "SU", "--dry-run")
    assert "NOT in sync although the crosswalk says so" in report
    refused = world.command("localrun.reset", expect=2)
    assert "Stop it first" in refused
    world.stop()
    assert "Deleted" in world.command("localrun.reset")
    assert not world.data.exists()
