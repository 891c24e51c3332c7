"""Render the HL7 v2.5.1 message for one transition (brief §5).

Plain string building (hl7apy validates our output in the tests but is far too
slow to render with). A message is a list of segments from
:mod:`shared.hl7.segments`, joined with carriage returns, without MLLP framing.

Protected identity (skyddade personuppgifter): PD1-12 is ``Y`` and the message
carries the patient's identifier and name and nothing else about the person: no
diagnosis (DG1). Address and phone are never sent for anyone.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import TypeVar

from shared.booking import AdmissionType
from shared.hl7 import segments as seg
from shared.hl7.er7 import message
from shared.hl7.triggers import Trigger
from shared.profiles import BedBookingId, Profile
from shared.targets import AppointmentFacts, BedFacts, EncounterFacts, Facts

MESSAGE_STRUCTURE: dict[Trigger, str] = {
    Trigger.A05: "ADT_A05",
    Trigger.A08: "ADT_A01",
    Trigger.A38: "ADT_A38",
    Trigger.A14: "ADT_A05",
    Trigger.A27: "ADT_A21",
    Trigger.S12: "SIU_S12",
    Trigger.S13: "SIU_S12",
    Trigger.S14: "SIU_S12",
    Trigger.S15: "SIU_S12",
}
"""The v2.5.1 abstract message structure (MSH-9.3) of each trigger."""

APPOINTMENT_EVENT_TEXT: dict[Trigger, str] = {
    Trigger.S12: "Booked in Orbit",
    Trigger.S13: "Rescheduled in Orbit",
    Trigger.S14: "Modified in Orbit",
    Trigger.S15: "Cancelled in Orbit",
}
"""SCH-6 event reason text per SIU trigger (the codes come from the profile)."""
CORRECTED_TEXT = "Patient corrected in Orbit"

PROCESSING_IDS = frozenset({"P", "T", "D"})
_CONTROL_ID = re.compile(r"^[A-Z0-9]{1,20}$")
_F = TypeVar("_F", EncounterFacts, BedFacts, AppointmentFacts)


def message_type_field(trigger: Trigger) -> str:
    """MSH-9 for ``trigger``, e.g. ``ADT^A05^ADT_A05``."""
    return f"{trigger.value}^{MESSAGE_STRUCTURE[trigger]}"


def render_message(
    trigger: Trigger,
    facts: Facts,
    profile: Profile,
    *,
    control_id: str,
    sent_at: dt.datetime,
    processing_id: str,
    replaces: Facts | None = None,
) -> str:
    """The message for ``trigger`` carrying ``facts``; every segment ends with ``\\r``.

    ``replaces``: for an S13/S14, the confirmed facts the change replaces. Its resource
    segments then say what changed (segment action codes, table 0206): ``U`` for a
    resource that stays, ``D`` with the old one and ``A`` with the new one for one
    that changed, as v2.5.1 requires of updating trigger events. Without it every
    resource is sent as ``U``.

    Raises:
        UnmappedLocation: an HSA-id in ``facts`` has no location in ``profile``
            (permanent; the text names the HSA-id, never the patient).
        TypeError: ``facts`` is not the kind ``trigger`` carries (a bug).
        ValueError: ``control_id`` is not 1-20 of ``[A-Z0-9]``, ``processing_id``
            is not P/T/D, or a timestamp is naive (bugs).
    """
    if not _CONTROL_ID.match(control_id):
        raise ValueError("control_id must be 1-20 characters of A-Z and 0-9")
    if processing_id not in PROCESSING_IDS:
        raise ValueError(f"processing_id must be one of {sorted(PROCESSING_IDS)}")
    header = seg.msh(
        profile,
        message_type_field(trigger),
        control_id=control_id,
        sent_at=sent_at,
        processing_id=processing_id,
    )
    body = _body(trigger, facts, profile, sent_at, replaces)
    return message([header, *body])


def _body(
    trigger: Trigger,
    facts: Facts,
    profile: Profile,
    sent_at: dt.datetime,
    replaces: Facts | None,
) -> list[str]:
    event = trigger.value[4:]  # "ADT^A05" -> "A05"
    if trigger in (Trigger.A05, Trigger.A08, Trigger.A38):
        return _encounter(event, _expect(facts, EncounterFacts, trigger), profile, sent_at)
    if trigger in (Trigger.A14, Trigger.A27):
        return _bed(event, _expect(facts, BedFacts, trigger), profile, sent_at)
    appointment = _expect(facts, AppointmentFacts, trigger)
    if trigger in (Trigger.S13, Trigger.S14):
        before = _expect(replaces or facts, AppointmentFacts, trigger)
        changes = _resource_changes(before, appointment, profile)
        return _appointment(trigger, appointment, profile, changes)
    return _appointment(trigger, appointment, profile, _resources(appointment, profile))


def _expect(facts: Facts, kind: type[_F], trigger: Trigger) -> _F:
    if not isinstance(facts, kind):
        raise TypeError(f"{trigger.value} carries {kind.__name__}, not {type(facts).__name__}")
    return facts


def _encounter(
    event: str, facts: EncounterFacts, profile: Profile, sent_at: dt.datetime
) -> list[str]:
    """ADT^A05 / A08 / A38: the encounter (pre-admit) at its ward or operating unit."""
    location = profile.location(facts.location_hsa_id)
    return [
        seg.evn(event, sent_at, profile),
        seg.pid(facts.patient, profile),
        seg.pd1(facts.patient),
        seg.pv1(
            profile,
            patient_class=profile.patient_class.for_type(facts.admission_type),
            encounter_type=profile.encounter_type.for_type(facts.admission_type),
            alias=facts.alias,
            location=location,
            place_field=seg.place(location, profile),
            surgeon_hsa_id=facts.surgeon_hsa_id,
            admit_at=facts.admit_at,
            clears_surgeon=event == "A08",
        ),
    ]


def _bed(event: str, facts: BedFacts, profile: Profile, sent_at: dt.datetime) -> list[str]:
    """ADT^A14 / A27: the pending admit (bed booking) on the ward."""
    ward = profile.location(facts.ward_hsa_id)
    own_alias = profile.bed_booking_id == BedBookingId.OWN_ALIAS
    return [
        seg.evn(event, sent_at, profile),
        seg.pid(facts.patient, profile),
        seg.pd1(facts.patient),
        seg.pv1(
            profile,
            # Only inpatients get a bed booking (shared.targets), so the class is fixed.
            patient_class=profile.patient_class.for_type(AdmissionType.INPATIENT),
            encounter_type=profile.encounter_type.for_type(AdmissionType.INPATIENT),
            alias=facts.alias,  # PV1-19 always links the bed booking to its encounter
            location=ward,
            place_field=seg.place(ward, profile),
            admit_at=facts.admit_at,
            alternate_visit_id=seg.bed_alias(facts.alias) if own_alias else "",
        ),
        seg.pv2_expected_stay(facts.admit_at, facts.expected_nights, profile),
    ]


def _appointment(
    trigger: Trigger, facts: AppointmentFacts, profile: Profile, resources: list[_Resource]
) -> list[str]:
    """SIU^S12..S15: the operation as an appointment with its resources."""
    unit = profile.location(facts.unit_hsa_id)
    procedure = _procedure(facts, profile)
    status = profile.cancelled_status if trigger is Trigger.S15 else profile.filler_status
    updating = trigger in (Trigger.S13, Trigger.S14)
    lines = [
        seg.sch(
            profile,
            alias=facts.alias,
            event_reason=_event_reason(trigger, facts, profile),
            procedure=procedure,
            appointment_type=profile.appointment_types.get(
                facts.procedure_code, profile.appointment_type
            ),
            start=facts.start,
            end=facts.end,
            status=status,
        ),
        seg.tq1(facts.start, facts.end, profile),
        seg.pid(facts.patient, profile),
        seg.pd1(facts.patient),
        seg.pv1(
            profile,
            patient_class=profile.patient_class.for_type(facts.admission_type),
            encounter_type=profile.encounter_type.for_type(facts.admission_type),
            alias=facts.alias,  # links the appointment to the encounter
            location=unit,
        ),
    ]
    lines += _numbered(resource for resource in resources if resource.kind == "DG1")
    lines.append(seg.rgs(action=UPDATE if updating else ""))
    for kind in ("AIS", "AIL", "AIP"):
        lines += _numbered(resource for resource in resources if resource.kind == kind)
    return lines


@dataclass(frozen=True)
class _Resource:
    """One resource segment to send: its kind, what identifies it, its action code and
    what renders it (given the action code and its set id)."""

    kind: str  # DG1, AIS, AIL or AIP
    key: object  # the same key before and after a change: the same resource
    action: str  # "" (a new or removed appointment), else A, D or U
    render: Callable[[str, int], str]


ADD, DELETE, UPDATE = "A", "D", "U"
"""Segment action codes (HL7 table 0206)."""


def _numbered(resources: Iterable[_Resource]) -> list[str]:
    return [resource.render(resource.action, n) for n, resource in enumerate(resources, 1)]


def _resources(facts: AppointmentFacts, profile: Profile, action: str = "") -> list[_Resource]:
    """The appointment's diagnosis and resource segments, each with ``action``."""
    unit = profile.location(facts.unit_hsa_id)
    minutes = seg.duration_minutes(facts.start, facts.end)
    start = facts.start
    resources = []
    if facts.diagnosis_code and not facts.patient.protected:
        code, text = facts.diagnosis_code, facts.diagnosis_text
        resources.append(
            _Resource(
                "DG1",
                (code, text),
                action,
                lambda a, n: seg.dg1(code, text, profile, action=a, set_id=n),
            )
        )
    procedure = _procedure(facts, profile)
    resources.append(
        _Resource(
            "AIS",
            procedure,
            action,
            lambda a, n: seg.ais(procedure, start, minutes, profile, action=a, set_id=n),
        )
    )
    place = seg.place(unit, profile, room=_room(facts, profile))
    resources.append(
        _Resource(
            "AIL",
            place,
            action,
            lambda a, n: seg.ail(place, start, minutes, profile, action=a, set_id=n),
        )
    )
    if facts.surgeon_hsa_id:
        surgeon = facts.surgeon_hsa_id
        resources.append(
            _Resource(
                "AIP",
                surgeon,
                action,
                lambda a, n: seg.aip(surgeon, start, minutes, profile, action=a, set_id=n),
            )
        )
    return resources


def _resource_changes(
    before: AppointmentFacts, after: AppointmentFacts, profile: Profile
) -> list[_Resource]:
    """What an S13/S14 says about each resource: ``D`` with the confirmed one that is
    gone (as it was booked), ``U`` for one that stays (with the new times), ``A``
    for one that is new. Without ``D`` Millennium would keep an old theatre or
    surgeon booked beside the new one."""
    old = _resources(before, profile)
    new = _resources(after, profile)
    if after.patient.protected:  # not even a deletion may show the diagnosis now
        old = [resource for resource in old if resource.kind != "DG1"]
    staying = {(resource.kind, resource.key) for resource in old}
    kept = {(resource.kind, resource.key) for resource in new}
    changes = [replace(r, action=DELETE) for r in old if (r.kind, r.key) not in kept]
    changes += [replace(r, action=UPDATE if (r.kind, r.key) in staying else ADD) for r in new]
    return changes


def _procedure(facts: AppointmentFacts, profile: Profile) -> str:
    return seg.coded(facts.procedure_code, facts.procedure_text, profile.code_systems.procedure)


def _room(facts: AppointmentFacts, profile: Profile) -> str | None:
    return profile.rooms.get(facts.theatre, facts.theatre) if facts.theatre else None


def _event_reason(trigger: Trigger, facts: AppointmentFacts, profile: Profile) -> str:
    """SCH-6: the profile's code for the trigger. An S15 says whether the booking was
    cancelled (text: Orbit's cancellationReason when given) or the patient corrected."""
    reasons = profile.event_reasons
    system = profile.code_systems.event_reason
    if trigger is Trigger.S15:
        if not facts.cancelled:
            return seg.coded(reasons.corrected, CORRECTED_TEXT, system)
        text = facts.cancellation_reason or APPOINTMENT_EVENT_TEXT[trigger]
        return seg.coded(reasons.cancelled, text, system)
    code = {Trigger.S12: reasons.booked, Trigger.S13: reasons.rescheduled}.get(
        trigger, reasons.modified
    )
    return seg.coded(code, APPOINTMENT_EVENT_TEXT[trigger], system)
