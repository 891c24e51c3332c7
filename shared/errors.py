"""One rooted exception hierarchy.

The split that matters to a worker is what to do next:

* ``TransientError``: nothing was applied; try again later (scheduled kick).
* ``InDoubtError``: a message may or may not have been applied; resend the *same*
  message (same MSH-10) later.
* ``PermanentError``: retrying cannot help; dead-letter with the reason.

Messages never contain personal data: they name booking ids, HSA-ids, control
ids and codes only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


class IntegrationError(Exception):
    """Base class of every error this integration raises on purpose."""


class TransientError(IntegrationError):
    """A temporary failure; nothing was applied, so retrying later is safe."""


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


class MessageRejected(PermanentError):
    """Millennium answered AR (rejected) to a message."""

    reason = "rejected-by-millennium"


class ApplicationErrorsExhausted(PermanentError):
    """Millennium answered AE (application error) more times than allowed."""

    reason = "application-error"


class InDoubtTooLong(PermanentError):
    """A message stayed in doubt past the maximum age; an operator must check."""

    reason = "in-doubt-expired"


class StoreError(IntegrationError):
    """Base class of crosswalk storage errors."""


class EntityExists(StoreError):
    """An insert found an entity with the same keys."""


class ConcurrencyConflict(StoreError):
    """A conditional write lost: the entity changed (or vanished) since it was read."""


class QueueUnavailable(TransientError):
    """The queue could not be reached; the caller should answer 503 or retry."""


class UnencodableText(PermanentError):
    """A message holds a character that the profile's MSH-18 charset cannot carry."""

    reason = "unencodable-character"


class MalformedMessage(PermanentError):
    """A queue message's body is not what its queue carries (a bug or a manual send)."""

    reason = "malformed-message"


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
