"""The simulator with a state file: what Millennium holds survives a restart.

Regression for issue 12: the local run's simulator kept its state in memory, so
after a restart the crosswalk said "in Millennium" for records the simulator no
longer held. Real sockets, real MLLP client, a real file in a temporary folder.
"""

from __future__ import annotations

from pathlib import Path

import httpx

from shared.hl7.ack import Ack
from shared.identity import ASSIGNING_AUTHORITY_OID, IdentifierSystem
from shared.mllp.client import MllpClient, exchange
from simulator import start_simulator
from simulator.journal import Holding, read_holdings
from simulator.samples import adt, siu
from tests.builders import synthetic_personnummer

PNR = synthetic_personnummer(11)


def send(port: int, text: str) -> Ack:
    with MllpClient("127.0.0.1", port, timeout=2.0) as client:
        return exchange(client, text, "utf-8")


def test_state_deduplication_and_seeds_survive_a_restart(tmp_path: Path) -> None:
    state_file = tmp_path / "simulator.sqlite3"
    with start_simulator(state_file=state_file) as first:
        assert send(first.mllp_port, adt("A05", "C1", "OB-1", PNR)).code == "AA"
        assert send(first.mllp_port, siu("S12", "C2", "OB-1", PNR)).code == "AA"
        assert send(first.mllp_port, adt("A08", "C3", "OB-404", PNR)).code == "AE"  # unknown
        oid = ASSIGNING_AUTHORITY_OID[IdentifierSystem.PERSONNUMMER]
        seeded = httpx.post(
            f"{first.http_url}/fhir/_seed",
            json={
                "resourceType": "Patient",
                "identifier": [{"system": f"urn:oid:{oid}", "value": synthetic_personnummer(12)}],
                "name": [{"family": "Öberg", "given": ["Åsa"]}],
            },
        ).json()["id"]
        encounter_id = first.state.encounters["OB-1"].encounter_id
        first_ack = send(first.mllp_port, adt("A05", "C1", "OB-1", PNR))
    with start_simulator(state_file=state_file) as second:
        assert second.state.encounters["OB-1"].encounter_id == encounter_id
        assert "OB-1" in {a.visit_number for a in second.state.appointments.values()}
        assert seeded in second.state.persons
        # A resend of an applied MSH-10 gets the same ACK, and nothing is applied twice.
        again = send(second.mllp_port, adt("A05", "C1", "OB-1", PNR))
        assert (again.code, again.control_id) == (first_ack.code, first_ack.control_id)
        assert second.stats()["duplicate_creates"] == 0
        assert second.stats()["replayed"] == 2
        assert [entry.control_id for entry in second.millennium.history("OB-1")] == [
            "C1",
            "C2",
            "C1",
        ]


def test_the_holdings_say_what_millennium_holds_per_visit_number(tmp_path: Path) -> None:
    state_file = tmp_path / "simulator.sqlite3"
    with start_simulator(state_file=state_file) as sim:
        send(sim.mllp_port, adt("A05", "C1", "OB-1", PNR))
        send(sim.mllp_port, adt("A05", "C2", "OB-2", PNR))
        send(sim.mllp_port, adt("A14", "C3", "OB-2", PNR))
        send(sim.mllp_port, adt("A38", "C4", "OB-1", PNR))
        holdings = read_holdings(state_file)
    assert holdings == {
        "OB-1": Holding(encounter=False, appointment=False, pending_admit=False),
        "OB-2": Holding(encounter=True, appointment=False, pending_admit=True),
    }


def test_a_reset_forgets_the_file_too(tmp_path: Path) -> None:
    state_file = tmp_path / "simulator.sqlite3"
    with start_simulator(state_file=state_file) as sim:
        send(sim.mllp_port, adt("A05", "C1", "OB-1", PNR))
        httpx.post(f"{sim.http_url}/reset")
    with start_simulator(state_file=state_file) as restarted:
        assert restarted.state.counts()["encounters"] == 0
        assert read_holdings(state_file) == {}


def test_without_a_state_file_the_simulator_starts_empty_every_time(tmp_path: Path) -> None:
    with start_simulator() as sim:
        send(sim.mllp_port, adt("A05", "C1", "OB-1", PNR))
    with start_simulator() as again:
        assert again.state.counts()["encounters"] == 0
    assert list(tmp_path.iterdir()) == []
