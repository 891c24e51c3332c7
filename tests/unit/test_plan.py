"""The planner: which neutral operation closes the gap for one target."""

from __future__ import annotations

import datetime as dt

from shared.sync.channel import Operation
from shared.sync.channel import OperationKind as Kind
from shared.sync.plan import Wait, plan
from shared.targets import AppointmentFacts, BedFacts, Facts, Target, desired_facts
from tests.builders import CET, SU_OTHER_WARD, make_facts, make_patient, make_snapshot

BOOKED = make_snapshot()
ENC = make_facts(Target.ENCOUNTER)
APPT = make_facts(Target.APPOINTMENT)
BED = make_facts(Target.BED)


def op(
    kind: Kind, facts: Facts, confirms: Facts | None, replaces: Facts | None = None
) -> Operation:
    target = (
        Target.APPOINTMENT
        if isinstance(facts, AppointmentFacts)
        else Target.BED
        if isinstance(facts, BedFacts)
        else Target.ENCOUNTER
    )
    return Operation(target, kind, facts, confirms, replaces)


def want(snapshot, target: Target) -> Facts:
    facts = desired_facts(snapshot, target)
    assert facts is not None
    return facts


def confirmed(enc: Facts | None = None, appt: Facts | None = None, bed: Facts | None = None):
    return {Target.ENCOUNTER: enc, Target.APPOINTMENT: appt, Target.BED: bed}


def test_new_booking_creates_encounter_first_and_dependents_wait():
    assert plan(Target.ENCOUNTER, ENC, confirmed()) == op(Kind.CREATE, ENC, ENC)
    assert isinstance(plan(Target.APPOINTMENT, APPT, confirmed()), Wait)
    assert isinstance(plan(Target.BED, BED, confirmed()), Wait)


def test_dependents_create_once_encounter_is_confirmed():
    state = confirmed(enc=ENC)
    assert plan(Target.APPOINTMENT, APPT, state) == op(Kind.CREATE, APPT, APPT)
    assert plan(Target.BED, BED, state) == op(Kind.CREATE, BED, BED)


def test_in_sync_plans_nothing():
    state = confirmed(ENC, APPT, BED)
    for target, facts in ((Target.ENCOUNTER, ENC), (Target.APPOINTMENT, APPT), (Target.BED, BED)):
        assert plan(target, facts, state) is None


def test_reschedule_sends_s13_and_other_change_sends_s14():
    moved = want(
        make_snapshot(
            version=2,
            planned_start=dt.datetime(2026, 12, 2, 8, tzinfo=CET),
            planned_end=dt.datetime(2026, 12, 2, 10, tzinfo=CET),
        ),
        Target.APPOINTMENT,
    )
    other_theatre = want(make_snapshot(version=2, theatre="SAL 7"), Target.APPOINTMENT)
    state = confirmed(ENC, APPT, BED)
    assert plan(Target.APPOINTMENT, moved, state) == op(Kind.RESCHEDULE, moved, moved, APPT)
    # A change carries the confirmed facts it replaces: HL7 says what changed (D/A/U).
    assert plan(Target.APPOINTMENT, other_theatre, state) == op(
        Kind.UPDATE, other_theatre, other_theatre, APPT
    )


def test_ward_change_updates_encounter_and_rebooks_bed_by_cancel_then_create():
    snapshot = make_snapshot(
        version=2,
        admission={"type": "inpatient", "ward": {"hsa_id": SU_OTHER_WARD}, "expected_nights": 3},
    )
    new_enc = want(snapshot, Target.ENCOUNTER)
    new_bed = want(snapshot, Target.BED)
    state = confirmed(ENC, APPT, BED)
    assert plan(Target.ENCOUNTER, new_enc, state) == op(Kind.UPDATE, new_enc, new_enc, ENC)
    # A channel that cannot update a bed booking in place removes it, then creates it.
    assert plan(Target.BED, new_bed, state, updates_in_place=False) == op(Kind.REMOVE, BED, None)
    assert plan(Target.BED, new_bed, state) == op(Kind.UPDATE, new_bed, new_bed, BED)
    assert plan(Target.BED, new_bed, confirmed(new_enc, APPT, None)) == op(
        Kind.CREATE, new_bed, new_bed
    )


def test_switch_to_day_surgery_removes_bed_booking():
    snapshot = make_snapshot(version=2, admission={"type": "daySurgery"})
    assert desired_facts(snapshot, Target.BED) is None
    assert plan(Target.BED, None, confirmed(ENC, APPT, BED)) == op(Kind.REMOVE, BED, None)


def test_cancel_removes_dependents_before_encounter():
    state = confirmed(ENC, APPT, BED)
    assert plan(Target.APPOINTMENT, None, state) == op(Kind.REMOVE, APPT, None)
    assert plan(Target.BED, None, state) == op(Kind.REMOVE, BED, None)
    assert plan(Target.ENCOUNTER, None, state) == Wait(
        Target.APPOINTMENT, "removed before the encounter"
    )
    assert plan(Target.ENCOUNTER, None, confirmed(ENC, None, None)) == op(Kind.REMOVE, ENC, None)
    assert plan(Target.ENCOUNTER, None, confirmed()) is None


def test_patient_correction_removes_under_old_patient_then_creates_under_new():
    corrected = make_snapshot(version=2, patient=make_patient(7, family_name="Ödman"))
    new_enc = want(corrected, Target.ENCOUNTER)
    new_appt = want(corrected, Target.APPOINTMENT)
    state = confirmed(ENC, APPT, BED)
    # dependents go first, under the old patient
    assert plan(Target.APPOINTMENT, new_appt, state) == op(Kind.REMOVE, APPT, None)
    assert isinstance(plan(Target.ENCOUNTER, new_enc, state), Wait)
    # then the encounter is cancelled and created again for the new patient
    assert plan(Target.ENCOUNTER, new_enc, confirmed(ENC)) == op(Kind.REMOVE, ENC, None)
    assert plan(Target.ENCOUNTER, new_enc, confirmed()) == op(Kind.CREATE, new_enc, new_enc)
    # a dependent never attaches to an encounter of another patient
    assert isinstance(plan(Target.APPOINTMENT, new_appt, confirmed(ENC)), Wait)


def test_name_correction_is_an_update_not_a_new_patient():
    renamed = make_snapshot(version=2, patient=make_patient(1, family_name="Berg"))
    new_enc = want(renamed, Target.ENCOUNTER)
    assert plan(Target.ENCOUNTER, new_enc, confirmed(ENC, APPT, BED)) == op(
        Kind.UPDATE, new_enc, new_enc, ENC
    )
