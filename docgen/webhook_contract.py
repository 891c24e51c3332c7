"""Generate the published webhook contract for Orbit's vendor.

``python -m docgen.webhook_contract`` writes, under ``docs/contract/``:

* ``orbit-booking-event.v1.schema.json``: JSON Schema (2020-12) of the CloudEvent
  and its booking snapshot, generated from the pydantic models;
* ``openapi.json``: OpenAPI 3.1 of ``POST /api/orbit/events``: the request body,
  the signature headers, and every response with an example the real handler gave.

``--check`` writes nothing and exits 1 when a file is stale (a test runs it too).
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel
from pydantic.json_schema import models_json_schema

from docgen.webhook_examples import (
    EXAMPLE_SECRET,
    SIGNING_EXAMPLE_BODY,
    SIGNING_EXAMPLE_ID,
    SIGNING_EXAMPLE_TIMESTAMP,
    ResponseExample,
    example_cancellation,
    example_event,
    response_examples,
)
from shared.booking import BookingEvent
from shared.webhook.media import MAX_BODY_BYTES
from shared.webhook.signature import (
    HEADER_ID,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    WEBHOOK_ID_PATTERN,
    sign,
)

CONTRACT_DIR = Path(__file__).resolve().parents[1] / "docs" / "contract"
SCHEMA_FILE = "orbit-booking-event.v1.schema.json"
OPENAPI_FILE = "openapi.json"
SCHEMA_ID = "https://orbit-millennium.vgr.se/contract/" + SCHEMA_FILE
"""An identifier, like the problem type URIs: nothing is served there."""


class _DocumentModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class AcceptedBody(_DocumentModel):
    """The 202 body (also returned, unchanged, for a repeated webhook-id)."""

    event_id: str = Field(description="The CloudEvent id of the accepted event.")
    booking_id: str = Field(description="data.bookingId of the accepted event.")
    correlation_id: str = Field(description="Quote it when asking about this event.")


class ProblemFieldError(_DocumentModel):
    path: str = Field(description="Where in the request, e.g. data.patient.identifier.system.")
    message: str = Field(description="What is wrong (never the value sent).")


class ProblemDocument(_DocumentModel):
    """RFC 9457 problem details, as every error response carries them."""

    type: str = Field(description="Identifies the kind of problem (an identifier, not a page).")
    title: str
    status: int
    detail: str = Field(description="What is wrong and what to do about it.")
    correlation_id: str = Field(description="Quote it when asking about this response.")
    errors: list[ProblemFieldError] | None = Field(
        default=None, description="The failing fields (400 and 422)."
    )


_DESCRIPTIONS: dict[tuple[str, str], str] = {
    ("BookingEvent", "id"): (
        "Unique per event (not per delivery); e.g. a UUID. Letters, digits, '.', '_', ':', "
        "'-'; the whole id never shaped like a personal identity number (422)."
    ),
    ("BookingEvent", "source"): "orbit://vgr/<administration>, naming data.administration.",
    ("BookingEvent", "datacontenttype"): "application/json when present; never null.",
    ("BookingEvent", "dataschema"): "Optional; never null.",
    (
        "BookingEvent",
        "type",
    ): "created, updated or cancelled; cancelled.v1 exactly when data.status is cancelled.",
    ("BookingEvent", "subject"): "Optional; when present it must be bookings/<data.bookingId>.",
    ("BookingEvent", "time"): "When the change happened in Orbit (RFC 3339 with offset).",
    ("BookingSnapshot", "bookingId"): (
        "Orbit's booking id: a letter or digit, then letters, digits, '.', '_', '-'; at most "
        "40 characters. Never personal data: an id containing anything shaped like a "
        "personal identity number (10 or 12 digits whose date part could be a birth date) "
        "is refused (422)."
    ),
    (
        "BookingSnapshot",
        "version",
    ): (
        "Increases with every change of the booking; an event whose version is not newer "
        "than the one already received is acknowledged (202) and ignored. A JSON integer "
        "(3, not 3.0 or true)."
    ),
    ("BookingSnapshot", "administration"): "Administration code (förvaltning), e.g. SU, SAS.",
    ("BookingSnapshot", "plannedStart"): "RFC 3339 with UTC offset.",
    ("BookingSnapshot", "plannedEnd"): "RFC 3339 with UTC offset; must be after plannedStart.",
    ("BookingSnapshot", "cancellationReason"): "Free text when status is cancelled.",
    (
        "PatientIdentifier",
        "value",
    ): (
        "12 characters, no separator. Check digit validated (Luhn; reserve numbers "
        "yyyymmdd[KMX]ggC with K=5, M=7, X=8); samordningsnummer has day + 60."
    ),
    (
        "Patient",
        "protectedIdentity",
    ): "Skyddade personuppgifter: only identity and name are passed on.",
    ("Procedure", "code"): "KVÅ: 3 letters + 2 digits or 2 letters + 3 digits.",
    ("Diagnosis", "code"): "ICD-10-SE.",
    ("Unit", "hsaId"): "HSA-id of the unit.",
    ("Person", "hsaId"): "HSA-id of the person.",
    ("Admission", "ward"): "Required when type is inpatient.",
    ("Admission", "admitAt"): "Defaults to plannedStart.",
    ("Admission", "expectedNights"): "A JSON integer (3, not 3.0).",
}


STRICT_TYPES = (
    "Types are strict: a boolean is not a number, an integer is written without a "
    "fraction or exponent (3, not 3.0), a string is not a number. Extension attributes "
    "are named with 1 to 20 lowercase letters and digits and hold a string, integer or "
    "boolean. An optional attribute is left out, never null."
)


def event_schema() -> dict[str, Any]:
    """The JSON Schema of a v1 booking event."""
    schema = BookingEvent.model_json_schema(by_alias=True, mode="validation")
    _describe(schema["$defs"] | {"BookingEvent": schema})
    schema["description"] = f"{schema.get('description', '')}\n\n{STRICT_TYPES}".strip()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        **schema,
        "title": "Orbit booking event (CloudEvents 1.0, contract v1)",
        "examples": [example_event(), example_cancellation()],
    }


def openapi_document(examples: list[ResponseExample]) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``POST /api/orbit/events``."""
    _, definitions = models_json_schema(
        [
            (BookingEvent, "validation"),
            (AcceptedBody, "validation"),
            (ProblemDocument, "validation"),
        ],
        by_alias=True,
        ref_template="#/components/schemas/{model}",
    )
    schemas = definitions["$defs"]
    _describe(schemas)
    event = schemas["BookingEvent"]
    event["description"] = f"{event.get('description', '')}\n\n{STRICT_TYPES}".strip()
    body_schema = {
        "schema": {"$ref": "#/components/schemas/BookingEvent"},
        "examples": {
            "booked": {"summary": "A booked inpatient operation", "value": example_event()},
            "cancelled": {"summary": "A cancellation", "value": example_cancellation()},
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Orbit booking webhook (Orbit → Millennium integration)",
            "version": "1.0.0",
            "description": (
                "Orbit posts every booking change here as a CloudEvent carrying the whole "
                "booking. Deliveries are signed with Standard Webhooks. See "
                "docs/webhook-contract.md for the prose contract."
            ),
        },
        "servers": [
            {
                "url": "https://{functionApp}.azurewebsites.net/api",
                "variables": {"functionApp": {"default": "func-orbit-millennium"}},
            },
            {"url": "http://127.0.0.1:7071/api", "description": "Local run"},
        ],
        "paths": {
            "/orbit/events": {
                "post": {
                    "operationId": "postOrbitBookingEvent",
                    "summary": "Deliver one Orbit booking event",
                    "description": (
                        "Authentication is the Standard Webhooks signature (no key in the URL). "
                        f"Bodies up to {MAX_BODY_BYTES} bytes. Retry on 503, 500 and timeouts "
                        "with the same webhook-id and body; never retry a 4xx unchanged."
                    ),
                    "parameters": _signature_parameters(),
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/cloudevents+json": body_schema,
                            "application/json": copy.deepcopy(body_schema),
                        },
                    },
                    "responses": _responses(examples),
                }
            }
        },
        "components": {"schemas": schemas},
    }


_RESPONSE_DESCRIPTIONS = {
    202: "Accepted: the event is durably enqueued (or was, for a repeated webhook-id).",
    400: "Invalid JSON, not a CloudEvent, or not the v1 schema; errors lists the field paths.",
    401: "Missing, malformed, expired or non-matching signature.",
    409: "The integration is not switched on for the booking's administration.",
    413: f"The body is over {MAX_BODY_BYTES} bytes.",
    415: "Content-Type is not application/cloudevents+json or application/json (UTF-8).",
    422: (
        "Well-formed but invalid content: check digit, times, ward, type/status, subject, "
        "unknown administration, or a webhook-id reused for a different body."
    ),
    500: "An internal error; the event was not accepted. Retry later.",
    503: (
        "The queue or table could not be reached; the event was not accepted. "
        "Retry after Retry-After seconds."
    ),
}


def _responses(examples: list[ResponseExample]) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for example in examples:
        media_type = "application/json" if example.status == 202 else "application/problem+json"
        schema = "AcceptedBody" if example.status == 202 else "ProblemDocument"
        response = responses.setdefault(
            str(example.status),
            {
                "description": _RESPONSE_DESCRIPTIONS[example.status],
                "content": {
                    media_type: {
                        "schema": {"$ref": f"#/components/schemas/{schema}"},
                        "examples": {},
                    }
                },
            },
        )
        response["content"][media_type]["examples"][example.name] = {
            "summary": example.summary,
            "value": example.document,
        }
        if "Retry-After" in example.headers:
            response["headers"] = {
                "Retry-After": {
                    "description": "Seconds to wait before retrying the same delivery.",
                    "schema": {"type": "integer", "minimum": 1},
                }
            }
    return dict(sorted(responses.items()))


def _signature_parameters() -> list[dict[str, Any]]:
    example = signing_example()
    return [
        {
            "name": "webhook-id",
            "in": "header",
            "required": True,
            "description": (
                "The idempotency key: unique per event delivery; every retry of that "
                "delivery reuses it. Printable ASCII, no spaces."
            ),
            "schema": {
                "type": "string",
                "minLength": 1,
                "maxLength": 200,
                "pattern": WEBHOOK_ID_PATTERN,
            },
            "example": example[HEADER_ID],
        },
        {
            "name": "webhook-timestamp",
            "in": "header",
            "required": True,
            "description": (
                "Unix seconds when this attempt was signed; within ±5 minutes of our clock."
            ),
            "schema": {"type": "string", "pattern": "^[0-9]{1,10}$"},
            "example": example[HEADER_TIMESTAMP],
        },
        {
            "name": "webhook-signature",
            "in": "header",
            "required": True,
            "description": (
                "Space-separated v1,<base64 HMAC-SHA256> values over "
                '"{webhook-id}.{webhook-timestamp}.{raw body}", keyed with the base64-decoded '
                "part of a whsec_ secret. Any one matching a configured secret is enough."
            ),
            "schema": {"type": "string"},
            "example": example[HEADER_SIGNATURE],
        },
    ]


def signing_example() -> dict[str, str]:
    """The headers of the worked signing example in docs/webhook-contract.md."""
    return sign(EXAMPLE_SECRET, SIGNING_EXAMPLE_ID, SIGNING_EXAMPLE_TIMESTAMP, SIGNING_EXAMPLE_BODY)


def _describe(definitions: dict[str, Any]) -> None:
    """Drop pydantic's generated property titles ("Bookingid") and add descriptions."""
    for name, definition in definitions.items():
        for prop_name, prop in definition.get("properties", {}).items():
            prop.pop("title", None)
            description = _DESCRIPTIONS.get((name, prop_name))
            if description:
                prop["description"] = description


def rendered() -> dict[str, str]:
    """File name → the text it must contain."""
    from shared.crosswalk.sqlite import SqliteTableStore

    examples = response_examples(SqliteTableStore(":memory:"))
    return {
        SCHEMA_FILE: _dump(event_schema()),
        OPENAPI_FILE: _dump(openapi_document(examples)),
    }


def stale_files(folder: Path = CONTRACT_DIR) -> list[str]:
    """Names of the contract files that are missing or differ from the models."""
    return [
        name
        for name, text in rendered().items()
        if not (folder / name).exists() or (folder / name).read_text(encoding="utf-8") != text
    ]


def write(folder: Path = CONTRACT_DIR) -> list[str]:
    """Write the contract files; returns their names."""
    folder.mkdir(parents=True, exist_ok=True)
    files = rendered()
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return sorted(files)


def _dump(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="only report stale files")
    arguments = parser.parse_args(argv)
    logging.disable(logging.CRITICAL)  # the example deliveries' log lines are noise here
    if arguments.check:
        stale = stale_files()
        for name in stale:
            print(f"stale: docs/contract/{name} (run: python -m docgen.webhook_contract)")
        return 1 if stale else 0
    for name in write():
        print(f"wrote docs/contract/{name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
