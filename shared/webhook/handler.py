"""Accept one Orbit webhook delivery: the plain handler behind ``POST /api/orbit/events``.

Order of checks (cheapest and least trusting first):

1. size (413), media type (415), UTF-8 (400) — no secret needed;
2. signature (401) — nothing in the body is trusted before this;
3. CloudEvent + v1 schema (400), meaning (422), administration known (422) and
   switched on (409);
4. idempotency: *claim* the webhook-id (insert-if-absent). Exactly one delivery
   per webhook-id wins the claim; any other with the same body gets the winner's
   202 again, one with a different body gets 422 ``webhook-id-reused``;
5. enqueue the event, mark the claim accepted, answer 202.

The claim comes before the enqueue, so concurrent twins cannot both have an
effect. A crash between claim and enqueue leaves the claim unaccepted: Orbit's
retry (same webhook-id, same body) then enqueues it, and since the queue
MessageId is deterministic per booking and version, a second enqueue of one
event is dropped by the bus as a duplicate. No 202 is ever answered for an
event that is not on the queue.

Each delivery logs exactly one line (status, reason, booking, event, version,
correlation id) and never a name, an identity number or body text.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

from shared import telemetry
from shared.booking import BookingEvent
from shared.crosswalk.port import TableStore
from shared.errors import HttpRefusal, RequestDeferred, RequestRefused, TransientError
from shared.identity import looks_like_identity_number
from shared.messages import EventMessage, event_outbound
from shared.problems import (
    RETRY_AFTER_SECONDS,
    FieldError,
    HttpRequestParts,
    ProblemResponse,
    new_correlation_id,
    refusal_answer,
)
from shared.problems import internal_error as internal_error_answer
from shared.problems import unavailable as unavailable_answer
from shared.profiles import Mode, Profiles
from shared.queue.port import MessageBus
from shared.webhook import idempotency
from shared.webhook.envelope import InvalidEvent, parse_event, semantic_errors
from shared.webhook.media import (
    MAX_BODY_BYTES,
    BodyNotUtf8,
    BodyTooLarge,
    UnsupportedMediaType,
    check_media_type,
    check_size,
    decode_utf8,
)
from shared.webhook.signature import (
    HEADER_ID,
    InvalidSignature,
    SecretsNotConfigured,
    verify_signature,
)

logger = logging.getLogger("orbitsync.webhook")


WebhookDelivery = HttpRequestParts
"""One HTTP delivery of the webhook (shared.problems.HttpRequestParts)."""


@dataclass(frozen=True)
class Accepted:
    """The 202 answer: the event is durably on the queue."""

    event_id: str
    booking_id: str
    correlation_id: str
    version: int
    replayed: bool = False  # True when an earlier delivery with this webhook-id was answered

    status: ClassVar[int] = 202
    content_type: ClassVar[str] = "application/json"
    headers: ClassVar[Mapping[str, str]] = {}

    def document(self) -> dict[str, str]:
        return {
            "eventId": self.event_id,
            "bookingId": self.booking_id,
            "correlationId": self.correlation_id,
        }

    def body(self) -> bytes:
        return json.dumps(self.document()).encode()


WebhookResult = Accepted | ProblemResponse


@dataclass
class _Context:
    """What the log line of a delivery reports, filled in as handling proceeds."""

    correlation_id: str
    booking_id: str = "-"
    event_id: str = "-"
    version: str = "-"


@dataclass(frozen=True)
class WebhookPorts:
    """What the webhook handler needs, in one object (as the sync's and the
    launch's handlers take theirs).

    ``secrets_problem`` says why ORBIT_WEBHOOK_SECRETS cannot be used (e.g. an
    unresolved Key Vault reference; shared.secrets): then every delivery gets 503.
    ``administrations`` is the stamp's scope (setting ADMINISTRATIONS); empty: all.
    """

    secrets: Sequence[str]
    store: TableStore
    bus: MessageBus
    profiles: Profiles
    clock: Callable[[], dt.datetime]
    new_id: Callable[[], str] = new_correlation_id
    secrets_problem: str = ""
    administrations: Collection[str] = ()


def accept_delivery(delivery: WebhookDelivery, ports: WebhookPorts) -> WebhookResult:
    """Handle one delivery; never raises (every outcome is a response). The delivery's
    span is the root of the booking change's trace."""
    with telemetry.webhook_span():
        context = _Context(correlation_id=ports.new_id())
        scope = _Scope(ports.secrets, ports.secrets_problem, frozenset(ports.administrations))
        try:
            accepted = _accept(
                delivery, context, scope, ports.store, ports.bus, ports.profiles, ports.clock
            )
        except HttpRefusal as refused:
            _log(refused.status, refused.reason, context, note=refused.note)
            return refusal_answer(refused, context.correlation_id)
        except TransientError as error:  # QueueUnavailable is one
            _log(503, "dependency-unavailable", context, error_type=type(error).__name__)
            return unavailable(context.correlation_id)
        except Exception as error:
            # The exception's text may hold body values, so only its type is logged.
            _log(500, "unexpected-error", context, error_type=type(error).__name__)
            return internal_error(context.correlation_id)
        _log(202, "replayed" if accepted.replayed else "accepted", context)
        return accepted


def unavailable(correlation_id: str) -> ProblemResponse:
    """503: a dependency (queue or table) is down; the event was not accepted."""
    return unavailable_answer(
        correlation_id,
        "The event could not be stored durably and was NOT accepted. Retry the same "
        f"delivery (same webhook-id and body) after {RETRY_AFTER_SECONDS} seconds, "
        "with backoff.",
    )


def internal_error(correlation_id: str) -> ProblemResponse:
    """500: a fault of ours; the event was not accepted."""
    return internal_error_answer(
        correlation_id,
        "The event was NOT accepted because of an internal error. Retry the same delivery "
        "later; if it keeps failing, contact the integration team with the correlationId.",
    )


@dataclass(frozen=True)
class _Scope:
    """The stamp's configuration a delivery is checked against."""

    secrets: Sequence[str]
    secrets_problem: str
    administrations: frozenset[str]


def _accept(
    delivery: WebhookDelivery,
    context: _Context,
    scope: _Scope,
    store: TableStore,
    bus: MessageBus,
    profiles: Profiles,
    clock: Callable[[], dt.datetime],
) -> Accepted:
    text = _check_transport(delivery)
    _check_signature(scope, delivery)
    event = _parse(text, context)
    _check_stamp_scope(event, scope.administrations)
    _check_administration(event, profiles)
    webhook_id = delivery.headers[HEADER_ID].strip()
    received_at = clock()
    ours = idempotency.DeliveryRecord(
        event_id=event.id,
        booking_id=event.data.booking_id,
        version=event.data.version,
        correlation_id=context.correlation_id,
        body_digest=idempotency.body_digest(delivery.body),
        accepted_at=received_at,
    )
    claim = idempotency.claim_delivery(store, webhook_id, ours)
    if not claim.won and claim.record.body_digest != ours.body_digest:
        claim = _take_over_stale(store, webhook_id, claim, ours, received_at)
    if not claim.won:
        context.correlation_id = claim.record.correlation_id  # the log line matches the answer
    if not claim.record.accepted:
        # Ours, or a twin's that was cut short (or is still running): enqueue. A
        # second enqueue of one event has the same MessageId and is dropped.
        try:
            _enqueue(bus, event, webhook_id, claim.record.correlation_id, received_at)
        except TransientError:
            idempotency.release(store, webhook_id, claim)  # answered 503: not accepted
            raise
        idempotency.mark_accepted(store, webhook_id, claim)
    return _accepted(claim.record, replayed=not claim.won)


def _enqueue(
    bus: MessageBus,
    event: BookingEvent,
    webhook_id: str,
    correlation_id: str,
    received_at: dt.datetime,
) -> None:
    message = EventMessage(
        event_id=event.id,
        event_type=event.type,
        webhook_id=webhook_id,
        correlation_id=correlation_id,
        received_at=received_at,
        snapshot=event.data,
    )
    bus.send([event_outbound(message, telemetry.trace_properties())])


def _check_transport(delivery: WebhookDelivery) -> str:
    try:
        check_size(delivery.headers.get("content-length"), delivery.body)
        check_media_type(delivery.headers.get("content-type"))
        return decode_utf8(delivery.body)
    except BodyTooLarge:
        raise RequestRefused(
            413,
            "body-too-large",
            "Body too large",
            f"The request body is over {MAX_BODY_BYTES} bytes (256 KiB). One booking "
            "snapshot is a few KiB: send one event per request, without padding.",
        ) from None
    except UnsupportedMediaType as error:
        raise RequestRefused(
            415, "unsupported-media-type", "Unsupported media type", str(error)
        ) from None
    except BodyNotUtf8:
        raise RequestRefused(
            400,
            "invalid-body",
            "Invalid body",
            "The body is not valid UTF-8. Send the CloudEvent as UTF-8 encoded JSON.",
            errors=[FieldError("body", "is not valid UTF-8")],
        ) from None


def _check_signature(scope: _Scope, delivery: WebhookDelivery) -> None:
    try:
        if scope.secrets_problem:  # never verify against an unresolved reference's text
            raise SecretsNotConfigured(scope.secrets_problem)
        verify_signature(scope.secrets, delivery.headers, delivery.body)
    except InvalidSignature as error:
        raise RequestRefused(401, error.reason, "Invalid signature", str(error)) from None
    except SecretsNotConfigured as error:
        # Our misconfiguration, not the sender's fault: 503 so that Orbit keeps the
        # event and retries once an operator has fixed ORBIT_WEBHOOK_SECRETS.
        cause = str(error)
        if "ORBIT_WEBHOOK_SECRETS" not in cause:
            cause = f"ORBIT_WEBHOOK_SECRETS: {cause}"
        raise RequestDeferred(
            503,
            "not-configured",
            "Temporarily unavailable",
            "The endpoint cannot check signatures yet and did NOT accept the event "
            f"({cause}). Retry the same delivery after "
            f"{RETRY_AFTER_SECONDS} seconds, with backoff.",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            note=f"fix {cause}",
        ) from None


def _parse(text: str, context: _Context) -> BookingEvent:
    try:
        event = parse_event(text)
    except InvalidEvent as error:
        raise RequestRefused(
            400,
            "invalid-event",
            "Invalid event",
            "The body is not a valid CloudEvent carrying an Orbit booking (contract v1). "
            "Fix the fields listed in errors; do not retry the same body.",
            errors=error.errors,
        ) from None
    # Both ids were chosen by the sender: an identity number sent as one is refused
    # below and must not reach the log line or the trace on its way there.
    context.booking_id = _loggable(event.data.booking_id)
    context.event_id = _loggable(event.id)
    context.version = str(event.data.version)
    errors = semantic_errors(event)
    if errors:
        raise RequestRefused(
            422,
            "semantically-invalid",
            "Semantically invalid event",
            "The event is well-formed but its content is not valid. Fix the fields listed "
            "in errors in Orbit and send a new event; do not retry the same body.",
            errors=errors,
        )
    telemetry.annotate(
        booking_id=context.booking_id, event_id=context.event_id, version=event.data.version
    )
    return event


def _check_stamp_scope(event: BookingEvent, administrations: frozenset[str]) -> None:
    code = event.data.administration
    if administrations and code not in administrations:
        raise RequestRefused(
            422,
            "administration-not-served-here",
            "Administration not served by this endpoint",
            f"This endpoint serves {', '.join(sorted(administrations))}, not administration "
            f"{code}. Send the administration's bookings to its own endpoint; do not retry "
            "this event here.",
            errors=[FieldError("data.administration", f"{code} is not served by this endpoint")],
        )


def _check_administration(event: BookingEvent, profiles: Profiles) -> None:
    code = event.data.administration
    profile = profiles.find(code)
    if profile is None:
        raise RequestRefused(
            422,
            "unknown-administration",
            "Unknown administration",
            f"Administration {code} is not known to the integration. Check "
            "data.administration; if the code is right, ask the integration team to add "
            "the administration before sending its bookings.",
            errors=[FieldError("data.administration", f"{code} is not a known administration")],
        )
    telemetry.annotate(administration=profile.code)
    if profile.mode is Mode.OFF:
        raise RequestRefused(
            409,
            "administration-off",
            "Integration not switched on",
            f"The integration is not switched on for administration {code}, so its "
            "bookings are not accepted yet. Do not retry this event; bookings are taken "
            "from the administration's go-live on.",
        )


def _take_over_stale(
    store: TableStore,
    webhook_id: str,
    claim: idempotency.Claim,
    ours: idempotency.DeliveryRecord,
    now: dt.datetime,
) -> idempotency.Claim:
    """A delivery whose body differs from the claim's: refused, unless the claim is a
    stale one that was never accepted (its delivery was answered 503 and could not
    give the claim up), so that the retry, serialised anew, is not lost.

    Raises:
        RequestRefused: 422, the webhook-id belongs to a delivery with another body.
        TransientError: the claim changed meanwhile, or the store is unreachable (503).
    """
    if idempotency.is_stale(claim, now):
        return idempotency.take_over(store, webhook_id, claim, ours)
    raise RequestRefused(
        422,
        "webhook-id-reused",
        "webhook-id reused",
        "This webhook-id was already used for a different body. Every new event needs "
        "a new webhook-id; only a retry of the very same delivery may reuse one.",
        errors=[FieldError("webhook-id", "was already used for a different body")],
    )


def _accepted(record: idempotency.DeliveryRecord, *, replayed: bool) -> Accepted:
    return Accepted(
        event_id=record.event_id,
        booking_id=record.booking_id,
        correlation_id=record.correlation_id,
        version=record.version,
        replayed=replayed,
    )


_LOGGABLE = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def _loggable(value: str) -> str:
    """Ids chosen by the sender go into log lines only when plainly harmless; else
    the line says why it leaves the id out (the correlation id still finds it)."""
    if not value:
        return "-"
    if not _LOGGABLE.match(value):
        return "(withheld:not-a-plain-id)"
    if looks_like_identity_number(value):
        return "(withheld:looks-like-an-identity-number)"
    return value


def _log(
    status: int, reason: str, context: _Context, *, error_type: str = "", note: str = ""
) -> None:
    telemetry.webhook_answered(status, reason, context.correlation_id)
    level = logging.INFO if status < 400 else logging.WARNING if status < 500 else logging.ERROR
    logger.log(
        level,
        "orbit webhook status=%d reason=%s booking=%s event=%s version=%s correlation=%s%s%s",
        status,
        reason,
        context.booking_id,
        context.event_id,
        context.version,
        context.correlation_id,
        f" error_type={error_type}" if error_type else "",
        f" note={note!r}" if note else "",
    )
