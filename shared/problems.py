"""RFC 9457 problem documents (``application/problem+json``) for every HTTP error.

One helper for all endpoints (the Orbit webhook, the jump-out), so every error a
client sees has the same shape: ``type`` (an identifier URI, never fetched),
``title``, ``status``, ``detail`` (what is wrong and what to do), optional
``errors`` (field paths and what is wrong with each) and the ``correlationId``
operators can search the logs for.

Problem texts never contain values the client sent: those may be personal data.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://orbit-millennium.vgr.se/problems/"
"""Base of the ``type`` URIs. Only an identifier: nothing is served there."""


@dataclass(frozen=True)
class FieldError:
    """One failing field: its path in the request (``data.patient.identifier.system``)
    and what is wrong with it, without the value."""

    path: str
    message: str

    def as_json(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message}


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
        correlation_id=correlation_id or str(uuid.uuid4()),
        errors=tuple(errors or ()),
        headers=dict(headers or {}),
    )
