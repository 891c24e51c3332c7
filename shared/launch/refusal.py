"""`LaunchRefused`: how the launch handlers stop and answer with a problem document."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from shared.errors import PermanentError
from shared.problems import FieldError


@dataclass(eq=False)
class LaunchRefused(PermanentError):
    """Stop handling a launch request and answer ``status`` with this problem.

    ``reason`` is the problem type's suffix and the log line's reason; ``detail``
    says what is wrong and what to do; ``note`` is for operators (log line only).
    None of them may hold a value the caller sent.
    """

    status: int
    # field(): without it the dataclass would take PermanentError.reason as a default.
    reason: str = field()
    title: str
    detail: str
    errors: Sequence[FieldError] = ()
    headers: Mapping[str, str] = field(default_factory=dict)
    note: str = ""


RETRY_AFTER_SECONDS = 30


def not_configured(note: str) -> LaunchRefused:
    """503: our configuration is incomplete (an operator must act); ``note`` says what,
    by setting name (never a value), and is shown in the problem document too."""
    return LaunchRefused(
        503,
        "not-configured",
        "Jump-out not available",
        "The jump-out is not fully configured for this administration, so no launch link "
        f"was made ({note}). Tell the user the jump-out is unavailable and contact the "
        "integration team with the correlationId.",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        note=note,
    )
