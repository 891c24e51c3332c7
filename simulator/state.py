"""What the simulated Millennium holds, and how each message type changes it.

Pure state and transitions, no I/O and no locking (the caller serialises).
Millennium assigns its own ids: a person id per patient identifier
(``P100001``), an encounter id per visit number (``E200001``) and an
appointment id per placer appointment id (``S300001``).

The answers follow Millennium's rules as the brief models them: an update or
cancel of something unknown is AE, a create of something that exists is AE,
and (with ``enforce_order``) appointments and pending admits need their
encounter first, and an encounter cannot be cancelled while they remain.

Persons are matched by alias: identifier plus assigning authority (PID-3 CX.1
and CX.4). A visit alias (PV1-19, PV1-50) or appointment id belongs to the
person it was first used for, for ever, also after its record is removed:
``strict`` (the default) answers AR when one arrives for another person.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from simulator.inbound import (
    APPLICATION_INTERNAL_ERROR,
    DUPLICATE_KEY,
    UNKNOWN_KEY,
    Inbound,
    PatientData,
    ScheduleData,
)


class Problem(StrEnum):
    """Why a message was answered AE (each one is counted in the stats)."""

    UNKNOWN = "unknown_references"  # update/cancel of something that does not exist
    DUPLICATE_CREATE = "duplicate_creates"  # A05/S12/A14 of something that exists
    ORDER = "order_violations"  # appointment/admit without encounter, or cancel too early
    PATIENT_MISMATCH = "patient_mismatches"  # visit number belongs to another person


@dataclass(frozen=True)
class Outcome:
    code: str  # AA or AE
    problem: Problem | None = None
    error_code: str = ""
    text: str = ""


ACCEPTED = Outcome("AA")


@dataclass
class Person:
    person_id: str
    authority: str
    value: str
    family_name: str
    given_name: str
    protected: bool


@dataclass
class Encounter:
    encounter_id: str
    visit_number: str
    person_id: str
    patient_class: str
    location: str
    facility: str
    attending: str
    encounter_type: str
    admit_time: str
    created_by: str  # MSH-10 of the A05
    updated_by: list[str] = field(default_factory=list)  # MSH-10 of each A08


@dataclass
class Appointment:
    appointment_id: str
    placer_id: str
    visit_number: str
    person_id: str
    encounter_id: str
    reason: str
    start: str
    end: str
    duration: str
    status: str
    procedures: list[str]
    locations: list[str]  # AIL-3 PL.1^PL.2: point of care and room
    staff: list[str]
    created_by: str
    updated_by: list[str] = field(default_factory=list)  # MSH-10 of each S13/S14


@dataclass
class PendingAdmit:
    visit_number: str
    person_id: str
    encounter_id: str
    ward: str
    expected_admit: str
    expected_length_of_stay: str
    created_by: str


class MillenniumState:
    """Persons, encounters (by visit number), appointments (by placer id), pending admits."""

    def __init__(self, *, enforce_order: bool = True) -> None:
        self.enforce_order = enforce_order
        self.strict = True  # the Millennium facade sets it from the lenient fault setting
        self.alias_owners: dict[str, str] = {}  # visit alias / appointment id → person id
        self.persons: dict[str, Person] = {}
        self.encounters: dict[str, Encounter] = {}
        self.appointments: dict[str, Appointment] = {}
        self.pending_admits: dict[str, PendingAdmit] = {}
        self._person_keys: dict[tuple[str, str], str] = {}
        self._placer_by_visit: dict[str, str] = {}  # visit number → placer id
        self._person_numbers = itertools.count(100001)
        self._encounter_numbers = itertools.count(200001)
        self._appointment_numbers = itertools.count(300001)
        self._transitions: dict[str, Callable[[Inbound], Outcome]] = {
            "ADT^A05": self._create_encounter,
            "ADT^A08": self._update_encounter,
            "ADT^A38": self._remove_encounter,
            "ADT^A14": self._create_pending_admit,
            "ADT^A27": self._remove_pending_admit,
            "SIU^S12": self._create_appointment,
            "SIU^S13": self._update_appointment,
            "SIU^S14": self._update_appointment,
            "SIU^S15": self._remove_appointment,
        }

    def apply(self, inbound: Inbound) -> Outcome:
        """Apply one checked message; AA means the state changed."""
        if self.strict:
            moved = self._alias_of_another_person(inbound)
            if moved is not None:
                return moved
        outcome = self._transitions[inbound.message_type](inbound)
        if outcome.code == "AA":
            self._remember_aliases(inbound)
        return outcome

    def _aliases(self, inbound: Inbound) -> list[tuple[str, str]]:
        """(HL7 position, alias) of every visit alias and appointment id in the message."""
        aliases = [("PV1-19", inbound.visit.visit_number)]
        if inbound.visit.bed_alias:
            aliases.append(("PV1-50", inbound.visit.bed_alias))
        if inbound.schedule is not None:
            aliases.append(("SCH-2", "appointment:" + inbound.schedule.placer_id))
        return aliases

    def _alias_of_another_person(self, inbound: Inbound) -> Outcome | None:
        person = self.find_person(inbound.patient.authority, inbound.patient.value)
        for position, alias in self._aliases(inbound):
            owner = self.alias_owners.get(alias)
            if owner is not None and (person is None or owner != person.person_id):
                shown = alias.removeprefix("appointment:")
                return Outcome(
                    "AR",
                    Problem.PATIENT_MISMATCH,
                    DUPLICATE_KEY,
                    f"{position} {shown} belongs to another person than PID-3; "
                    "a visit alias never moves between persons",
                )
        return None

    def _remember_aliases(self, inbound: Inbound) -> None:
        person = self.find_person(inbound.patient.authority, inbound.patient.value)
        if person is None:
            return
        for _, alias in self._aliases(inbound):
            self.alias_owners.setdefault(alias, person.person_id)

    def counts(self) -> dict[str, int]:
        return {
            "persons": len(self.persons),
            "encounters": len(self.encounters),
            "appointments": len(self.appointments),
            "pending_admits": len(self.pending_admits),
        }

    # --- persons ---

    def find_person(self, authority: str, value: str) -> Person | None:
        person_id = self._person_keys.get((authority, value))
        return self.persons[person_id] if person_id else None

    def persons_with_value(self, value: str) -> list[Person]:
        return [person for person in self.persons.values() if person.value == value]

    def register_person(self, patient: PatientData) -> Person:
        """Create the person for the identifier, or update its name and flag."""
        person = self.find_person(patient.authority, patient.value)
        if person is None:
            person = Person(
                person_id=f"P{next(self._person_numbers)}",
                authority=patient.authority,
                value=patient.value,
                family_name=patient.family_name,
                given_name=patient.given_name,
                protected=patient.protected,
            )
            self.persons[person.person_id] = person
            self._person_keys[(patient.authority, patient.value)] = person.person_id
            return person
        person.family_name = patient.family_name or person.family_name
        person.given_name = patient.given_name or person.given_name
        person.protected = patient.protected
        return person

    # --- encounters ---

    def _create_encounter(self, inbound: Inbound) -> Outcome:
        visit = inbound.visit
        if visit.visit_number in self.encounters:
            return _duplicate("encounter", visit.visit_number)
        person = self.register_person(inbound.patient)
        self.encounters[visit.visit_number] = Encounter(
            encounter_id=f"E{next(self._encounter_numbers)}",
            visit_number=visit.visit_number,
            person_id=person.person_id,
            patient_class=visit.patient_class,
            location=visit.location,
            facility=visit.facility,
            attending=_updated("", visit.attending),
            encounter_type=visit.encounter_type,
            admit_time=visit.admit_time,
            created_by=inbound.control_id,
        )
        return ACCEPTED

    def _update_encounter(self, inbound: Inbound) -> Outcome:
        encounter, problem = self._own_encounter(inbound)
        if encounter is None:
            return problem
        visit = inbound.visit
        encounter.patient_class = _updated(encounter.patient_class, visit.patient_class)
        encounter.location = _updated(encounter.location, visit.location)
        encounter.facility = _updated(encounter.facility, visit.facility)
        encounter.attending = _updated(encounter.attending, visit.attending)
        encounter.encounter_type = _updated(encounter.encounter_type, visit.encounter_type)
        encounter.admit_time = _updated(encounter.admit_time, visit.admit_time)
        encounter.updated_by.append(inbound.control_id)
        self.register_person(inbound.patient)
        return ACCEPTED

    def _remove_encounter(self, inbound: Inbound) -> Outcome:
        encounter, problem = self._own_encounter(inbound)
        if encounter is None:
            return problem
        number = encounter.visit_number
        if self.enforce_order:
            dependants = [
                name
                for name, exists in (
                    ("an appointment (cancel it with S15 first)", self._appointment_of(number)),
                    ("a pending admit (cancel it with A27 first)", self._admit_of(number)),
                )
                if exists
            ]
            if dependants:
                return Outcome(
                    "AE",
                    Problem.ORDER,
                    APPLICATION_INTERNAL_ERROR,
                    f"encounter for visit number {number} still has {' and '.join(dependants)}",
                )
        del self.encounters[number]
        return ACCEPTED

    def _own_encounter(self, inbound: Inbound) -> tuple[Encounter | None, Outcome]:
        """The message's encounter, or None and the AE to answer."""
        number = inbound.visit.visit_number
        encounter = self.encounters.get(number)
        if encounter is None:
            return None, _unknown("encounter", "visit number", number)
        if not self._same_person(encounter.person_id, inbound.patient):
            return None, _mismatch(number)
        return encounter, ACCEPTED

    def _same_person(self, person_id: str, patient: PatientData) -> bool:
        person = self.find_person(patient.authority, patient.value)
        return person is not None and person.person_id == person_id

    # --- encounter dependants: pending admits and appointments ---

    def _parent_encounter(self, inbound: Inbound) -> tuple[str, Outcome]:
        """The encounter id an appointment/admit hangs on, or "" and the AE to answer."""
        number = inbound.visit.visit_number
        encounter = self.encounters.get(number)
        if encounter is None:
            if not self.enforce_order:
                return "", ACCEPTED
            return "", Outcome(
                "AE",
                Problem.ORDER,
                UNKNOWN_KEY,
                f"no encounter for visit number {number}: send A05 before {inbound.message_type}",
            )
        if not self._same_person(encounter.person_id, inbound.patient):
            return "", _mismatch(number)
        return encounter.encounter_id, ACCEPTED

    def _create_pending_admit(self, inbound: Inbound) -> Outcome:
        number = _pending_admit_key(inbound)
        if number in self.pending_admits:
            return _duplicate("pending admit", number)
        encounter_id, problem = self._parent_encounter(inbound)
        if problem.code != "AA":
            return problem
        encounter = self.encounters.get(inbound.visit.visit_number)
        if encounter is not None and encounter.patient_class != inbound.visit.patient_class:
            return Outcome(
                "AE",
                Problem.ORDER,
                APPLICATION_INTERNAL_ERROR,
                f"pending admit of class {inbound.visit.patient_class} for an encounter of "
                f"class {encounter.patient_class}: update the encounter (A08) first",
            )
        person = self.register_person(inbound.patient)
        self.pending_admits[number] = PendingAdmit(
            visit_number=inbound.visit.visit_number,
            person_id=person.person_id,
            encounter_id=encounter_id,
            ward=inbound.visit.location,
            expected_admit=inbound.visit.expected_admit,
            expected_length_of_stay=inbound.visit.expected_length_of_stay,
            created_by=inbound.control_id,
        )
        return ACCEPTED

    def _remove_pending_admit(self, inbound: Inbound) -> Outcome:
        number = _pending_admit_key(inbound)
        admit = self.pending_admits.get(number)
        if admit is None:
            return _unknown("pending admit", "visit number", number)
        if not self._same_person(admit.person_id, inbound.patient):
            return _mismatch(number)
        del self.pending_admits[number]
        return ACCEPTED

    def _admit_of(self, visit_number: str) -> bool:
        return any(admit.visit_number == visit_number for admit in self.pending_admits.values())

    def _appointment_of(self, visit_number: str) -> bool:
        return visit_number in self._placer_by_visit

    def appointment_for_visit(self, visit_number: str) -> Appointment | None:
        placer_id = self._placer_by_visit.get(visit_number)
        return self.appointments.get(placer_id) if placer_id else None

    def _create_appointment(self, inbound: Inbound) -> Outcome:
        schedule = _schedule(inbound)
        if schedule.placer_id in self.appointments:
            return _duplicate("appointment", schedule.placer_id, "placer id")
        encounter_id, problem = self._parent_encounter(inbound)
        if problem.code != "AA":
            return problem
        person = self.register_person(inbound.patient)
        self.appointments[schedule.placer_id] = Appointment(
            appointment_id=f"S{next(self._appointment_numbers)}",
            placer_id=schedule.placer_id,
            visit_number=inbound.visit.visit_number,
            person_id=person.person_id,
            encounter_id=encounter_id,
            reason=schedule.reason,
            start=schedule.start,
            end=schedule.end,
            duration=schedule.duration,
            status=schedule.status,
            procedures=list(schedule.procedures),
            locations=list(schedule.places),
            staff=list(schedule.staff),
            created_by=inbound.control_id,
        )
        self._placer_by_visit[inbound.visit.visit_number] = schedule.placer_id
        return ACCEPTED

    def _update_appointment(self, inbound: Inbound) -> Outcome:
        schedule = _schedule(inbound)
        appointment = self.appointments.get(schedule.placer_id)
        if appointment is None:
            return _unknown("appointment", "placer id", schedule.placer_id)
        if not self._same_person(appointment.person_id, inbound.patient):
            return _mismatch(appointment.visit_number)
        changed, problem = _changed_resources(appointment, schedule)
        if changed is None:
            return problem  # an AE changes nothing
        appointment.reason = schedule.reason
        appointment.start = schedule.start or appointment.start
        appointment.end = schedule.end
        appointment.duration = schedule.duration
        appointment.status = schedule.status
        appointment.procedures, appointment.locations, appointment.staff = changed
        appointment.updated_by.append(inbound.control_id)
        self.register_person(inbound.patient)
        return ACCEPTED

    def _remove_appointment(self, inbound: Inbound) -> Outcome:
        schedule = _schedule(inbound)
        appointment = self.appointments.get(schedule.placer_id)
        if appointment is None:
            return _unknown("appointment", "placer id", schedule.placer_id)
        if not self._same_person(appointment.person_id, inbound.patient):
            return _mismatch(appointment.visit_number)
        del self.appointments[schedule.placer_id]
        self._placer_by_visit.pop(appointment.visit_number, None)
        return ACCEPTED


def _pending_admit_key(inbound: Inbound) -> str:
    """A pending admit is keyed by its own alias (PV1-50) when it has one, else by
    its encounter's visit number (PV1-19)."""
    return inbound.visit.bed_alias or inbound.visit.visit_number


def _schedule(inbound: Inbound) -> ScheduleData:
    if inbound.schedule is None:  # read_inbound always sets it for SIU
        raise ValueError(f"{inbound.message_type} without schedule data")
    return inbound.schedule


def _unknown(what: str, key_name: str, key: str) -> Outcome:
    return Outcome("AE", Problem.UNKNOWN, UNKNOWN_KEY, f"no {what} with {key_name} {key}")


def _duplicate(what: str, key: str, key_name: str = "visit number") -> Outcome:
    return Outcome(
        "AE",
        Problem.DUPLICATE_CREATE,
        DUPLICATE_KEY,
        f"{what} with {key_name} {key} already exists",
    )


def _mismatch(visit_number: str) -> Outcome:
    return Outcome(
        "AE",
        Problem.PATIENT_MISMATCH,
        APPLICATION_INTERNAL_ERROR,
        f"visit number {visit_number} belongs to another patient than PID-3",
    )


def _changed_resources(
    appointment: Appointment, schedule: ScheduleData
) -> tuple[tuple[list[str], list[str], list[str]] | None, Outcome]:
    """The appointment's procedures, locations and staff after an S13/S14's resource
    segments (segment action codes, table 0206): ``D`` removes the resource named,
    ``A`` adds it, ``U`` and ``X`` keep it. A resource left without an action code
    (only a lenient simulator lets one through) is added, as a receiver would: so a
    sender that replaces a theatre without ``D`` leaves both booked.

    A ``D``, ``U`` or ``X`` of a resource the appointment does not hold is AE: the
    sender's view of the appointment is not Millennium's."""
    held = {
        "AIS": list(appointment.procedures),
        "AIL": list(appointment.locations),
        "AIP": list(appointment.staff),
    }
    for segment, action, value in schedule.changes:
        resources = held[segment]
        if action in ("D", "U", "X") and value not in resources:
            return None, _unknown(f"{segment} resource", "id", value)
        if action == "D":
            resources.remove(value)
        elif value not in resources:
            resources.append(value)
    return (held["AIS"], held["AIL"], held["AIP"]), ACCEPTED


HL7_NULL = '""'


def _updated(held: str, sent: str) -> str:
    """A field of an update as an HL7 v2 receiver applies it (v2.5.1 chapter 2, null
    values in fields): a field left empty leaves the value held, and the null value
    ``""`` clears it. So a sender that omits a field it means to clear leaves the old
    value in Millennium."""
    if sent == HL7_NULL:
        return ""
    return sent or held
