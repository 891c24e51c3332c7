"""Names of the custom metrics, their dimensions and the span names.

This module is the one list shared by the code that emits telemetry (OpenTelemetry,
exported to Application Insights) and the operators' views built on it: the alert
rules' KQL in ``infra/alerts/`` and the workbook in ``infra/workbooks/``. A test
checks that everything under ``infra/`` only names metrics defined here, so a
rename cannot silently blank a chart or mute an alert.

Metric names all start with ``orbitsync.`` so they are easy to find in
``customMetrics`` and cannot clash with platform metrics. Dimension values never
carry personal data: booking ids and HSA-ids stay out of metrics altogether (high
cardinality); administrations, triggers, ACK codes and reasons are small fixed sets.
"""

from __future__ import annotations

METRIC_PREFIX = "orbitsync."

# --- Counters (add 1 per occurrence) ---
EVENTS_RECEIVED = "orbitsync.events.received"
"""Webhook deliveries that reached the handler (before any check)."""
EVENTS_ACCEPTED = "orbitsync.events.accepted"
"""Deliveries answered 202 (durably enqueued, or a repeat of an earlier delivery)."""
EVENTS_REJECTED = "orbitsync.events.rejected"
"""Deliveries answered 4xx/5xx; dimensions ``status`` (the HTTP status) and ``reason``
(the problem type's last part, e.g. ``invalid-signature``)."""
STALE_EVENTS_IGNORED = "orbitsync.events.stale_ignored"
"""Events whose version was not newer than the stored snapshot (acknowledged, ignored)."""
HL7_MESSAGES_SENT = "orbitsync.hl7.messages_sent"
"""HL7 messages sent to Millennium; dimensions ``trigger`` (e.g. ADT^A05) and
``ack_code`` (AA, AE, AR, or ``none`` when no ACK came back)."""
IN_DOUBT_RESENDS = "orbitsync.hl7.in_doubt_resends"
"""Resends of an in-doubt intent with the same MSH-10 (brief §3 principle 4)."""
RETRIES_SCHEDULED = "orbitsync.sync.retries_scheduled"
"""Fresh kick messages scheduled with backoff after a transient failure."""
DEAD_LETTERED = "orbitsync.sync.dead_lettered"
"""Messages parked on the dead-letters queue; dimension ``reason`` (see shared.errors)."""
OPS_KEY_CHECKS = "orbitsync.ops.key_checks"
"""Checks of the operators' key on the ops endpoints; dimension ``reason``
(``accepted``, ``missing-key`` or ``no-matching-key``). Refusals are worth an eye."""
LINK_NOT_SENT = "orbitsync.link.not_sent"
"""Sends that found no connection to Millennium and were retried later with the same
message; dimension ``reason``: ``LinkBusy`` (the stamp's connection budget stayed
taken) or ``LinkUnavailable`` (the connection was refused or timed out). Not an
outage by itself: the link is the bottleneck (docs/operations.md)."""
RETENTION_REMOVED = "orbitsync.retention.removed"
"""Rows the scheduled clean-up removed, added per run; dimension ``kind``
(``deliveries``, ``unfollowed-launch-codes``, ``launch-requests``, ``launch-audit``,
``followed-launch-codes``, ``booking-audit``: shared/retention/sweeps.py)."""

# --- Up-down counters (current values: +1 when opened or started, -1 when done) ---
LINK_CONNECTIONS_OPEN = "orbitsync.link.connections_open"
"""MLLP connections this instance holds open to Millennium (never more than the
stamp's MILLENNIUM_MLLP_MAX_CONNECTIONS summed over all instances)."""
LINK_SENDS_WAITING = "orbitsync.link.sends_waiting"
"""Sends waiting for a connection of the budget right now."""

# --- Histograms (one value per observation) ---
SYNC_LAG_MS = "orbitsync.sync.lag_ms"
"""Milliseconds from the booking event's acceptance to the moment all of the
booking's targets are confirmed (AA) for that version. Emitted once per converged
version; dimension ``administration``."""

LINK_WAIT_MS = "orbitsync.link.wait_ms"
"""Milliseconds a send waited for a connection of the budget (0 when one was free)."""

COUNTERS: tuple[str, ...] = (
    EVENTS_RECEIVED,
    EVENTS_ACCEPTED,
    EVENTS_REJECTED,
    STALE_EVENTS_IGNORED,
    HL7_MESSAGES_SENT,
    IN_DOUBT_RESENDS,
    RETRIES_SCHEDULED,
    DEAD_LETTERED,
    OPS_KEY_CHECKS,
    LINK_NOT_SENT,
    RETENTION_REMOVED,
)
UP_DOWN_COUNTERS: tuple[str, ...] = (LINK_CONNECTIONS_OPEN, LINK_SENDS_WAITING)
HISTOGRAMS: tuple[str, ...] = (SYNC_LAG_MS, LINK_WAIT_MS)
ALL_METRICS: tuple[str, ...] = (*COUNTERS, *UP_DOWN_COUNTERS, *HISTOGRAMS)

# --- Dimensions (metric attributes; customDimensions keys in Application Insights) ---
DIM_ADMINISTRATION = "administration"
"""Administration code (SU, SAS, …); on every metric."""
DIM_TARGET = "target"
"""encounter, appointment or bed (shared.targets.Target)."""
DIM_TRIGGER = "trigger"
"""HL7 message type^trigger, e.g. ADT^A05 (shared.hl7.triggers.Trigger)."""
DIM_ACK_CODE = "ack_code"
"""AA, AE, AR, or ``none`` (timeout / connection refused / MSA-2 mismatch)."""
DIM_REASON = "reason"
"""Dead-letter reason (the ``reason`` of a PermanentError subclass), or on
``events.rejected`` why the delivery was refused."""
DIM_STATUS = "status"
"""HTTP status answered to a rejected webhook delivery."""
DIM_KIND = "kind"
"""What the retention clean-up removed (see ``RETENTION_REMOVED``)."""

ALL_DIMENSIONS: tuple[str, ...] = (
    DIM_ADMINISTRATION,
    DIM_TARGET,
    DIM_TRIGGER,
    DIM_ACK_CODE,
    DIM_REASON,
    DIM_STATUS,
    DIM_KIND,
)

ACK_NONE = "none"
"""Value of ``ack_code`` when no usable ACK came back (the send is in doubt)."""

# --- Span names (OpenTelemetry; the ``name`` column of requests/dependencies) ---
SPAN_WEBHOOK_RECEIVE = "orbitsync.webhook.receive"
SPAN_EVENT_STORE = "orbitsync.event.store"
SPAN_SYNC_TARGET = "orbitsync.sync.target"
SPAN_MLLP_SEND = "orbitsync.mllp.send"
SPAN_LAUNCH_CREATE = "orbitsync.launch.create"
SPAN_LAUNCH_FOLLOW = "orbitsync.launch.follow"

ALL_SPANS: tuple[str, ...] = (
    SPAN_WEBHOOK_RECEIVE,
    SPAN_EVENT_STORE,
    SPAN_SYNC_TARGET,
    SPAN_MLLP_SEND,
    SPAN_LAUNCH_CREATE,
    SPAN_LAUNCH_FOLLOW,
)

# --- Span and log attributes (customDimensions of requests, dependencies and traces) ---
# Structured log lines and spans carry the same keys, so one KQL filter finds both.
ATTR_BOOKING_ID = "booking_id"
"""Orbit booking id: the key to everything about one booking (never personal data)."""
ATTR_ADMINISTRATION = DIM_ADMINISTRATION
ATTR_TARGET = DIM_TARGET
ATTR_TRIGGER = DIM_TRIGGER
ATTR_ACK_CODE = DIM_ACK_CODE
ATTR_REASON = DIM_REASON
ATTR_STATUS = DIM_STATUS
ATTR_CONTROL_ID = "control_id"
"""MSH-10 of the HL7 message (deterministic, see shared/hl7/control_id.py)."""
ATTR_ATTEMPT = "attempt"
"""How many times this MSH-10 has been sent (1 = first send; more = in-doubt resends)."""
ATTR_EVENT_ID = "event_id"
ATTR_VERSION = "version"
ATTR_CORRELATION_ID = "correlation_id"
ATTR_QUEUE = "queue"
ATTR_MESSAGE_ID = "message_id"
ATTR_CAUSE = "cause"
"""Why a kick was sent: event, dependency, retry, resubmit, go-live."""
ATTR_ERROR_TYPE = "error_type"
"""Class name of the error that failed a span (never the error's text)."""
ATTR_LAG_MS = "lag_ms"
ATTR_HTTP_STATUS = "http.response.status_code"
"""OpenTelemetry's name for the answer's status: the exporter turns it into the
``resultCode`` of the webhook's row in ``requests`` (the failure-rate alert skips 4xx)."""

ALL_ATTRIBUTES: tuple[str, ...] = (
    ATTR_BOOKING_ID,
    ATTR_ADMINISTRATION,
    ATTR_TARGET,
    ATTR_TRIGGER,
    ATTR_ACK_CODE,
    ATTR_REASON,
    ATTR_STATUS,
    ATTR_CONTROL_ID,
    ATTR_ATTEMPT,
    ATTR_EVENT_ID,
    ATTR_VERSION,
    ATTR_CORRELATION_ID,
    ATTR_QUEUE,
    ATTR_MESSAGE_ID,
    ATTR_CAUSE,
    ATTR_ERROR_TYPE,
    ATTR_LAG_MS,
    ATTR_HTTP_STATUS,
)

TRACE_PARENT_PROPERTY = "traceparent"
"""Service Bus application property carrying the W3C trace context (as the SDK names it)."""

LOGGER_NAME = "orbitsync"
"""Loggers under this name are exported by the Azure Monitor distro (structured lines
with the attributes above); the Functions host collects every other log line itself."""
