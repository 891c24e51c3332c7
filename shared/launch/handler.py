"""The plain handlers behind ``POST /api/launch`` and ``GET /api/launch/{code}``.

``create_launch`` checks, cheapest and least trusting first: size (413) and media
type (415); the signature, which also tells who calls (401); the body (400) and
its meaning (422); the administration (422 unknown, 409 switched off); then it
resolves the target system's ids (404/409; 503 when Millennium cannot be asked),
guards against a replayed request (409), stores a single-use code and answers
``201 {"launchUrl", "expiresAt"}``.

``follow_launch`` redeems the code once: ``302`` to the target URL, or ``410`` with
a page for a used, expired or unknown code.

Both log exactly one line per request (status, reason, launch id, caller, target,
administration, correlation id) and write an audit row; neither ever logs or
answers with an identity number, a name, a code or a URL.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import ClassVar

from shared.crosswalk.port import TableStore
from shared.crosswalk.repository import Crosswalk
from shared.errors import HttpRefusal, RequestRefused, TransientError
from shared.launch.audit import AuditEntry, AuditEvent, write_audit
from shared.launch.codes import (
    CODE_LIFETIME,
    Gone,
    LaunchCodes,
    LaunchRecord,
    new_code,
    new_launch_id,
)
from shared.launch.fhir import MillenniumFhir
from shared.launch.lookup import LookupCache
from shared.launch.pages import GONE_PAGE, PAGE_HEADERS, UNAVAILABLE_PAGE
from shared.launch.refusal import not_configured
from shared.launch.request import (
    Caller,
    InvalidLaunchRequest,
    LaunchRequest,
    meaning_errors,
    parse_launch_request,
)
from shared.launch.resolve import Destination, ResolvePorts, resolve
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
from shared.profiles import Mode, Profile, Profiles
from shared.webhook.signature import (
    HEADER_ID,
    InvalidSignature,
    SecretsNotConfigured,
    verify_signature,
)

logger = logging.getLogger("orbitsync.launch")

MAX_BODY_BYTES = 16 * 1024
"""A launch request is a few hundred bytes."""
LAUNCH_PATH = "/api/launch/"


@dataclass(frozen=True)
class LaunchPorts:
    """What the launch handlers need; ``secrets`` per caller (empty: caller not set up).

    ``secret_problems``: callers whose secrets setting is unusable (an unresolved Key
    Vault reference), with why; each caller stands alone. ``administrations``: the
    stamp's scope (setting ADMINISTRATIONS); empty: every administration.
    ``public_base_url`` is the stamp's configured address (setting
    ``PUBLIC_BASE_URL``): the launch URL is built on it, never on the request's
    ``Host`` header, which the caller (or anyone on the way) chooses.
    """

    store: TableStore
    profiles: Profiles
    fhir: MillenniumFhir
    secrets: Mapping[Caller, Sequence[str]]
    lookup_key: bytes
    clock: Callable[[], dt.datetime]
    public_base_url: str
    new_code: Callable[[], str] = new_code
    secret_problems: Mapping[Caller, str] = field(default_factory=dict)
    administrations: frozenset[str] = frozenset()


LaunchHttpRequest = HttpRequestParts
"""One ``POST /api/launch`` (shared.problems.HttpRequestParts)."""


@dataclass(frozen=True)
class LaunchCreated:
    """201: a single-use link for the browser."""

    launch_url: str
    expires_at: dt.datetime
    launch_id: str

    status: ClassVar[int] = 201
    content_type: ClassVar[str] = "application/json"
    # The body is a live link: no cache may keep it.
    headers: ClassVar[Mapping[str, str]] = {"Cache-Control": "no-store"}

    def document(self) -> dict[str, str]:
        expires = self.expires_at.astimezone(dt.UTC).isoformat(timespec="seconds")
        return {"launchUrl": self.launch_url, "expiresAt": expires.replace("+00:00", "Z")}

    def body(self) -> bytes:
        return json.dumps(self.document()).encode()


@dataclass(frozen=True)
class BrowserAnswer:
    """What ``GET /api/launch/{code}`` sends the browser: a redirect or a page."""

    status: int
    headers: Mapping[str, str]
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"


@dataclass
class _Context:
    """What the log line and the audit row report, filled in as handling proceeds."""

    launch_id: str
    correlation_id: str
    caller: Caller | None = None
    request: LaunchRequest | None = None
    destination: Destination = field(default_factory=lambda: Destination(url=""))


# --- POST /api/launch -------------------------------------------------------------


def create_launch(
    request: LaunchHttpRequest, ports: LaunchPorts
) -> LaunchCreated | ProblemResponse:
    """Handle one launch request; never raises (every outcome is a response)."""
    context = _Context(launch_id=new_launch_id(), correlation_id=new_correlation_id())
    try:
        created = _create(request, ports, context)
    except HttpRefusal as refused:
        _audit_refusal(ports, context, refused.status, refused.reason)
        return _refusal(refused, context)
    except TransientError as error:  # FhirUnavailable is one
        _audit_refusal(ports, context, 503, "dependency-unavailable")
        _log(503, "dependency-unavailable", context, note=str(error))
        return unavailable(context.correlation_id)
    except Exception as error:
        # The text may hold request values; the type is enough to find the bug.
        _log(500, "unexpected-error", context, note=type(error).__name__)
        return internal_error(context.correlation_id)
    _log(201, "created", context)
    return created


def refuse_before_handling(refused: HttpRefusal) -> ProblemResponse:
    """The answer when the handler's ports cannot even be built (e.g. not configured)."""
    context = _Context(launch_id=new_launch_id(), correlation_id=new_correlation_id())
    return _refusal(refused, context)


def _refusal(refused: HttpRefusal, context: _Context) -> ProblemResponse:
    _log(refused.status, refused.reason, context, note=refused.note)
    return refusal_answer(refused, context.correlation_id)


def unavailable(correlation_id: str) -> ProblemResponse:
    return unavailable_answer(
        correlation_id,
        "Millennium or the integration's storage could not be reached, so no launch link "
        f"was made. Let the user click again; retry after {RETRY_AFTER_SECONDS} seconds at "
        "the earliest if you retry automatically (sign again, with a new webhook-id).",
    )


def internal_error(correlation_id: str) -> ProblemResponse:
    return internal_error_answer(
        correlation_id,
        "No launch link was made because of an internal error. If it keeps happening, "
        "contact the integration team with the correlationId.",
    )


def _create(request: LaunchHttpRequest, ports: LaunchPorts, context: _Context) -> LaunchCreated:
    _check_transport(request)
    context.caller = _verify(request, ports.secrets, ports.secret_problems)
    launch = _parse(request.body, context.caller)
    context.request = launch
    _check_stamp_scope(launch.administration, ports.administrations)
    profile = _switched_on_profile(launch.administration, ports.profiles)
    resolve_ports = ResolvePorts(
        crosswalk=Crosswalk(ports.store),
        fhir=ports.fhir,
        cache=LookupCache(ports.store, ports.lookup_key, ports.clock),
    )
    context.destination = resolve(launch, profile, resolve_ports)
    codes = LaunchCodes(ports.store, ports.clock)
    if not codes.claim_request(context.caller.value, request.headers[HEADER_ID].strip()):
        raise RequestRefused(
            409,
            "request-replayed",
            "Request already used",
            "This signed request (webhook-id) was used before. Every launch request needs "
            "a new webhook-id and a fresh signature.",
        )
    record = _record(context, launch, ports.clock())
    code = ports.new_code()
    codes.issue(record, code)
    write_audit(ports.store, _entry(context, AuditEvent.CREATED, 201, "created", record.created_at))
    return LaunchCreated(
        launch_url=f"{ports.public_base_url.rstrip('/')}{LAUNCH_PATH}{code}",
        expires_at=record.expires_at,
        launch_id=context.launch_id,
    )


def _check_transport(request: LaunchHttpRequest) -> None:
    announced = request.headers.get("content-length", "")
    if len(request.body) > MAX_BODY_BYTES or (
        announced.isdigit() and int(announced) > MAX_BODY_BYTES
    ):
        raise RequestRefused(
            413,
            "body-too-large",
            "Body too large",
            f"A launch request is at most {MAX_BODY_BYTES} bytes; send only the fields "
            "of the launch contract.",
        )
    media_type, _, parameters = request.headers.get("content-type", "").partition(";")
    charset = parameters.strip().lower()
    if media_type.strip().lower() != "application/json" or charset not in ("", "charset=utf-8"):
        raise RequestRefused(
            415,
            "unsupported-media-type",
            "Unsupported media type",
            "Send the launch request as application/json (UTF-8).",
        )


def _verify(
    request: LaunchHttpRequest,
    secrets: Mapping[Caller, Sequence[str]],
    problems: Mapping[Caller, str],
) -> Caller:
    """The caller whose secrets verify the signature. Each caller's secrets stand
    alone: a broken setting of one caller never refuses a request another signed.

    Raises:
        RequestRefused: 401 when no caller's secrets verify it and none is broken.
        RequestDeferred: 503 when none verifies and some caller's setting is broken
            (the request may be that caller's), or when no caller is set up at all.
    """
    broken = dict(problems)
    failure: InvalidSignature | None = None
    for caller, listed in secrets.items():
        if not listed or caller in broken:
            continue
        try:
            verify_signature(listed, request.headers, request.body)
            return caller
        except InvalidSignature as error:
            failure = error
        except SecretsNotConfigured as error:
            broken[caller] = f"LAUNCH_SECRETS_{caller.value.upper()}: {error}"
    if broken:
        raise not_configured("; ".join(broken[caller] for caller in sorted(broken)))
    if failure is None:
        raise not_configured("set LAUNCH_SECRETS_ORBIT and/or LAUNCH_SECRETS_MILLENNIUM")
    raise RequestRefused(401, failure.reason, "Invalid signature", str(failure))


def _check_stamp_scope(code: str, administrations: frozenset[str]) -> None:
    if administrations and code not in administrations:
        raise RequestRefused(
            422,
            "administration-not-served-here",
            "Administration not served by this endpoint",
            f"This endpoint serves {', '.join(sorted(administrations))}, not administration "
            f"{code}. Use the jump-out endpoint of the administration's own stamp.",
            errors=[FieldError("administration", f"{code} is not served by this endpoint")],
        )


def _parse(body: bytes, caller: Caller) -> LaunchRequest:
    try:
        launch = parse_launch_request(body)
    except InvalidLaunchRequest as error:
        raise RequestRefused(
            400,
            "invalid-request",
            "Invalid launch request",
            "The body is not a valid launch request. Fix the fields listed in errors.",
            errors=error.errors,
        ) from None
    errors = meaning_errors(launch, caller)
    if errors:
        raise RequestRefused(
            422,
            "semantically-invalid",
            "Launch request not valid",
            "The launch request is well-formed but its content is not valid. Fix the "
            "fields listed in errors.",
            errors=errors,
        )
    return launch


def _switched_on_profile(code: str, profiles: Profiles) -> Profile:
    profile = profiles.find(code)
    if profile is None:
        raise RequestRefused(
            422,
            "unknown-administration",
            "Unknown administration",
            f"Administration {code} is not known to the integration. Check administration.",
            errors=[FieldError("administration", f"{code} is not a known administration")],
        )
    if profile.mode is Mode.OFF:
        raise RequestRefused(
            409,
            "administration-off",
            "Jump-out not switched on",
            f"The jump-out is not switched on for administration {code} yet. Hide or "
            "disable the jump-out button until the administration's go-live.",
        )
    return profile


def _record(context: _Context, launch: LaunchRequest, now: dt.datetime) -> LaunchRecord:
    destination = context.destination
    return LaunchRecord(
        launch_id=context.launch_id,
        caller=context.caller.value if context.caller else "",
        target=launch.target.value,
        administration=launch.administration,
        user_hsa_id=launch.user.hsa_id,
        url=destination.url,
        person_id=destination.person_id,
        encounter_id=destination.encounter_id,
        booking_id=destination.booking_id,
        created_at=now,
        expires_at=now + CODE_LIFETIME,
    )


# --- GET /api/launch/{code} -------------------------------------------------------


def follow_launch(
    code: str, *, store: TableStore, clock: Callable[[], dt.datetime]
) -> BrowserAnswer:
    """Redeem ``code`` once: 302 to the target, else 410 (or 503) with a page; never raises."""
    context = _Context(launch_id="-", correlation_id=new_correlation_id())
    try:
        outcome = LaunchCodes(store, clock).redeem(code)
        if isinstance(outcome, Gone):
            return _gone(outcome, context, store, clock)
        record = outcome.record
        context.launch_id = record.launch_id
        write_audit(store, _followed_entry(record, context, clock()))
    except TransientError as error:
        # Fail closed: a redirect without its audit row would be an unlogged access.
        _log_follow(503, "dependency-unavailable", context, note=type(error).__name__)
        return BrowserAnswer(503, {**PAGE_HEADERS, "Retry-After": "5"}, UNAVAILABLE_PAGE)
    except Exception as error:
        _log_follow(500, "unexpected-error", context, note=type(error).__name__)
        return BrowserAnswer(500, PAGE_HEADERS, UNAVAILABLE_PAGE)
    _log_follow(302, "followed", context, record=record)
    return BrowserAnswer(302, {**PAGE_HEADERS, "Location": record.url})


def _gone(
    outcome: Gone, context: _Context, store: TableStore, clock: Callable[[], dt.datetime]
) -> BrowserAnswer:
    """410 for a used, expired or unknown code: one page for all three. Only the
    first refusal of a known code is audited (see `shared.launch.codes`)."""
    record = outcome.record
    if record is not None:
        context.launch_id = record.launch_id
    if record is not None and outcome.first_refusal:
        try:
            followed = _followed_entry(record, context, clock())
            entry = replace(
                followed, event=AuditEvent.GONE, status=410, reason=outcome.reason.value
            )
            write_audit(store, entry)
        except Exception as error:  # nothing was opened; the page matters more
            _log_follow(410, "audit-not-written", context, note=type(error).__name__)
    _log_follow(410, outcome.reason.value, context, record=record)
    return BrowserAnswer(410, PAGE_HEADERS, GONE_PAGE)


def _followed_entry(record: LaunchRecord, context: _Context, at: dt.datetime) -> AuditEntry:
    return AuditEntry(
        launch_id=record.launch_id,
        event=AuditEvent.FOLLOWED,
        at=at,
        status=302,
        reason="followed",
        correlation_id=context.correlation_id,
        caller=record.caller,
        target=record.target,
        administration=record.administration,
        user_hsa_id=record.user_hsa_id,
        person_id=record.person_id,
        encounter_id=record.encounter_id,
        booking_id=record.booking_id,
    )


# --- audit and log ----------------------------------------------------------------


def _entry(
    context: _Context, event: AuditEvent, status: int, reason: str, at: dt.datetime
) -> AuditEntry:
    launch = context.request
    destination = context.destination
    return AuditEntry(
        launch_id=context.launch_id,
        event=event,
        at=at,
        status=status,
        reason=reason,
        correlation_id=context.correlation_id,
        caller=context.caller.value if context.caller else "",
        target=launch.target.value if launch else "",
        administration=launch.administration if launch else "",
        user_hsa_id=launch.user.hsa_id if launch else "",
        person_id=destination.person_id,
        encounter_id=destination.encounter_id,
        booking_id=destination.booking_id,
    )


def _audit_refusal(ports: LaunchPorts, context: _Context, status: int, reason: str) -> None:
    """Audit a refused *signed* request; unsigned ones are only logged (nobody to name)."""
    if context.caller is None:
        return
    try:
        write_audit(ports.store, _entry(context, AuditEvent.REFUSED, status, reason, ports.clock()))
    except Exception as error:  # a refusal opened nothing: answering matters more
        logger.warning(
            "launch audit not written launch=%s error_type=%s",
            context.launch_id,
            type(error).__name__,
        )


def _log(status: int, reason: str, context: _Context, *, note: str = "") -> None:
    launch = context.request
    level = logging.INFO if status < 400 else logging.WARNING if status < 500 else logging.ERROR
    logger.log(
        level,
        "launch create status=%d reason=%s launch=%s caller=%s target=%s administration=%s "
        "correlation=%s%s",
        status,
        reason,
        context.launch_id,
        context.caller.value if context.caller else "-",
        launch.target.value if launch else "-",
        launch.administration if launch else "-",
        context.correlation_id,
        f" note={note!r}" if note else "",
    )


def _log_follow(
    status: int,
    reason: str,
    context: _Context,
    *,
    record: LaunchRecord | None = None,
    note: str = "",
) -> None:
    level = logging.INFO if status < 500 else logging.ERROR
    logger.log(
        level,
        "launch follow status=%d reason=%s launch=%s target=%s administration=%s correlation=%s%s",
        status,
        reason,
        context.launch_id,
        record.target if record else "-",
        record.administration if record else "-",
        context.correlation_id,
        f" note={note!r}" if note else "",
    )
