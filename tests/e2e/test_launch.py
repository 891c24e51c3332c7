"""The jump-out through the local run: signed launch → code → one redirect to the
simulated Millennium (or Orbit) page; reuse, unknown codes and unsigned requests
refused; nothing identifying in URLs or logs."""

from __future__ import annotations

import httpx
import pytest

from shared.profiles import Mode
from tests.builders import make_patient, make_snapshot, synthetic_personnummer
from tests.e2e.harness import wait_converged
from tests.e2e.launching import aim_launch_at_simulator, launch_body, post_launch, seed_patient

pytestmark = pytest.mark.e2e

FAMILY, GIVEN = "Östergård", "Åsa"


def scan_for(data: list[str], captured_logs, capfd, *urls: str) -> None:
    out, err = capfd.readouterr()
    everything = "\n".join([*captured_logs.lines, out, err, *urls])
    leaked = [datum for datum in data if datum in everything]
    assert not leaked, f"{len(leaked)} personal data items in logs, output or URLs"
    assert captured_logs.lines, "no log line was captured: the scan would prove nothing"


def test_a_signed_launch_redirects_once_to_millennium_then_is_gone(local_run, captured_logs, capfd):
    aim_launch_at_simulator(local_run)
    simulator = local_run.simulator.http_url
    value = synthetic_personnummer(7)
    person_id = seed_patient(simulator, value, FAMILY, GIVEN)
    secret = local_run.settings.launch_secrets_orbit[0]

    created = post_launch(local_run.base_url, secret, launch_body(value))
    assert created.status_code == 201, created.text
    launch_url = created.json()["launchUrl"]
    assert launch_url.startswith(f"{local_run.base_url}/api/launch/")

    first = httpx.get(launch_url)
    assert first.status_code == 302
    location = first.headers["location"]
    assert location == f"{simulator}/millennium/launch?person={person_id}&encounter="
    assert first.headers["cache-control"] == "no-store"
    assert first.headers["referrer-policy"] == "no-referrer"
    landed = httpx.get(location)
    assert landed.status_code == 200
    assert f'<td id="person-id">{person_id}</td>' in landed.text

    again = httpx.get(launch_url)
    assert again.status_code == 410
    assert "Länken gäller inte längre" in again.text
    assert again.headers["content-type"].startswith("text/html")
    unknown = httpx.get(f"{local_run.base_url}/api/launch/{'x' * 43}")
    assert unknown.status_code == 410

    unsigned = post_launch(local_run.base_url, None, launch_body(value))
    assert unsigned.status_code == 401
    assert unsigned.headers["content-type"].startswith("application/problem+json")

    scan_for([value, FAMILY, GIVEN], captured_logs, capfd, launch_url, location)


@pytest.mark.parametrize(
    "host", ["127.0.0.1:27071@evil.example", "evil.example", "evil.example/x?", "[::1]:1"]
)
def test_the_launch_url_is_built_on_the_configured_base_url_never_the_host_header(local_run, host):
    aim_launch_at_simulator(local_run)
    value = synthetic_personnummer(8)
    seed_patient(local_run.simulator.http_url, value, FAMILY, GIVEN)
    secret = local_run.settings.launch_secrets_orbit[0]

    created = post_launch(local_run.base_url, secret, launch_body(value), host=host)

    assert created.status_code == 201, created.text
    launch_url = created.json()["launchUrl"]
    assert launch_url.startswith(f"{local_run.base_url}/api/launch/")
    assert "evil" not in launch_url and "@" not in launch_url


def test_an_integrated_booking_opens_its_encounter_and_millennium_finds_the_booking(
    local_run, orbit, captured_logs, capfd
):
    aim_launch_at_simulator(local_run)
    snapshot = make_snapshot(patient=make_patient(3, family_name=FAMILY, given_name=GIVEN))
    assert orbit.send(snapshot).status_code == 202
    assert wait_converged(local_run.simulator.http_url, [snapshot]) == []
    encounter = local_run.simulator.state.encounters[snapshot.booking_id]
    value = snapshot.patient.identifier.value

    body = launch_body(value, bookingId=snapshot.booking_id)
    created = post_launch(local_run.base_url, local_run.settings.launch_secrets_orbit[0], body)
    location = httpx.get(created.json()["launchUrl"]).headers["location"]
    assert location.endswith(f"person={encounter.person_id}&encounter={encounter.encounter_id}")
    assert f'<td id="encounter-id">{encounter.encounter_id}</td>' in httpx.get(location).text

    back = launch_body(value, target="orbit", encounterId=encounter.encounter_id)
    created = post_launch(local_run.base_url, local_run.settings.launch_secrets_millennium[0], back)
    assert created.status_code == 201, created.text
    location = httpx.get(created.json()["launchUrl"]).headers["location"]
    assert location == f"{local_run.simulator.http_url}/orbit/booking/{snapshot.booking_id}"
    scan_for([value, FAMILY, GIVEN], captured_logs, capfd, location)


def test_an_administration_switched_off_refuses_launches(local_run):
    aim_launch_at_simulator(local_run, SU=Mode.OFF)
    value = synthetic_personnummer(8)
    response = post_launch(
        local_run.base_url, local_run.settings.launch_secrets_orbit[0], launch_body(value)
    )
    assert response.status_code == 409
    assert value not in response.text
