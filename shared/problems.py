"""HTTP answers: RFC 9457 problem documents (``application/problem+json``) for every error.

One module for all endpoints (the Orbit webhook, the jump-out, the ops API): the
correlation id of a request, the refusal a handler raises (`RequestRefused`,
`RequestDeferred` in ``shared.errors``) turned into its answer, and the 503 and
500 answers. So every error a client sees has the same shape: ``type`` (an
identifier URI, never fetched), ``title``, ``status``, ``detail`` (what is wrong
and what to do), optional ``errors`` (field paths and what is wrong with each) and
the ``correlationId`` operators can search the logs for.

Problem texts never contain values the client sent: those may be personal data.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from pydantic import BaseModel

from shared.errors import HttpRefusal

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://orbit-millennium.vgr.se/problems/"
"""Base of the ``type`` URIs. Only an identifier: nothing is served there."""
RETRY_AFTER_SECONDS = 30


@dataclass(frozen=True)
class HttpRequestParts:
    """One HTTP request as the handlers see it, independent of the web framework:
    header names lower case, the raw body (what a signature covers)."""

    headers: Mapping[str, str]
    body: bytes

    @classmethod
    def of(cls, headers: Mapping[str, str], body: bytes) -> HttpRequestParts:
        return cls({name.lower(): value for name, value in headers.items()}, body)


"""Suggested wait before a client retries a 503."""


def new_correlation_id() -> str:
    """The id of one request: in its answer and its log line, for operators to search."""
    return str(uuid.uuid4())


@dataclass(frozen=True)
class FieldError:
    """One failing field: its path in the request (``data.patient.identifier.system``)
    and what is wrong with it, without the value."""

    path: str
    message: str

    def as_json(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message}


UNKNOWN_KEY = "<key>"
"""The path of a key the contract does not name: the key itself is never echoed
(a client could name a key after a patient, or send an identity number as one)."""


def field_path(loc: Sequence[int | str], contract: type[BaseModel]) -> str:
    """The path of a pydantic error location as a client may see it.

    Only field names of ``contract`` (its wire aliases) are spelt out. The path
    stops at the first key the contract does not know: what follows would be
    pydantic's union tags or more of the unknown key's content.
    """
    known = contract_field_names(contract)
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
            continue
        if part not in known:
            return path + ("." if path else "") + UNKNOWN_KEY
        path += ("." if path else "") + part
    return path or "body"


@cache
def contract_field_names(contract: type[BaseModel]) -> frozenset[str]:
    """Every field name (wire alias) of ``contract`` and the models inside it."""
    names: set[str] = set()
    pending: list[type[BaseModel]] = [contract]
    seen: set[type[BaseModel]] = set()
    while pending:
        model = pending.pop()
        if model in seen:
            continue
        seen.add(model)
        for name, info in model.model_fields.items():
            names.add(info.alias or name)
            pending.extend(_models_in(info.annotation))
    return frozenset(names)


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for arg in getattr(annotation, "__args__", ()) for model in _models_in(arg)]


@dataclass(frozen=True)
class ProblemResponse:
    """An error response, independent of any HTTP framework."""

    status: int
    type_suffix: str
    title: str
    detail: str
    correlation_id: str
    errors: tuple[FieldError, ...] = ()
    headers: Mapping[str, str] = field(default_factory=dict)

    content_type = PROBLEM_MEDIA_TYPE

    @property
    def type_uri(self) -> str:
        return PROBLEM_TYPE_BASE + self.type_suffix

    def document(self) -> dict[str, object]:
        """The problem document as a JSON-ready dict."""
        document: dict[str, object] = {
            "type": self.type_uri,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "correlationId": self.correlation_id,
        }
        if self.errors:
            document["errors"] = [error.as_json() for error in self.errors]
        return document

    def body(self) -> bytes:
        return json.dumps(self.document(), ensure_ascii=False).encode()


def problem(
    status: int,
    title: str,
    detail: str,
    *,
    type_suffix: str,
    errors: Sequence[FieldError] | None = None,
    headers: Mapping[str, str] | None = None,
    correlation_id: str | None = None,
) -> ProblemResponse:
    """Build a problem response; a new correlation id is made when none is given.

    ``detail`` must say what is wrong and what the client should do about it.
    """
    return ProblemResponse(
        status=status,
        type_suffix=type_suffix,
        title=title,
        detail=detail,
        correlation_id=correlation_id or new_correlation_id(),
        errors=tuple(errors or ()),
        headers=dict(headers or {}),
    )


def refusal_answer(refusal: HttpRefusal, correlation_id: str) -> ProblemResponse:
    """The problem document a handler's refusal stands for."""
    return problem(
        refusal.status,
        refusal.title,
        refusal.detail,
        type_suffix=refusal.reason,
        errors=[error for error in refusal.errors if isinstance(error, FieldError)],
        headers=refusal.headers,
        correlation_id=correlation_id,
    )


def unavailable(correlation_id: str, detail: str) -> ProblemResponse:
    """503 with Retry-After: a dependency is down; ``detail`` says what was not done."""
    return problem(
        503,
        "Temporarily unavailable",
        detail,
        type_suffix="unavailable",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        correlation_id=correlation_id,
    )


def internal_error(correlation_id: str, detail: str) -> ProblemResponse:
    """500: a fault of ours; ``detail`` says what was not done and whom to ask."""
    return problem(
        500, "Internal error", detail, type_suffix="internal-error", correlation_id=correlation_id
    )
