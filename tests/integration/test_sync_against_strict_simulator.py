"""A booking's whole life, from the sync worker to the strict simulator (issue 9).

The worker's messages go to the simulator's message handler in process (the
bytes as they would be framed, the simulator's own reader, its strict checks and
state), so every rule a Cerner interface team enforces is applied to what the
sync really sends: patient corrections under new aliases, name corrections that
leave the bed booking alone, and both ways of identifying the bed booking.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from shared.crosswalk.repository import Crosswalk
from shared.crosswalk.sqlite import SqliteTableStore
from shared.hl7.ack import Ack, parse_ack
from shared.messages import EventMessage
from shared.names import ALL_TABLES
from shared.profiles import Profiles, load_profiles
from shared.sync.intake import store_event
from shared.sync.policy import RetryPolicy
from shared.sync.ports import SyncPorts
from simulator.millennium import Millennium
from tests.builders import SU_OTHER_WARD, make_patient, make_snapshot
from tests.fakes import RecordingBus
from tests.sync_fakes import Pump, hl7_channels

PROFILES = Path(__file__).resolve().parents[2] / "profiles"
BOOKING = "OB-2026-000123"


class InProcessSimulator:
    """The Millennium port, answered by the simulator's handler (no socket)."""

    def __init__(self, millennium: Millennium) -> None:
        self.millennium = millennium

    def exchange(self, payload: bytes, *, codec: str) -> Ack:
        reply = self.millennium.handle(payload)
        assert reply.ack is not None
        return parse_ack(reply.ack.decode(codec))


class Life:
    def __init__(self, bed_booking_id: str) -> None:
        loaded = load_profiles(str(PROFILES))
        su = loaded.get("SU").model_copy(update={"bed_booking_id": bed_booking_id})
        store = SqliteTableStore(":memory:")
        store.create_tables(ALL_TABLES)
        self.simulator = Millennium(seed=1)
        bus = RecordingBus()
        self.ports = SyncPorts(
            crosswalk=Crosswalk(store),
            bus=bus,
            profiles=Profiles({"SU": su, "SAS": loaded.get("SAS")}),
            channels=hl7_channels(InProcessSimulator(self.simulator)),
            clock=lambda: dt.datetime.now(dt.UTC),
            retry=RetryPolicy(),
        )
        self.pump = Pump(self.ports, bus)

    def send(self, **snapshot: object) -> None:
        booking = make_snapshot(**snapshot)
        event = EventMessage(
            event_id=f"e{booking.version}",
            event_type="se.vgr.orbit.booking.updated.v1",
            webhook_id=f"w{booking.version}",
            correlation_id="c",
            received_at=dt.datetime.now(dt.UTC),
            snapshot=booking,
        )
        store_event(event, self.ports)
        self.pump.run()
        assert not self.pump.errors, self.pump.errors

    def types(self) -> list[str]:
        return [entry.message_type for entry in self.simulator.log_entries()]


@pytest.mark.parametrize("bed_booking_id", ["visit-number", "own-alias"])
def test_a_bookings_life_is_accepted_by_the_strict_simulator(bed_booking_id):
    life = Life(bed_booking_id)
    bed_key = BOOKING if bed_booking_id == "visit-number" else f"{BOOKING}:BED"
    summer = {
        "planned_start": dt.datetime(2026, 7, 1, 6, 0, tzinfo=dt.UTC),
        "planned_end": dt.datetime(2026, 7, 1, 8, 0, tzinfo=dt.UTC),
    }

    life.send(**summer)
    assert set(life.simulator.state.pending_admits) == {bed_key}

    # A name correction: A08 and S14, the bed booking stays as it is (defect 10).
    renamed = make_patient(1, family_name="Berg")
    life.send(version=2, patient=renamed, **summer)
    assert sorted(life.types()[3:]) == ["ADT^A08", "SIU^S14"]

    # A ward change rebooks the bed: A27 then A14.
    ward = {"type": "inpatient", "ward": {"hsa_id": SU_OTHER_WARD}, "expected_nights": 2}
    life.send(version=3, patient=renamed, admission=ward, **summer)
    assert life.types()[5:].count("ADT^A27") == 1 and life.types()[5:].count("ADT^A14") == 1
    assert life.simulator.state.pending_admits[bed_key].expected_length_of_stay == "2"

    # A patient correction: removed under the old aliases, created under new ones (defect 9).
    life.send(version=4, patient=make_patient(42), admission=ward, **summer)
    state = life.simulator.state
    assert set(state.encounters) == {f"{BOOKING}:1"}
    assert set(state.appointments) == {f"{BOOKING}:1"}
    new_bed_key = f"{BOOKING}:1" if bed_booking_id == "visit-number" else f"{BOOKING}:1:BED"
    assert set(state.pending_admits) == {new_bed_key}

    life.send(version=5, status="cancelled", patient=make_patient(42), admission=ward, **summer)
    assert life.simulator.state.counts() == {
        "persons": 2,
        "encounters": 0,
        "appointments": 0,
        "pending_admits": 0,
    }
    stats = life.simulator.stats()
    assert set(stats["by_ack"]) == {"AA"}, stats["by_ack"]
    assert stats["strict_rejections"] == 0
    assert stats["patient_mismatches"] == stats["duplicate_creates"] == 0


def test_a_surgeon_removed_in_orbit_is_cleared_in_millennium():
    """An A08 that left PV1-7 empty kept the old attending surgeon in Millennium:
    an empty field means "no change" in HL7 v2; only ``""`` clears it."""
    life = Life("visit-number")
    life.send()
    assert life.simulator.state.encounters[BOOKING].attending
    life.send(version=2, surgeon=None)
    assert "ADT^A08" in life.types()[3:]
    assert life.simulator.state.encounters[BOOKING].attending == ""


def test_a_changed_theatre_and_a_removed_surgeon_leave_nothing_old_booked():
    """An S14 without segment action codes: a strict receiver refuses it (v2.5.1
    requires them in updating trigger events), and one that takes it adds the new
    theatre beside the old one, which stays booked (a double booking)."""
    life = Life("visit-number")
    life.send()
    booked = life.simulator.state.appointments[BOOKING]
    assert booked.locations == ["SU-OPSAHL^SAL 5"] and len(booked.staff) == 1
    life.send(version=2, theatre="SAL 7", surgeon=None)
    assert "SIU^S14" in life.types()[3:]
    assert booked.locations == ["SU-OPSAHL^SAL 7"]
    assert booked.staff == []
    assert life.simulator.stats()["strict_rejections"] == 0
