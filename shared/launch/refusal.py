"""The jump-out's own refusal: not configured (503). Every other refusal is a plain
`shared.errors.RequestRefused`, answered by `shared.problems`."""

from __future__ import annotations

from shared.errors import RequestDeferred
from shared.problems import RETRY_AFTER_SECONDS


def not_configured(note: str) -> RequestDeferred:
    """503: our configuration is incomplete (an operator must act); ``note`` says what,
    by setting name (never a value), and is shown in the problem document too."""
    return RequestDeferred(
        503,
        "not-configured",
        "Jump-out not available",
        "The jump-out is not fully configured for this administration, so no launch link "
        f"was made ({note}). Tell the user the jump-out is unavailable and contact the "
        "integration team with the correlationId.",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        note=note,
    )
