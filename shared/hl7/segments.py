"""One function per HL7 segment (and per composite data type) we send.

Each function takes facts and profile values and returns the segment as ER7
text. All data goes through :func:`escape`; codes from the profile too, because a
profile is edited by hand. Every time is written in the profile's time zone with
the offset of its instant. No site value is written here: namespaces,
identifier types, code systems, reason codes and units come from the profile.
The field-by-field table for Cerner's interface team is ``docs/hl7-mapping.md``;
keep the two in step.
"""

from __future__ import annotations

import datetime as dt

from shared.hl7.er7 import (
    ENCODING_CHARACTERS,
    FIELD,
    HL7_NULL,
    components,
    dtm,
    escape,
    segment,
    subcomponents,
)
from shared.hl7.person import administrative_sex, birth_date
from shared.profiles import Location, MeasureUnit, Profile
from shared.targets import GENERATION_SEPARATOR, PatientFacts

HL7_VERSION = "2.5.1"
COUNTRY_CODE = "SWE"  # MSH-17, ISO 3166 alpha-3
HSA_OID = "1.2.752.129.2.1.4.1"  # HSA-id, the Swedish health-care directory
VISIT_NUMBER_TYPE = "VN"  # CX.5 of PV1-19 and PV1-50 (HL7 table 0203)
BED_ALIAS_SUFFIX = "BED"
"""A bed booking's own alias is its visit number + ``:BED`` (profile ``bed_booking_id``)."""


# --- composite data types -------------------------------------------------------


def patient_identifier(patient: PatientFacts, profile: Profile) -> str:
    """PID-3 (CX): ``value^^^namespace&OID&ISO^type`` from the profile's identifier table."""
    authority = profile.identifiers[patient.system]
    assigner = subcomponents(escape(authority.namespace), escape(authority.oid), "ISO")
    return components(escape(patient.value), "", "", assigner, escape(authority.type_code))


def visit_number(alias: str, profile: Profile) -> str:
    """PV1-19 (CX): the booking's alias, assigned by the profile's namespace, type VN."""
    return components(escape(alias), "", "", escape(profile.namespace), VISIT_NUMBER_TYPE)


def bed_alias(alias: str) -> str:
    """The bed booking's own alias (PV1-50) when the profile identifies it so."""
    return f"{alias}{GENERATION_SEPARATOR}{BED_ALIAS_SUFFIX}"


def appointment_id(alias: str, profile: Profile) -> str:
    """SCH-1 / SCH-2 (EI): the booking's alias in the profile's namespace."""
    return components(escape(alias), escape(profile.namespace))


def hsa_person(hsa_id: str, profile: Profile) -> str:
    """XCN for a clinician: the HSA-id (XCN.1) with the HSA authority (XCN.9)."""
    authority = subcomponents(escape(profile.code_systems.hsa), HSA_OID, "ISO")
    return components(escape(hsa_id), "", "", "", "", "", "", "", authority)


def system_person(profile: Profile) -> str:
    """XCN naming the sending system (SCH-16/SCH-20): Orbit books, no person is known."""
    return components(escape(profile.sending_application))


def place(location: Location, profile: Profile, *, room: str | None = None) -> str:
    """PL: point of care^room^bed^facility^^^building^^description.

    ``room`` (a theatre's room code) overrides the location's own room.
    """
    return components(
        escape(location.point_of_care),
        escape(room or location.room or ""),
        escape(location.bed or ""),
        escape(facility_of(location, profile)),
        "",
        "",
        escape(location.building or ""),
        "",
        escape(location.description or ""),
    )


def facility_of(location: Location, profile: Profile) -> str:
    """A location's own facility, else the profile's (PL.4 and PV1-39 agree)."""
    return location.facility or profile.facility


def coded(code: str, text: str | None, system: str) -> str:
    """CE: ``code^text^system``."""
    return components(escape(code), escape(text or ""), escape(system))


def unit(measure: MeasureUnit) -> str:
    """CE of a unit of measure, e.g. ``min^minute^ISO+``."""
    return coded(measure.code, measure.text, measure.system)


def duration_minutes(start: dt.datetime, end: dt.datetime) -> int:
    """Whole elapsed minutes from ``start`` to ``end`` (Orbit plans in minutes).

    Elapsed time, not wall-clock difference: an operation over a DST change
    lasts as long as it lasts.
    """
    return int((end - start).total_seconds()) // 60


# --- segments -------------------------------------------------------------------


def msh(
    profile: Profile,
    message_type: str,
    *,
    control_id: str,
    sent_at: dt.datetime,
    processing_id: str,
) -> str:
    """MSH. ``message_type`` is MSH-9 as sent (e.g. ``ADT^A05^ADT_A05``).

    MSH-15/16 stay empty: original acknowledgment mode (one ACK per message).
    """
    fields = (
        "MSH",
        ENCODING_CHARACTERS,  # MSH-2
        escape(profile.sending_application),  # MSH-3
        escape(profile.sending_facility),  # MSH-4
        escape(profile.receiving_application),  # MSH-5
        escape(profile.receiving_facility),  # MSH-6
        dtm(sent_at, profile.zone),  # MSH-7
        "",  # MSH-8 security
        message_type,  # MSH-9
        control_id,  # MSH-10
        processing_id,  # MSH-11
        HL7_VERSION,  # MSH-12
        "",  # MSH-13 sequence number
        "",  # MSH-14 continuation pointer
        "",  # MSH-15 accept acknowledgment type (original mode: empty)
        "",  # MSH-16 application acknowledgment type (original mode: empty)
        COUNTRY_CODE,  # MSH-17
        profile.charset,  # MSH-18
    )
    return FIELD.join(fields)


def evn(event: str, sent_at: dt.datetime, profile: Profile) -> str:
    """EVN: EVN-1 the trigger event, EVN-2 when the message was recorded."""
    return segment("EVN", {1: event, 2: dtm(sent_at, profile.zone)})


def pid(patient: PatientFacts, profile: Profile) -> str:
    """PID: identifier (PID-3), legal name (PID-5), and the birth date (PID-7) and
    sex (PID-8) the identifier encodes; never address or phone."""
    name = components(escape(patient.family_name), escape(patient.given_name), "", "", "", "", "L")
    return segment(
        "PID",
        {
            1: "1",
            3: patient_identifier(patient, profile),
            5: name,
            7: birth_date(patient.system, patient.value),
            8: administrative_sex(patient.system, patient.value),
        },
    )


def pd1(patient: PatientFacts) -> str:
    """PD1-12 protection indicator: ``Y`` for skyddade personuppgifter, else ``N``.

    ``N`` is sent explicitly so that an update can lift a protection again.
    """
    return segment("PD1", {12: "Y" if patient.protected else "N"})


def pv1(
    profile: Profile,
    *,
    patient_class: str,
    encounter_type: str,
    alias: str,
    location: Location,
    place_field: str = "",
    surgeon_hsa_id: str | None = None,
    admit_at: dt.datetime | None = None,
    alternate_visit_id: str = "",
    clears_surgeon: bool = False,
) -> str:
    """PV1 with class, location, surgeon, encounter type, visit number, facility,
    admit time and (for a bed booking with its own alias) the alternate visit id.

    ``location`` decides PV1-39; ``place_field`` is PV1-3 as sent ("" in SIU).
    ``clears_surgeon``: an update without a surgeon sends PV1-7 as the HL7 null
    ``""``, since an empty field tells the receiver to keep the one it has.
    """
    no_surgeon = HL7_NULL if clears_surgeon else ""
    return segment(
        "PV1",
        {
            1: "1",
            2: escape(patient_class),
            3: place_field,
            7: hsa_person(surgeon_hsa_id, profile) if surgeon_hsa_id else no_surgeon,
            18: escape(encounter_type),
            19: visit_number(alias, profile),
            39: escape(facility_of(location, profile)),
            44: dtm(admit_at, profile.zone) if admit_at else "",
            50: visit_number(alternate_visit_id, profile) if alternate_visit_id else "",
        },
    )


def pv2_expected_stay(admit_at: dt.datetime, expected_nights: int | None, profile: Profile) -> str:
    """PV2-8 expected admit time and PV2-10 *estimated* length of inpatient stay
    (nights). PV2-11 is the actual length of stay and stays empty."""
    nights = "" if expected_nights is None else str(expected_nights)
    return segment("PV2", {8: dtm(admit_at, profile.zone), 10: nights})


def sch(
    profile: Profile,
    *,
    alias: str,
    event_reason: str,
    procedure: str,
    appointment_type: str,
    start: dt.datetime,
    end: dt.datetime,
    status: str,
) -> str:
    """SCH: placer and filler ids, reason, procedure, type, timing, contacts, status.

    SCH-11 (TQ: ``^^M<minutes>^start^end``) is kept for receivers of 2.4 and
    older; TQ1 carries the same timing the 2.5 way.
    """
    zone = profile.zone
    minutes = duration_minutes(start, end)
    timing = components("", "", f"M{minutes}", dtm(start, zone), dtm(end, zone))
    identifier = appointment_id(alias, profile)
    contact = system_person(profile)
    return segment(
        "SCH",
        {
            1: identifier if profile.send_placer_id else "",
            2: identifier,
            6: event_reason,
            7: procedure,
            8: components(escape(appointment_type)),
            11: timing,
            16: contact,
            20: contact,
            25: components(escape(status)),
        },
    )


def tq1(start: dt.datetime, end: dt.datetime, profile: Profile) -> str:
    """TQ1: the appointment's duration (TQ1-6, CQ), start (TQ1-7) and end (TQ1-8)."""
    measure = profile.minute_unit
    units = subcomponents(escape(measure.code), escape(measure.text), escape(measure.system))
    duration = components(str(duration_minutes(start, end)), units)
    zone = profile.zone
    return segment("TQ1", {1: "1", 6: duration, 7: dtm(start, zone), 8: dtm(end, zone)})


def dg1(code: str, text: str | None, profile: Profile, *, action: str = "", set_id: int = 1) -> str:
    """DG1: the booking's diagnosis (ICD-10-SE, with its text) as a working diagnosis;
    ``action`` is DG1-21, the diagnosis action code (table 0206) of an update."""
    return segment(
        "DG1",
        {1: str(set_id), 3: coded(code, text, profile.code_systems.diagnosis), 6: "W", 21: action},
    )


def rgs(*, action: str = "") -> str:
    """RGS: the one resource group of a surgical appointment (RGS-2: its action code
    in an update)."""
    return segment("RGS", {1: "1", 2: action})


def ais(
    procedure: str,
    start: dt.datetime,
    minutes: int,
    profile: Profile,
    *,
    action: str = "",
    set_id: int = 1,
) -> str:
    """AIS: the procedure (KVÅ) as the service, with start and duration."""
    return _resource("AIS", {3: procedure}, start, minutes, profile, action, set_id)


def ail(
    location: str,
    start: dt.datetime,
    minutes: int,
    profile: Profile,
    *,
    action: str = "",
    set_id: int = 1,
) -> str:
    """AIL: the operating unit and theatre, with start and duration."""
    return _resource("AIL", {3: location}, start, minutes, profile, action, set_id)


def aip(
    surgeon_hsa_id: str,
    start: dt.datetime,
    minutes: int,
    profile: Profile,
    *,
    action: str = "",
    set_id: int = 1,
) -> str:
    """AIP: the surgeon, with role, start and duration."""
    fields = {3: hsa_person(surgeon_hsa_id, profile), 4: components(escape(profile.surgeon_role))}
    return _resource("AIP", fields, start, minutes, profile, action, set_id)


_TIMING_FIELDS = {"AIS": (4, 7, 8), "AIL": (6, 9, 10), "AIP": (6, 9, 10)}
"""Start, duration and duration units of each resource segment (v2.5.1 chapter 10)."""


def _resource(
    name: str,
    fields: dict[int, str],
    start: dt.datetime,
    minutes: int,
    profile: Profile,
    action: str,
    set_id: int,
) -> str:
    """A resource segment: set id, segment action code (table 0206, in an update),
    what the resource is, and when and how long it is booked."""
    start_field, duration_field, units_field = _TIMING_FIELDS[name]
    return segment(
        name,
        {
            1: str(set_id),
            2: action,
            **fields,
            start_field: dtm(start, profile.zone),
            duration_field: str(minutes),
            units_field: unit(profile.minute_unit),
        },
    )
