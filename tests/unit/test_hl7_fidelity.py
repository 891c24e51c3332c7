"""What a strict Cerner interface team checks beyond structure (issue 9).

Each defect the review found has a regression test here (or, for intake rules,
in tests/unit/test_booking.py); messages are read back with python-hl7, a
parser independent of ours.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import hl7
import pytest

from docgen.hl7_validate import unexpected_warnings, validate_strict
from shared.booking import BookingStatus
from shared.hl7.render import render_message
from shared.hl7.triggers import Trigger
from shared.profiles import Location, Profile
from shared.targets import Facts, Target, desired_facts
from tests.builders import (
    CET,
    make_facts,
    make_patient,
    make_snapshot,
    profile,
    synthetic_personnummer,
    synthetic_reservnummer,
    synthetic_samordningsnummer,
)
from tests.hl7_support import TARGET_OF

UTC = dt.UTC
SENT_AT_UTC = dt.datetime(2026, 11, 22, 7, 15, tzinfo=UTC)


def render(
    trigger: Trigger,
    facts: Facts | None = None,
    *,
    using: Profile | None = None,
    sent_at: dt.datetime = SENT_AT_UTC,
    **snapshot: Any,
) -> str:
    if facts is None:
        facts = make_facts(TARGET_OF[trigger], **snapshot)
    return render_message(
        trigger,
        facts,
        using or profile(),
        control_id="K7Q2M4X9P3Z8R5T1V6W0",
        sent_at=sent_at,
        processing_id="P",
    )


def parsed(message: str) -> hl7.Message:
    return hl7.parse(message)


def valid(message: str) -> bool:
    return unexpected_warnings(validate_strict(message)) == []


# --- defect 3: MSH-7 and EVN-2 in the administration's local time ---------------------


@pytest.mark.parametrize(
    ("sent_at", "local"),
    [
        (dt.datetime(2026, 11, 22, 7, 15, tzinfo=UTC), "20261122081500+0100"),
        (dt.datetime(2026, 7, 1, 6, 0, tzinfo=UTC), "20260701080000+0200"),
    ],
)
def test_msh_7_and_evn_2_are_local_time_with_its_offset(sent_at, local):
    """Defect 3: the worker's UTC clock went out as +0000."""
    message = parsed(render(Trigger.A05, sent_at=sent_at))
    assert message["MSH.F7"] == local
    assert message["EVN.F2"] == local


# --- defect 4: every time in the administration's zone, DST included ------------------


@pytest.mark.parametrize(
    ("orbit_sent", "local"),
    [
        # Spring forward: 02:00 CET became 03:00 CEST on 2026-03-29.
        ("2026-03-29T00:30:00+00:00", "20260329013000+0100"),
        ("2026-03-29T02:30:00+01:00", "20260329033000+0200"),  # no 02:30 that night
        ("2026-03-29T01:30:00+00:00", "20260329033000+0200"),
        # Fall back: 03:00 CEST became 02:00 CET on 2026-10-25; 02:30 happens twice.
        ("2026-10-25T02:30:00+02:00", "20261025023000+0200"),
        ("2026-10-25T02:30:00+01:00", "20261025023000+0100"),
        ("2026-10-25T00:30:00Z", "20261025023000+0200"),
        ("2026-10-25T01:30:00Z", "20261025023000+0100"),
    ],
)
def test_times_carry_the_offset_valid_at_their_instant(orbit_sent, local):
    start = dt.datetime.fromisoformat(orbit_sent)
    text = render(Trigger.S12, planned_start=start, planned_end=start + dt.timedelta(hours=1))
    message = parsed(text)

    assert message["SCH.F11.R1.C4"] == local
    assert message["TQ1.F7"] == local
    assert message["AIS.F4"] == local
    assert message["AIL.F6"] == local
    assert message["AIP.F6"] == local
    assert valid(text)


def test_a_duration_over_the_dst_change_is_elapsed_time():
    start = dt.datetime.fromisoformat("2026-10-25T01:30:00+02:00")
    end = dt.datetime.fromisoformat("2026-10-25T03:30:00+01:00")  # three hours later
    message = parsed(render(Trigger.S12, planned_start=start, planned_end=end))

    assert message["SCH.F11.R1.C3"] == "M180"
    assert message["TQ1.F6.R1.C1"] == "180"
    assert message["AIS.F7"] == "180"
    assert message["SCH.F11.R1.C4"] == "20261025013000+0200"
    assert message["SCH.F11.R1.C5"] == "20261025033000+0100"


def test_the_time_zone_is_a_profile_setting():
    helsinki = profile().model_copy(update={"time_zone": "Europe/Helsinki"})
    message = parsed(render(Trigger.A05, using=helsinki))
    assert message["MSH.F7"] == "20261122091500+0200"


def test_an_unknown_time_zone_is_refused_when_the_profile_loads():
    data = profile().model_dump()
    data["time_zone"] = "Europe/Gothenburg"
    with pytest.raises(ValueError, match="time zone"):
        Profile.model_validate(data)


# --- defect 6: no control character, and never an MLLP frame byte, in a message -------


@pytest.mark.parametrize("trigger", list(Trigger), ids=lambda trigger: trigger.value)
def test_control_characters_in_data_never_reach_the_message(trigger):
    nasty = "".join(chr(code) for code in (*range(0x20), 0x7F))
    text = render(
        trigger,
        patient=make_patient(family_name=f"Berg{nasty}", given_name="Åsa\x0b\x1c"),
        procedure={"code": "NFB49", "text": f"Höft{nasty}"},
    )
    body = text.replace("\r", "")
    assert not any(ord(char) < 0x20 or ord(char) == 0x7F for char in body)
    assert "\\X0B\\" in text and "\\X1C\\" in text
    assert valid(text)


# --- defect 8: PV1-39 is the location's own facility ----------------------------------


def _with_facility(code: str) -> Profile:
    base = profile()
    ward = base.locations["SE2321000131-E000000000201"]
    locations = {**base.locations, "SE2321000131-E000000000201": _facility(ward, code)}
    return base.model_copy(update={"locations": locations})


def _facility(location: Location, code: str) -> Location:
    return location.model_copy(update={"facility": code})


@pytest.mark.parametrize("trigger", [Trigger.A05, Trigger.A14])
def test_pv1_39_is_the_locations_own_facility(trigger):
    """Defect 8: PV1-39 said the profile's facility while PV1-3.4 said the location's."""
    message = parsed(render(trigger, using=_with_facility("MOL")))
    assert message["PV1.F3.R1.C4"] == "MOL"
    assert message["PV1.F39"] == "MOL"


def test_pv1_39_falls_back_to_the_profiles_facility():
    assert parsed(render(Trigger.A05))["PV1.F39"] == "SU"


# --- defect 9: a corrected patient gets new aliases -----------------------------------


@pytest.mark.parametrize("trigger", list(Trigger), ids=lambda trigger: trigger.value)
def test_a_later_patient_generation_is_sent_under_its_own_aliases(trigger):
    snapshot = make_snapshot(patient=make_patient(2))
    facts = desired_facts(snapshot, TARGET_OF[trigger], generation=1)
    assert facts is not None
    text = render(trigger, facts)
    message = parsed(text)

    assert message["PV1.F19.R1.C1"] == "OB-2026-000123:1"
    if trigger.value.startswith("SIU"):
        assert message["SCH.F1.R1.C1"] == "OB-2026-000123:1"
        assert message["SCH.F2.R1.C1"] == "OB-2026-000123:1"
    assert valid(text)


def test_the_first_generation_is_the_booking_id_itself():
    assert parsed(render(Trigger.A05))["PV1.F19.R1.C1"] == "OB-2026-000123"


# --- defect 10: the bed booking's identification is a profile choice ------------------


@pytest.mark.parametrize("trigger", [Trigger.A14, Trigger.A27])
def test_bed_booking_identified_by_the_visit_number_by_default(trigger):
    message = parsed(render(trigger))
    assert message["PV1.F19.R1.C1"] == "OB-2026-000123"
    assert message["PV1.F50"] == ""


@pytest.mark.parametrize("trigger", [Trigger.A14, Trigger.A27])
def test_bed_booking_with_its_own_alias(trigger):
    from shared.profiles import BedBookingId  # new in issue 9: imported here so that the
    # other tests of this module also run (and fail) against the code before it

    own = profile().model_copy(update={"bed_booking_id": BedBookingId.OWN_ALIAS})
    text = render(trigger, using=own)
    message = parsed(text)

    assert message["PV1.F19.R1.C1"] == "OB-2026-000123"  # still linked to the encounter
    assert message["PV1.F50.R1.C1"] == "OB-2026-000123:BED"
    assert message["PV1.F50.R1.C4"] == "ORBIT"
    assert valid(text)


# --- person matching: PID-3 namespace, PID-7 and PID-8 --------------------------------


@pytest.mark.parametrize(
    ("system", "value", "born", "sex"),
    [
        ("personnummer", synthetic_personnummer(0), "19400101", "F"),  # birth number 980
        ("personnummer", synthetic_personnummer(1), "19400101", "M"),  # 981
        ("samordningsnummer", synthetic_samordningsnummer(1), "19400101", "M"),  # day − 60
        ("reservnummer", synthetic_reservnummer(3), "19400101", "F"),  # K: kvinna
    ],
)
def test_birth_date_and_sex_come_from_the_identifier(system, value, born, sex):
    patient = {**make_patient(), "identifier": {"system": system, "value": value}}
    message = parsed(render(Trigger.A05, patient=patient))
    assert message["PID.F7"] == born
    assert message["PID.F8"] == sex


def test_reserve_number_letters_m_and_x():
    from shared.hl7.person import administrative_sex
    from shared.identity import IdentifierSystem

    assert administrative_sex(IdentifierSystem.RESERVNUMMER, "19400101M123") == "M"
    assert administrative_sex(IdentifierSystem.RESERVNUMMER, "19400101X123") == "U"


def test_identifier_namespace_and_type_come_from_the_profile():
    base = profile()
    custom_authority = base.identifiers[next(iter(base.identifiers))].model_copy(
        update={"namespace": "SKV", "type_code": "NN"}
    )
    custom = base.model_copy(
        update={"identifiers": {**base.identifiers, next(iter(base.identifiers)): custom_authority}}
    )
    message = parsed(render(Trigger.A05, using=custom))
    assert message["PID.F3.R1.C4.S1"] == "SKV"
    assert message["PID.F3.R1.C5"] == "NN"


# --- appointment: SCH-1/SCH-2, TQ1, SCH-6, DG1, maps ----------------------------------


def test_filler_id_is_the_booking_and_the_placer_id_as_the_profile_says():
    message = parsed(render(Trigger.S12))
    assert message["SCH.F2.R1.C1"] == "OB-2026-000123"
    assert message["SCH.F2.R1.C2"] == "ORBIT"
    assert message["SCH.F1.R1.C1"] == "OB-2026-000123"

    no_placer = profile().model_copy(update={"send_placer_id": False})
    text = render(Trigger.S12, using=no_placer)
    assert parsed(text)["SCH.F1"] == ""
    assert parsed(text)["SCH.F2.R1.C1"] == "OB-2026-000123"
    assert valid(text)


def test_tq1_carries_start_end_and_duration_beside_sch_11():
    message = parsed(render(Trigger.S12))
    assert message["TQ1.F1"] == "1"
    assert message["TQ1.F6.R1.C1"] == "120"
    assert message["TQ1.F6.R1.C2.S1"] == "min"
    assert message["TQ1.F7"] == "20261201080000+0100"
    assert message["TQ1.F8"] == "20261201100000+0100"


def test_cancellation_carries_orbits_reason_in_sch_6():
    from shared.targets import removal_facts

    cancelled = make_snapshot(version=2, status="cancelled", cancellation_reason="Patienten sjuk")
    facts = removal_facts(make_facts(Target.APPOINTMENT), cancelled)
    message = parsed(render(Trigger.S15, facts))
    assert message["SCH.F6.R1.C1"] == "CANCELLED"
    assert message["SCH.F6.R1.C2"] == "Patienten sjuk"
    assert message["SCH.F6.R1.C3"] == "L"


def test_cancellation_without_reason_and_patient_correction_have_their_own_codes():
    from shared.targets import removal_facts

    cancelled = make_snapshot(version=2, status=BookingStatus.CANCELLED)
    facts = removal_facts(make_facts(Target.APPOINTMENT), cancelled)
    assert parsed(render(Trigger.S15, facts))["SCH.F6.R1.C1"] == "CANCELLED"

    corrected = make_snapshot(version=2, patient=make_patient(4))
    facts = removal_facts(make_facts(Target.APPOINTMENT), corrected)
    assert parsed(render(Trigger.S15, facts))["SCH.F6.R1.C1"] == "CORRECTED"


def test_dg1_carries_the_diagnosis_text_when_present():
    text = render(Trigger.S12, diagnosis={"code": "M16.1", "text": "Primär koxartros"})
    assert parsed(text)["DG1.F3.R1.C2"] == "Primär koxartros"
    assert valid(text)


def test_codes_units_and_maps_come_from_the_profile():
    base = profile()
    custom = base.model_copy(
        update={
            "code_systems": base.code_systems.model_copy(
                update={"procedure": "SE-KVA", "diagnosis": "I10SE", "event_reason": "99RSN"}
            ),
            "event_reasons": base.event_reasons.model_copy(update={"booked": "NEW"}),
            "minute_unit": base.minute_unit.model_copy(update={"code": "MIN", "system": "ANS+"}),
            "namespace": "ORBITVGR",
            "appointment_types": {"NFB49": "HOFT"},
            "rooms": {"SAL 5": "OP05"},
        }
    )
    text = render(Trigger.S12, using=custom)
    message = parsed(text)

    assert message["SCH.F7.R1.C3"] == "SE-KVA"
    assert message["DG1.F3.R1.C3"] == "I10SE"
    assert message["SCH.F6.R1.C1"] == "NEW"
    assert message["SCH.F6.R1.C3"] == "99RSN"
    assert message["AIS.F8.R1.C1"] == "MIN"
    assert message["TQ1.F6.R1.C2.S3"] == "ANS+"
    assert message["SCH.F2.R1.C2"] == "ORBITVGR"
    assert message["PV1.F19.R1.C4"] == "ORBITVGR"
    assert message["SCH.F8"] == "HOFT"
    assert message["AIL.F3.R1.C2"] == "OP05"
    validate_strict(text)  # structure; hl7apy does not know these site coding systems


def test_unmapped_procedure_and_theatre_pass_through():
    message = parsed(render(Trigger.S12, procedure={"code": "JAB30"}, theatre="SAL 9"))
    assert message["SCH.F8"] == "SURGERY"
    assert message["AIL.F3.R1.C2"] == "SAL 9"


def test_times_of_a_cet_snapshot_are_unchanged():
    message = parsed(render(Trigger.A05, planned_start=dt.datetime(2026, 12, 1, 8, tzinfo=CET)))
    assert message["PV1.F44"] == "20261130180000+0100"


def test_a_partial_identifier_table_keeps_the_other_systems_defaults(tmp_path):
    from shared.identity import IdentifierSystem
    from shared.profiles import load_profile

    profile_path = tmp_path / "SU.toml"
    source = (Path(__file__).resolve().parents[2] / "profiles" / "SU.toml").read_text("utf-8")
    # Keep only the reserve-number entry, renamed.
    start = source.index("[identifiers.personnummer]")
    end = source.index("[code_systems]")
    custom = '[identifiers.reservnummer]\nnamespace = "RESERV"\noid = "1.2.3"\ntype_code = "PI"\n\n'
    profile_path.write_text(source[:start] + custom + source[end:], encoding="utf-8")
    loaded = load_profile(profile_path)

    assert loaded.identifiers[IdentifierSystem.RESERVNUMMER].namespace == "RESERV"
    assert loaded.identifiers[IdentifierSystem.PERSONNUMMER].oid == "1.2.752.129.2.1.3.1"
    assert loaded.bed_booking_id == "visit-number"
