"""RFC 9457 problem documents (shared.problems)."""

from __future__ import annotations

import json
import uuid

from shared.problems import PROBLEM_MEDIA_TYPE, FieldError, problem


def test_a_problem_document_has_the_rfc_9457_members_and_a_correlation_id() -> None:
    response = problem(404, "Not found", "No such thing; check the id.", type_suffix="not-found")
    document = json.loads(response.body())
    assert document == {
        "type": "https://orbit-millennium.vgr.se/problems/not-found",
        "title": "Not found",
        "status": 404,
        "detail": "No such thing; check the id.",
        "correlationId": response.correlation_id,
    }
    assert uuid.UUID(response.correlation_id)
    assert response.content_type == PROBLEM_MEDIA_TYPE == "application/problem+json"


def test_errors_headers_and_a_given_correlation_id_are_kept() -> None:
    response = problem(
        400,
        "Invalid",
        "Fix the fields.",
        type_suffix="invalid",
        errors=[FieldError("data.version", "is required")],
        headers={"Retry-After": "5"},
        correlation_id="corr-1",
    )
    document = response.document()
    assert document["errors"] == [{"path": "data.version", "message": "is required"}]
    assert document["correlationId"] == "corr-1"
    assert response.headers == {"Retry-After": "5"}


def test_each_problem_gets_its_own_correlation_id() -> None:
    first = problem(500, "t", "d", type_suffix="x")
    second = problem(500, "t", "d", type_suffix="x")
    assert first.correlation_id != second.correlation_id


def test_non_ascii_text_is_utf8_in_the_body() -> None:
    response = problem(409, "Avstängd", "Förvaltningen är inte påslagen.", type_suffix="off")
    assert "Förvaltningen".encode() in response.body()
