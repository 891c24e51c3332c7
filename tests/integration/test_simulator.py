"""The Millennium simulator over real MLLP sockets on 127.0.0.1, driven by the real client."""

from __future__ import annotations

import logging
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from docgen.hl7_examples import examples
from shared.errors import AckTimeout, ConnectionFailed, LinkUnavailable
from shared.hl7.ack import Ack, message_type, parse_ack
from shared.hl7.encoding import msh18
from shared.mllp.client import MllpClient, exchange
from shared.mllp.framing import frame
from simulator import SimulatorHandle, start_simulator
from simulator.samples import LATIN1, adt, siu
from tests.builders import synthetic_personnummer

PNR = synthetic_personnummer(1)
OTHER_PNR = synthetic_personnummer(2)


@pytest.fixture
def client(sim: SimulatorHandle) -> Iterator[MllpClient]:
    with MllpClient("127.0.0.1", sim.mllp_port, timeout=2.0) as mllp:
        yield mllp


def send(client: MllpClient, text: str, encoding: str = "utf-8") -> Ack:
    return exchange(client, text, encoding)


def send_raw(client: MllpClient, text: str) -> Ack:
    """Send without the MSA-2 check (for messages that have no usable MSH-10)."""
    return parse_ack(client.send(text.encode("utf-8")).decode("utf-8"))


# --- Millennium's answers ---


def test_a05_creates_person_and_encounter_with_millennium_ids(sim, client):
    ack = send(client, adt("A05", "C1", "OB-1", PNR))
    assert (ack.code, ack.control_id) == ("AA", "C1")
    encounter = sim.state.encounters["OB-1"]
    assert encounter.encounter_id.startswith("E2")
    assert encounter.location == "ORTAVD1"
    person = sim.state.persons[encounter.person_id]
    assert person.person_id.startswith("P1")
    assert (person.authority, person.value) == ("1.2.752.129.2.1.3.1", PNR)


def test_update_of_an_unknown_encounter_is_ae(sim, client):
    ack = send(client, adt("A08", "C1", "OB-404", PNR))
    assert ack.code == "AE"
    assert "OB-404" in ack.error_text
    assert sim.state.encounters == {}
    assert sim.stats()["unknown_references"] == 1


@pytest.mark.parametrize(
    "event", [("A38", "encounter"), ("A27", "pending admit")], ids=lambda e: e[0]
)
def test_removal_of_something_unknown_is_ae(client, event):
    ack = send(client, adt(event[0], "C1", "OB-404", PNR))
    assert ack.code == "AE"
    assert f"no {event[1]}" in ack.error_text


@pytest.mark.parametrize("event", ["S13", "S14", "S15"])
def test_change_of_an_unknown_appointment_is_ae(client, event):
    assert send(client, siu(event, "C1", "OB-404", PNR)).code == "AE"


def test_create_of_something_existing_is_ae_and_counted_as_duplicate_create(sim, client):
    send(client, adt("A05", "C1", "OB-1", PNR))
    send(client, siu("S12", "C2", "OB-1", PNR))
    send(client, adt("A14", "C3", "OB-1", PNR))
    answers = [
        send(client, adt("A05", "D1", "OB-1", PNR)).code,
        send(client, siu("S12", "D2", "OB-1", PNR)).code,
        send(client, adt("A14", "D3", "OB-1", PNR)).code,
    ]
    assert answers == ["AE", "AE", "AE"]
    assert sim.stats()["duplicate_creates"] == 3
    assert len(sim.state.encounters) == len(sim.state.appointments) == 1


def test_a_whole_booking_life_from_the_integrations_renderer_is_accepted(sim, client):
    """The renderer's documented examples (brief §5 order) all get AA, ending in the right state."""
    answers = []
    for example in examples():
        if message_type(example.message).startswith("ACK"):
            continue
        if "summer" in example.title or "own alias" in example.title:
            continue  # single messages of other bookings, without their encounter
        answers.append(send(client, example.message, msh18(example.message)).code)
    assert answers == ["AA"] * 11
    # OB-2026-000123 was booked, changed and cancelled, then booked again for a corrected
    # patient under its generation-1 alias; the protected SÄS booking stays.
    assert list(sim.state.encounters) == ["OB-2026-000123:1", "OB-2026-004711"]
    assert sim.state.appointments == {} and sim.state.pending_admits == {}
    protected = sim.state.persons[sim.state.encounters["OB-2026-004711"].person_id]
    assert (protected.family_name, protected.given_name, protected.protected) == (
        "Öberg",
        "Sölve",
        True,
    )
    assert sim.stats()["duplicate_creates"] == 0


# --- structurally invalid: AR ---


def without_segment(text: str, name: str) -> str:
    return "\r".join(s for s in text.split("\r") if not s.startswith(name + "|"))


def blank_field(text: str, segment: str, number: int) -> str:
    lines = text.split("\r")
    for index, line in enumerate(lines):
        if line.startswith(segment + "|"):
            fields = line.split("|")
            fields[number] = ""
            lines[index] = "|".join(fields)
    return "\r".join(lines)


INVALID = {
    "not HL7": "hello, Millennium",
    "no MSH-10": adt("A05", "", "OB-1", PNR),
    "unsupported type": adt("A05", "C1", "OB-1", PNR).replace("ADT^A05^ADT_A05", "ADT^A99^ADT_A99"),
    "no PID": without_segment(adt("A05", "C1", "OB-1", PNR), "PID"),
    "no PID-3": blank_field(adt("A05", "C1", "OB-1", PNR), "PID", 3),
    "no PV1-19": blank_field(adt("A08", "C1", "OB-1", PNR), "PV1", 19),
    "no SCH-1": blank_field(siu("S12", "C1", "OB-1", PNR), "SCH", 1),
    "no SCH-11 start": blank_field(siu("S13", "C1", "OB-1", PNR), "SCH", 11),
}


@pytest.mark.parametrize("text", INVALID.values(), ids=INVALID.keys())
def test_structurally_invalid_messages_are_ar(sim, client, text):
    ack = send_raw(client, text)
    assert ack.code == "AR"
    assert ack.error_text
    assert sim.state.counts() == {
        "persons": 0,
        "encounters": 0,
        "appointments": 0,
        "pending_admits": 0,
    }


def test_ar_echoes_the_control_id_when_there_is_one(client):
    ack = send(client, INVALID["no PID-3"])  # exchange checks MSA-2 == MSH-10
    assert (ack.code, ack.control_id) == ("AR", "C1")
    assert "PID-3" in ack.error_text


def test_bytes_that_do_not_match_msh18_are_ar(sim, client):
    text = adt("A05", "C1", "OB-1", PNR)  # declares UNICODE UTF-8...
    reply = client.send(text.encode("iso-8859-1"))  # ...but is sent as ISO-8859-1
    ack = parse_ack(reply.decode("utf-8"))
    assert ack.code == "AR"
    assert "character set" in ack.error_text
    assert sim.state.encounters == {}


# --- ordering and patient consistency ---


def test_appointment_or_admit_before_the_encounter_is_ae(sim, client):
    assert send(client, siu("S12", "C1", "OB-1", PNR)).code == "AE"
    assert send(client, adt("A14", "C2", "OB-1", PNR)).code == "AE"
    assert sim.stats()["order_violations"] == 2


def test_encounter_cannot_be_cancelled_while_appointment_or_admit_remain(sim, client):
    send(client, adt("A05", "C1", "OB-1", PNR))
    send(client, siu("S12", "C2", "OB-1", PNR))
    send(client, adt("A14", "C3", "OB-1", PNR))
    ack = send(client, adt("A38", "C4", "OB-1", PNR))
    assert ack.code == "AE"
    assert "S15" in ack.error_text and "A27" in ack.error_text
    assert send(client, siu("S15", "C5", "OB-1", PNR)).code == "AA"
    assert send(client, adt("A27", "C6", "OB-1", PNR)).code == "AA"
    assert send(client, adt("A38", "C7", "OB-1", PNR)).code == "AA"
    assert sim.state.counts()["encounters"] == 0


def test_order_is_not_enforced_when_switched_off():
    with (
        start_simulator(enforce_order=False) as lax,
        MllpClient("127.0.0.1", lax.mllp_port, timeout=2) as mllp,
    ):
        assert exchange(mllp, siu("S12", "C1", "OB-1", PNR), "utf-8").code == "AA"
        assert lax.state.appointments["OB-1"].encounter_id == ""


def test_messages_for_another_patient_on_the_same_visit_number_are_ar(sim, client):
    send(client, adt("A05", "C1", "OB-1", PNR))
    ack = send(client, adt("A08", "C2", "OB-1", OTHER_PNR))
    assert ack.code == "AR"
    assert "belongs to another person" in ack.error_text
    assert sim.stats()["patient_mismatches"] == 1
    assert sim.state.encounters["OB-1"].updated_by == []


def test_a_lenient_simulator_answers_another_patients_visit_number_ae(sim, client):
    sim.faults.lenient = True
    send(client, adt("A05", "C1", "OB-1", PNR))
    ack = send(client, adt("A08", "C2", "OB-1", OTHER_PNR))
    assert ack.code == "AE"
    assert sim.stats()["patient_mismatches"] == 1


def test_updates_change_the_stored_records(sim, client):
    send(client, adt("A05", "C1", "OB-1", PNR))
    send(client, siu("S12", "C2", "OB-1", PNR))
    send(client, adt("A08", "C3", "OB-1", PNR, location="ORTAVD2", family="Ek"))
    send(client, siu("S13", "C4", "OB-1", PNR, family="Ek", start="20261202090000+0100"))
    encounter = sim.state.encounters["OB-1"]
    assert (encounter.location, encounter.updated_by) == ("ORTAVD2", ["C3"])
    assert sim.state.persons[encounter.person_id].family_name == "Ek"
    assert sim.state.appointments["OB-1"].start == "20261202090000+0100"


# --- deduplication by MSH-10 ---


def test_a_resent_control_id_gets_the_same_ack_and_is_applied_once(sim, client):
    text = adt("A05", "C1", "OB-1", PNR)
    first = client.send(text.encode())
    second = client.send(text.replace("20261122081500", "20261122081600", 1).encode())
    assert first == second  # byte for byte, ACK's own MSH-10 included
    assert len(sim.state.encounters) == 1
    stats = sim.stats()
    assert (stats["deduplicated"], stats["duplicate_creates"], stats["control_id_conflicts"]) == (
        1,
        0,
        0,
    )


def test_a_control_id_reused_for_another_message_is_counted_as_a_conflict(sim, client):
    send(client, adt("A05", "C1", "OB-1", PNR))
    ack = send(client, adt("A05", "C1", "OB-2", PNR))
    assert ack.code == "AA"  # Millennium swallows it as a duplicate...
    assert "OB-2" not in sim.state.encounters  # ...so the second booking never arrives
    assert sim.stats()["control_id_conflicts"] == 1


def test_an_ae_is_not_remembered_so_the_same_control_id_can_succeed_later(sim, client):
    assert send(client, siu("S12", "C2", "OB-1", PNR)).code == "AE"  # no encounter yet
    send(client, adt("A05", "C1", "OB-1", PNR))
    assert send(client, siu("S12", "C2", "OB-1", PNR)).code == "AA"
    assert sim.stats()["deduplicated"] == 0


# --- fault injection ---


def test_ack_timeout_injection_applies_the_message_but_withholds_the_ack(sim):
    sim.faults.ack_timeout_rate = 1.0
    text = adt("A05", "C1", "OB-1", PNR)
    with MllpClient("127.0.0.1", sim.mllp_port, timeout=0.3) as mllp:
        with pytest.raises(AckTimeout):
            exchange(mllp, text, "utf-8")
        assert "OB-1" in sim.state.encounters  # applied: the nastiest in-doubt case
        sim.faults.ack_timeout_rate = 0.0
        assert exchange(mllp, text, "utf-8").code == "AA"  # the resend is deduplicated
    assert len(sim.state.encounters) == 1
    stats = sim.stats()
    assert (stats["acks_withheld"], stats["deduplicated"], stats["duplicate_creates"]) == (1, 1, 0)


def test_nak_injection_answers_ae_without_applying(sim, client):
    sim.faults.nak_rate = 1.0
    ack = send(client, adt("A05", "C1", "OB-1", PNR))
    assert ack.code == "AE"
    assert sim.state.encounters == {}
    assert sim.stats()["naks_injected"] == 1


def test_the_same_seed_gives_the_same_faults():
    def answers() -> list[str]:
        with (
            start_simulator(seed=42) as fresh,
            MllpClient("127.0.0.1", fresh.mllp_port, timeout=2) as mllp,
        ):
            fresh.faults.nak_rate = 0.5
            return [
                exchange(mllp, adt("A05", f"C{n}", f"OB-{n}", PNR), "utf-8").code for n in range(20)
            ]

    first = answers()
    assert first == answers()
    assert "AA" in first and "AE" in first


def test_down_closes_connections_without_applying(sim, client):
    sim.faults.down = True
    with pytest.raises(ConnectionFailed):
        send(client, adt("A05", "C1", "OB-1", PNR))
    assert sim.state.encounters == {}
    sim.faults.down = False
    assert send(client, adt("A05", "C1", "OB-1", PNR)).code == "AA"
    assert sim.stats()["refused_connections"] >= 1


def test_down_also_drops_an_already_open_connection(sim, client):
    send(client, adt("A05", "C1", "OB-1", PNR))
    sim.faults.down = True
    with pytest.raises(ConnectionFailed):
        send(client, adt("A08", "C2", "OB-1", PNR))
    assert sim.state.encounters["OB-1"].updated_by == []


def test_a_down_window_ends_by_itself(sim, client):
    sim.faults.down_for(0.3)
    with pytest.raises(ConnectionFailed):
        send(client, adt("A05", "C1", "OB-1", PNR))
    while sim.faults.is_down():
        time.sleep(0.02)
    assert send(client, adt("A05", "C1", "OB-1", PNR)).code == "AA"


def test_latency_injection_delays_the_ack(sim, client):
    sim.faults.latency_ms = 60
    started = time.monotonic()
    send(client, adt("A05", "C1", "OB-1", PNR))
    assert time.monotonic() - started >= 0.06


def test_rejected_locations_are_ar_for_pv1_and_ail(sim, client):
    sim.faults.reject_locations = frozenset({"ORTAVD9", "OPSAL9"})
    send(client, adt("A05", "C1", "OB-1", PNR))
    ward = send(client, adt("A08", "C2", "OB-1", PNR, location="ORTAVD9"))
    theatre = send(client, siu("S12", "C3", "OB-1", PNR, unit="OPSAL9"))
    assert (ward.code, theatre.code) == ("AR", "AR")
    assert "ORTAVD9" in ward.error_text and "OPSAL9" in theatre.error_text
    assert sim.state.appointments == {}


def test_fault_settings_are_validated(sim):
    with pytest.raises(ValueError, match="nak_rate"):
        sim.faults.nak_rate = 1.5
    with pytest.raises(ValueError, match="latency_ms"):
        sim.faults.latency_ms = -1


# --- character sets ---


@pytest.mark.parametrize(("charset", "codec"), [("UNICODE UTF-8", "utf-8"), (LATIN1, "iso-8859-1")])
def test_swedish_names_are_stored_intact_in_either_charset(sim, client, charset, codec):
    text = adt("A05", "C1", "OB-1", PNR, family="Åkerström-Öhman", given="Renée", charset=charset)
    ack = send(client, text, codec)
    assert ack.code == "AA"
    person = sim.state.persons[sim.state.encounters["OB-1"].person_id]
    assert (person.family_name, person.given_name) == ("Åkerström-Öhman", "Renée")


def test_escaped_delimiters_in_names_are_unescaped(sim, client):
    send(client, adt("A05", "C1", "OB-1", PNR, family="Berg \\T\\ Dal", given="A\\S\\B\\E\\T\\"))
    person = sim.state.persons[sim.state.encounters["OB-1"].person_id]
    assert (person.family_name, person.given_name) == ("Berg & Dal", "A^B\\T\\")


def test_the_ack_is_encoded_like_the_message(sim, client):
    text = adt("A05", "C1", "OB-1", PNR, charset=LATIN1)
    reply = client.send(text.encode("iso-8859-1"))
    assert reply.split(b"\r")[0].endswith(b"|8859/1")


# --- transport ---


def test_tls_with_a_self_signed_certificate(tmp_path):
    import ssl

    cert, key = self_signed_certificate(tmp_path)
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    trusting = ssl.create_default_context(cafile=str(cert))
    with start_simulator(ssl_context=server_context) as secure:
        with MllpClient("127.0.0.1", secure.mllp_port, timeout=5, ssl_context=trusting) as mllp:
            assert exchange(mllp, adt("A05", "C1", "OB-1", PNR), "utf-8").code == "AA"
            assert exchange(mllp, adt("A08", "C2", "OB-1", PNR), "utf-8").code == "AA"
        untrusting = ssl.create_default_context()  # the system CAs do not know our cert
        with (
            MllpClient("127.0.0.1", secure.mllp_port, timeout=5, ssl_context=untrusting) as mllp,
            pytest.raises(LinkUnavailable, match="TLS"),
        ):
            exchange(mllp, adt("A08", "C3", "OB-1", PNR), "utf-8")
        assert secure.state.encounters["OB-1"].updated_by == ["C2"]


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A throwaway certificate for 127.0.0.1, made with the openssl CLI."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def test_a_stopped_simulator_refuses_connections():
    handle = start_simulator()
    port = handle.mllp_port
    handle.stop()
    with (
        MllpClient("127.0.0.1", port, timeout=1) as mllp,
        pytest.raises(LinkUnavailable, match="cannot connect"),
    ):
        mllp.send(adt("A05", "C1", "OB-1", PNR).encode())


def test_garbage_outside_a_frame_closes_the_connection(sim):
    with socket.create_connection(("127.0.0.1", sim.mllp_port), timeout=2) as raw:
        raw.sendall(b"GET / HTTP/1.1\r\n\r\n\x1c\x0d")
        assert raw.recv(100) == b""
    deadline = time.monotonic() + 2
    while sim.stats()["framing_errors"] == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sim.stats()["framing_errors"] == 1


def test_coalesced_messages_are_answered_in_order(sim):
    texts = [adt("A05", "C1", "OB-1", PNR), adt("A08", "C2", "OB-1", PNR)]
    with socket.create_connection(("127.0.0.1", sim.mllp_port), timeout=2) as raw:
        raw.sendall(b"".join(frame(t.encode()) for t in texts))
        received = b""
        while received.count(b"\x1c\x0d") < 2:
            received += raw.recv(4096)
    acks = [parse_ack(part.strip(b"\x0b").decode()) for part in received.split(b"\x1c\x0d")[:2]]
    assert [(a.code, a.control_id) for a in acks] == [("AA", "C1"), ("AA", "C2")]


# --- no personal data in the log ---


def test_the_message_log_and_logging_hold_no_personal_data(sim, client, caplog):
    caplog.set_level(logging.DEBUG, logger="simulator")
    send(client, adt("A05", "C1", "OB-1", PNR, family="Hemligsson"))
    send_raw(client, INVALID["no PID-3"])
    entries = sim.millennium.log_entries()
    assert [(e.control_id, e.message_type, e.ack_code) for e in entries] == [
        ("C1", "ADT^A05", "AA"),
        ("C1", "ADT^A05", "AR"),
    ]
    everything = repr(entries) + caplog.text
    assert "C1" in caplog.text
    assert PNR not in everything and "Hemligsson" not in everything
