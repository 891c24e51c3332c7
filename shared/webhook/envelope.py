"""Read a webhook body into a `BookingEvent`, and check what the schema cannot.

Two kinds of failure, two answers:

* `InvalidEvent` (400): not JSON, not a CloudEvent, or not the v1 schema. The
  errors list field paths (``data.patient.identifier.system``) and what is wrong.
* `semantic_errors` (422): structurally fine but meaningless — a bad check digit,
  an end before the start, an inpatient without a ward, a ``type`` that disagrees
  with ``data.status``, a ``subject`` naming another booking, a ``source`` naming
  another administration, an id shaped like a personal identity number.

The models are the contract (the published JSON Schema is generated from them),
and the body is parsed in pydantic's strict mode: a boolean is not a number, a
float is not an integer, a number is not a string.

No message ever contains a value from the body: pydantic errors carry the
``input``, which may be a personal identity number or a name, so only the path and
a description of the rule are kept. A path names contract fields only: a key the
contract does not know (an extension attribute, a misspelt field) is reported as
``<key>``, because a key, too, could be a name or an identity number.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from shared.booking import (
    EXTENSION_NAME,
    IDENTITY_SHAPED,
    BookingEvent,
    BookingStatus,
    semantic_problems,
)
from shared.errors import PermanentError
from shared.identity import contains_identity_number, is_identity_number_shaped
from shared.problems import UNKNOWN_KEY, FieldError, field_path

CANCELLED_TYPE = "se.vgr.orbit.booking.cancelled.v1"
SUBJECT_PREFIX = "bookings/"
SOURCE_PREFIX = "orbit://vgr/"

_BASE64_DATA = "data_base64"
_FRIENDLY_MESSAGES = {
    "missing": "is required",
    "extension_name": "extension attribute names must be 1 to 20 lowercase letters and digits",
    # pydantic says "… or instance of PatientIdentifier": a class name means nothing
    # to Orbit's vendor.
    "model_type": "must be a JSON object",
    "model_attributes_type": "must be a JSON object",
    "dict_type": "must be a JSON object",
}


class InvalidEvent(PermanentError):
    """The body is not a valid v1 booking event; ``errors`` says where and why."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__(f"{len(errors)} invalid field(s)")
        self.errors = errors


def parse_event(text: str) -> BookingEvent:
    """Parse a CloudEvents structured-mode JSON body into a `BookingEvent` (strict).

    Raises:
        InvalidEvent: with one `FieldError` per failing field.
    """
    raw = _load_object(text)
    errors: list[FieldError] = []
    if _BASE64_DATA in raw:
        errors.append(
            FieldError(_BASE64_DATA, "is not supported; send the booking as JSON in data")
        )
    if any(_bad_extension_name(name) for name in raw):
        # Also refused by the model, but only once every field is valid: said here
        # so it is listed with the other errors.
        errors.append(FieldError(UNKNOWN_KEY, _FRIENDLY_MESSAGES["extension_name"]))
    try:
        event = BookingEvent.model_validate_json(text, strict=True)
    except ValidationError as error:
        errors = _merge(errors, [_field_error(detail) for detail in _details(error)])
        raise InvalidEvent(errors) from None
    if errors:
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
    if event.subject is not None and event.subject != SUBJECT_PREFIX + event.data.booking_id:
        errors.append(FieldError("subject", "must be bookings/<data.bookingId>"))
    if event.source != SOURCE_PREFIX + event.data.administration:
        errors.append(FieldError("source", "must be orbit://vgr/<data.administration>"))
    if _may_carry_identity_number(event.id):
        errors.append(FieldError("id", IDENTITY_SHAPED))
    return errors


_UUID = re.compile(r"[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")


def _may_carry_identity_number(event_id: str) -> bool:
    """Whether the id is, or holds, something shaped like an identity number: it is
    stored and shown with the booking, so none may hide in it. A UUID is exempt:
    its groups of random hex digits come out all decimal and shaped like one (an
    eight-digit group that reads as a date, then a four-digit group) in about one
    random UUID in 430, and refusing those (422, never retried) would lose events."""
    if is_identity_number_shaped(event_id):
        return True
    return not _UUID.fullmatch(event_id) and contains_identity_number(event_id)


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


def _bad_extension_name(name: str) -> bool:
    return (
        name not in BookingEvent.model_fields
        and name != _BASE64_DATA
        and (not EXTENSION_NAME.match(name))
    )


def _reject_constant(name: str) -> None:
    raise ValueError("NaN and Infinity are not JSON")


def _details(error: ValidationError) -> list[ErrorDetails]:
    return error.errors(include_url=False, include_context=False, include_input=True)


def _field_error(detail: ErrorDetails) -> FieldError:
    path = UNKNOWN_KEY if detail["type"] == "extension_name" else _format_path(detail["loc"])
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
    if loc and loc[0] == _BASE64_DATA:
        return _BASE64_DATA  # a CloudEvents name, refused with a hint
    return field_path(loc, BookingEvent)


def _merge(first: list[FieldError], second: list[FieldError]) -> list[FieldError]:
    """Both lists, keeping only the first error reported for each path."""
    seen = {error.path for error in first}
    result = list(first)
    for error in second:
        if error.path not in seen:
            seen.add(error.path)
            result.append(error)
    return result
