"""One rooted exception hierarchy.

The split that matters to a worker is what to do next:

* ``TransientError``: nothing was applied; try again later (scheduled kick).
* ``InDoubtError``: a message may or may not have been applied; resend the *same*
  prepared message (same idempotency key, for HL7 the MSH-10) later.
* ``PermanentError``: retrying cannot help; dead-letter with the reason.

Every exception the app raises on purpose descends from exactly one of these
three (tests/unit/test_errors.py walks the packages and checks). Client mistakes
at the HTTP front door (a bad signature, an invalid event) are permanent: the
same request can never succeed. Exceptions defined next to the code that raises
them (e.g. ``shared.webhook.signature.InvalidSignature``) still derive from here.

Messages never contain personal data: they name booking ids, HSA-ids, control
ids and codes only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


class IntegrationError(Exception):
    """Base class of every error this integration raises on purpose."""


class TransientError(IntegrationError):
    """A temporary failure; nothing was applied, so retrying later is safe."""


class LinkUnavailable(TransientError):
    """No MLLP connection could be had, so nothing was sent: the connection was
    refused or timed out (for example the peer is at its connection limit, or
    down), or the stamp's connection budget stayed taken while the send waited."""


class LinkBusy(LinkUnavailable):
    """Every connection of the stamp's budget stayed in use while the send waited."""


class InDoubtError(IntegrationError):
    """A message may have been applied; resend the same message later."""


class AckTimeout(InDoubtError):
    """No acknowledgment arrived within the read timeout."""


class ConnectionFailed(InDoubtError):
    """The MLLP connection could not be opened or broke during an exchange."""


class AckMismatch(InDoubtError):
    """The acknowledgment's MSA-2 does not echo the message's MSH-10."""


class PermanentError(IntegrationError):
    """Retrying cannot help; the message goes to the dead-letter queue."""

    reason = "permanent-error"


class UnmappedLocation(PermanentError):
    """An HSA-id has no location code in the administration's profile."""

    reason = "unmapped-location"


class UnknownAdministration(PermanentError):
    """No profile exists for the booking's administration."""

    reason = "unknown-administration"


class AdministrationMismatch(PermanentError):
    """An event carries a booking id that another administration's booking already has."""

    reason = "administration-mismatch"


class MessageRejected(PermanentError):
    """Millennium answered AR (rejected) to a message."""

    reason = "rejected-by-millennium"


class ApplicationErrorsExhausted(PermanentError):
    """Millennium answered AE (application error) more times than allowed."""

    reason = "application-error"


class InDoubtTooLong(PermanentError):
    """A message stayed in doubt past the maximum age; an operator must check."""

    reason = "in-doubt-expired"


class StoreError(PermanentError):
    """The crosswalk store refused a request (a missing table, a rejected entity)."""

    reason = "crosswalk-rejected"


class EntityExists(TransientError):
    """An insert found an entity with the same keys (a lost race: read again)."""


class ConcurrencyConflict(TransientError):
    """A conditional write lost: the entity changed (or vanished) since it was read.

    Transient: the next attempt reads the row again, so it must never burn a
    delivery count or reach the dead-letter queue.
    """


class QueueUnavailable(TransientError):
    """The queue could not be reached; the caller should answer 503 or retry."""


class UnencodableText(PermanentError):
    """A message holds a character that the profile's MSH-18 charset cannot carry."""

    reason = "unencodable-character"


class UnsendableText(PermanentError):
    """A prepared message holds a byte its transport cannot carry (an MLLP frame byte)."""

    reason = "unsendable-character"


class ChannelChanged(PermanentError):
    """An in-doubt message was prepared by another channel than the target now uses."""

    reason = "channel-changed"


class MalformedMessage(PermanentError):
    """A queue message's body is not what its queue carries (a bug or a manual send)."""

    reason = "malformed-message"


class TlsNotConfigured(ConnectionFailed):
    """MLLP TLS cannot start: MILLENNIUM_MLLP_CA_BUNDLE is an unresolved Key Vault
    reference, names no file, or holds no certificate. Nothing was sent; like any
    connection failure the message is resent with the same MSH-10 after backoff, so
    sends resume once an operator fixes the setting (alerted past the maximum age)."""


class HttpRefusal(IntegrationError):
    """An HTTP request answered with a problem document (``shared.problems``); raise
    one of its two kinds, which say who must act.

    ``reason`` is the problem type's suffix and the log line's reason; ``detail``
    says what is wrong and what to do; ``errors`` lists failing fields
    (``shared.problems.FieldError``); ``note`` is for operators (log line only).
    None of them may hold a value the client sent.
    """

    def __init__(
        self,
        status: int,
        reason: str,
        title: str,
        detail: str,
        *,
        errors: Sequence[object] = (),
        headers: Mapping[str, str] | None = None,
        note: str = "",
    ) -> None:
        super().__init__(f"{status} {reason}")
        self.status = status
        self.reason = reason
        self.title = title
        self.detail = detail
        self.errors = tuple(errors)
        self.headers = dict(headers or {})
        self.note = note


class RequestRefused(HttpRefusal, PermanentError):
    """The client's mistake (4xx): sending the same request again cannot help."""


class RequestDeferred(HttpRefusal, TransientError):
    """Refused for now (503): our configuration or a dependency is not ready; the
    client may send the same request again later."""
