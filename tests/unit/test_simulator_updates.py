"""How the simulator applies an update, as an HL7 v2 receiver does (v2.5.1 chapter 2,
null values in fields): an empty field leaves what Millennium holds, ``""`` clears it.
With the simulator taking every update as a whole snapshot instead, a sender that
left out a field it meant to clear looked right here and was wrong in Millennium."""

from __future__ import annotations

from simulator.millennium import Millennium
from simulator.samples import adt, siu
from tests.builders import synthetic_personnummer

PNR = synthetic_personnummer(1)
SURGEON = "SE2321000131-P000000000456"


def _with_attending(text: str, attending: str) -> str:
    segments = text.split("\r")
    for index, line in enumerate(segments):
        if line.startswith("PV1|"):
            fields = line.split("|")
            fields[7] = attending
            segments[index] = "|".join(fields)
    return "\r".join(segments)


def _held_attending(updated_with: str) -> str:
    millennium = Millennium(seed=1)
    created = _with_attending(adt("A05", "C1", "OB-1", PNR), f"{SURGEON}^^^^^^^^HSA")
    updated = _with_attending(adt("A08", "C2", "OB-1", PNR), updated_with)
    for text in (created, updated):
        reply = millennium.handle(text.encode("utf-8"))
        assert reply.ack is not None and b"MSA|AA|" in reply.ack, reply.ack
    return millennium.state.encounters["OB-1"].attending


def test_an_update_that_leaves_the_attending_out_keeps_it() -> None:
    assert _held_attending("") == SURGEON


def test_an_update_with_the_null_value_clears_the_attending() -> None:
    assert _held_attending('""') == ""


def test_an_update_with_another_attending_replaces_it() -> None:
    other = "SE2321000131-P000000000999"
    assert _held_attending(f"{other}^^^^^^^^HSA") == other


def _answers(*texts: str) -> list[bytes]:
    millennium = Millennium(seed=1)
    codes = []
    for text in texts:
        reply = millennium.handle(text.encode("utf-8"))
        assert reply.ack is not None
        codes.append(reply.ack.split(b"MSA|", 1)[1][:2])
    return codes


def test_an_appointment_change_without_segment_action_codes_is_refused() -> None:
    """v2.5.1 chapter 10: the action code "is required for all updating or modifying
    trigger events"."""
    change = siu("S14", "C3", "OB-1", PNR).replace("AIL|1|U|", "AIL|1||")
    assert _answers(adt("A05", "C1", "OB-1", PNR), siu("S12", "C2", "OB-1", PNR), change) == [
        b"AA",
        b"AA",
        b"AR",
    ]


def test_deleting_a_resource_the_appointment_does_not_hold_is_ae() -> None:
    change = siu("S14", "C3", "OB-1", PNR).replace("AIL|1|U|OPSAL^SAL 5", "AIL|1|D|OPSAL^SAL 9")
    assert _answers(adt("A05", "C1", "OB-1", PNR), siu("S12", "C2", "OB-1", PNR), change)[-1] == (
        b"AE"
    )


def test_an_update_answered_ae_changes_nothing() -> None:
    millennium = Millennium(seed=1)
    for text in (adt("A05", "C1", "OB-1", PNR), siu("S12", "C2", "OB-1", PNR)):
        millennium.handle(text.encode("utf-8"))
    booked = millennium.state.appointments["OB-1"]
    held = (booked.start, booked.locations[:])
    moved = siu("S13", "C3", "OB-1", PNR, start="20261202090000+0100")
    moved = moved.replace("AIL|1|U|OPSAL^SAL 5", "AIL|1|D|OPSAL^SAL 3")
    reply = millennium.handle(moved.encode("utf-8"))
    assert reply.ack is not None and b"MSA|AE|" in reply.ack
    assert (booked.start, booked.locations) == held


def test_keeping_a_resource_the_appointment_does_not_hold_is_ae() -> None:
    """A U names a resource as Millennium holds it; one it does not hold means the
    sender's view is wrong (before: added silently beside the one held)."""
    change = siu("S14", "C3", "OB-1", PNR).replace("AIL|1|U|OPSAL^SAL 5", "AIL|1|U|OPSAL^OP05")
    assert _answers(adt("A05", "C1", "OB-1", PNR), siu("S12", "C2", "OB-1", PNR), change)[-1] == (
        b"AE"
    )


def test_a_pending_admit_of_another_class_than_its_encounter_is_ae() -> None:
    """A bed booking belongs to an inpatient encounter: an A14 for an encounter still
    held as outpatient (its A08 not applied yet) is refused."""
    outpatient = adt("A05", "C1", "OB-1", PNR).replace("PV1|1|P|", "PV1|1|O|")
    admit = adt("A14", "C2", "OB-1", PNR).replace("PV1|1|P|", "PV1|1|I|")
    assert _answers(outpatient, admit) == [b"AA", b"AE"]
