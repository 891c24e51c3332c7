"""Turn the bytes of one MLLP frame into a checked, typed inbound message.

Decoding follows MSH-18, so a message whose bytes do not match its declared
character set is rejected instead of storing garbled Swedish names. Fields are
read with the simulator's own :mod:`simulator.er7` reader, independent of the
integration's renderer.

Anything structurally wrong raises :class:`Rejected` (the simulator answers AR),
and so, unless the simulator is lenient, does anything a strict interface team
refuses (:mod:`simulator.strict`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from shared.mllp.charset import UnsupportedCharset, codec_for, declared_charset
from simulator.er7 import Er7Error, Er7Message
from simulator.strict import DEFAULT_ZONE, violations

ADT_TYPES = frozenset({"ADT^A05", "ADT^A08", "ADT^A38", "ADT^A14", "ADT^A27"})
SIU_TYPES = frozenset({"SIU^S12", "SIU^S13", "SIU^S14", "SIU^S15"})
SUPPORTED_TYPES = ADT_TYPES | SIU_TYPES

# HL7 table 0357 (message error condition codes) used in ERR-3.
REQUIRED_FIELD_MISSING = "101"
DATA_TYPE_ERROR = "102"
UNSUPPORTED_MESSAGE_TYPE = "200"
UNKNOWN_KEY = "204"
DUPLICATE_KEY = "205"
APPLICATION_INTERNAL_ERROR = "207"


@dataclass(frozen=True)
class Header:
    """The MSH fields an acknowledgment needs, read from raw bytes (never fails)."""

    sending_application: str = ""
    sending_facility: str = ""
    receiving_application: str = ""
    receiving_facility: str = ""
    message_type: str = ""  # MSG.1^MSG.2, e.g. "ADT^A05"
    control_id: str = ""
    processing_id: str = ""
    version: str = ""
    charset: str = ""


class Rejected(Exception):
    """The message is structurally invalid; Millennium would answer AR."""

    def __init__(self, header: Header, error_code: str, text: str, location: str = "") -> None:
        super().__init__(text)
        self.header = header
        self.error_code = error_code
        self.text = text
        self.location = location  # e.g. "PV2-11": ERR-2 of the AR


@dataclass(frozen=True)
class PatientData:
    authority: str  # PID-3 CX.4: the OID of the identifier system
    value: str  # PID-3 CX.1
    family_name: str
    given_name: str
    protected: bool  # PD1-12 = Y


@dataclass(frozen=True)
class VisitData:
    """PV1 (and PV2) as Millennium stores them on an encounter or pending admit."""

    visit_number: str  # PV1-19 CX.1
    patient_class: str  # PV1-2
    location: str  # PV1-3 PL.1
    facility: str  # PV1-3 PL.4
    attending: str  # PV1-7 XCN.1
    encounter_type: str  # PV1-18
    admit_time: str  # PV1-44
    expected_admit: str  # PV2-8
    expected_length_of_stay: str  # PV2-10 (estimated length of inpatient stay)
    bed_alias: str  # PV1-50 CX.1: a bed booking's own alias ("" when it has none)


@dataclass(frozen=True)
class ScheduleData:
    """SCH and its resource segments, as Millennium stores an appointment."""

    placer_id: str  # SCH-2 EI.1 (filler id, Orbit's), else SCH-1 EI.1: the appointment's key
    reason: str  # SCH-7 CWE.1
    start: str  # SCH-11 TQ.4
    end: str  # SCH-11 TQ.5
    duration: str  # SCH-11 TQ.3
    status: str  # SCH-25
    procedures: tuple[str, ...]  # AIS-3 CWE.1
    locations: tuple[str, ...]  # AIL-3 PL.1
    staff: tuple[str, ...]  # AIP-3 XCN.1
    # AIL-3 PL.1^PL.2 (point of care and room): what identifies a booked location
    places: tuple[str, ...] = ()
    # (segment, action code, resource) of each AIS/AIL/AIP, for an update to apply
    changes: tuple[tuple[str, str, str], ...] = ()


@dataclass(frozen=True)
class Inbound:
    header: Header
    fingerprint: str  # hash of the message without its "now" timestamps
    patient: PatientData
    visit: VisitData
    schedule: ScheduleData | None  # SIU only

    @property
    def message_type(self) -> str:
        return self.header.message_type

    @property
    def control_id(self) -> str:
        return self.header.control_id

    @property
    def locations(self) -> tuple[str, ...]:
        """Every point of care the message names (PV1-3 and AIL-3)."""
        extra = self.schedule.locations if self.schedule else ()
        return tuple(code for code in (self.visit.location, *extra) if code)


def read_inbound(block: bytes, *, strict: bool = True, zone: str = DEFAULT_ZONE) -> Inbound:
    """Decode, parse and check one frame's payload.

    ``strict`` adds the checks of :mod:`simulator.strict` with times expected in
    ``zone`` (the administration's time zone).

    Raises:
        Rejected: unparseable, undecodable, an unsupported message type, a
            required field (MSH-10, PID-3, PV1-19, SCH-1/SCH-2, SCH-11 start)
            missing, or (strict) a violation: the first one decides ERR-2.
    """
    header = read_header(block)
    text = _decode(block, header)
    try:
        message = Er7Message(text)
    except Er7Error as error:
        raise Rejected(
            header, DATA_TYPE_ERROR, f"message is not parseable HL7 v2: {error}"
        ) from None
    _check_header(header)
    if strict:
        found = violations(text, message, zone)
        if found:
            described = "; ".join(
                f"{item.location} {item.text}" if item.location else item.text for item in found[:3]
            )
            raise Rejected(header, found[0].error_code, described, found[0].location)
    inbound = Inbound(
        header=header,
        fingerprint=fingerprint(message),
        patient=_patient(message, header),
        visit=_visit(message, header),
        schedule=_schedule(message, header) if header.message_type in SIU_TYPES else None,
    )
    return inbound


def read_header(block: bytes) -> Header:
    """Best-effort MSH fields from raw bytes, for acknowledging even a broken message."""
    if not block.startswith(b"MSH") or len(block) < 8:
        return Header()
    separator = block[3:4]
    component = block[4:5]
    fields = block.split(b"\r", 1)[0].decode("latin-1").split(separator.decode("latin-1"))

    def field(number: int) -> str:
        # fields[0] is "MSH" and fields[1] is MSH-2, so MSH-n is fields[n - 1].
        return fields[number - 1] if len(fields) >= number else ""

    message_type = field(9).split(component.decode("latin-1"))
    return Header(
        sending_application=field(3),
        sending_facility=field(4),
        receiving_application=field(5),
        receiving_facility=field(6),
        message_type="^".join(message_type[:2]),
        control_id=field(10).strip(),
        processing_id=field(11),
        version=field(12),
        charset=declared_charset(block),
    )


def fingerprint(message: Er7Message) -> str:
    """A hash of the message that ignores MSH-7 and EVN-2 ("now" at render time).

    Two sends with the same MSH-10 and the same fingerprint are the same message
    resent; a different fingerprint means MSH-10 was reused for another message.
    """
    return hashlib.blake2b(message.text_without_times().encode("utf-8"), digest_size=16).hexdigest()


def _decode(block: bytes, header: Header) -> str:
    if not block.startswith(b"MSH"):
        raise Rejected(header, DATA_TYPE_ERROR, "message does not start with an MSH segment")
    try:
        codec = codec_for(header.charset)
    except UnsupportedCharset as error:
        raise Rejected(header, DATA_TYPE_ERROR, str(error)) from None
    try:
        return block.decode(codec)
    except UnicodeDecodeError as error:
        raise Rejected(
            header,
            DATA_TYPE_ERROR,
            f"byte at offset {error.start} is not valid in the declared character set "
            f"MSH-18 {header.charset!r}",
        ) from None


def _check_header(header: Header) -> None:
    if not header.control_id:
        raise Rejected(header, REQUIRED_FIELD_MISSING, "MSH-10 message control id is missing")
    if header.message_type not in SUPPORTED_TYPES:
        raise Rejected(
            header,
            UNSUPPORTED_MESSAGE_TYPE,
            f"message type {header.message_type!r} is not supported by this interface",
        )


def _required(message: Er7Message, header: Header, name: str, segment: str, field: int) -> str:
    value = message.get(segment, field)
    if not value:
        raise Rejected(
            header, REQUIRED_FIELD_MISSING, f"{name} is required in {header.message_type}"
        )
    return value


def _patient(message: Er7Message, header: Header) -> PatientData:
    value = _required(message, header, "PID-3 patient identifier", "PID", 3)
    # CX.4 is an HD: the OID may be sent as HD.1 or as HD.2 (with HD.3 "ISO").
    authority = message.get("PID", 3, 4, 2) or message.get("PID", 3, 4, 1)
    if not authority:
        raise Rejected(
            header, REQUIRED_FIELD_MISSING, "PID-3 assigning authority (CX.4) is required"
        )
    return PatientData(
        authority=authority,
        value=value,
        family_name=message.get("PID", 5, 1),
        given_name=message.get("PID", 5, 2),
        protected=message.get("PD1", 12).upper() == "Y",
    )


def _visit(message: Er7Message, header: Header) -> VisitData:
    return VisitData(
        visit_number=_required(message, header, "PV1-19 visit number", "PV1", 19),
        patient_class=message.get("PV1", 2),
        location=message.get("PV1", 3, 1),
        facility=message.get("PV1", 3, 4),
        attending=message.get("PV1", 7, 1),
        encounter_type=message.get("PV1", 18),
        admit_time=message.get("PV1", 44),
        expected_admit=message.get("PV2", 8),
        expected_length_of_stay=message.get("PV2", 10),
        bed_alias=message.get("PV1", 50),
    )


def _schedule(message: Er7Message, header: Header) -> ScheduleData:
    placer_id = message.get("SCH", 2) or _required(
        message, header, "SCH-1 placer or SCH-2 filler appointment id", "SCH", 1
    )
    start = message.get("SCH", 11, 4)
    if not start and header.message_type in ("SIU^S12", "SIU^S13"):
        raise Rejected(
            header,
            REQUIRED_FIELD_MISSING,
            f"SCH-11 start time is required in {header.message_type}",
        )
    changes = _resources(message)
    return ScheduleData(
        placer_id=placer_id,
        reason=message.get("SCH", 7, 1),
        start=start,
        end=message.get("SCH", 11, 5),
        duration=message.get("SCH", 11, 3),
        status=message.get("SCH", 25, 1),
        procedures=_each(message, "AIS", 3),
        locations=_each(message, "AIL", 3),
        staff=_each(message, "AIP", 3),
        places=tuple(resource for kind, _, resource in changes if kind == "AIL"),
        changes=changes,
    )


def _resources(message: Er7Message) -> tuple[tuple[str, str, str], ...]:
    """(segment, action code, resource) of every AIS, AIL and AIP: the procedure
    (AIS-3.1), the place (AIL-3 PL.1^PL.2, so another theatre of the same unit is
    another resource) and the person (AIP-3.1)."""
    found = []
    for segment in ("AIS", "AIL", "AIP"):
        for number in range(1, message.count(segment) + 1):
            resource = message.get(segment, 3, 1, occurrence=number)
            if segment == "AIL":
                room = message.get(segment, 3, 2, occurrence=number)
                resource = f"{resource}^{room}" if room else resource
            if resource:
                found.append((segment, message.get(segment, 2, occurrence=number), resource))
    return tuple(found)


def _each(message: Er7Message, segment: str, field: int) -> tuple[str, ...]:
    """Component 1 of one field from every occurrence of a segment (AIS, AIL, AIP repeat)."""
    values = (
        message.get(segment, field, occurrence=number)
        for number in range(1, message.count(segment) + 1)
    )
    return tuple(value for value in values if value)
