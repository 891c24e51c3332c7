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


def test_extension_names_follow_cloudevents_and_are_never_echoed() -> None:
    errors = errors_of(json.dumps(document(Trace_Parent="x")))
    assert errors == [
        FieldError(
            "<key>", "extension attribute names must be 1 to 20 lowercase letters and digits"
        )
    ]


@pytest.mark.parametrize("name", ["Tolvansson", "a" * 21, "with-dash", "x.y"])
def test_a_bad_extension_name_is_reported_without_the_name(name: str) -> None:
    errors = errors_of(json.dumps(document(**{name: "x"})))
    assert [error.path for error in errors] == ["<key>"]
    assert all(name not in error.message for error in errors)


@pytest.mark.parametrize("value", [None, 1.5, [1], {"a": 1}, 2**40])
def test_extension_values_are_strings_integers_or_booleans(value: object) -> None:
    errors = errors_of(json.dumps(document(tolvansson=value)))
    assert {error.path for error in errors} == {"<key>"}
    assert all("tolvansson" not in error.message for error in errors)


def test_an_invalid_value_under_an_unknown_key_is_reported_without_the_key() -> None:
    errors = errors_of(json.dumps(document(tolvan={"familyname": "x"})))
    assert [error.path for error in errors] == ["<key>"]


@pytest.mark.parametrize("name", ["datacontenttype", "subject", "time", "dataschema"])
def test_optional_attributes_are_left_out_never_null(name: str) -> None:
    assert [error.path for error in errors_of(json.dumps(document(**{name: None})))] == [name]


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("data", "version"), True),
        (("data", "version"), 1.0),
        (("data", "version"), "1"),
        (("data", "admission", "expectedNights"), 1e-400),
        (("data", "admission", "expectedNights"), False),
        (("data", "patient", "protectedIdentity"), 0),
        (("data", "patient", "protectedIdentity"), "false"),
        (("data", "theatre"), 5),
    ],
)
def test_types_are_strict(path: tuple[str, ...], value: object) -> None:
    raw = document()
    target = raw
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    text = json.dumps(raw).replace("0.0", "1e-400") if value == 1e-400 else json.dumps(raw)
    assert [error.path for error in errors_of(text)] == [".".join(path)]


@pytest.mark.parametrize(
    "source", ["https://evil.example", "orbit://vgr/", "orbit://vgr/su", "orbit://other/SU"]
)
def test_source_must_be_an_orbit_administration_uri(source: str) -> None:
    assert [error.path for error in errors_of(json.dumps(document(source=source)))] == ["source"]


def test_source_must_name_the_events_administration() -> None:
    errors = semantic_errors(parse_event(json.dumps(document(source="orbit://vgr/SAS"))))
    assert [error.path for error in errors] == ["source"]


@pytest.mark.parametrize("shape", ["{}", "OB-{}", "{}x", "OB{}", "OB-{}-1"])
def test_an_identity_number_as_booking_id_is_refused_without_echo(shape: str) -> None:
    number = synthetic_personnummer(5)
    raw = document()
    raw["data"]["bookingId"] = shape.format(number)
    raw["subject"] = "bookings/" + raw["data"]["bookingId"]
    errors = semantic_errors(parse_event(json.dumps(raw)))
    assert [error.path for error in errors] == ["data.bookingId"]
    assert all(number not in error.message for error in errors)


@pytest.mark.parametrize("value", ["19121212-1212", "1212121212", "121212-1212", "19121272K123"])
def test_an_identity_number_as_event_id_is_refused_without_echo(value: str) -> None:
    errors = semantic_errors(parse_event(json.dumps(document(id=value))))
    assert [error.path for error in errors] == ["id"]
    assert all(value not in error.message for error in errors)


@pytest.mark.parametrize("value", ["has space", "", "a/b", "x" * 129, "ä"])
def test_event_id_has_a_documented_pattern(value: str) -> None:
    assert [error.path for error in errors_of(json.dumps(document(id=value)))] == ["id"]


def test_a_key_that_looks_like_an_identity_number_is_masked_in_paths() -> None:
    number = synthetic_personnummer(3)
    errors = errors_of(json.dumps(document(**{f"Patient{number}": "x"})))
    assert [error.path for error in errors] == ["<key>"]
    assert all(number not in error.message for error in errors)


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
    raw = document(type=TYPE.format("cancelled"), subject="bookings/OTHER", source="orbit://vgr/NU")
    raw["data"]["plannedEnd"] = raw["data"]["plannedStart"]
    raw["data"]["admission"] = {"type": "inpatient"}
    errors = semantic_errors(parse_event(json.dumps(raw)))
    assert [error.path for error in errors] == [
        "data.plannedEnd",
        "data.admission.ward",
        "type",
        "subject",
        "source",
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
