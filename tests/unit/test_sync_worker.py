"""The target worker and intake, driven without queues or sockets."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from shared.crosswalk.repository import Crosswalk
from shared.crosswalk.sqlite import SqliteTableStore
from shared.errors import (
    AckTimeout,
    AdministrationMismatch,
    ApplicationErrorsExhausted,
    MessageRejected,
    QueueUnavailable,
    UnmappedLocation,
)
from shared.messages import EventMessage, Kick, KickCause, kick_outbound
from shared.names import ALL_TABLES
from shared.profiles import Mode, Profiles, load_profiles
from shared.sync.intake import IntakeResult, store_event
from shared.sync.policy import RetryPolicy
from shared.sync.ports import SyncPorts
from shared.sync.worker import SyncOutcome, sync_target
from shared.targets import Target
from tests.builders import SU_OTHER_WARD, UNMAPPED_HSA_ID, make_patient, make_snapshot
from tests.fakes import RecordingBus
from tests.sync_fakes import Pump, ScriptedMillennium, hl7_channels

NOW = dt.datetime(2026, 11, 22, 8, 0, tzinfo=dt.UTC)
PROFILES = load_profiles(str(Path(__file__).resolve().parents[2] / "profiles"))


class World:
    def __init__(self, profiles: Profiles = PROFILES, script: list | None = None) -> None:
        store = SqliteTableStore(":memory:")
        store.create_tables(ALL_TABLES)
        self.now = NOW
        self.bus = RecordingBus()
        self.millennium = ScriptedMillennium(list(script or []))
        self.crosswalk = Crosswalk(store)
        self.ports = SyncPorts(
            crosswalk=self.crosswalk,
            bus=self.bus,
            profiles=profiles,
            channels=hl7_channels(self.millennium),
            clock=lambda: self.now,
            retry=RetryPolicy(),
        )
        self.pump = Pump(self.ports, self.bus)

    def event(self, **overrides) -> IntakeResult:
        snapshot = make_snapshot(**overrides)
        message = EventMessage(
            event_id=f"e{snapshot.version}",
            event_type="se.vgr.orbit.booking.updated.v1",
            webhook_id=f"w{snapshot.version}",
            correlation_id="c",
            received_at=self.now,
            snapshot=snapshot,
        )
        return store_event(message, self.ports)

    def confirmed(self, target: Target):
        return self.crosswalk.load_targets("OB-2026-000123")[target].confirmed


def test_new_booking_sends_encounter_then_appointment_and_bed():
    world = World()
    assert world.event() is IntakeResult.STORED
    world.pump.run()
    assert world.millennium.triggers() == ["ADT^A05", "SIU^S12", "ADT^A14"]
    assert all(world.confirmed(t) is not None for t in Target)
    assert not world.pump.errors


def test_stale_and_duplicate_events_send_nothing_new():
    world = World()
    world.event(version=2)
    world.pump.run()
    sent = len(world.millennium.sent)
    assert world.event(version=1) is IntakeResult.STALE
    assert world.event(version=2) is IntakeResult.DUPLICATE
    world.pump.run()
    assert len(world.millennium.sent) == sent


def test_cancel_removes_appointment_and_bed_before_encounter():
    world = World()
    world.event()
    world.pump.run()
    world.event(version=2, status="cancelled")
    world.pump.run()
    removal = world.millennium.triggers()[3:]
    assert sorted(removal[:2]) == ["ADT^A27", "SIU^S15"]
    assert removal[2:] == ["ADT^A38"]
    assert all(world.confirmed(t) is None for t in Target)


def test_patient_correction_moves_everything_to_the_new_patient():
    world = World()
    world.event()
    world.pump.run()
    world.event(version=2, patient=make_patient(42))
    world.pump.run()
    after = world.millennium.triggers()[3:]
    assert after.index("ADT^A38") > max(after.index("SIU^S15"), after.index("ADT^A27"))
    assert after.index("ADT^A05") > after.index("ADT^A38")
    assert after.index("SIU^S12") > after.index("ADT^A05")
    assert (
        world.confirmed(Target.APPOINTMENT).patient.value == make_patient(42)["identifier"]["value"]
    )


def test_in_doubt_send_is_resent_with_the_same_control_id():
    world = World(script=[AckTimeout("no ACK within 10 s")])
    world.event()
    world.pump.run()
    first, second = world.millennium.sent[0], world.millennium.sent[1]
    assert first.trigger == second.trigger == "ADT^A05"
    assert first.control_id == second.control_id
    assert first.message == second.message
    retries = [m for m in world.bus.sent if m.scheduled_at is not None]
    assert len(retries) == 1
    assert retries[0].scheduled_at is not None and retries[0].scheduled_at > NOW


def test_crash_after_recording_intent_resends_same_message_on_next_kick():
    class Crash(BaseException):
        pass

    world = World(script=[Crash()])  # the process dies during the send
    world.event()
    with pytest.raises(Crash):
        world.pump.run()
    world.bus.send(
        [
            kick_outbound(
                Kick(
                    booking_id="OB-2026-000123",
                    target=Target.ENCOUNTER,
                    cause=KickCause.RETRY,
                    note="redelivery",
                )
            )
        ]
    )
    world.pump.run()
    a05 = [s for s in world.millennium.sent if s.trigger == "ADT^A05"]
    assert len(a05) == 2 and a05[0].control_id == a05[1].control_id


def test_application_error_is_retried_with_a_new_control_id_then_dead_lettered():
    limit = PROFILES.get("SU").ae_retry_limit
    world = World(script=["AE"] * (limit + 1))
    world.event()
    world.pump.run()
    a05 = [s.control_id for s in world.millennium.sent if s.trigger == "ADT^A05"]
    assert len(a05) == limit + 1 and len(set(a05)) == limit + 1
    assert isinstance(world.pump.errors[0], ApplicationErrorsExhausted)
    state = world.crosswalk.load_targets("OB-2026-000123")[Target.ENCOUNTER]
    assert state.blocked is not None and state.intent is None

    # more kicks for the same facts are ignored; an operator's resubmit tries again
    kick = Kick(
        booking_id="OB-2026-000123", target=Target.ENCOUNTER, cause=KickCause.EVENT, note="x"
    )
    assert sync_target(kick, world.ports) is SyncOutcome.BLOCKED
    resubmit = kick.model_copy(update={"cause": KickCause.RESUBMIT})
    assert sync_target(resubmit, world.ports) is SyncOutcome.IN_SYNC
    assert world.confirmed(Target.ENCOUNTER) is not None


def test_rejection_blocks_at_once_with_the_error_reason():
    world = World(script=["AR"])
    world.event()
    world.pump.run()
    assert len(world.millennium.sent) == 1
    error = world.pump.errors[0]
    assert isinstance(error, MessageRejected)
    assert error.reason == "rejected-by-millennium" and "OB-2026-000123" in str(error)


def test_unmapped_location_blocks_without_sending_and_names_the_hsa_id():
    world = World()
    world.event(operating_unit={"hsa_id": UNMAPPED_HSA_ID}, admission={"type": "daySurgery"})
    world.pump.run()
    assert world.millennium.sent == []
    error = world.pump.errors[0]
    assert isinstance(error, UnmappedLocation) and UNMAPPED_HSA_ID in str(error)
    assert make_patient(1)["identifier"]["value"] not in str(error)


def test_jumpout_mode_keeps_the_snapshot_and_sends_nothing():
    shadow = Profiles({"SU": PROFILES.get("SU").model_copy(update={"mode": Mode.JUMPOUT})})
    world = World(profiles=shadow)
    assert world.event() is IntakeResult.STORED
    assert world.bus.sent == []
    kick = Kick(
        booking_id="OB-2026-000123", target=Target.ENCOUNTER, cause=KickCause.EVENT, note="v1"
    )
    assert sync_target(kick, world.ports) is SyncOutcome.SHADOW
    assert world.crosswalk.load_snapshot("OB-2026-000123") is not None
    assert world.millennium.sent == []


def test_intake_kicks_only_the_targets_that_have_something_to_do():
    """After the first snapshot the appointment and the bed booking can only wait for
    the encounter; a change of theatre leaves the encounter and the bed booking as
    they are. Kicks that found nothing to do were two fifths of all deliveries in
    the throughput benchmark."""
    from shared.messages import TARGET_OF_QUEUE

    world = World()

    def kicked() -> list[Target]:
        return [TARGET_OF_QUEUE[m.queue] for m in world.bus.sent if m.queue in TARGET_OF_QUEUE]

    world.event()
    assert kicked() == [Target.ENCOUNTER]
    world.pump.run()
    world.bus.sent.clear()
    world.pump.delivered = 0
    world.event(version=2, theatre="SAL 7")
    assert kicked() == [Target.APPOINTMENT]
    world.pump.run()
    assert world.millennium.triggers()[3:] == ["SIU^S14"]
    world.bus.sent.clear()
    world.pump.delivered = 0
    world.event(version=3, theatre="SAL 7", admission={"type": "outpatient"})
    assert kicked() == [Target.ENCOUNTER, Target.APPOINTMENT, Target.BED]


def test_an_encounter_update_kicks_no_dependent():
    """Only a new encounter lets a dependent move; after an update of one the
    dependents have their own kicks from the snapshot (before: two more deliveries
    per rebooking that found nothing to do)."""
    world = World()
    world.event()
    world.pump.run()
    world.bus.sent.clear()
    world.pump.delivered = 0
    world.event(version=2, patient=make_patient(1, family_name="Berg"))
    (encounter,) = [k for k in _sync_kicks(world) if k.queue == "sync-encounter"]
    before = len(_sync_kicks(world))
    assert _deliver(world, encounter) is SyncOutcome.IN_SYNC
    assert world.millennium.triggers()[-1] == "ADT^A08"
    assert len(_sync_kicks(world)) == before


def test_a_step_planned_from_an_older_snapshot_is_corrected_by_the_next_kick():
    world = World()
    world.event()
    world.pump.run()
    # v2 moves the bed; while the bed worker is between A27 and A14, v3 cancels.
    world.event(version=2, admission={"type": "inpatient", "ward": {"hsa_id": SU_OTHER_WARD}})

    def cancel_midway(trigger: str) -> None:
        stored = world.crosswalk.load_snapshot("OB-2026-000123")
        if trigger == "ADT^A27" and stored is not None and stored.version == 2:
            world.event(version=3, status="cancelled")

    world.millennium.on_send = cancel_midway
    world.pump.run()
    assert world.millennium.triggers().count("ADT^A14") == 1  # no create after the cancel
    assert all(world.confirmed(t) is None for t in Target)
    assert not world.pump.errors


def test_resubmit_after_rejection_sends_under_a_new_control_id():
    world = World(script=["AR"])
    world.event()
    world.pump.run()
    kick = Kick(
        booking_id="OB-2026-000123", target=Target.ENCOUNTER, cause=KickCause.RESUBMIT, note="r"
    )
    assert sync_target(kick, world.ports) is SyncOutcome.IN_SYNC
    first, second = world.millennium.sent[0], world.millennium.sent[1]
    assert first.trigger == second.trigger == "ADT^A05"
    assert first.control_id != second.control_id


# --- issue 9: identifiers after a patient correction, and the bed booking -------------


def _pv1_19(message: str) -> str:
    pv1 = next(line for line in message.split("\r") if line.startswith("PV1|"))
    return pv1.split("|")[19].split("^")[0]


def _pid_5(message: str) -> str:
    pid = next(line for line in message.split("\r") if line.startswith("PID|"))
    return pid.split("|")[5]


def test_patient_correction_recreates_everything_under_new_aliases():
    """Defect 9: the new person got the old visit number and placer id."""
    world = World()
    world.event()
    world.pump.run()
    world.event(version=2, patient=make_patient(42))
    world.pump.run()

    sent = world.millennium.sent[3:]
    removed = [s for s in sent if s.trigger in ("SIU^S15", "ADT^A27", "ADT^A38")]
    created = [s for s in sent if s.trigger in ("ADT^A05", "SIU^S12", "ADT^A14")]
    assert {_pv1_19(s.message) for s in removed} == {"OB-2026-000123"}
    assert {_pv1_19(s.message) for s in created} == {"OB-2026-000123:1"}
    assert len(created) == 3
    s12 = next(s.message for s in created if s.trigger == "SIU^S12")
    assert "SCH|OB-2026-000123:1^ORBIT|OB-2026-000123:1^ORBIT|" in s12
    # The crosswalk records the generation, with the facts and on the snapshot row.
    stored = world.crosswalk.load_snapshot("OB-2026-000123")
    assert stored is not None and stored.patient_generation == 1
    assert all(world.confirmed(t).alias == "OB-2026-000123:1" for t in Target)
    corrected = [
        row for row in world.crosswalk.audit_trail("OB-2026-000123")
        if row["kind"] == "patient-corrected"
    ]  # fmt: skip
    assert [row["detail"] for row in corrected] == [
        "Millennium aliases OB-2026-000123 -> OB-2026-000123:1"
    ]


def test_a_correction_back_to_the_first_patient_still_gets_a_new_alias():
    world = World()
    world.event()
    world.pump.run()
    world.event(version=2, patient=make_patient(42))
    world.pump.run()
    world.event(version=3, patient=make_patient(1))
    world.pump.run()
    created = [s for s in world.millennium.sent if s.trigger == "ADT^A05"]
    assert [_pv1_19(s.message) for s in created] == [
        "OB-2026-000123",
        "OB-2026-000123:1",
        "OB-2026-000123:2",
    ]


def test_a_name_correction_leaves_the_bed_booking_alone():
    """Defect 10: a name correction sent A08, S14, A27 and A14."""
    world = World()
    world.event()
    world.pump.run()
    world.event(version=2, patient=make_patient(1, family_name="Berg"))
    world.pump.run()

    assert sorted(world.millennium.triggers()[3:]) == ["ADT^A08", "SIU^S14"]
    assert world.crosswalk.convergences("OB-2026-000123")[-1]["version"] == 2


def test_a_bed_change_cancels_under_the_newest_name_then_rebooks():
    world = World()
    world.event()
    world.pump.run()
    world.event(version=2, patient=make_patient(1, family_name="Berg"))
    world.pump.run()
    world.event(
        version=3,
        patient=make_patient(1, family_name="Berg"),
        admission={"type": "inpatient", "ward": {"hsa_id": SU_OTHER_WARD}, "expected_nights": 3},
    )
    world.pump.run()

    bed = [s for s in world.millennium.sent[5:] if s.trigger in ("ADT^A27", "ADT^A14")]
    assert [s.trigger for s in bed] == ["ADT^A27", "ADT^A14"]
    assert all(_pid_5(s.message).startswith("Berg^") for s in bed)


def _sync_kicks(world: World) -> list:
    return [m for m in world.bus.sent if m.queue.startswith("sync-")]


def _deliver(world: World, message) -> SyncOutcome:
    """Deliver one kick now, as its queue would (the Pump then skips it)."""
    return sync_target(Kick.model_validate_json(message.body), world.ports)


def _deliver_while_the_bus_fails_after(
    world: World, message, trigger: str, copy_finds: SyncOutcome = SyncOutcome.IN_SYNC
) -> None:
    """Deliver ``message``; the bus fails from the moment ``trigger`` is sent (its
    ACK is still saved), so the kicks after it are lost. Then deliver the copy the
    settlement schedules for that failure, with the bus back: its target is in sync,
    or waits (``copy_finds``)."""

    def on_send(sent: str) -> None:
        world.bus.down = world.bus.down or sent == trigger

    world.millennium.on_send = on_send
    with pytest.raises(QueueUnavailable):
        _deliver(world, message)
    world.bus.down = False
    world.millennium.on_send = None
    world.pump.delivered = len(_sync_kicks(world))  # what is on the queue now is new
    assert _deliver(world, message) is copy_finds


def test_an_encounter_found_in_sync_kicks_dependents_whose_kick_was_lost():
    """The bus failed right after the encounter's ACK was saved, so the kicks for the
    appointment and the bed never went out; the settlement's copy of the
    encounter's kick then found the encounter in sync. Before the fix it stopped
    there, and the booking never got its appointment or bed booking."""
    world = World()
    world.event()
    (encounter,) = _sync_kicks(world)  # a first snapshot: the others wait for it anyway
    _deliver_while_the_bus_fails_after(world, encounter, "ADT^A05")
    world.pump.run()
    assert world.millennium.triggers() == ["ADT^A05", "SIU^S12", "ADT^A14"]
    assert all(world.confirmed(t) is not None for t in Target)


def test_a_dependent_found_in_sync_kicks_the_encounter_waiting_for_its_removal():
    """Cancellation: the bed's removal was confirmed but its kick of the encounter was
    lost; the copy of the bed's kick finds the bed in sync and kicks the encounter,
    whose A38 (cancel pre-admit) then goes out."""
    world = World()
    world.event()
    world.pump.run()
    world.event(version=2, status="cancelled")
    appointment, bed = _sync_kicks(world)[-2:]  # the encounter waits for their removal
    assert _deliver(world, appointment) is SyncOutcome.IN_SYNC  # removed; the bed is left
    _deliver_while_the_bus_fails_after(world, bed, "ADT^A27")
    world.pump.run()
    assert world.millennium.triggers()[-1] == "ADT^A38"
    assert all(world.confirmed(t) is None for t in Target)


def test_a_dependent_that_waits_kicks_the_encounter_waiting_for_its_removal():
    """Patient correction: the bed's removal was confirmed but its kick of the encounter
    was lost. The copy of the bed's kick finds the bed waiting for the encounter (its
    new bed booking needs the new patient's encounter), and the encounter waiting for
    the bed's removal. Before the fix only a target found in sync looked for such a
    wait, so the encounter kept the old patient and nothing was created again
    (found by the interleaving test, tests/unit/test_sync_interleavings.py)."""
    world = World()
    world.event()
    world.pump.run()
    world.event(version=2, patient=make_patient(42))
    appointment, bed = _sync_kicks(world)[-2:]  # the encounter waits for their removal
    assert _deliver(world, appointment) is SyncOutcome.WAITING  # removed; the bed is left
    _deliver_while_the_bus_fails_after(world, bed, "ADT^A27", copy_finds=SyncOutcome.WAITING)
    world.pump.run()
    assert world.millennium.triggers()[-4:-2] == ["ADT^A38", "ADT^A05"]
    assert sorted(world.millennium.triggers()[-2:]) == ["ADT^A14", "SIU^S12"]
    assert all(world.confirmed(t) is not None for t in Target)
    assert world.confirmed(Target.BED).patient.value == make_patient(42)["identifier"]["value"]


def test_a_block_for_an_older_snapshot_is_reconsidered_when_a_newer_one_arrived():
    """The bed's worker planned its A14 from v1; v2 (no bed any more) arrived before
    the A14 went out, and the intake, seeing nothing for the bed to do, kicked
    only the encounter. Millennium refused the A14. The block is for facts v2 no
    longer wants, so the worker kicks the bed again, which lifts it (the dead
    letter stays, for the operator to see what Millennium refused)."""
    world = World(script=["AA", "AA", "AR"])
    world.event()
    armed = [True]
    load_targets = world.crosswalk.load_targets

    def v2_arrives_midway(booking_id: str):
        if armed[0]:
            armed[0] = False
            assert world.event(version=2, admission={"type": "outpatient"}) is IntakeResult.STORED
        return load_targets(booking_id)

    def before_each(kick: Kick) -> None:
        if kick.target is Target.BED and armed[0]:
            world.crosswalk.load_targets = v2_arrives_midway  # type: ignore[method-assign]

    world.pump.run(before_each=before_each)
    assert isinstance(world.pump.errors[0], MessageRejected)
    assert not [k for k in _sync_kicks(world) if k.message_id.endswith(":bed:event:v2")]
    assert world.crosswalk.load_targets("OB-2026-000123")[Target.BED].blocked is None
    assert world.millennium.triggers()[:3] == ["ADT^A05", "SIU^S12", "ADT^A14"]
    assert sorted(world.millennium.triggers()[3:]) == ["ADT^A08", "SIU^S14"]


@pytest.mark.parametrize("version", [1, 2])
def test_the_same_booking_id_from_another_administration_is_refused(version):
    """One booking id, two administrations: before, SÄS's v1 was dropped silently as a
    duplicate of SU's, and its v2 was taken for a patient correction of SU's booking
    (removals for SU's patient under SÄS's profile). Now nothing is stored or sent,
    and the event is parked with a reason that names both administrations."""
    world = World()
    world.event()
    world.pump.run()
    sent, stored = len(world.millennium.sent), world.crosswalk.load_snapshot("OB-2026-000123")
    world.bus.sent.clear()
    with pytest.raises(AdministrationMismatch, match=r"belongs to SU.*comes from SAS") as refused:
        world.event(version=version, administration="SAS", patient=make_patient(42))
    assert refused.value.reason == "administration-mismatch"
    assert make_patient(42)["identifier"]["value"] not in str(refused.value)
    assert world.crosswalk.load_snapshot("OB-2026-000123") == stored
    assert world.bus.sent == []
    world.pump.run()
    assert len(world.millennium.sent) == sent


def test_a_bed_booking_waits_until_millennium_has_the_encounter_as_inpatient():
    """Day surgery → inpatient: the A08 that makes the encounter inpatient at the ward
    and the A14 that books its bed were sent side by side, so when the A08 got AE
    the A14 still went out, a pending admit on an encounter Millennium held as
    outpatient at the operating unit."""
    world = World()
    world.event(admission={"type": "daySurgery"})
    world.pump.run()
    assert world.millennium.triggers() == ["ADT^A05", "SIU^S12"]
    world.millennium.script = ["AE"]
    world.event(version=2)  # the default snapshot: inpatient, with a ward
    world.pump.run()
    after = world.millennium.triggers()[2:]
    assert after.count("ADT^A08") == 2  # AE, then AA on the retry
    assert after.index("ADT^A14") > len(after) - 1 - after[::-1].index("ADT^A08")
    assert all(world.confirmed(target) is not None for target in Target)
