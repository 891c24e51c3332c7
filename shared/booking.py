"""The Orbit booking snapshot (webhook contract v1, `data` of the CloudEvent).

Structure is checked by pydantic (a failure is a client's schema error, 400);
meaning is checked by :func:`semantic_problems` (422). Field names follow the
contract's camelCase on the wire and snake_case in Python.

Text rules (they make every accepted snapshot render to a valid HL7 message):

* every text is normalised to Unicode NFC on intake, so Millennium's name search
  sees one spelling of "Å" whatever Orbit's keyboard produced;
* control characters (C0, DEL) are refused with 422 naming the field: none in
  names, codes and the theatre; only tab and line breaks in free text;
* lengths are counted as the text is sent in HL7: each of ``| ^ ~ \\ &`` is
  escaped to three characters, a tab or line break to five (``\\X0A\\``).
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from shared.identity import (
    IdentifierSystem,
    InvalidIdentifier,
    contains_identity_number,
    validate,
)

BOOKING_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$"
"""Orbit's booking id: a letter or digit, then letters, digits, ``.``, ``_``, ``-``;
at most 40 characters. It goes into HL7 ids, Table keys and URLs."""
BookingId = Annotated[str, Field(pattern=BOOKING_ID_PATTERN)]
HsaId = Annotated[str, Field(pattern=r"^SE\d{10}-[A-Za-z0-9]{1,31}$")]
AdministrationCode = Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9]{1,9}$")]
KvaCode = Annotated[str, Field(pattern=r"^(?:[A-Z]{3}\d{2}|[A-Z]{2}\d{3})$")]
Icd10Code = Annotated[str, Field(pattern=r"^[A-Z]\d{2}(?:\.?[0-9A-Z]{1,4})?[+*#]?$")]


def _nfc(value: object) -> object:
    """Unicode NFC for text (cheap when it already is); other types fail later."""
    if isinstance(value, str) and not unicodedata.is_normalized("NFC", value):
        return unicodedata.normalize("NFC", value)
    return value


NAME_LENGTH = 100
"""familyName, givenName: HL7 length (PID-5 is 250 for the whole name)."""
TEXT_LENGTH = 199
"""Free text (procedure, diagnosis, cancellation reason): an HL7 ST component."""
THEATRE_LENGTH = 20
"""theatre: PL.2 room is an IS value of at most 20 characters."""

Name = Annotated[str, BeforeValidator(_nfc), Field(min_length=1, max_length=NAME_LENGTH)]
FreeText = Annotated[str, BeforeValidator(_nfc), Field(min_length=1, max_length=TEXT_LENGTH)]
UnitName = Annotated[str, BeforeValidator(_nfc), Field(min_length=1, max_length=200)]
"""Not sent to Millennium (the profile names locations), only kept."""
Theatre = Annotated[str, BeforeValidator(_nfc), Field(min_length=1, max_length=THEATRE_LENGTH)]


class _Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, frozen=True, extra="ignore"
    )


class BookingStatus(StrEnum):
    BOOKED = "booked"
    CANCELLED = "cancelled"


class AdmissionType(StrEnum):
    INPATIENT = "inpatient"
    DAY_SURGERY = "daySurgery"
    OUTPATIENT = "outpatient"


class PatientIdentifier(_Model):
    system: IdentifierSystem
    value: Annotated[str, Field(min_length=12, max_length=12)]


class Patient(_Model):
    identifier: PatientIdentifier
    family_name: Name
    given_name: Name
    protected_identity: bool = False


class Procedure(_Model):
    code: KvaCode
    text: FreeText | None = None


class Diagnosis(_Model):
    code: Icd10Code
    text: FreeText | None = None


class Unit(_Model):
    hsa_id: HsaId
    name: UnitName | None = None


class Person(_Model):
    hsa_id: HsaId


class Admission(_Model):
    type: AdmissionType
    ward: Unit | None = None
    admit_at: AwareDatetime | None = None
    expected_nights: Annotated[int, Field(ge=0, le=365)] | None = None


class BookingSnapshot(_Model):
    """The whole booking as Orbit sees it at ``version``."""

    booking_id: BookingId
    version: Annotated[int, Field(ge=1, le=2**31 - 1)]
    status: BookingStatus
    administration: AdministrationCode
    patient: Patient
    procedure: Procedure
    diagnosis: Diagnosis | None = None
    operating_unit: Unit
    theatre: Theatre | None = None
    surgeon: Person | None = None
    planned_start: AwareDatetime
    planned_end: AwareDatetime
    admission: Admission
    cancellation_reason: FreeText | None = None

    @property
    def admit_at(self) -> dt.datetime:
        """When the patient is expected; defaults to the planned start."""
        return self.admission.admit_at or self.planned_start


EVENT_TYPES = (
    "se.vgr.orbit.booking.created.v1",
    "se.vgr.orbit.booking.updated.v1",
    "se.vgr.orbit.booking.cancelled.v1",
)
EventType = Literal[
    "se.vgr.orbit.booking.created.v1",
    "se.vgr.orbit.booking.updated.v1",
    "se.vgr.orbit.booking.cancelled.v1",
]


IDENTITY_SHAPED = (
    "must not have the shape of a personal identity number (use Orbit's own id; "
    "identity numbers never go into ids)"
)

EVENT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
"""The CloudEvent id: e.g. a UUID; letters, digits, ``.``, ``_``, ``:``, ``-``."""
SOURCE_PATTERN = r"^orbit://vgr/[A-Z][A-Z0-9]{1,9}$"
"""``orbit://vgr/<administration>``; the code must be ``data.administration``."""
EXTENSION_NAME_PATTERN = r"^[a-z0-9]{1,20}$"
"""CloudEvents attribute names: lowercase letters and digits, at most 20."""
EXTENSION_NAME = re.compile(EXTENSION_NAME_PATTERN)


def _refuse_null(value: object) -> object:
    """An optional attribute is left out when absent, never sent as null."""
    if value is None:
        raise ValueError("must not be null; leave the attribute out instead")
    return value


def _schema_without_null(schema: dict[str, Any]) -> None:
    """The published schema of an optional attribute: its type, without null."""
    branches = [branch for branch in schema.pop("anyOf", []) if branch.get("type") != "null"]
    if len(branches) == 1:
        schema.update(branches[0])
    schema.pop("default", None)


_NOT_NULL = (AfterValidator(_refuse_null), Field(json_schema_extra=_schema_without_null))

ExtensionValue = (
    Annotated[str, Field(max_length=200)] | Annotated[int, Field(ge=-(2**31), le=2**31 - 1)] | bool
)
"""CloudEvents' JSON types of an extension attribute: string, integer, boolean."""


class BookingEvent(BaseModel):
    """A CloudEvents 1.0 envelope (structured JSON mode) carrying a snapshot.

    Extension attributes are allowed (e.g. ``traceparent``), named as CloudEvents
    requires and holding a string, integer or boolean.
    """

    model_config = ConfigDict(
        frozen=True,
        extra="allow",
        json_schema_extra={"propertyNames": {"pattern": EXTENSION_NAME_PATTERN}},
    )
    __pydantic_extra__: dict[str, ExtensionValue] = Field(init=False)

    specversion: Literal["1.0"]
    id: Annotated[str, Field(pattern=EVENT_ID_PATTERN)]
    source: Annotated[str, Field(pattern=SOURCE_PATTERN)]
    type: EventType
    subject: Annotated[Annotated[str, Field(min_length=1, max_length=200)] | None, *_NOT_NULL] = (
        None
    )
    time: Annotated[AwareDatetime | None, *_NOT_NULL] = None
    datacontenttype: Annotated[Literal["application/json"] | None, *_NOT_NULL] = None
    dataschema: Annotated[
        Annotated[str, Field(min_length=1, max_length=200)] | None, *_NOT_NULL
    ] = None
    data: BookingSnapshot

    @model_validator(mode="after")
    def _extension_names(self) -> BookingEvent:
        if any(not EXTENSION_NAME.match(name) for name in self.model_extra or {}):
            raise PydanticCustomError(
                "extension_name",
                "extension attribute names must be 1 to 20 lowercase letters and digits",
            )
        return self


def semantic_problems(snapshot: BookingSnapshot) -> list[tuple[str, str]]:
    """Return (field path, problem) pairs for a structurally valid snapshot.

    Problems never contain the values themselves (they may be personal data).
    """
    problems: list[tuple[str, str]] = []
    if contains_identity_number(snapshot.booking_id):
        problems.append(("data.bookingId", IDENTITY_SHAPED))
    try:
        validate(snapshot.patient.identifier.system, snapshot.patient.identifier.value)
    except InvalidIdentifier as error:
        problems.append(("data.patient.identifier.value", str(error)))
    if snapshot.planned_end <= snapshot.planned_start:
        problems.append(("data.plannedEnd", "must be after plannedStart"))
    if snapshot.admission.type is AdmissionType.INPATIENT and snapshot.admission.ward is None:
        problems.append(("data.admission.ward", "is required when admission.type is inpatient"))
    problems += text_problems(snapshot)
    return problems


_ANY_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_BUT_LINE_BREAKS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_HL7_ESCAPED = re.compile(r"[|^~\\&]")


def hl7_length(text: str) -> int:
    """The length of ``text`` once escaped in an HL7 message."""
    delimiters = len(_HL7_ESCAPED.findall(text))
    breaks = text.count("\t") + text.count("\n") + text.count("\r")
    return len(text) + 2 * delimiters + 4 * breaks


def _texts(snapshot: BookingSnapshot) -> list[tuple[str, str | None, int, re.Pattern[str]]]:
    """(field path, value, HL7 length limit, forbidden characters) of each text sent."""
    diagnosis = snapshot.diagnosis
    return [
        ("data.patient.familyName", snapshot.patient.family_name, NAME_LENGTH, _ANY_CONTROL),
        ("data.patient.givenName", snapshot.patient.given_name, NAME_LENGTH, _ANY_CONTROL),
        ("data.theatre", snapshot.theatre, THEATRE_LENGTH, _ANY_CONTROL),
        ("data.procedure.text", snapshot.procedure.text, TEXT_LENGTH, _CONTROL_BUT_LINE_BREAKS),
        (
            "data.diagnosis.text",
            diagnosis.text if diagnosis else None,
            TEXT_LENGTH,
            _CONTROL_BUT_LINE_BREAKS,
        ),
        (
            "data.cancellationReason",
            snapshot.cancellation_reason,
            TEXT_LENGTH,
            _CONTROL_BUT_LINE_BREAKS,
        ),
    ]


def text_problems(snapshot: BookingSnapshot) -> list[tuple[str, str]]:
    """Control characters and HL7 lengths of the texts Millennium receives.

    Unit names are kept but never sent; control characters are refused there too.
    """
    problems: list[tuple[str, str]] = []
    for path, value, limit, forbidden in _texts(snapshot):
        if value is None:
            continue
        if forbidden.search(value):
            allowed = "" if forbidden is _ANY_CONTROL else " other than tab and line breaks"
            problems.append((path, f"must not contain control characters{allowed}"))
        elif hl7_length(value) > limit:
            problems.append(
                (
                    path,
                    f"is longer than {limit} characters as sent in HL7 "
                    "(each of | ^ ~ \\ & counts as 3, a tab or line break as 5)",
                )
            )
    for path, unit in _units(snapshot):
        if unit.name is not None and _ANY_CONTROL.search(unit.name):
            problems.append((path, "must not contain control characters"))
    return problems


def _units(snapshot: BookingSnapshot) -> list[tuple[str, Unit]]:
    units = [("data.operatingUnit.name", snapshot.operating_unit)]
    if snapshot.admission.ward is not None:
        units.append(("data.admission.ward.name", snapshot.admission.ward))
    return units
