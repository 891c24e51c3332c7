"""The simulator's HTTP side: inspection, fault control, FHIR Patient search, standalone run."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from shared.errors import ConnectionFailed
from shared.identity import ASSIGNING_AUTHORITY_OID, IdentifierSystem
from shared.mllp.client import MllpClient, exchange
from simulator import SimulatorHandle
from simulator.samples import adt, siu
from tests.builders import synthetic_personnummer, synthetic_samordningsnummer

PNR = synthetic_personnummer(3)
OID = ASSIGNING_AUTHORITY_OID[IdentifierSystem.PERSONNUMMER]
ROOT = Path(__file__).resolve().parents[2]


def book(sim: SimulatorHandle, booking_id: str = "OB-1", identifier: str = PNR) -> None:
    """Encounter, appointment and pending admit for one booking, all AA."""
    with MllpClient("127.0.0.1", sim.mllp_port, timeout=2) as mllp:
        for text in (
            adt("A05", f"{booking_id}A05", booking_id, identifier),
            siu("S12", f"{booking_id}S12", booking_id, identifier),
            adt("A14", f"{booking_id}A14", booking_id, identifier),
        ):
            assert exchange(mllp, text, "utf-8").code == "AA"


def test_state_lists_records_keyed_by_visit_number(sim, http):
    book(sim, "OB-1")
    book(sim, "OB-2")
    state = http.get("/state").json()
    counts = {"persons": 1, "encounters": 2, "appointments": 2, "pending_admits": 2}
    assert state["counts"] == counts
    assert set(state["encounters"]) == set(state["appointments"]) == {"OB-1", "OB-2"}
    assert set(state["pending_admits"]) == {"OB-1", "OB-2"}
    assert state["encounters"]["OB-1"]["encounter_id"].startswith("E")
    assert state["appointments"]["OB-2"]["placer_id"] == "OB-2"


def test_one_booking_shows_its_records_person_and_messages(sim, http):
    book(sim, "OB-2026.7_x")
    booking = http.get("/state/bookings/OB-2026.7_x").json()
    assert booking["encounter"]["visit_number"] == "OB-2026.7_x"
    assert booking["appointment"]["locations"] == ["OPSAL^SAL 5"]  # point of care and room
    assert booking["pending_admit"]["expected_length_of_stay"] == "3"
    assert booking["person"]["family_name"] == "Åkerström"
    assert [m["message_type"] for m in booking["messages"]] == ["ADT^A05", "SIU^S12", "ADT^A14"]


def test_an_unknown_booking_has_no_records(http):
    booking = http.get("/state/bookings/OB-404").json()
    assert (booking["encounter"], booking["appointment"], booking["pending_admit"]) == (
        None,
        None,
        None,
    )


def test_waiting_for_acks_returns_once_they_were_sent(sim, http):
    """What a benchmark waits on instead of polling /stats."""
    import threading

    answer: dict = {}

    def wait() -> None:
        answer.update(http.get("/stats/acks", params={"atLeast": 3, "timeout": 30}).json())

    waiter = threading.Thread(target=wait)
    waiter.start()
    book(sim)  # three AAs
    waiter.join(30)
    assert answer == {"code": "AA", "count": 3, "reached": True}
    quick = http.get("/stats/acks", params={"code": "AR", "atLeast": 1, "timeout": 0}).json()
    assert quick == {"code": "AR", "count": 0, "reached": False}


def test_waiting_for_acks_refuses_bad_parameters(http):
    for params in ({"atLeast": "x"}, {"atLeast": 1, "timeout": 61}, {"atLeast": 1, "code": "ZZ"}):
        assert http.get("/stats/acks", params=params).status_code == 400


def test_stats_count_by_type_and_ack_code(sim, http):
    book(sim)
    with MllpClient("127.0.0.1", sim.mllp_port, timeout=2) as mllp:
        exchange(mllp, adt("A05", "AGAIN", "OB-1", PNR), "utf-8")  # duplicate create
        exchange(mllp, adt("A05", "OB-1A05", "OB-1", PNR), "utf-8")  # resend: deduplicated
    stats = http.get("/stats").json()
    assert stats["received"] == 5
    assert stats["by_type"] == {"ADT^A05": 3, "ADT^A14": 1, "SIU^S12": 1}
    assert stats["by_ack"] == {"AA": 4, "AE": 1}
    assert (stats["duplicate_creates"], stats["deduplicated"]) == (1, 1)


def test_log_lists_control_id_type_and_ack_code(sim, http):
    book(sim)
    log = http.get("/log").json()
    assert [(e["control_id"], e["ack_code"]) for e in log] == [
        ("OB-1A05", "AA"),
        ("OB-1S12", "AA"),
        ("OB-1A14", "AA"),
    ]
    assert PNR not in str(log)


def test_faults_can_be_read_and_changed_over_http(sim, http):
    changed = http.post(
        "/faults",
        json={"nak_rate": 0.25, "latency_ms": 5, "reject_locations": ["X1"], "seed": 9},
    ).json()
    assert (changed["nak_rate"], changed["latency_ms"], changed["reject_locations"]) == (
        0.25,
        5.0,
        ["X1"],
    )
    assert sim.faults.nak_rate == 0.25
    assert http.get("/faults").json()["seed"] == 9


def test_a_down_window_set_over_http_refuses_mllp(sim, http):
    assert http.post("/faults", json={"down_seconds": 30}).json()["down"] is True
    with MllpClient("127.0.0.1", sim.mllp_port, timeout=2) as mllp:
        with pytest.raises(ConnectionFailed):
            exchange(mllp, adt("A05", "C1", "OB-1", PNR), "utf-8")
        assert http.post("/faults", json={"down": False}).json()["down"] is False
        assert exchange(mllp, adt("A05", "C1", "OB-1", PNR), "utf-8").code == "AA"


@pytest.mark.parametrize(
    "body",
    [{"nak_rate": 2}, {"latency_ms": "slow"}, {"down": "yes"}, {"explode": True}, {"seed": 1.5}],
)
def test_invalid_fault_settings_are_400_and_change_nothing(sim, http, body):
    response = http.post("/faults", json=body)
    assert response.status_code == 400
    assert response.json()["error"]
    assert sim.faults.as_dict()["nak_rate"] == 0.0


def test_reset_forgets_state_stats_and_faults(sim, http):
    book(sim)
    sim.faults.nak_rate = 0.5
    assert http.post("/reset").status_code == 200
    assert http.get("/state").json()["counts"]["encounters"] == 0
    assert http.get("/stats").json()["received"] == 0
    assert http.get("/faults").json()["nak_rate"] == 0.0


def test_unknown_endpoints_are_404_and_bad_json_is_400(http):
    assert http.get("/nothing").status_code == 404
    headers = {"Content-Type": "application/json"}
    assert http.post("/faults", content=b"{not json", headers=headers).status_code == 400


# --- FHIR R4 Patient ---


@pytest.mark.parametrize("system", [f"urn:oid:{OID}", OID, ""])
def test_patient_search_by_identifier_returns_the_millennium_person(sim, http, system):
    book(sim)
    identifier = f"{system}|{PNR}" if system else PNR
    response = http.get("/fhir/Patient", params={"identifier": identifier})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/fhir+json")
    bundle = response.json()
    assert (bundle["resourceType"], bundle["type"], bundle["total"]) == ("Bundle", "searchset", 1)
    patient = bundle["entry"][0]["resource"]
    person_id = sim.state.encounters["OB-1"].person_id
    assert patient["id"] == person_id
    assert patient["identifier"] == [{"system": f"urn:oid:{OID}", "value": PNR}]
    assert patient["name"] == [{"family": "Åkerström", "given": ["Märta"]}]
    assert bundle["entry"][0]["fullUrl"].endswith(f"/fhir/Patient/{person_id}")


def test_patient_search_distinguishes_identifier_systems(sim, http):
    book(sim)
    other_system = ASSIGNING_AUTHORITY_OID[IdentifierSystem.SAMORDNINGSNUMMER]
    bundle = http.get("/fhir/Patient", params={"identifier": f"urn:oid:{other_system}|{PNR}"})
    assert bundle.json()["total"] == 0
    assert bundle.json()["entry"] == []


def test_patient_search_without_identifier_is_400_operation_outcome(http):
    response = http.get("/fhir/Patient")
    assert response.status_code == 400
    assert response.json()["resourceType"] == "OperationOutcome"


def test_patient_read_by_id(sim, http):
    book(sim)
    person_id = sim.state.encounters["OB-1"].person_id
    assert http.get(f"/fhir/Patient/{person_id}").json()["id"] == person_id
    assert http.get("/fhir/Patient/P999999").status_code == 404


def test_seeded_patient_is_found_without_any_hl7(sim, http):
    value = synthetic_samordningsnummer(4)
    system = f"urn:oid:{ASSIGNING_AUTHORITY_OID[IdentifierSystem.SAMORDNINGSNUMMER]}"
    resource = {
        "resourceType": "Patient",
        "identifier": [{"system": system, "value": value}],
        "name": [{"family": "Öberg", "given": ["Sölve"]}],
        "meta": {"security": [{"code": "R"}]},
    }
    created = http.post("/fhir/_seed", json=resource)
    assert created.status_code == 201
    again = http.post("/fhir/_seed", json=resource)
    assert (again.status_code, again.json()["id"]) == (200, created.json()["id"])
    found = http.get("/fhir/Patient", params={"identifier": f"{system}|{value}"}).json()
    patient = found["entry"][0]["resource"]
    assert patient["id"] == created.json()["id"]
    assert patient["name"][0]["family"] == "Öberg"
    assert patient["meta"]["security"][0]["code"] == "R"
    assert sim.stats()["received"] == 0


def test_seed_needs_a_patient_with_an_identifier(http):
    assert http.post("/fhir/_seed", json={"resourceType": "Observation"}).status_code == 400
    no_system = {"resourceType": "Patient", "identifier": [{"value": "x"}]}
    assert http.post("/fhir/_seed", json=no_system).status_code == 400


def test_a_seeded_person_is_reused_by_a_later_a05(sim, http):
    resource = {
        "resourceType": "Patient",
        "identifier": [{"system": f"urn:oid:{OID}", "value": PNR}],
        "name": [{"family": "Åkerström", "given": ["Märta"]}],
    }
    person_id = http.post("/fhir/_seed", json=resource).json()["id"]
    book(sim)
    assert sim.state.encounters["OB-1"].person_id == person_id


# --- standalone ---


def test_python_m_simulator_runs_standalone_until_sigterm():
    process = subprocess.Popen(
        [sys.executable, "-m", "simulator", "--mllp-port", "0", "--http-port", "0", "--seed", "1"],
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stderr is not None
        banner = process.stderr.readline()
        ports = re.search(r"MLLP on 127\.0\.0\.1:(\d+), HTTP on http://127\.0\.0\.1:(\d+)", banner)
        assert ports, banner
        mllp_port, http_port = int(ports[1]), int(ports[2])
        with MllpClient("127.0.0.1", mllp_port, timeout=5) as mllp:
            assert exchange(mllp, siu("S12", "C1", "OB-1", PNR), "utf-8").code == "AE"
        stats = httpx.get(f"http://127.0.0.1:{http_port}/stats", timeout=5).json()
        assert stats["order_violations"] == 1
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
