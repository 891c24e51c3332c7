"""Telemetry for operators: one trace per booking change, custom metrics, structured logs.

The webhook, intake and workers call the small functions here, one call per
event, so the domain code stays readable. What they produce (names in
``shared/telemetry_names.py``, shared with the alert rules and the workbook):

* **Spans.** A *unit of work* is one webhook delivery (``webhook_span``) or one
  queue message (``consumer_span``); each MLLP send is a child span
  (``mllp_exchange``). The trace crosses Service Bus in the message's
  ``traceparent`` application property (``trace_properties`` on send,
  ``consumer_span`` on receive), so a booking change is one distributed trace
  from the webhook to every ACK.
* **Metrics**, with the dimensions of the current unit of work (``annotate``
  describes it: booking id, administration, target, ...).
* **Structured log lines** on the ``orbitsync`` logger whose ``extra`` fields
  become customDimensions: booking id, target, HL7 trigger, MSH-10, ACK code,
  attempt.

Why it is built this way:

* Only the OpenTelemetry *API* is used here, imported on first use: importing
  ``function_app`` loads no OpenTelemetry module at all (cold start).
* Export is switched on lazily, on first use, and only when
  ``APPLICATIONINSIGHTS_CONNECTION_STRING`` is set (``shared.telemetry.export``);
  never at import and never in tests. Without it (and without providers from a
  test) every call here returns at once (``instruments.Disabled``).
* Values are ids, codes and counts only; a redacting processor
  (``shared.telemetry.redacting``) masks anything that still looks like a
  personal identity number before export, as a second line of defence.
* Telemetry never breaks a booking: configuration errors are logged and the app
  runs on without export.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import logging
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from shared import telemetry_names as names
from shared.names import QUEUE_EVENTS

if TYPE_CHECKING:
    from shared.telemetry.instruments import Instruments

log = logging.getLogger(f"{names.LOGGER_NAME}.telemetry")

AttributeValue = str | int | float | bool


@dataclass
class _Work:
    """The unit of work in progress on this thread (or task) and what is known of it."""

    span: Any  # opentelemetry.trace.Span
    attributes: dict[str, AttributeValue] = field(default_factory=dict)


_current_work: contextvars.ContextVar[_Work | None] = contextvars.ContextVar(
    "orbitsync_work", default=None
)
_lock = threading.Lock()
_instruments: Instruments | None = None


# --- wiring -------------------------------------------------------------------------


def use_providers(tracer_provider: Any = None, meter_provider: Any = None) -> None:
    """Record into these OpenTelemetry SDK providers instead of the global ones
    (tests). Called with no arguments it forgets them again."""
    global _instruments
    with _lock:
        if tracer_provider is None and meter_provider is None:
            _instruments = None
            return
        from shared.telemetry.instruments import Instruments

        _instruments = Instruments(tracer_provider, meter_provider)


def _otel() -> Instruments:
    """The tracer and instruments, built (and export configured) on first use."""
    global _instruments
    instruments = _instruments
    if instruments is None:
        with _lock:
            if _instruments is None:
                from shared.telemetry.export import configure_export_if_asked
                from shared.telemetry.instruments import global_instruments

                configure_export_if_asked()
                _instruments = global_instruments()
            instruments = _instruments
    return instruments


# --- units of work --------------------------------------------------------------------


@contextmanager
def webhook_span() -> Iterator[None]:
    """The span of one webhook delivery: the root of a booking change's trace."""
    with _work_span(names.SPAN_WEBHOOK_RECEIVE, "server", None, {}):
        yield


@contextmanager
def consumer_span(
    queue: str, properties: Mapping[str, str], *, booking_id: str, message_id: str
) -> Iterator[None]:
    """The span of one queue message, a child of the trace in its ``traceparent``."""
    name = names.SPAN_EVENT_STORE if queue == QUEUE_EVENTS else names.SPAN_SYNC_TARGET
    attributes: dict[str, AttributeValue] = {
        names.ATTR_QUEUE: queue,
        names.ATTR_BOOKING_ID: booking_id,
        names.ATTR_MESSAGE_ID: message_id,
    }
    with _work_span(name, "consumer", properties, attributes):
        yield


def annotate(**attributes: AttributeValue) -> None:
    """Describe the current unit of work (booking_id, administration, target, version,
    ...): set on its span, and used as metric dimensions and log fields by the events
    below. Keys are the ``ATTR_*`` names; values are ids and codes, never personal data."""
    work = _current_work.get()
    if work is None:
        return
    work.attributes.update(attributes)
    work.span.set_attributes(attributes)


def trace_properties() -> dict[str, str]:
    """The current trace context as message application properties (``traceparent``),
    or nothing outside a unit of work."""
    if _current_work.get() is None:
        return {}
    return _otel().carrier()


@contextmanager
def _work_span(
    name: str,
    kind: str,
    parent: Mapping[str, str] | None,
    attributes: dict[str, AttributeValue],
) -> Iterator[_Work]:
    otel = _otel()
    with otel.span(name, kind, parent, attributes) as span:
        work = _Work(span, dict(attributes))
        token = _current_work.set(work)
        try:
            yield work
        except BaseException as error:
            otel.fail(span, type(error).__name__, error_type=type(error).__name__)
            raise
        finally:
            _current_work.reset(token)


# --- events ---------------------------------------------------------------------------


def webhook_answered(status: int, reason: str, correlation_id: str) -> None:
    """Count one webhook delivery by its answer (received, then accepted or rejected)."""
    otel = _otel()
    dimensions = _dimensions(names.DIM_ADMINISTRATION)
    otel.add(names.EVENTS_RECEIVED, dimensions)
    if status == 202:
        otel.add(names.EVENTS_ACCEPTED, dimensions)
    else:
        rejected = {**dimensions, names.DIM_STATUS: str(status), names.DIM_REASON: reason}
        otel.add(names.EVENTS_REJECTED, rejected)
    outcome: dict[str, AttributeValue] = {
        names.ATTR_STATUS: status,
        names.ATTR_HTTP_STATUS: status,
        names.ATTR_REASON: reason,
        names.ATTR_CORRELATION_ID: correlation_id,
    }
    annotate(**outcome)
    work = _current_work.get()
    if work is not None and status >= 500:
        otel.fail(work.span, reason)


def ops_key_checked(reason: str) -> None:
    """Count one check of the operators' key (``accepted`` or why it was refused)."""
    _otel().add(names.OPS_KEY_CHECKS, {names.DIM_REASON: reason})


def stale_event_ignored(stored_version: int) -> None:
    """An event older than the stored snapshot was acknowledged and ignored."""
    otel = _otel()
    otel.add(names.STALE_EVENTS_IGNORED, _dimensions(names.DIM_ADMINISTRATION))
    _span_event("stale-event-ignored", stored_version=stored_version)


class Exchange:
    """What became of one MLLP send; ``acknowledged`` records the ACK code and
    whether the channel counts it as accepted (the HL7 channel knows the codes)."""

    def __init__(self) -> None:
        self.ack_code = names.ACK_NONE
        self.accepted = False

    def acknowledged(self, ack_code: str, *, accepted: bool) -> None:
        self.ack_code = ack_code
        self.accepted = accepted


@contextmanager
def mllp_exchange(trigger: str, control_id: str, attempt: int) -> Iterator[Exchange]:
    """A child span around one HL7 send and its ACK. On leaving it counts the message
    by trigger and ACK code (``none`` when no usable ACK came, e.g. the block raised),
    counts an in-doubt resend when ``attempt`` > 1, and logs one structured line."""
    fields: dict[str, AttributeValue] = {
        **_dimensions(names.ATTR_BOOKING_ID, names.ATTR_TARGET, names.ATTR_ADMINISTRATION),
        names.ATTR_TRIGGER: trigger,
        names.ATTR_CONTROL_ID: control_id,
        names.ATTR_ATTEMPT: attempt,
    }
    exchange = Exchange()
    otel = _otel()
    with otel.span(names.SPAN_MLLP_SEND, "client", None, fields) as span:
        try:
            yield exchange
        except BaseException as error:
            span.set_attribute(names.ATTR_ERROR_TYPE, type(error).__name__)
            raise
        finally:
            span.set_attribute(names.ATTR_ACK_CODE, exchange.ack_code)
            if not exchange.accepted:
                otel.fail(span, f"ACK {exchange.ack_code}")
            _count_message(otel, {**fields, names.ATTR_ACK_CODE: exchange.ack_code})


def _count_message(otel: Instruments, fields: dict[str, AttributeValue]) -> None:
    dimensions = {
        key: str(fields[key])
        for key in (names.DIM_ADMINISTRATION, names.DIM_TARGET, names.DIM_TRIGGER)
        if key in fields
    }
    ack_code = str(fields[names.ATTR_ACK_CODE])
    otel.add(names.HL7_MESSAGES_SENT, {**dimensions, names.DIM_ACK_CODE: ack_code})
    if int(fields[names.ATTR_ATTEMPT]) > 1:
        otel.add(names.IN_DOUBT_RESENDS, dimensions)
    log.info(
        "hl7 %s booking=%s target=%s msh10=%s ack=%s attempt=%s",
        fields[names.ATTR_TRIGGER],
        fields.get(names.ATTR_BOOKING_ID, "-"),
        fields.get(names.ATTR_TARGET, "-"),
        fields[names.ATTR_CONTROL_ID],
        fields[names.ATTR_ACK_CODE],
        fields[names.ATTR_ATTEMPT],
        extra=fields,
    )


def retry_scheduled(attempt: int, delay: dt.timedelta) -> None:
    """A fresh kick was scheduled with backoff after a transient failure, AE or in-doubt send."""
    otel = _otel()
    otel.add(names.RETRIES_SCHEDULED, _dimensions(names.DIM_ADMINISTRATION, names.DIM_TARGET))
    _span_event("retry-scheduled", attempt=attempt, delay_ms=_milliseconds(delay))


def dead_lettered(reason: str) -> None:
    """The current message was parked on the dead letters with ``reason``. Its span
    is not marked failed: the function handled it (the host completes the message),
    and the failure-rate alert must not page twice for what the dead-letter alert
    already reports."""
    otel = _otel()
    dimensions = _dimensions(names.DIM_ADMINISTRATION, names.DIM_TARGET)
    otel.add(names.DEAD_LETTERED, {**dimensions, names.DIM_REASON: reason})
    annotate(reason=reason)
    _span_event("dead-lettered", reason=reason)
    fields = {**_dimensions(names.ATTR_BOOKING_ID, names.ATTR_QUEUE), **dimensions}
    log.warning(
        "dead-lettered booking=%s queue=%s reason=%s",
        fields.get(names.ATTR_BOOKING_ID, "-"),
        fields.get(names.ATTR_QUEUE, "-"),
        reason,
        extra={**fields, names.ATTR_REASON: reason},
    )


def sync_converged(version: int, lag: dt.timedelta) -> None:
    """Every target of the booking holds what snapshot ``version`` asks for; ``lag``
    runs from the webhook's acceptance of that version."""
    otel = _otel()
    lag_ms = _milliseconds(lag)
    otel.record(names.SYNC_LAG_MS, lag_ms, _dimensions(names.DIM_ADMINISTRATION))
    _span_event("converged", version=version, lag_ms=lag_ms)
    fields = _dimensions(names.ATTR_BOOKING_ID, names.ATTR_ADMINISTRATION)
    log.info(
        "converged booking=%s version=%s lag_ms=%s",
        fields.get(names.ATTR_BOOKING_ID, "-"),
        version,
        lag_ms,
        extra={**fields, names.ATTR_VERSION: version, names.ATTR_LAG_MS: lag_ms},
    )


# --- the Millennium link (shared.mllp.budget) -------------------------------------------


def link_not_sent(reason: str) -> None:
    """A send found no connection and was rescheduled with the same message."""
    otel = _otel()
    otel.add(
        names.LINK_NOT_SENT, {**_dimensions(names.DIM_ADMINISTRATION), names.DIM_REASON: reason}
    )
    _span_event("link-not-sent", reason=reason)


def link_connections(delta: int) -> None:
    """A connection of the budget was opened (+1) or closed (-1) by this instance."""
    _otel().change(names.LINK_CONNECTIONS_OPEN, delta, {})


def link_waiting(delta: int) -> None:
    """A send started (+1) or stopped (-1) waiting for a connection of the budget."""
    _otel().change(names.LINK_SENDS_WAITING, delta, {})


def link_waited(waited: dt.timedelta) -> None:
    """How long a send waited for its connection."""
    _otel().record(names.LINK_WAIT_MS, _milliseconds(waited), {})


# --- retention (shared.retention) ------------------------------------------------------


def retention_removed(kind: str, count: int) -> None:
    """The clean-up removed ``count`` rows of ``kind`` in one run."""
    _otel().add(names.RETENTION_REMOVED, {names.DIM_KIND: kind}, count)


# --- helpers --------------------------------------------------------------------------


def _dimensions(*keys: str) -> dict[str, str]:
    """The current unit of work's values for ``keys`` (those it has), as strings."""
    work = _current_work.get()
    if work is None:
        return {}
    return {key: str(work.attributes[key]) for key in keys if key in work.attributes}


def _span_event(name: str, **attributes: AttributeValue) -> None:
    work = _current_work.get()
    if work is not None:
        work.span.add_event(name, attributes)


def _milliseconds(delta: dt.timedelta) -> int:
    return max(0, round(delta.total_seconds() * 1000))
