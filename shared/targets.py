"""What Millennium should hold for a booking, per target.

A snapshot is turned into *facts*: what one target must hold, in neutral terms
(no HL7 here: the channels decide how facts travel, shared.sync.channel).
The sync compares the desired facts (from the newest snapshot) with the
confirmed facts (from the last AA) and sends what closes the gap. Facts are
pydantic models so they round-trip through the crosswalk as JSON.

Every target's facts carry the booking's *patient generation*: 0 for the patient
first booked, one more for each correction of the patient in Orbit. Millennium
never sees one visit alias for two persons, so the identifiers sent for a
booking (visit number, appointment ids, bed alias) carry the generation
(:func:`millennium_alias`), and a new generation removes and recreates
everything under the new person.
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


GENERATION_SEPARATOR = ":"
"""Between booking id and generation in an alias; never part of a booking id."""


def millennium_alias(booking_id: str, generation: int) -> str:
    """The visit number / appointment id of a booking's ``generation``-th patient.

    Generation 0 is the booking id itself; later ones append ``:<generation>``.
    """
    return booking_id if generation == 0 else f"{booking_id}{GENERATION_SEPARATOR}{generation}"


def booking_of_alias(alias: str) -> str:
    """The Orbit booking id an alias made by :func:`millennium_alias` belongs to."""
    return alias.split(GENERATION_SEPARATOR, 1)[0]


class _Facts(BaseModel):
    model_config = ConfigDict(frozen=True)

    booking_id: str
    # Rows written before generations existed hold generation 0 (the booking id).
    generation: int = 0

    @property
    def alias(self) -> str:
        """The Millennium alias (visit number, appointment id) these facts are sent under."""
        return millennium_alias(self.booking_id, self.generation)


class PatientFacts(BaseModel):
    model_config = ConfigDict(frozen=True)

    system: IdentifierSystem
    value: str
    family_name: str
    given_name: str
    protected: bool


class EncounterFacts(_Facts):
    administration: str
    patient: PatientFacts
    admission_type: AdmissionType
    location_hsa_id: str
    surgeon_hsa_id: str | None
    admit_at: dt.datetime


class AppointmentFacts(_Facts):
    administration: str
    patient: PatientFacts
    admission_type: AdmissionType
    procedure_code: str
    procedure_text: str | None
    diagnosis_code: str | None
    diagnosis_text: str | None = None
    start: dt.datetime
    end: dt.datetime
    theatre: str | None
    unit_hsa_id: str
    surgeon_hsa_id: str | None
    # Set only on the facts a removal is rendered from (removal_facts): whether the
    # booking was cancelled (else the patient was corrected), and Orbit's reason.
    cancelled: bool = False
    cancellation_reason: str | None = None

    def same_time_as(self, other: AppointmentFacts) -> bool:
        return (self.start, self.end) == (other.start, other.end)


class BedFacts(_Facts):
    administration: str
    patient: PatientFacts
    ward_hsa_id: str
    admit_at: dt.datetime
    expected_nights: int | None

    def _booking_key(self) -> tuple[object, ...]:
        # Millennium's pending admit is ward, admit time and length of stay, for one
        # person under one alias; names and protection travel in the encounter's A08.
        return (
            self.booking_id,
            self.administration,
            self.generation,
            self.patient.system,
            self.patient.value,
            self.ward_hsa_id,
            self.admit_at,
            self.expected_nights,
        )

    def __eq__(self, other: object) -> bool:
        """Same bed booking: a name or protection change alone does not rebook the bed."""
        if not isinstance(other, BedFacts):
            return NotImplemented
        return self._booking_key() == other._booking_key()

    def __hash__(self) -> int:
        return hash(self._booking_key())


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


def desired_facts(snapshot: BookingSnapshot, target: Target, generation: int = 0) -> Facts | None:
    """The facts ``target`` should hold for ``snapshot``; None means 'must not exist'.

    ``generation`` is the booking's patient generation (see the module docstring).
    """
    if snapshot.status is BookingStatus.CANCELLED:
        return None
    facts: Facts | None
    if target is Target.ENCOUNTER:
        facts = _encounter(snapshot)
    elif target is Target.APPOINTMENT:
        facts = _appointment(snapshot)
    else:
        facts = _bed(snapshot)
    if facts is None or generation == 0:
        return facts
    return facts.model_copy(update={"generation": generation})


def removal_facts(confirmed: Facts, snapshot: BookingSnapshot) -> Facts:
    """What the removal of ``confirmed`` is rendered from: an appointment's removal
    also says whether the booking was cancelled, and Orbit's reason."""
    if not isinstance(confirmed, AppointmentFacts):
        return confirmed
    if snapshot.status is not BookingStatus.CANCELLED:
        return confirmed  # removed for a patient correction
    update = {"cancelled": True, "cancellation_reason": snapshot.cancellation_reason}
    return confirmed.model_copy(update=update)


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
        diagnosis_text=snapshot.diagnosis.text if snapshot.diagnosis else None,
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
