"""Standard Webhooks signatures: verify a delivery against a list of secrets, or sign one.

A delivery carries ``webhook-id``, ``webhook-timestamp`` (unix seconds) and
``webhook-signature`` (space-separated ``v1,<base64 HMAC-SHA256>`` values) over
``"{id}.{timestamp}.{body}"``. Any of the configured ``whsec_`` secrets may match,
so a secret can be rotated without downtime: add the new one, let the sender
switch, remove the old one.

The ``standardwebhooks`` library does the cryptography: it decodes the secrets,
computes the HMAC, compares with ``hmac.compare_digest`` (constant time) and checks
the ±5 minute tolerance against the wall clock. Around it this module adds what
the library leaves to the caller: several secrets, a clear reason for each
failure, and robustness against malformed headers (the library raises a bare
``ValueError`` on a signature entry without a comma, so such entries are dropped
here before it sees them).

The verifier knows nothing about Orbit: the launch endpoint uses it with its own
secrets.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
import secrets as random_secrets
from collections.abc import Mapping, Sequence

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from shared.errors import PermanentError

SECRET_PREFIX = "whsec_"  # noqa: S105  (the prefix of every secret, not a secret)
TOLERANCE = dt.timedelta(minutes=5)
"""How far ``webhook-timestamp`` may be from our clock (the library's fixed value)."""

MIN_SECRET_BYTES = 24
MAX_SECRET_BYTES = 64
"""Standard Webhooks recommends secrets of 24 to 64 random bytes."""

HEADER_ID = "webhook-id"
HEADER_TIMESTAMP = "webhook-timestamp"
HEADER_SIGNATURE = "webhook-signature"

_TIMESTAMP = re.compile(r"^\d{1,10}$")  # up to the year 2286
_MAX_WEBHOOK_ID = 200
WEBHOOK_ID_PATTERN = "^[!-~]+$"
"""A webhook-id: printable ASCII, no spaces (the contract's OpenAPI states it too)."""
_WEBHOOK_ID = re.compile(WEBHOOK_ID_PATTERN)


class InvalidSignature(PermanentError):
    """The delivery is not authentic (answer 401).

    ``reason`` is a short code for logs and metrics; ``str(error)`` tells the
    sender what is wrong and what to do. Neither contains header or body values.
    """

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


class SecretsNotConfigured(PermanentError):
    """No secret is configured, or one is not a valid ``whsec_`` secret.

    An operator must fix the setting; the message names the problem, never a secret.
    """


def verify_signature(secrets: Sequence[str], headers: Mapping[str, str], body: bytes) -> None:
    """Check that ``body`` was signed with one of ``secrets`` within the tolerance.

    ``headers`` may use any capitalisation of the header names.

    Raises:
        InvalidSignature: a header is missing or malformed, the timestamp is outside
            ±5 minutes, or no signature matches any secret.
        SecretsNotConfigured: ``secrets`` is empty or holds an invalid secret.
    """
    webhooks = _webhooks(secrets)
    lowered = {name.lower(): value for name, value in headers.items()}
    webhook_id = lowered.get(HEADER_ID, "").strip()
    timestamp = lowered.get(HEADER_TIMESTAMP, "").strip()
    signatures = _well_formed_signatures(lowered.get(HEADER_SIGNATURE, ""))
    _check_headers(webhook_id, timestamp, signatures)
    _check_timestamp(int(timestamp))
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidSignature(
            "body-not-utf8", "The body is not UTF-8 text, so its signature cannot be checked."
        ) from None
    checked = {HEADER_ID: webhook_id, HEADER_TIMESTAMP: timestamp, HEADER_SIGNATURE: signatures}
    for webhook in webhooks:
        try:
            webhook.verify(text, checked, json_parse=False)
            return
        except WebhookVerificationError:
            continue
    raise InvalidSignature(
        "no-matching-signature",
        "No webhook-signature matches a configured secret. Sign "
        '"{webhook-id}.{webhook-timestamp}.{body}" with HMAC-SHA256 using the current '
        "secret, over the exact bytes sent.",
    )


def sign(secret: str, webhook_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three signature headers for ``body`` (for tests, the demo and callers).

    Raises:
        SecretsNotConfigured: ``secret`` is not a valid ``whsec_`` secret.
        UnicodeDecodeError: ``body`` is not UTF-8.
    """
    (webhook,) = _webhooks([secret])
    moment = dt.datetime.fromtimestamp(timestamp, dt.UTC)
    signature = webhook.sign(msg_id=webhook_id, timestamp=moment, data=body.decode("utf-8"))
    return {HEADER_ID: webhook_id, HEADER_TIMESTAMP: str(timestamp), HEADER_SIGNATURE: signature}


def new_secret() -> str:
    """A fresh random ``whsec_`` secret of 32 bytes."""
    return SECRET_PREFIX + base64.b64encode(random_secrets.token_bytes(32)).decode()


def _webhooks(secrets: Sequence[str]) -> list[Webhook]:
    if not secrets:
        raise SecretsNotConfigured("no webhook secret is configured")
    return [Webhook(_secret_bytes(secret, position)) for position, secret in enumerate(secrets, 1)]


def _secret_bytes(secret: str, position: int) -> bytes:
    # The library would silently skip non-base64 characters, turning a typo into a
    # different key; decoding strictly here makes a bad setting fail loudly instead.
    if not secret.startswith(SECRET_PREFIX):
        raise SecretsNotConfigured(f"secret #{position} does not start with {SECRET_PREFIX}")
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise SecretsNotConfigured(f"secret #{position} is not valid base64") from None
    if not MIN_SECRET_BYTES <= len(key) <= MAX_SECRET_BYTES:
        raise SecretsNotConfigured(
            f"secret #{position} must decode to {MIN_SECRET_BYTES}-{MAX_SECRET_BYTES} bytes"
        )
    return key


def _well_formed_signatures(header: str) -> str:
    """Only the ``v1,<base64>`` entries: the library stops at the first malformed one.

    A sender that sends one ``webhook-signature`` line per secret reaches the app as
    one value, the lines joined with a comma (RFC 9110 §5.3; with or without a
    space, by the host), so entries are also split where a comma starts a new
    ``v1,`` (base64 has no comma)."""
    entries = (entry for token in header.split() for entry in _SIGNATURE_JOIN.split(token))
    return " ".join(entry for entry in entries if _is_v1_signature(entry))


_SIGNATURE_JOIN = re.compile(r",(?=v1,)|,$")


def _is_v1_signature(entry: str) -> bool:
    version, _, signature = entry.partition(",")
    if version != "v1" or not signature:
        return False
    try:
        base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def _check_headers(webhook_id: str, timestamp: str, signatures: str) -> None:
    missing = [
        name
        for name, value in (
            (HEADER_ID, webhook_id),
            (HEADER_TIMESTAMP, timestamp),
            (HEADER_SIGNATURE, signatures),
        )
        if not value
    ]
    if missing:
        raise InvalidSignature(
            "missing-signature-headers",
            f"Missing or malformed {', '.join(missing)}. Every delivery needs webhook-id, "
            "webhook-timestamp (unix seconds) and webhook-signature (v1,<base64>).",
        )
    if not _WEBHOOK_ID.fullmatch(webhook_id):
        # Not ASCII, the id was signed over bytes the host may have decoded otherwise,
        # and the answer would be a misleading "no matching signature".
        raise InvalidSignature(
            "malformed-webhook-id",
            "webhook-id must be printable ASCII without spaces, e.g. msg_<uuid>.",
        )
    if len(webhook_id) > _MAX_WEBHOOK_ID:
        raise InvalidSignature(
            "webhook-id-too-long", f"webhook-id is longer than {_MAX_WEBHOOK_ID} characters."
        )
    if not _TIMESTAMP.match(timestamp):
        raise InvalidSignature(
            "malformed-timestamp", "webhook-timestamp must be whole unix seconds (digits only)."
        )


def _check_timestamp(timestamp: int) -> None:
    now = dt.datetime.now(dt.UTC)
    moment = dt.datetime.fromtimestamp(timestamp, dt.UTC)
    if abs(now - moment) > TOLERANCE:
        raise InvalidSignature(
            "timestamp-outside-tolerance",
            "webhook-timestamp is more than 5 minutes from our clock. Sign each attempt "
            "with the current time and check the sender's clock (NTP).",
        )
