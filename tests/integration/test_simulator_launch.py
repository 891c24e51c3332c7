"""The simulator's side of the jump-out: FHIR Encounter search and read, and the
landing pages a launch redirect opens."""

from __future__ import annotations

from shared.launch.fhir import HttpxFhir
from shared.launch.resolve import VISIT_NUMBER_SYSTEM
from shared.mllp.client import MllpClient, exchange
from simulator import SimulatorHandle
from simulator.samples import adt
from tests.builders import synthetic_personnummer

PNR = synthetic_personnummer(4)


def pre_admit(sim: SimulatorHandle, booking_id: str) -> tuple[str, str]:
    """An A05 for the booking; (person id, encounter id) Millennium assigned."""
    with MllpClient("127.0.0.1", sim.mllp_port, timeout=2) as mllp:
        assert exchange(mllp, adt("A05", f"{booking_id}A05", booking_id, PNR), "utf-8").code == "AA"
    encounter = sim.state.encounters[booking_id]
    return encounter.person_id, encounter.encounter_id


def test_encounter_search_by_visit_number_finds_the_encounter_and_its_person(sim, http):
    person_id, encounter_id = pre_admit(sim, "OB-7")
    for identifier in ("OB-7", f"{VISIT_NUMBER_SYSTEM}|OB-7"):
        bundle = http.get("/fhir/Encounter", params={"identifier": identifier}).json()
        assert bundle["total"] == 1
        resource = bundle["entry"][0]["resource"]
        assert resource["id"] == encounter_id
        assert resource["subject"] == {"reference": f"Patient/{person_id}"}
        assert {"system": VISIT_NUMBER_SYSTEM, "value": "OB-7"} in [
            {"system": i["system"], "value": i["value"]} for i in resource["identifier"]
        ]
    assert http.get("/fhir/Encounter", params={"identifier": "other|OB-7"}).json()["total"] == 0
    assert http.get("/fhir/Encounter", params={"identifier": "OB-8"}).json()["total"] == 0
    assert http.get("/fhir/Encounter").status_code == 400


def test_encounter_read_by_id(sim, http):
    _, encounter_id = pre_admit(sim, "OB-7")
    assert http.get(f"/fhir/Encounter/{encounter_id}").json()["id"] == encounter_id
    missing = http.get("/fhir/Encounter/E999999")
    assert missing.status_code == 404
    assert missing.json()["resourceType"] == "OperationOutcome"


def test_the_launch_fhir_adapter_reads_the_simulator(sim):
    person_id, encounter_id = pre_admit(sim, "OB-7")
    fhir = HttpxFhir(f"{sim.http_url}/fhir")
    assert fhir.person_ids("urn:oid:1.2.752.129.2.1.3.1", PNR) == [person_id]
    (found,) = fhir.encounters_with_identifier("OB-7")
    assert (found.encounter_id, found.person_id) == (encounter_id, person_id)
    assert fhir.encounter(encounter_id) == found
    assert fhir.encounter("E1") is None


def test_the_millennium_landing_page_shows_the_person_and_encounter(sim, http):
    person_id, encounter_id = pre_admit(sim, "OB-7")
    person = sim.state.persons[person_id]
    page = http.get("/millennium/launch", params={"person": person_id, "encounter": encounter_id})
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert f'<td id="person-id">{person_id}</td>' in page.text
    assert f'<td id="encounter-id">{encounter_id}</td>' in page.text
    assert person.family_name in page.text
    alone = http.get("/millennium/launch", params={"person": person_id, "encounter": ""})
    assert alone.status_code == 200 and "encounter-id" not in alone.text
    assert http.get("/millennium/launch", params={"person": "P0"}).status_code == 404
    other = http.get("/millennium/launch", params={"person": person_id, "encounter": "E0"})
    assert other.status_code == 404


def test_the_orbit_landing_page_shows_the_booking(sim, http):
    pre_admit(sim, "OB-7")
    page = http.get("/orbit/booking/OB-7")
    assert page.status_code == 200
    assert '<td id="booking-id">OB-7</td>' in page.text
    assert 'id="patient-name"' in page.text
    unknown = http.get("/orbit/booking/OB-unknown")
    assert unknown.status_code == 200 and 'id="patient-name"' not in unknown.text


def test_page_text_is_escaped(sim, http):
    page = http.get("/orbit/booking/%3Cscript%3E")
    assert "<script>" not in page.text and "&lt;script&gt;" in page.text
