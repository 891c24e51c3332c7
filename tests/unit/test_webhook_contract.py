"""The published webhook contract: generated files, their validity, and the prose doc."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from openapi_spec_validator import validate as validate_openapi

from docgen.webhook_contract import (
    CONTRACT_DIR,
    OPENAPI_FILE,
    SCHEMA_FILE,
    AcceptedBody,
    ProblemDocument,
    signing_example,
    stale_files,
)
from docgen.webhook_examples import (
    EXAMPLE_SECRET,
    SIGNING_EXAMPLE_BODY,
    SIGNING_EXAMPLE_ID,
    SIGNING_EXAMPLE_TIMESTAMP,
    example_event,
    example_personnummer,
)
from shared.identity import IdentifierSystem, validate
from shared.webhook.signature import sign

DOC = Path(__file__).resolve().parents[2] / "docs" / "webhook-contract.md"
PROBLEM_STATUSES = {"400", "401", "409", "413", "415", "422", "500", "503"}


def load(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((CONTRACT_DIR / name).read_text(encoding="utf-8"))
    return document


def operation() -> dict[str, Any]:
    post: dict[str, Any] = load(OPENAPI_FILE)["paths"]["/orbit/events"]["post"]
    return post


def response_examples() -> list[tuple[str, dict[str, Any]]]:
    examples = []
    for status, response in operation()["responses"].items():
        for content in response["content"].values():
            examples += [(status, e["value"]) for e in content["examples"].values()]
    return examples


def test_contract_files_are_up_to_date() -> None:
    stale = stale_files()
    assert stale == [], f"regenerate with: python -m docgen.webhook_contract ({stale})"


def test_the_openapi_document_is_valid_openapi_3_1() -> None:
    document = load(OPENAPI_FILE)
    assert document["openapi"] == "3.1.0"
    validate_openapi(document)


def test_every_response_the_endpoint_gives_is_documented() -> None:
    assert set(operation()["responses"]) == PROBLEM_STATUSES | {"202"}
    assert operation()["responses"]["503"]["headers"]["Retry-After"]


def test_the_signature_headers_are_required_parameters() -> None:
    parameters = {p["name"]: p for p in operation()["parameters"]}
    assert set(parameters) == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    assert all(p["in"] == "header" and p["required"] for p in parameters.values())


def test_response_examples_match_the_documented_body_models() -> None:
    for status, value in response_examples():
        model = AcceptedBody if status == "202" else ProblemDocument
        model.model_validate(value)  # extra fields are forbidden: the docs list them all


def test_response_examples_hold_no_personal_data() -> None:
    text = json.dumps(response_examples(), ensure_ascii=False)
    for value in (example_personnummer(), "Tolvansson", "Tolvan"):
        assert value not in text


def test_the_json_schema_accepts_the_examples_and_refuses_a_wrong_system() -> None:
    schema = load(SCHEMA_FILE)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    for example in schema["examples"]:
        validator.validate(example)
    wrong = example_event()
    wrong["data"]["patient"]["identifier"]["system"] = "passport"
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(wrong)


def test_the_example_patient_is_synthetic_and_valid() -> None:
    number = example_personnummer()
    validate(IdentifierSystem.PERSONNUMMER, number)
    assert 980 <= int(number[8:11]) <= 999  # Skatteverket's test series of birth numbers


# --- the prose document -----------------------------------------------------------------


def doc_text() -> str:
    return DOC.read_text(encoding="utf-8")


def test_the_worked_signing_example_in_the_doc_is_correct() -> None:
    text = doc_text()
    headers = sign(
        EXAMPLE_SECRET, SIGNING_EXAMPLE_ID, SIGNING_EXAMPLE_TIMESTAMP, SIGNING_EXAMPLE_BODY
    )
    assert headers == signing_example()
    body = SIGNING_EXAMPLE_BODY.decode()
    for value in (
        EXAMPLE_SECRET,
        SIGNING_EXAMPLE_ID,
        str(SIGNING_EXAMPLE_TIMESTAMP),
        body,
        f"{SIGNING_EXAMPLE_ID}.{SIGNING_EXAMPLE_TIMESTAMP}.{body}",
        headers["webhook-signature"],
    ):
        assert f"`{value}`" in text


def test_the_doc_example_event_is_the_generated_one() -> None:
    blocks = [json.loads(b) for b in re.findall(r"```json\n(.*?)```", doc_text(), re.S)]
    assert example_event() in blocks


def test_every_problem_example_in_the_doc_is_what_the_endpoint_answers() -> None:
    blocks = [json.loads(b) for b in re.findall(r"```json\n(.*?)```", doc_text(), re.S)]
    problems = [b for b in blocks if "/problems/" in str(b.get("type", ""))]
    generated = [value for status, value in response_examples() if status != "202"]

    def without_id(document: dict[str, Any]) -> dict[str, Any]:
        return {key: value for key, value in document.items() if key != "correlationId"}

    assert {str(p["status"]) for p in problems} == PROBLEM_STATUSES
    for documented in problems:
        assert without_id(documented) in [without_id(g) for g in generated], documented["type"]


def test_the_worked_check_digit_in_the_doc_is_correct() -> None:
    assert f"`{example_personnummer()}`" in doc_text()
