"""Read a webhook body into a `BookingEvent`, and check what the schema cannot.

Two kinds of failure, two answers:

* `InvalidEvent` (400): not JSON, not a CloudEvent, or not the v1 schema. The
  errors list field paths (``data.patient.identifier.system``) and what is wrong.
* `semantic_errors` (422): structurally fine but meaningless — a bad check digit,
  an end before the start, an inpatient without a ward, a ``type`` that disagrees
  with ``data.status``, a ``subject`` naming another booking.

No message ever contains a value from the body: pydantic errors carry the
``input``, which may be a personal identity number or a name, so only the path and
a description of the rule are kept.
"""

from __future__ import annotations

import json
import re
from typing import Any

from cloudevents.core.exceptions import (
    BaseCloudEventException,
    CloudEventValidationError,
    CustomExtensionAttributeError,
    InvalidAttributeTypeError,
    InvalidAttributeValueError,
    MissingRequiredAttributeError,
)
from cloudevents.core.v1.event import CloudEvent
from dateutil.parser import isoparse
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from shared.booking import BookingEvent, BookingStatus, semantic_problems
from shared.problems import FieldError

CANCELLED_TYPE = "se.vgr.orbit.booking.cancelled.v1"
SUBJECT_PREFIX = "bookings/"

_DIGIT_RUN = re.compile(r"\d{6}")
_FRIENDLY_MESSAGES = {
    "missing": "is required",
    # pydantic says "… or instance of PatientIdentifier": a class name means nothing
    # to Orbit's vendor.
    "model_type": "must be a JSON object",
    "model_attributes_type": "must be a JSON object",
    "dict_type": "must be a JSON object",
}


class InvalidEvent(Exception):
    """The body is not a valid v1 booking event; ``errors`` says where and why."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__(f"{len(errors)} invalid field(s)")
        self.errors = errors


def parse_event(text: str) -> BookingEvent:
    """Parse a CloudEvents structured-mode JSON body into a `BookingEvent`.

    The CloudEvents SDK checks the envelope's generic rules (attribute types,
    extension names); the pydantic models check the v1 contract.

    Raises:
        InvalidEvent: with one `FieldError` per failing field.
    """
    raw = _load_object(text)
    errors = _cloudevent_errors(raw)
    event: BookingEvent | None = None
    try:
        event = BookingEvent.model_validate(raw)
    except ValidationError as error:
        errors = _merge(errors, [_field_error(detail) for detail in _details(error)])
    if "data_base64" in raw:
        unsupported = FieldError(
            "data_base64", "is not supported; send the booking as JSON in data"
        )
        errors = _merge([unsupported], errors)
    if errors or event is None:
        raise InvalidEvent(errors)
    return event


def semantic_errors(event: BookingEvent) -> list[FieldError]:
    """What is wrong with a structurally valid event's meaning (empty when nothing)."""
    errors = [FieldError(path, message) for path, message in semantic_problems(event.data)]
    is_cancellation = event.data.status is BookingStatus.CANCELLED
    if (event.type == CANCELLED_TYPE) != is_cancellation:
        errors.append(
            FieldError(
                "type",
                f"must be {CANCELLED_TYPE} exactly when data.status is cancelled "
                f"(data.status is {event.data.status.value})",
            )
        )
    expected_subject = SUBJECT_PREFIX + event.data.booking_id
    if event.subject is not None and event.subject != expected_subject:
        errors.append(
            FieldError("subject", f"must be {expected_subject} (bookings/<data.bookingId>)")
        )
    return errors


def _load_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as error:
        # error.msg describes the syntax problem ("Expecting ',' delimiter"), not the text.
        where = f"line {error.lineno} column {error.colno}"
        raise InvalidEvent(
            [FieldError("body", f"is not valid JSON: {error.msg} at {where}")]
        ) from None
    except (ValueError, RecursionError):
        raise InvalidEvent([FieldError("body", "is not valid JSON")]) from None
    if not isinstance(value, dict):
        raise InvalidEvent([FieldError("body", "must be a JSON object (one CloudEvent)")])
    return value


def _reject_constant(name: str) -> None:
    raise ValueError("NaN and Infinity are not JSON")


def _cloudevent_errors(raw: dict[str, Any]) -> list[FieldError]:
    """Envelope errors found by the CloudEvents SDK (required attributes are left to
    pydantic: the SDK fills in a missing ``id`` or ``time`` by itself)."""
    attributes = {name: value for name, value in raw.items() if name not in {"data", "data_base64"}}
    errors: list[FieldError] = []
    if isinstance(attributes.get("time"), str):
        try:
            attributes["time"] = isoparse(attributes["time"])
        except (ValueError, OverflowError):
            errors.append(FieldError("time", "must be an RFC 3339 timestamp with a UTC offset"))
            del attributes["time"]
    try:
        CloudEvent(attributes)
    except CloudEventValidationError as error:
        for name, problems in error.errors.items():
            errors.append(FieldError(_safe_path(name), _sdk_message(name, problems[0])))
    return errors


def _sdk_message(name: str, problem: BaseCloudEventException) -> str:
    # The SDK's texts either name the attribute or are fixed rules; ours are written
    # for the vendor and never repeat an attribute name that could be anything.
    if isinstance(problem, MissingRequiredAttributeError):
        return "is required"
    if isinstance(problem, InvalidAttributeTypeError):
        return "must be an RFC 3339 timestamp" if name == "time" else "must be a string"
    if isinstance(problem, CustomExtensionAttributeError):
        if name == "data":
            return "is reserved"
        return "extension attribute names must be lowercase letters and digits only"
    if isinstance(problem, InvalidAttributeValueError):
        return _value_message(name)
    return "is not a valid CloudEvents attribute"


def _value_message(name: str) -> str:
    if name == "specversion":
        return 'must be "1.0"'
    if name == "time":
        return "must include a UTC offset"
    return "must not be empty"


def _details(error: ValidationError) -> list[ErrorDetails]:
    return error.errors(include_url=False, include_context=False, include_input=True)


def _field_error(detail: ErrorDetails) -> FieldError:
    path = _format_path(detail["loc"])
    message = _FRIENDLY_MESSAGES.get(detail["type"], detail["msg"])
    if _mentions_input(message, detail.get("input")):
        message = f"is not valid ({detail['type']})"
    return FieldError(path, message)


def _mentions_input(message: str, value: object) -> bool:
    """True when a message repeats the value (pydantic's built-in messages don't, but
    a future validator might): then only the error type is kept."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return False
    text = str(value)
    return len(text) >= 3 and text in message


def _format_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += ("." if path else "") + _safe_path(part)
    return path or "body"


def _safe_path(name: str) -> str:
    """A key from the body as it may appear in a response: keys are normally
    field names, but one that looks like an identity number is masked."""
    if len(name) > 64 or _DIGIT_RUN.search(name):
        return "<key>"
    return name


def _merge(first: list[FieldError], second: list[FieldError]) -> list[FieldError]:
    """Both lists, keeping only the first error reported for each path."""
    seen = {error.path for error in first}
    return first + [error for error in second if error.path not in seen]
