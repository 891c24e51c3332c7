"""What Millennium should hold for a booking, per target.

A snapshot is turned into *facts*: what one target must hold, in neutral terms
(no HL7 here: the channels decide how facts travel, shared.sync.channel).
The sync compares the desired facts (from the newest snapshot) with the
confirmed facts (from the last AA) and sends what closes the gap. Facts are
pydantic models so they round-trip through the crosswalk as JSON.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from shared.booking import AdmissionType, BookingSnapshot, BookingStatus
from shared.identity import IdentifierSystem


class Target(StrEnum):
    ENCOUNTER = "encounter"
    APPOINTMENT = "appointment"
    BED = "bed"


class _Facts(BaseModel):
    model_config = ConfigDict(frozen=True)


class PatientFacts(_Facts):
    system: IdentifierSystem
    value: str
    family_name: str
    given_name: str
    protected: bool


class EncounterFacts(_Facts):
    booking_id: str
    administration: str
    patient: PatientFacts
    admission_type: AdmissionType
    location_hsa_id: str
    surgeon_hsa_id: str | None
    admit_at: dt.datetime


class AppointmentFacts(_Facts):
    booking_id: str
    administration: str
    patient: PatientFacts
    admission_type: AdmissionType
    procedure_code: str
    procedure_text: str | None
    diagnosis_code: str | None
    start: dt.datetime
    end: dt.datetime
    theatre: str | None
    unit_hsa_id: str
    surgeon_hsa_id: str | None

    def same_time_as(self, other: AppointmentFacts) -> bool:
        return (self.start, self.end) == (other.start, other.end)


class BedFacts(_Facts):
    booking_id: str
    administration: str
    patient: PatientFacts
    ward_hsa_id: str
    admit_at: dt.datetime
    expected_nights: int | None


Facts = EncounterFacts | AppointmentFacts | BedFacts

FACTS_MODEL: dict[Target, type[EncounterFacts] | type[AppointmentFacts] | type[BedFacts]] = {
    Target.ENCOUNTER: EncounterFacts,
    Target.APPOINTMENT: AppointmentFacts,
    Target.BED: BedFacts,
}


def patient_facts(snapshot: BookingSnapshot) -> PatientFacts:
    patient = snapshot.patient
    return PatientFacts(
        system=patient.identifier.system,
        value=patient.identifier.value,
        family_name=patient.family_name,
        given_name=patient.given_name,
        protected=patient.protected_identity,
    )


def desired_facts(snapshot: BookingSnapshot, target: Target) -> Facts | None:
    """The facts ``target`` should hold for ``snapshot``; None means 'must not exist'."""
    if snapshot.status is BookingStatus.CANCELLED:
        return None
    if target is Target.ENCOUNTER:
        return _encounter(snapshot)
    if target is Target.APPOINTMENT:
        return _appointment(snapshot)
    return _bed(snapshot)


def _encounter(snapshot: BookingSnapshot) -> EncounterFacts:
    ward = snapshot.admission.ward
    # An admitted patient's encounter lives on the ward; otherwise at the operating unit.
    location = ward if snapshot.admission.type is AdmissionType.INPATIENT and ward else None
    return EncounterFacts(
        booking_id=snapshot.booking_id,
        administration=snapshot.administration,
        patient=patient_facts(snapshot),
        admission_type=snapshot.admission.type,
        location_hsa_id=(location or snapshot.operating_unit).hsa_id,
        surgeon_hsa_id=snapshot.surgeon.hsa_id if snapshot.surgeon else None,
        admit_at=snapshot.admit_at,
    )


def _appointment(snapshot: BookingSnapshot) -> AppointmentFacts:
    return AppointmentFacts(
        booking_id=snapshot.booking_id,
        administration=snapshot.administration,
        patient=patient_facts(snapshot),
        admission_type=snapshot.admission.type,
        procedure_code=snapshot.procedure.code,
        procedure_text=snapshot.procedure.text,
        diagnosis_code=snapshot.diagnosis.code if snapshot.diagnosis else None,
        start=snapshot.planned_start,
        end=snapshot.planned_end,
        theatre=snapshot.theatre,
        unit_hsa_id=snapshot.operating_unit.hsa_id,
        surgeon_hsa_id=snapshot.surgeon.hsa_id if snapshot.surgeon else None,
    )


def _bed(snapshot: BookingSnapshot) -> BedFacts | None:
    ward = snapshot.admission.ward
    if snapshot.admission.type is not AdmissionType.INPATIENT or ward is None:
        return None
    return BedFacts(
        booking_id=snapshot.booking_id,
        administration=snapshot.administration,
        patient=patient_facts(snapshot),
        ward_hsa_id=ward.hsa_id,
        admit_at=snapshot.admit_at,
        expected_nights=snapshot.admission.expected_nights,
    )
