"""The body of ``POST /api/launch`` (brief §7) and the checks on it.

Two kinds of failure, as for the webhook: `InvalidLaunchRequest` (400: not JSON,
or not the schema) and `meaning_errors` (422: a bad check digit, a target that is
not the other system, a launch into Orbit without a booking). Messages carry field
paths and rules, never values: the body holds a personal identity number.

Unknown fields are refused rather than ignored: a misspelt ``bookingID`` would
otherwise open the patient without the booking, and a caller sending names would
hand us personal data we do not want.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel
from pydantic_core import ErrorDetails

from shared.booking import (
    IDENTITY_SHAPED,
    AdministrationCode,
    BookingId,
    HsaId,
    PatientIdentifier,
)
from shared.errors import PermanentError
from shared.identity import InvalidIdentifier, contains_identity_number, validate
from shared.problems import FieldError, field_path

MillenniumId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
"""A Millennium id (encounter): plain characters only, as it goes into a URL and a key."""


class Caller(StrEnum):
    """Who signed the request, known by whose secrets verified it."""

    ORBIT = "orbit"
    MILLENNIUM = "millennium"


class LaunchTarget(StrEnum):
    MILLENNIUM = "millennium"
    ORBIT = "orbit"


TARGET_OF_CALLER: dict[Caller, LaunchTarget] = {
    Caller.ORBIT: LaunchTarget.MILLENNIUM,
    Caller.MILLENNIUM: LaunchTarget.ORBIT,
}
"""A caller only opens the *other* system: a leaked Orbit secret cannot mint Orbit links."""


class _Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, frozen=True, extra="forbid"
    )


class LaunchPatient(_Model):
    identifier: PatientIdentifier


class LaunchUser(_Model):
    hsa_id: HsaId


class LaunchRequest(_Model):
    target: LaunchTarget
    administration: AdministrationCode
    patient: LaunchPatient
    booking_id: BookingId | None = None
    encounter_id: MillenniumId | None = None
    user: LaunchUser


class InvalidLaunchRequest(PermanentError):
    """The body is not a valid launch request; ``errors`` says where and why."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__(f"{len(errors)} invalid field(s)")
        self.errors = errors


def parse_launch_request(body: bytes) -> LaunchRequest:
    """Parse a UTF-8 JSON body into a `LaunchRequest`.

    Raises:
        InvalidLaunchRequest: not UTF-8 JSON, not an object, or a field breaks the schema.
    """
    try:
        raw = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise InvalidLaunchRequest([FieldError("body", "is not UTF-8 JSON")]) from None
    if not isinstance(raw, dict):
        raise InvalidLaunchRequest([FieldError("body", "must be a JSON object")])
    try:
        # Strict, as the webhook: a boolean is not a number, a number not a string.
        return LaunchRequest.model_validate_json(body, strict=True)
    except ValidationError as error:
        details = error.errors(include_url=False, include_context=False, include_input=False)
        raise InvalidLaunchRequest([_field_error(detail) for detail in details]) from None


def meaning_errors(request: LaunchRequest, caller: Caller) -> list[FieldError]:
    """What is wrong with a well-formed request's meaning (empty when nothing)."""
    errors: list[FieldError] = []
    identifier = request.patient.identifier
    try:
        validate(identifier.system, identifier.value)
    except InvalidIdentifier as error:
        errors.append(FieldError("patient.identifier.value", str(error)))
    expected = TARGET_OF_CALLER[caller]
    if request.target is not expected:
        errors.append(
            FieldError(
                "target", f"must be {expected.value}: a {caller.value} launch opens the other one"
            )
        )
    if request.booking_id and contains_identity_number(request.booking_id):
        errors.append(FieldError("bookingId", IDENTITY_SHAPED))
    if request.target is LaunchTarget.ORBIT and not (request.booking_id or request.encounter_id):
        errors.append(FieldError("bookingId", "is required for target orbit (or give encounterId)"))
    return errors


_MESSAGES = {
    "missing": "is required",
    "extra_forbidden": "is not part of the launch request; remove it",
    "string_pattern_mismatch": "has the wrong format",
}


def _field_error(detail: ErrorDetails) -> FieldError:
    # include_input=False above: pydantic's own messages describe the rule, and the
    # input (maybe an identity number) is never looked at. A key the contract does
    # not know is never echoed either (shared.problems.field_path).
    path = field_path(detail["loc"], LaunchRequest)
    return FieldError(path, _MESSAGES.get(detail["type"], detail["msg"]))
