"""Processors that mask identity-number-like text in spans and logs before export.

A second line of defence: the code never puts personal data into telemetry (ids
and codes only), but an exception type, a Millennium error text or a future
change might. These processors run before the exporting processor (the Azure
Monitor distro adds custom processors first) and pass every string through
``shared.redaction.redact``.

Why spans are changed in ``on_end``: the SDK makes an ended span read-only by API,
but hands every processor the same ``ReadableSpan`` instance, built for export. So
this processor replaces that instance's name, attributes, events and status
description, and the exporting processor after it sees only the masked values.
This uses the SDK's private fields (as Microsoft's own filtering examples do);
the tests pin the behaviour, so an SDK change that breaks it fails them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk._logs import LogRecordProcessor, ReadWriteLogRecord
from opentelemetry.sdk.trace import Event, ReadableSpan, Span, SpanProcessor
from opentelemetry.trace import Status

from shared.redaction import redact


def redact_value(value: Any) -> Any:
    """``value`` with identity-number-like text masked (strings and sequences of them)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list | tuple):
        return tuple(redact_value(item) for item in value)
    if isinstance(value, Mapping):
        return redact_attributes(value)
    return value


def redact_attributes(attributes: Mapping[str, Any] | None) -> dict[str, Any]:
    return {redact(str(key)): redact_value(value) for key, value in (attributes or {}).items()}


class RedactingSpanProcessor(SpanProcessor):
    """Masks identity-number-like text in a span's name, attributes, events and status."""

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        return None

    def on_end(self, span: ReadableSpan) -> None:
        span._name = redact(span.name)
        span._attributes = redact_attributes(span.attributes)
        span._events = tuple(
            Event(redact(event.name), redact_attributes(event.attributes), event.timestamp)
            for event in span.events
        )
        description = span.status.description
        if description:
            span._status = Status(span.status.status_code, redact(description))

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


class RedactingLogRecordProcessor(LogRecordProcessor):
    """Masks identity-number-like text in a log record's body and attributes."""

    def on_emit(self, log_record: ReadWriteLogRecord) -> None:
        record = log_record.log_record
        record.body = redact_value(record.body)
        if record.attributes:
            record.attributes = redact_attributes(record.attributes)

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True
