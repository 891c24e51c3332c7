"""One function per HL7 segment (and per composite data type) we send.

Each function takes facts and profile values and returns the segment as ER7
text. All data goes through :func:`escape`; codes from the profile too, because a
profile is edited by hand. The field-by-field table for Cerner's interface team
is ``docs/hl7-mapping.md``; keep the two in step.
"""

from __future__ import annotations

import datetime as dt

from shared.hl7.er7 import (
    ENCODING_CHARACTERS,
    FIELD,
    components,
    dtm,
    escape,
    segment,
    subcomponents,
)
from shared.identity import ASSIGNING_AUTHORITY_OID, IdentifierSystem
from shared.profiles import Location, Profile
from shared.targets import PatientFacts

HL7_VERSION = "2.5.1"
COUNTRY_CODE = "SWE"  # MSH-17, ISO 3166 alpha-3
ORBIT_NAMESPACE = "ORBIT"  # CX.4 of the visit number, EI.2 of the placer appointment id
HSA_OID = "1.2.752.129.2.1.4.1"  # HSA-id, the Swedish health-care directory
KVA_SYSTEM = "KVA"  # CE.3 for KVÅ procedure codes
ICD10SE_SYSTEM = "ICD-10-SE"  # CE.3 for diagnoses
MINUTES = components("min", "minute", "ISO+")  # CE of duration units

IDENTIFIER_TYPE: dict[IdentifierSystem, str] = {
    # Both national numbers are issued by Skatteverket: "national person identifier".
    IdentifierSystem.PERSONNUMMER: "NNSWE",
    IdentifierSystem.SAMORDNINGSNUMMER: "NNSWE",
    # Reserve numbers are assigned locally by the region: "patient internal identifier".
    IdentifierSystem.RESERVNUMMER: "PI",
}
"""PID-3 CX.5 per identifier system (CX.4 carries the system's OID)."""


# --- composite data types -------------------------------------------------------


def patient_identifier(patient: PatientFacts) -> str:
    """PID-3 (CX): ``value^^^&OID&ISO^type``."""
    authority = subcomponents("", ASSIGNING_AUTHORITY_OID[patient.system], "ISO")
    return components(escape(patient.value), "", "", authority, IDENTIFIER_TYPE[patient.system])


def visit_number(booking_id: str) -> str:
    """PV1-19 (CX): the Orbit booking id, assigned by ``ORBIT``, type VN."""
    return components(escape(booking_id), "", "", ORBIT_NAMESPACE, "VN")


def placer_appointment_id(booking_id: str) -> str:
    """SCH-1 (EI): the Orbit booking id in namespace ``ORBIT``."""
    return components(escape(booking_id), ORBIT_NAMESPACE)


def hsa_person(hsa_id: str) -> str:
    """XCN for a clinician: the HSA-id (XCN.1) with the HSA authority (XCN.9)."""
    authority = subcomponents("HSA", HSA_OID, "ISO")
    return components(escape(hsa_id), "", "", "", "", "", "", "", authority)


def system_person(profile: Profile) -> str:
    """XCN naming the sending system (SCH-16/SCH-20): Orbit books, no person is known."""
    return components(escape(profile.sending_application))


def place(location: Location, profile: Profile, *, room: str | None = None) -> str:
    """PL: point of care^room^bed^facility^^^building^^description.

    ``room`` (a theatre) overrides the location's own room.
    """
    return components(
        escape(location.point_of_care),
        escape(room or location.room or ""),
        escape(location.bed or ""),
        escape(location.facility or profile.facility),
        "",
        "",
        escape(location.building or ""),
        "",
        escape(location.description or ""),
    )


def coded(code: str, text: str | None, system: str) -> str:
    """CE: ``code^text^system``."""
    return components(escape(code), escape(text or ""), escape(system))


def duration_minutes(start: dt.datetime, end: dt.datetime) -> int:
    """Whole minutes from ``start`` to ``end`` (Orbit plans in minutes)."""
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
        dtm(sent_at),  # MSH-7
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


def evn(event: str, sent_at: dt.datetime) -> str:
    """EVN: EVN-1 the trigger event, EVN-2 when the message was recorded."""
    return segment("EVN", {1: event, 2: dtm(sent_at)})


def pid(patient: PatientFacts) -> str:
    """PID: identifier (PID-3) and legal name (PID-5) only; never address or phone."""
    name = components(escape(patient.family_name), escape(patient.given_name), "", "", "", "", "L")
    return segment("PID", {1: "1", 3: patient_identifier(patient), 5: name})


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
    booking_id: str,
    location: str = "",
    surgeon_hsa_id: str | None = None,
    admit_at: dt.datetime | None = None,
) -> str:
    """PV1 with class, location, surgeon, encounter type, visit number, admit time."""
    return segment(
        "PV1",
        {
            1: "1",
            2: escape(patient_class),
            3: location,
            7: hsa_person(surgeon_hsa_id) if surgeon_hsa_id else "",
            18: escape(encounter_type),
            19: visit_number(booking_id),
            39: escape(profile.facility),
            44: dtm(admit_at) if admit_at else "",
        },
    )


def pv2_expected_stay(admit_at: dt.datetime, expected_nights: int | None) -> str:
    """PV2-8 expected admit time and PV2-11 expected length of stay (nights)."""
    nights = "" if expected_nights is None else str(expected_nights)
    return segment("PV2", {8: dtm(admit_at), 11: nights})


def sch(
    *,
    booking_id: str,
    event_reason: str,
    procedure: str,
    appointment_type: str,
    start: dt.datetime,
    end: dt.datetime,
    contact: str,
    status: str,
) -> str:
    """SCH: placer id, reason, procedure, timing (TQ: ^^duration^start^end), status."""
    timing = components("", "", f"M{duration_minutes(start, end)}", dtm(start), dtm(end))
    return segment(
        "SCH",
        {
            1: placer_appointment_id(booking_id),
            6: event_reason,
            7: procedure,
            8: components(escape(appointment_type)),
            11: timing,
            16: contact,
            20: contact,
            25: components(escape(status)),
        },
    )


def dg1(diagnosis_code: str) -> str:
    """DG1: the booking's diagnosis (ICD-10-SE) as a working diagnosis."""
    return segment("DG1", {1: "1", 3: coded(diagnosis_code, None, ICD10SE_SYSTEM), 6: "W"})


def rgs() -> str:
    """RGS: the one resource group of a surgical appointment."""
    return segment("RGS", {1: "1"})


def ais(procedure: str, start: dt.datetime, minutes: int) -> str:
    """AIS: the procedure (KVÅ) as the service, with start and duration."""
    return segment("AIS", {1: "1", 3: procedure, 4: dtm(start), 7: str(minutes), 8: MINUTES})


def ail(location: str, start: dt.datetime, minutes: int) -> str:
    """AIL: the operating unit and theatre, with start and duration."""
    return segment("AIL", {1: "1", 3: location, 6: dtm(start), 9: str(minutes), 10: MINUTES})


def aip(surgeon_hsa_id: str, role: str, start: dt.datetime, minutes: int) -> str:
    """AIP: the surgeon, with role, start and duration."""
    return segment(
        "AIP",
        {
            1: "1",
            3: hsa_person(surgeon_hsa_id),
            4: components(escape(role)),
            6: dtm(start),
            9: str(minutes),
            10: MINUTES,
        },
    )
