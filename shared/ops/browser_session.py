"""The message browser's sign-in: the operators' key once, then a short-lived cookie.

A browser cannot send the ``x-ops-key`` header the ops API asks for, and a key
in a URL ends up in history and proxy logs. So the operator types the key into
a form once; the answer is a session cookie that is *derived* from the key
(an HMAC over the expiry time), never the key itself, valid for
``SESSION_SECONDS``. Rotating the key (``OPS_ADMIN_SECRETS``) ends every session
made with the old one. The cookie is ``HttpOnly``, ``SameSite=Strict`` and
scoped to the browser's path; every form that changes something or shows
patient data carries a token derived from the session (``form_token``), so a
page on another site cannot submit it.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence

from shared.ops.admin_key import is_authorised

SESSION_COOKIE = "orbitsync-ops"
SESSION_SECONDS = 3600
BROWSER_PATH = "/api/ops/browser"


def _signature(key: str, expires: int) -> str:
    return hmac.new(key.encode(), f"ops-browser:{expires}".encode(), hashlib.sha256).hexdigest()


def sign_in(presented: str | None, keys: Sequence[str], now: float) -> str | None:
    """A session token for a valid operators' key, or None."""
    if not is_authorised(presented, keys) or presented is None:
        return None
    expires = int(now) + SESSION_SECONDS
    return f"{expires}.{_signature(presented.strip(), expires)}"


def valid_session(token: str | None, keys: Sequence[str], now: float) -> bool:
    """Whether ``token`` was made with one of ``keys`` and has not expired."""
    if not token or "." not in token:
        return False
    raw_expires, signature = token.split(".", 1)
    if not raw_expires.isdigit() or int(raw_expires) < now:
        return False
    expires = int(raw_expires)
    matches = [hmac.compare_digest(signature, _signature(key, expires)) for key in keys]
    return any(matches)


def form_token(session: str) -> str:
    """The token every state-changing form carries (derived from the session)."""
    return hmac.new(session.encode(), b"form", hashlib.sha256).hexdigest()[:32]


def valid_form(session: str, presented: str | None) -> bool:
    return bool(presented) and hmac.compare_digest(form_token(session), presented or "")


def session_from(headers: Mapping[str, str]) -> str | None:
    """The session cookie's value from the request headers, if any."""
    cookies = next((value for name, value in headers.items() if name.lower() == "cookie"), "")
    for part in cookies.split(";"):
        name, _, value = part.strip().partition("=")
        if name == SESSION_COOKIE:
            return value
    return None


def session_cookie(token: str, *, secure: bool) -> str:
    """The Set-Cookie value (``Secure`` whenever the request came over https)."""
    return (
        f"{SESSION_COOKIE}={token}; Path={BROWSER_PATH}; Max-Age={SESSION_SECONDS}; "
        "HttpOnly; SameSite=Strict" + ("; Secure" if secure else "")
    )


def cleared_cookie(*, secure: bool) -> str:
    return f"{SESSION_COOKIE}=; Path={BROWSER_PATH}; Max-Age=0; HttpOnly; SameSite=Strict" + (
        "; Secure" if secure else ""
    )
