"""Standard Webhooks verification and signing (shared.webhook.signature)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

import pytest

from shared.webhook import signature
from shared.webhook.signature import (
    InvalidSignature,
    SecretsNotConfigured,
    new_secret,
    sign,
    verify_signature,
)

KEY = b"0123456789abcdef0123456789abcdef"
SECRET = "whsec_" + base64.b64encode(KEY).decode()
OTHER = "whsec_" + base64.b64encode(b"fedcba9876543210fedcba9876543210").decode()
BODY = '{"specversion":"1.0","data":{"name":"Åsa"}}'.encode()


def now() -> int:
    return int(time.time())


def reason_of(secrets: list[str], headers: dict[str, str], body: bytes = BODY) -> str:
    with pytest.raises(InvalidSignature) as raised:
        verify_signature(secrets, headers, body)
    return raised.value.reason


def test_signature_is_hmac_sha256_over_id_timestamp_and_body() -> None:
    # An independent computation of the scheme: base64(HMAC-SHA256(key, "id.ts.body")).
    expected = hmac.new(KEY, b"msg_1.1700000000." + BODY, hashlib.sha256).digest()
    headers = sign(SECRET, "msg_1", 1_700_000_000, BODY)
    assert headers == {
        "webhook-id": "msg_1",
        "webhook-timestamp": "1700000000",
        "webhook-signature": "v1," + base64.b64encode(expected).decode(),
    }


def test_a_fresh_signature_verifies() -> None:
    verify_signature([SECRET], sign(SECRET, "msg_1", now(), BODY), BODY)


def test_header_names_may_use_any_capitalisation() -> None:
    headers = {name.title(): value for name, value in sign(SECRET, "m", now(), BODY).items()}
    verify_signature([SECRET], headers, BODY)


def test_any_configured_secret_may_match() -> None:
    verify_signature([OTHER, SECRET], sign(SECRET, "m", now(), BODY), BODY)
    verify_signature([OTHER, SECRET], sign(OTHER, "m", now(), BODY), BODY)


def test_a_secret_not_in_the_list_is_refused() -> None:
    assert reason_of([OTHER], sign(SECRET, "m", now(), BODY)) == "no-matching-signature"


def test_a_changed_body_or_id_is_refused() -> None:
    headers = sign(SECRET, "m", now(), BODY)
    assert reason_of([SECRET], headers, BODY + b" ") == "no-matching-signature"
    assert reason_of([SECRET], {**headers, "webhook-id": "n"}) == "no-matching-signature"


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_each_header_is_required(missing: str) -> None:
    headers = sign(SECRET, "m", now(), BODY)
    del headers[missing]
    assert reason_of([SECRET], headers) == "missing-signature-headers"


@pytest.mark.parametrize("age", [301, -301, 10_000])
def test_timestamps_outside_five_minutes_are_refused(age: int) -> None:
    headers = sign(SECRET, "m", now() - age, BODY)
    assert reason_of([SECRET], headers) == "timestamp-outside-tolerance"


@pytest.mark.parametrize("age", [290, -290])
def test_timestamps_inside_five_minutes_are_accepted(age: int) -> None:
    verify_signature([SECRET], sign(SECRET, "m", now() - age, BODY), BODY)


@pytest.mark.parametrize("timestamp", ["1.7e9", "-5", "soon", "99999999999999"])
def test_malformed_timestamps_are_refused(timestamp: str) -> None:
    headers = {**sign(SECRET, "m", now(), BODY), "webhook-timestamp": timestamp}
    assert reason_of([SECRET], headers) in {"malformed-timestamp", "missing-signature-headers"}


def test_malformed_signature_entries_are_skipped_not_fatal() -> None:
    headers = sign(SECRET, "m", now(), BODY)
    valid = headers["webhook-signature"]
    headers["webhook-signature"] = f"garbage v1,abc v2,{valid[3:]} {valid}"
    verify_signature([SECRET], headers, BODY)


@pytest.mark.parametrize("webhook_id", ["msg_å", "msg_☃", "msg with space"])
def test_a_webhook_id_that_is_not_printable_ascii_is_named_as_the_problem(webhook_id: str) -> None:
    """Before, a correctly signed non-ASCII id got 401 no-matching-signature."""
    headers = sign(SECRET, webhook_id, now(), BODY)
    assert reason_of([SECRET], headers) == "malformed-webhook-id"


def test_only_malformed_signature_entries_count_as_missing() -> None:
    headers = {**sign(SECRET, "m", now(), BODY), "webhook-signature": "v1 v1,@@@ v2,AAAA"}
    assert reason_of([SECRET], headers) == "missing-signature-headers"


def test_comparison_is_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    # The library compares with hmac.compare_digest; this fails if an upgrade stops doing so.
    calls: list[int] = []
    original = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append(1)
        return original(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    verify_signature([SECRET], sign(SECRET, "m", now(), BODY), BODY)
    assert calls


def test_a_body_that_is_not_utf8_is_refused() -> None:
    headers = sign(SECRET, "m", now(), BODY)
    assert reason_of([SECRET], headers, "Å".encode("latin-1")) == "body-not-utf8"


def test_failure_texts_contain_no_header_or_body_values() -> None:
    headers = sign(OTHER, "msg-secretive", now(), BODY)
    with pytest.raises(InvalidSignature) as raised:
        verify_signature([SECRET], headers, BODY)
    text = str(raised.value)
    assert "msg-secretive" not in text
    assert headers["webhook-signature"][3:] not in text
    assert "Åsa" not in text


@pytest.mark.parametrize(
    "secrets",
    [
        [],
        ["not-prefixed"],
        ["whsec_***not*base64***"],
        ["whsec_" + base64.b64encode(b"too short").decode()],
        [SECRET, "whsec_"],
    ],
)
def test_misconfigured_secrets_fail_loudly_without_naming_the_secret(secrets: list[str]) -> None:
    with pytest.raises(SecretsNotConfigured) as raised:
        verify_signature(secrets, sign(SECRET, "m", now(), BODY), BODY)
    for secret in secrets:
        if len(secret) > 6:
            assert secret not in str(raised.value)


def test_new_secrets_are_valid_and_distinct() -> None:
    first, second = new_secret(), new_secret()
    assert first != second
    verify_signature([first], sign(first, "m", now(), BODY), BODY)
    assert first.startswith(signature.SECRET_PREFIX)


@pytest.mark.parametrize("join", [", ", ","])
@pytest.mark.parametrize("valid_first", [True, False])
def test_signature_lines_joined_by_the_host_verify_in_either_order(
    join: str, valid_first: bool
) -> None:
    """A sender that sends one webhook-signature line per secret (during a rotation)
    reaches the app as one value, the lines joined with a comma (RFC 9110 §5.3).
    Before, the valid signature was found only when it came last."""
    valid = sign(SECRET, "m", now(), BODY)["webhook-signature"]
    stale = sign(OTHER, "m", now(), BODY)["webhook-signature"]
    lines = [valid, stale] if valid_first else [stale, valid]
    headers = {**sign(SECRET, "m", now(), BODY), "webhook-signature": join.join(lines)}
    verify_signature([SECRET], headers, BODY)
