"""Rendering HL7 v2.5.1 messages: structure (hl7apy strict), key fields, escaping,
protected identity, character sets, unmapped locations.

Rendered messages are read back with python-hl7 (``hl7``), a parser independent
of ours, so a field is checked as a receiver would see it.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import hl7
import pytest

from docgen.hl7_validate import InvalidMessage, unexpected_warnings, validate_strict
from shared.booking import BookingStatus
from shared.errors import UnencodableText, UnmappedLocation
from shared.hl7.encoding import encode_message
from shared.hl7.render import MESSAGE_STRUCTURE, render_message
from shared.hl7.triggers import Trigger
from shared.targets import AppointmentFacts, BedFacts, EncounterFacts, Facts, Target
from tests.builders import (
    CET,
    SURGEON,
    UNMAPPED_HSA_ID,
    make_facts,
    make_patient,
    make_snapshot,
    profile,
    synthetic_personnummer,
)
from tests.hl7_support import TARGET_OF

SENT_AT = dt.datetime(2026, 11, 22, 8, 15, tzinfo=CET)
CONTROL_ID = "K7Q2M4X9P3Z8R5T1V6W0"

ADT = [Trigger.A05, Trigger.A08, Trigger.A38]
BED = [Trigger.A14, Trigger.A27]
SIU = [Trigger.S12, Trigger.S13, Trigger.S14, Trigger.S15]


def render(trigger: Trigger, facts: Facts | None = None, code: str = "SU", **snapshot: Any) -> str:
    if facts is None:
        facts = make_facts(TARGET_OF[trigger], administration=code, **snapshot)
    return render_message(
        trigger,
        facts,
        profile(code),
        control_id=CONTROL_ID,
        sent_at=SENT_AT,
        processing_id="T",
    )


def parsed(message: str) -> hl7.Message:
    return hl7.parse(message)


def raw_field(message: str, name: str, number: int) -> str:
    """The whole field as sent (python-hl7's ``message["SEG.Fn"]`` gives component 1)."""
    return str(parsed(message).segment(name)[number])


def segment_names(message: str) -> list[str]:
    assert message.endswith("\r"), "every segment, the last one too, ends with CR"
    return [line[:3] for line in message[:-1].split("\r")]


def assert_strictly_valid(message: str) -> None:
    assert unexpected_warnings(validate_strict(message)) == []


# --- structure ----------------------------------------------------------------------


@pytest.mark.parametrize("protected", [False, True], ids=["plain", "protected"])
@pytest.mark.parametrize("code", ["SU", "SAS"])
@pytest.mark.parametrize("trigger", list(Trigger), ids=lambda trigger: trigger.value)
def test_every_message_validates_strictly_with_hl7apy(trigger, code, protected):
    message = render(trigger, code=code, patient=make_patient(7, protected=protected))

    assert_strictly_valid(message)
    assert raw_field(message, "MSH", 9) == f"{trigger.value}^{MESSAGE_STRUCTURE[trigger]}"


@pytest.mark.parametrize("system", ["personnummer", "samordningsnummer", "reservnummer"])
def test_every_identifier_system_validates(system):
    message = render(Trigger.A05, patient=make_patient(3, system=system))
    assert_strictly_valid(message)


@pytest.mark.parametrize("admission", ["inpatient", "daySurgery", "outpatient"])
@pytest.mark.parametrize("trigger", ADT + SIU, ids=lambda trigger: trigger.value)
def test_every_admission_type_validates(trigger, admission):
    ward = {"hsa_id": "SE2321000131-E000000000203"} if admission == "inpatient" else None
    message = render(trigger, admission={"type": admission, "ward": ward})
    assert_strictly_valid(message)


def test_strict_validation_catches_a_broken_structure():
    """The validator used above is not a rubber stamp."""
    without_evn = "\r".join(s for s in render(Trigger.A05).split("\r") if not s.startswith("EVN"))
    with pytest.raises(InvalidMessage, match="EVN"):
        validate_strict(without_evn)


@pytest.mark.parametrize(
    ("trigger", "segments"),
    [
        (Trigger.A05, ["MSH", "EVN", "PID", "PD1", "PV1"]),
        (Trigger.A08, ["MSH", "EVN", "PID", "PD1", "PV1"]),
        (Trigger.A38, ["MSH", "EVN", "PID", "PD1", "PV1"]),
        (Trigger.A14, ["MSH", "EVN", "PID", "PD1", "PV1", "PV2"]),
        (Trigger.A27, ["MSH", "EVN", "PID", "PD1", "PV1", "PV2"]),
        (
            Trigger.S12,
            ["MSH", "SCH", "TQ1", "PID", "PD1", "PV1", "DG1", "RGS", "AIS", "AIL", "AIP"],
        ),
        (
            Trigger.S15,
            ["MSH", "SCH", "TQ1", "PID", "PD1", "PV1", "DG1", "RGS", "AIS", "AIL", "AIP"],
        ),
    ],
)
def test_segments_of_each_message(trigger, segments):
    assert segment_names(render(trigger)) == segments


@pytest.mark.parametrize("trigger", list(Trigger), ids=lambda trigger: trigger.value)
def test_every_segment_the_last_one_too_ends_with_a_carriage_return(trigger):
    """Defect 2: the last segment went out without its CR."""
    message = render(trigger)
    assert "\n" not in message
    assert message.startswith("MSH|^~\\&|")
    assert message.endswith("\r")
    assert "\r\r" not in message  # and no empty segment
    assert "\x0b" not in message and "\x1c" not in message


# --- MSH ------------------------------------------------------------------------------


@pytest.mark.parametrize(("code", "charset"), [("SU", "UNICODE UTF-8"), ("SAS", "8859/1")])
def test_msh_fields(code, charset):
    msh = parsed(render(Trigger.A05, code=code)).segment("MSH")

    assert str(msh[3]) == "ORBIT"
    assert str(msh[4]) == code
    assert str(msh[5]) == "MILLENNIUM"
    assert str(msh[6]) == "VGR"
    assert str(msh[7]) == "20261122081500+0100"
    assert str(msh[10]) == CONTROL_ID
    assert str(msh[11]) == "T"
    assert str(msh[12]) == "2.5.1"
    assert str(msh[15]) == str(msh[16]) == ""  # original acknowledgment mode
    assert str(msh[18]) == charset


def test_processing_id_is_passed_through():
    facts = make_facts(Target.ENCOUNTER)
    message = render_message(
        Trigger.A05, facts, profile(), control_id="X1", sent_at=SENT_AT, processing_id="P"
    )
    assert parsed(message)["MSH.F11"] == "P"


@pytest.mark.parametrize("bad", ["", "abc", "A" * 21, "A|B", "ÅÄÖ"])
def test_invalid_control_id_is_refused(bad):
    facts = make_facts(Target.ENCOUNTER)
    with pytest.raises(ValueError, match="control_id"):
        render_message(
            Trigger.A05, facts, profile(), control_id=bad, sent_at=SENT_AT, processing_id="T"
        )


def test_invalid_processing_id_is_refused():
    facts = make_facts(Target.ENCOUNTER)
    with pytest.raises(ValueError, match="processing_id"):
        render_message(
            Trigger.A05, facts, profile(), control_id="X1", sent_at=SENT_AT, processing_id="X"
        )


def test_naive_send_time_is_refused():
    facts = make_facts(Target.ENCOUNTER)
    with pytest.raises(ValueError, match="offset"):
        render_message(
            Trigger.A05,
            facts,
            profile(),
            control_id="X1",
            sent_at=dt.datetime(2026, 11, 22, 8, 15),
            processing_id="T",
        )


@pytest.mark.parametrize(
    ("trigger", "target"),
    [(Trigger.A05, Target.BED), (Trigger.A14, Target.APPOINTMENT), (Trigger.S12, Target.BED)],
)
def test_facts_of_another_target_are_refused(trigger, target):
    with pytest.raises(TypeError, match=re.escape(trigger.value)):
        render(trigger, make_facts(target))


# --- patient --------------------------------------------------------------------------


NAMESPACE = {
    "personnummer": "PERSONNUMMER",
    "samordningsnummer": "SAMORDNINGSNUMMER",
    "reservnummer": "VGR_RESERVNUMMER",
}


@pytest.mark.parametrize(
    ("system", "oid", "type_code"),
    [
        ("personnummer", "1.2.752.129.2.1.3.1", "NNSWE"),
        ("samordningsnummer", "1.2.752.129.2.1.3.3", "NNSWE"),
        ("reservnummer", "1.2.752.113.11.0.2.1.1.1", "PI"),
    ],
)
@pytest.mark.parametrize("trigger", [Trigger.A05, Trigger.A14, Trigger.S12])
def test_pid3_carries_identifier_with_oid_authority(trigger, system, oid, type_code):
    patient = make_patient(5, system=system)
    message = parsed(render(trigger, patient=patient))

    assert message["PID.F3.R1.C1"] == patient["identifier"]["value"]
    assert message["PID.F3.R1.C4.S1"] == NAMESPACE[system]
    assert message["PID.F3.R1.C4.S2"] == oid
    assert message["PID.F3.R1.C4.S3"] == "ISO"
    assert message["PID.F3.R1.C5"] == type_code


def test_pid5_is_family_then_given_name():
    message = parsed(render(Trigger.A05, patient=make_patient(family_name="Öst", given_name="Åsa")))
    assert message["PID.F5.R1.C1"] == "Öst"
    assert message["PID.F5.R1.C2"] == "Åsa"
    assert message["PID.F5.R1.C7"] == "L"


@pytest.mark.parametrize("trigger", list(Trigger), ids=lambda trigger: trigger.value)
def test_protected_identity_sends_flag_and_nothing_more_about_the_person(trigger):
    message = render(trigger, patient=make_patient(9, protected=True))
    pid = parsed(message).segment("PID")

    assert parsed(message)["PD1.F12"] == "Y"
    # PID carries set id, identifier, name, and the birth date and sex the identifier
    # itself encodes: no address, phone or anything else.
    assert [index for index in range(1, len(pid)) if str(pid[index])] == [1, 3, 5, 7, 8]
    assert "DG1" not in segment_names(message)
    assert "M16.1" not in message


@pytest.mark.parametrize("trigger", list(Trigger), ids=lambda trigger: trigger.value)
def test_unprotected_patient_has_flag_n_and_still_no_address_or_phone(trigger):
    message = render(trigger)
    pid = parsed(message).segment("PID")

    assert parsed(message)["PD1.F12"] == "N"
    assert [index for index in range(1, len(pid)) if str(pid[index])] == [1, 3, 5, 7, 8]
    assert not {"NK1", "GT1", "IN1"} & set(segment_names(message))


def test_unprotected_appointment_carries_the_diagnosis():
    message = parsed(render(Trigger.S12))
    assert message["DG1.F3.R1.C1"] == "M16.1"
    assert message["DG1.F3.R1.C3"] == "ICD-10-SE"


# --- encounter (ADT) ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("admission", "patient_class", "encounter_type"),
    [("inpatient", "I", "IP"), ("daySurgery", "O", "DS"), ("outpatient", "O", "OP")],
)
@pytest.mark.parametrize("trigger", ADT + SIU, ids=lambda trigger: trigger.value)
def test_pv1_class_and_type_come_from_the_profile(
    trigger, admission, patient_class, encounter_type
):
    ward = {"hsa_id": "SE2321000131-E000000000203"} if admission == "inpatient" else None
    message = parsed(render(trigger, admission={"type": admission, "ward": ward}))
    assert message["PV1.F2"] == patient_class
    assert message["PV1.F18"] == encounter_type


def test_inpatient_encounter_lives_on_the_ward():
    message = parsed(render(Trigger.A05))
    assert message["PV1.F3.R1.C1"] == "SU-KIR1"  # ward 201
    assert message["PV1.F3.R1.C4"] == "SU"
    assert message["PV1.F3.R1.C7"] == "SAHLGRENSKA"
    assert message["PV1.F3.R1.C9"] == "Kirurgavdelning 1"
    assert message["PV1.F39"] == "SU"


def test_day_surgery_encounter_lives_at_the_operating_unit():
    message = parsed(render(Trigger.A08, admission={"type": "daySurgery"}))
    assert message["PV1.F3.R1.C1"] == "SU-OPSAHL"  # unit 101


@pytest.mark.parametrize("trigger", ADT, ids=lambda trigger: trigger.value)
def test_encounter_key_fields(trigger):
    message = parsed(render(trigger))

    assert message["EVN.F1"] == trigger.value[4:]
    assert message["EVN.F2"] == "20261122081500+0100"
    assert message["PV1.F7.R1.C1"] == SURGEON
    assert message["PV1.F7.R1.C9.S1"] == "HSA"
    assert message["PV1.F7.R1.C9.S2"] == "1.2.752.129.2.1.4.1"
    assert message["PV1.F19.R1.C1"] == "OB-2026-000123"
    assert message["PV1.F19.R1.C4"] == "ORBIT"
    assert message["PV1.F19.R1.C5"] == "VN"
    assert message["PV1.F44"] == "20261130180000+0100"


def test_encounter_without_surgeon_leaves_pv1_7_empty():
    message = render(Trigger.A05, surgeon=None)
    assert raw_field(message, "PV1", 7) == ""
    assert_strictly_valid(message)


def test_admit_time_defaults_to_planned_start():
    message = parsed(render(Trigger.A05, admission={"type": "outpatient"}))
    assert message["PV1.F44"] == "20261201080000+0100"


@pytest.mark.parametrize(
    ("offset", "local"),
    [
        (dt.timedelta(hours=2), "20260601080000+0200"),
        (dt.timedelta(0), "20260601100000+0200"),  # "…T08:00Z" is 10:00 in Sweden in June
        (dt.timedelta(hours=1), "20260601090000+0200"),  # a stale winter offset in summer
        (dt.timedelta(hours=-5), "20260601150000+0200"),
    ],
)
def test_times_are_sent_in_the_administrations_zone_whatever_offset_orbit_sent(offset, local):
    """Defect 4: the offset Orbit sent went out as it was (+0000, -0500, …)."""
    start = dt.datetime(2026, 6, 1, 8, 0, tzinfo=dt.timezone(offset))
    message = parsed(
        render(
            Trigger.A05,
            planned_start=start,
            planned_end=start + dt.timedelta(hours=2),
            admission={"type": "daySurgery"},
        )
    )
    assert message["PV1.F44"] == local


# --- bed booking (A14 / A27) ------------------------------------------------------


@pytest.mark.parametrize("trigger", BED, ids=lambda trigger: trigger.value)
def test_bed_booking_key_fields(trigger):
    message = parsed(render(trigger))

    assert message["PV1.F2"] == "I"
    assert message["PV1.F3.R1.C1"] == "SU-KIR1"
    assert message["PV1.F19.R1.C1"] == "OB-2026-000123"
    assert message["PV2.F8"] == "20261130180000+0100"
    # Defect 1: the expected nights are the *estimated* stay (PV2-10), not the actual (11).
    assert message["PV2.F10"] == "3"
    assert message["PV2.F11"] == ""


def test_bed_booking_without_expected_nights_leaves_pv2_10_and_11_empty():
    ward = {"hsa_id": "SE2321000131-E000000000202"}
    message = render(Trigger.A14, admission={"type": "inpatient", "ward": ward})
    assert parsed(message)["PV2.F10"] == ""
    assert parsed(message)["PV2.F11"] == ""
    assert parsed(message)["PV1.F3.R1.C1"] == "SU-ORT1"
    assert_strictly_valid(message)


# --- appointment (SIU) ---------------------------------------------------------------


@pytest.mark.parametrize("trigger", SIU, ids=lambda trigger: trigger.value)
def test_appointment_key_fields(trigger):
    text = render(trigger)
    message = parsed(text)

    assert message["SCH.F1.R1.C1"] == "OB-2026-000123"
    assert message["SCH.F1.R1.C2"] == "ORBIT"
    assert raw_field(text, "SCH", 7) == "NFB49^Primär total höftledsplastik^KVA"
    assert message["SCH.F11.R1.C3"] == "M120"
    assert message["SCH.F11.R1.C4"] == "20261201080000+0100"
    assert message["SCH.F11.R1.C5"] == "20261201100000+0100"
    expected_status = "Cancelled" if trigger is Trigger.S15 else "Booked"
    assert message["SCH.F25"] == expected_status
    assert raw_field(text, "AIS", 3) == "NFB49^Primär total höftledsplastik^KVA"
    assert message["AIS.F4"] == "20261201080000+0100"
    assert message["AIS.F7"] == "120"
    assert message["AIL.F3.R1.C1"] == "SU-OPSAHL"
    assert message["AIL.F3.R1.C2"] == "SAL 5"
    assert message["AIP.F3.R1.C1"] == SURGEON
    assert message["AIP.F4"] == "SURGEON"
    # PV1-19 links the appointment to the encounter: the same visit number.
    assert raw_field(text, "PV1", 19) == raw_field(render(Trigger.A05), "PV1", 19)
    assert raw_field(text, "PV1", 19) == "OB-2026-000123^^^ORBIT^VN"


def test_appointment_without_surgeon_theatre_or_diagnosis():
    message = render(Trigger.S12, surgeon=None, theatre=None, diagnosis=None)

    assert segment_names(message) == [
        "MSH", "SCH", "TQ1", "PID", "PD1", "PV1", "RGS", "AIS", "AIL"
    ]  # fmt: skip
    assert parsed(message)["AIL.F3.R1.C2"] == ""
    assert_strictly_valid(message)


def test_cancelled_status_comes_from_the_profile():
    custom = profile().model_copy(update={"cancelled_status": "Canceled"})
    facts = make_facts(Target.APPOINTMENT)
    message = render_message(
        Trigger.S15, facts, custom, control_id="X1", sent_at=SENT_AT, processing_id="T"
    )
    assert parsed(message)["SCH.F25"] == "Canceled"


def test_appointment_of_a_cancelled_booking_renders_from_confirmed_facts():
    """S15 carries the last confirmed facts; a cancelled snapshot has none."""
    cancelled = make_snapshot(status=BookingStatus.CANCELLED)
    assert cancelled.status is BookingStatus.CANCELLED
    confirmed = make_facts(Target.APPOINTMENT)
    assert isinstance(confirmed, AppointmentFacts)
    assert parsed(render(Trigger.S15, confirmed))["SCH.F25"] == "Cancelled"


# --- escaping -----------------------------------------------------------------------


@pytest.mark.parametrize("trigger", [Trigger.A05, Trigger.A14, Trigger.S12])
def test_delimiters_in_data_are_escaped(trigger):
    family, given = "Berg|Ström^Lind", "Ann~Eva\\Sofie&Co"
    message = render(trigger, patient=make_patient(family_name=family, given_name=given))

    assert "Berg\\F\\Ström\\S\\Lind^Ann\\R\\Eva\\E\\Sofie\\T\\Co^" in message
    assert parsed(message)["PID.F5.R1.C1"] == family
    assert parsed(message)["PID.F5.R1.C2"] == given
    assert segment_names(message) == segment_names(render(trigger))
    assert_strictly_valid(message)


def test_line_breaks_in_data_cannot_split_a_segment():
    message = render(Trigger.A05, patient=make_patient(family_name="Berg\r\nMSH|evil"))

    assert segment_names(message) == ["MSH", "EVN", "PID", "PD1", "PV1"]
    assert "Berg\\X0D\\\\X0A\\MSH\\F\\evil" in message


def test_delimiters_in_profile_codes_and_procedure_text_are_escaped():
    message = render(Trigger.S12, procedure={"code": "NFB49", "text": "Höft ^ knä & fot"})
    assert parsed(message)["AIS.F3.R1.C2"] == "Höft ^ knä & fot"
    assert_strictly_valid(message)


# --- character sets -------------------------------------------------------------------

FAMILY, GIVEN = "Åkerström-Öhman", "Renée Märta"


@pytest.mark.parametrize(("code", "codec"), [("SU", "utf-8"), ("SAS", "iso-8859-1")])
@pytest.mark.parametrize("trigger", [Trigger.A05, Trigger.S12, Trigger.A14])
def test_swedish_names_round_trip_byte_exactly(trigger, code, codec):
    message = render(trigger, code=code, patient=make_patient(family_name=FAMILY, given_name=GIVEN))
    wire = encode_message(message, profile(code))

    name_bytes = "Åkerström-Öhman^Renée Märta".encode(codec)
    assert name_bytes in wire
    assert wire == message.encode(codec)
    declared = {"UNICODE UTF-8": "utf-8", "8859/1": "iso-8859-1"}[parsed(message)["MSH.F18"]]
    received = hl7.parse(wire.decode(declared))
    assert received["PID.F5.R1.C1"] == FAMILY
    assert received["PID.F5.R1.C2"] == GIVEN


def test_latin1_and_utf8_wire_bytes_differ_for_the_same_name():
    utf8 = encode_message(render(Trigger.A05, code="SU"), profile("SU"))
    latin1 = encode_message(render(Trigger.A05, code="SAS"), profile("SAS"))
    assert "Åkerström".encode() in utf8 and b"\xc5kerstr\xf6m" in latin1
    assert b"\xc5kerstr\xf6m" not in utf8


def test_character_the_charset_cannot_carry_is_a_clear_error_without_data():
    message = render(Trigger.A05, code="SAS", patient=make_patient(given_name="Łucja"))

    with pytest.raises(UnencodableText) as caught:
        encode_message(message, profile("SAS"))

    text = str(caught.value)
    assert "PID-5" in text and "8859/1" in text and "SAS" in text
    assert "Łucja" not in text and "Ł" not in text and "Åkerström" not in text


def test_encoding_with_another_profiles_charset_is_refused():
    message = render(Trigger.A05, code="SU")
    with pytest.raises(ValueError, match="MSH-18"):
        encode_message(message, profile("SAS"))


# --- locations ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("trigger", "snapshot"),
    [
        (Trigger.A05, {"admission": {"type": "inpatient", "ward": {"hsa_id": UNMAPPED_HSA_ID}}}),
        (Trigger.A14, {"admission": {"type": "inpatient", "ward": {"hsa_id": UNMAPPED_HSA_ID}}}),
        (Trigger.S12, {"operating_unit": {"hsa_id": UNMAPPED_HSA_ID}}),
    ],
)
def test_unmapped_hsa_id_names_the_hsa_id_but_not_the_patient(trigger, snapshot):
    patient = make_patient(11, family_name="Åkerström", given_name="Märta")

    with pytest.raises(UnmappedLocation) as caught:
        render(trigger, patient=patient, **snapshot)

    text = str(caught.value)
    assert UNMAPPED_HSA_ID in text
    assert synthetic_personnummer(11) not in text
    assert "Åkerström" not in text and "Märta" not in text


def test_facts_types_cover_every_trigger():
    kinds = {EncounterFacts: ADT, BedFacts: BED, AppointmentFacts: SIU}
    for kind, triggers in kinds.items():
        for trigger in triggers:
            assert isinstance(make_facts(TARGET_OF[trigger]), kind)


# --- segment action codes (table 0206) in S13/S14 ---

OTHER_SURGEON = "SE2321000131-P000000000999"


def _change(trigger: Trigger, before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    replaced = make_facts(Target.APPOINTMENT, **before)
    message = render_message(
        trigger,
        make_facts(Target.APPOINTMENT, **after),
        profile("SU"),
        control_id=CONTROL_ID,
        sent_at=SENT_AT,
        processing_id="T",
        replaces=replaced,
    )
    return [line for line in message.split("\r") if line[:3] in {"RGS", "AIS", "AIL", "AIP", "DG1"}]


def _fields(line: str, *numbers: int) -> tuple[str, ...]:
    fields = line.split("|")
    return tuple(fields[n] if n < len(fields) else "" for n in numbers)


def test_a_new_appointment_has_no_segment_action_codes():
    lines = [line for line in render(Trigger.S12).split("\r") if line[:3] in {"RGS", "AIS"}]
    assert [_fields(line, 2) for line in lines] == [("",), ("",)]


def test_a_changed_surgeon_is_deleted_and_the_new_one_added():
    lines = _change(Trigger.S14, {}, {"surgeon": {"hsa_id": OTHER_SURGEON}})
    aip = [
        (*_fields(line, 1, 2), line.split("|")[3].split("^")[0])
        for line in lines
        if line.startswith("AIP")
    ]
    assert aip == [("1", "D", SURGEON), ("2", "A", OTHER_SURGEON)]
    assert {_fields(line, 2) for line in lines if line[:3] in {"RGS", "AIS", "AIL"}} == {("U",)}


def test_a_removed_surgeon_and_diagnosis_are_deleted():
    lines = _change(Trigger.S14, {}, {"surgeon": None, "diagnosis": None})
    assert [_fields(line, 2) for line in lines if line.startswith("AIP")] == [("D",)]
    assert [_fields(line, 21) for line in lines if line.startswith("DG1")] == [("D",)]


def test_a_rescheduled_appointment_keeps_its_resources_at_the_new_time():
    later = {
        "planned_start": dt.datetime(2026, 12, 2, 8, tzinfo=CET),
        "planned_end": dt.datetime(2026, 12, 2, 10, tzinfo=CET),
    }
    lines = _change(Trigger.S13, {}, later)
    assert {_fields(line, 2) for line in lines if not line.startswith("DG1")} == {("U",)}
    assert all("20261202080000+0100" in line for line in lines if line[:3] in {"AIS", "AIL", "AIP"})


def test_a_deletion_never_shows_the_diagnosis_of_a_patient_now_protected():
    protected = {"patient": make_patient(1, protected=True), "diagnosis": None}
    lines = _change(Trigger.S14, {}, protected)
    assert not [line for line in lines if line.startswith("DG1")]


def test_changes_with_action_codes_validate_strictly():
    text = render_message(
        Trigger.S14,
        make_facts(Target.APPOINTMENT, theatre="SAL 7", surgeon={"hsa_id": OTHER_SURGEON}),
        profile("SU"),
        control_id=CONTROL_ID,
        sent_at=SENT_AT,
        processing_id="T",
        replaces=make_facts(Target.APPOINTMENT),
    )
    validate_strict(text)
