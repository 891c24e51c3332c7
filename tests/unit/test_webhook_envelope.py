"""Parsing the CloudEvent body and checking its meaning (shared.webhook.envelope)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from shared.problems import FieldError
from shared.webhook.envelope import InvalidEvent, parse_event, semantic_errors
from tests.builders import make_snapshot, synthetic_personnummer

TYPE = "se.vgr.orbit.booking.{}.v1"


def document(**envelope: Any) -> dict[str, Any]:
    snapshot = make_snapshot()
    result = {
        "specversion": "1.0",
        "id": "evt-1",
        "source": "orbit://vgr/SU",
        "type": TYPE.format("created"),
        "subject": f"bookings/{snapshot.booking_id}",
        "data": snapshot.model_dump(mode="json", by_alias=True),
    }
    result.update(envelope)
    return result


def errors_of(text: str) -> list[FieldError]:
    with pytest.raises(InvalidEvent) as raised:
        parse_event(text)
    return raised.value.errors


def test_a_valid_event_parses_into_the_snapshot() -> None:
    event = parse_event(json.dumps(document()))
    assert event.data == make_snapshot()
    assert event.type == TYPE.format("created")


def test_extension_attributes_are_allowed() -> None:
    event = parse_event(json.dumps(document(traceparent="00-abc-def-01")))
    assert event.model_extra == {"traceparent": "00-abc-def-01"}


def test_unknown_fields_in_data_are_ignored() -> None:
    raw = document()
    raw["data"]["futureField"] = {"anything": 1}
    assert parse_event(json.dumps(raw)).data == make_snapshot()


@pytest.mark.parametrize("text", ["", "{", "nul", '{"a": NaN}', "[]", '"event"', "3"])
def test_non_objects_and_invalid_json_name_the_body(text: str) -> None:
    assert [error.path for error in errors_of(text)] == ["body"]


def test_the_cloudevents_sdk_rules_apply_to_extension_names() -> None:
    errors = errors_of(json.dumps(document(Trace_Parent="x")))
    assert errors == [
        FieldError(
            "Trace_Parent", "extension attribute names must be lowercase letters and digits only"
        )
    ]


def test_a_key_that_looks_like_an_identity_number_is_masked_in_paths() -> None:
    number = synthetic_personnummer(3)
    errors = errors_of(json.dumps(document(**{f"Patient{number}": "x"})))
    assert [error.path for error in errors] == ["<key>"]


def test_each_path_is_reported_once() -> None:
    errors = errors_of(json.dumps(document(specversion="0.3", type="")))
    assert sorted(error.path for error in errors) == ["specversion", "type"]


def test_messages_never_repeat_the_input() -> None:
    number = synthetic_personnummer(4)
    raw = document()
    raw["data"]["patient"]["identifier"]["system"] = number
    raw["data"]["version"] = number
    raw["data"]["patient"]["familyName"] = ["Andersson"]
    errors = errors_of(json.dumps(raw))
    assert {error.path for error in errors} == {
        "data.patient.identifier.system",
        "data.version",
        "data.patient.familyName",
    }
    assert all(number not in e.message and "Andersson" not in e.message for e in errors)


def test_a_valid_event_has_no_semantic_errors() -> None:
    assert semantic_errors(parse_event(json.dumps(document()))) == []


def test_semantic_rules_are_reported_together() -> None:
    raw = document(type=TYPE.format("cancelled"), subject="bookings/OTHER")
    raw["data"]["plannedEnd"] = raw["data"]["plannedStart"]
    raw["data"]["admission"] = {"type": "inpatient"}
    errors = semantic_errors(parse_event(json.dumps(raw)))
    assert [error.path for error in errors] == [
        "data.plannedEnd",
        "data.admission.ward",
        "type",
        "subject",
    ]


@pytest.mark.parametrize(
    ("event_type", "status", "valid"),
    [
        ("created", "booked", True),
        ("updated", "booked", True),
        ("cancelled", "cancelled", True),
        ("cancelled", "booked", False),
        ("updated", "cancelled", False),
        ("created", "cancelled", False),
    ],
)
def test_type_must_agree_with_status(event_type: str, status: str, valid: bool) -> None:
    raw = document(type=TYPE.format(event_type))
    raw["data"]["status"] = status
    errors = semantic_errors(parse_event(json.dumps(raw)))
    assert (errors == []) is valid


def test_a_value_that_should_be_an_object_says_so_without_a_class_name() -> None:
    raw = document()
    raw["data"]["patient"]["identifier"] = "personnummer"
    [error] = errors_of(json.dumps(raw))
    assert (error.path, error.message) == ("data.patient.identifier", "must be a JSON object")
