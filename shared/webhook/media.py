"""Transport checks made before anything else: body size, media type, text encoding.

They are cheap and need no secret, so an oversized or foreign request is turned
away before it costs an HMAC or a JSON parse.
"""

from __future__ import annotations

from shared.errors import PermanentError

MAX_BODY_BYTES = 256 * 1024
"""Largest accepted body (256 KiB); a booking snapshot is a few KiB."""

ACCEPTED_MEDIA_TYPES = ("application/cloudevents+json", "application/json")
"""CloudEvents structured JSON mode, with either media type."""

_BATCH_MEDIA_TYPE = "application/cloudevents-batch+json"


class BodyTooLarge(PermanentError):
    """The body (or its announced Content-Length) is over ``MAX_BODY_BYTES``."""


class UnsupportedMediaType(PermanentError):
    """The Content-Type is missing, not JSON, a batch, or not UTF-8.

    ``str(error)`` says what to send instead.
    """


class BodyNotUtf8(PermanentError):
    """The body is not UTF-8 text."""


def check_size(content_length: str | None, body: bytes) -> None:
    """Check both the announced and the actual size (a client may announce neither
    or the wrong one).

    Raises:
        BodyTooLarge: either is over the limit.
    """
    announced = _as_int(content_length)
    if (announced is not None and announced > MAX_BODY_BYTES) or len(body) > MAX_BODY_BYTES:
        raise BodyTooLarge(f"the body is over {MAX_BODY_BYTES} bytes")


def check_media_type(content_type: str | None) -> None:
    """Accept ``application/cloudevents+json`` or ``application/json``, optionally with
    ``charset=utf-8``.

    Raises:
        UnsupportedMediaType: anything else; the message names what is accepted.
    """
    media_type, parameters = _split_media_type(content_type or "")
    if media_type == _BATCH_MEDIA_TYPE:
        raise UnsupportedMediaType(
            "CloudEvents batch mode is not supported: send one event per request as "
            "application/cloudevents+json."
        )
    if media_type not in ACCEPTED_MEDIA_TYPES:
        raise UnsupportedMediaType(
            "Content-Type must be application/cloudevents+json or application/json "
            "(CloudEvents structured JSON mode)."
        )
    charset = parameters.get("charset", "utf-8").lower()
    if charset not in {"utf-8", "utf8"}:
        raise UnsupportedMediaType("The body must be UTF-8: use charset=utf-8 or no charset.")


def decode_utf8(body: bytes) -> str:
    """Raises:
    BodyNotUtf8: the bytes are not valid UTF-8.
    """
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise BodyNotUtf8("the body is not valid UTF-8") from None


def _split_media_type(content_type: str) -> tuple[str, dict[str, str]]:
    media_type, *raw_parameters = content_type.split(";")
    parameters = {}
    for raw in raw_parameters:
        name, _, value = raw.partition("=")
        parameters[name.strip().lower()] = value.strip().strip('"')
    return media_type.strip().lower(), parameters


def _as_int(text: str | None) -> int | None:
    if text is None or not text.strip().isdigit():
        return None
    return int(text.strip())
