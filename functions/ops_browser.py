"""HTTP triggers of the operators' message browser (``/api/ops/browser…``), HTML pages.

Thin: each trigger turns the request into a ``BrowserRequest`` and calls
``shared.ops.browser.browse``. ``ANONYMOUS`` at the Functions level on purpose: a
browser cannot send a function key without putting it in the URL (history, proxy
logs); the operators' key gate is in the handler (a sign-in form, then a session
cookie derived from the key), and without ``OPS_ADMIN_SECRETS`` every page answers
503. Not under ``admin/``: the Functions host reserves that prefix.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qsl

import azure.functions as func

bp = func.Blueprint()  # type: ignore[no-untyped-call]

logger = logging.getLogger("orbitsync.ops")

_ROUTE = "ops/browser"


@bp.function_name("ops_browser")
@bp.route(route=_ROUTE, methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def ops_browser(req: func.HttpRequest) -> func.HttpResponse:
    return _answer(req, "overview")


@bp.function_name("ops_browser_login")
@bp.route(route=f"{_ROUTE}/login", methods=["GET", "POST"], auth_level=func.AuthLevel.ANONYMOUS)
def ops_browser_login(req: func.HttpRequest) -> func.HttpResponse:
    return _answer(req, "login")


@bp.function_name("ops_browser_logout")
@bp.route(route=f"{_ROUTE}/logout", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
def ops_browser_logout(req: func.HttpRequest) -> func.HttpResponse:
    return _answer(req, "logout")


@bp.function_name("ops_browser_booking")
@bp.route(
    route=f"{_ROUTE}/bookings/{{bookingId}}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS
)
def ops_browser_booking(req: func.HttpRequest) -> func.HttpResponse:
    return _answer(req, "booking")


@bp.function_name("ops_browser_resubmit")
@bp.route(
    route=f"{_ROUTE}/bookings/{{bookingId}}/resubmit",
    methods=["POST"],
    auth_level=func.AuthLevel.ANONYMOUS,
)
def ops_browser_resubmit(req: func.HttpRequest) -> func.HttpResponse:
    return _answer(req, "resubmit")


@bp.function_name("ops_browser_patient")
@bp.route(
    route=f"{_ROUTE}/bookings/{{bookingId}}/patient",
    methods=["POST"],
    auth_level=func.AuthLevel.ANONYMOUS,
)
def ops_browser_patient(req: func.HttpRequest) -> func.HttpResponse:
    return _answer(req, "patient")


def _answer(req: func.HttpRequest, action: str) -> func.HttpResponse:
    # Imported here, not at module level: importing function_app must stay cheap.
    from shared.crosswalk.repository import Crosswalk
    from shared.errors import TransientError
    from shared.ops.admin_key import configured_keys
    from shared.ops.browser import BrowserPorts, BrowserRequest, browse
    from shared.ops.browser_pages import problem_page
    from shared.ops.http_api import Answer
    from shared.services import get_services

    try:
        services = get_services()
        request = BrowserRequest(
            action=action,
            method=req.method.upper(),
            headers=dict(req.headers),
            query=dict(req.params),
            form=_form(req),
            booking_id=req.route_params.get("bookingId", ""),
            secure=req.url.lower().startswith("https://"),
        )
        ports = BrowserPorts(
            keys=configured_keys(),
            crosswalk=Crosswalk(services.store),
            dead_letters=_readable_dead_letters(services.bus),
            profiles=services.profiles,
            clock=services.clock,
            millennium=_local_millennium_view(services),
        )
        answer = browse(request, ports)
    except TransientError as error:
        logger.warning("ops browser status=503 error_type=%s", type(error).__name__)
        page = problem_page(
            "Temporarily unavailable",
            "The crosswalk or the queue could not be reached. Try again in a minute.",
        )
        answer = Answer(503, page.encode(), "text/html; charset=utf-8")
    except Exception as error:
        # The text may hold anything; the type is enough to find the cause.
        logger.error("ops browser status=500 error_type=%s", type(error).__name__)
        page = problem_page(
            "Internal error",
            "The page could not be built. Use the CLI meanwhile: "
            ".venv/bin/python -m tools.ops booking <id>.",
        )
        answer = Answer(500, page.encode(), "text/html; charset=utf-8")
    return func.HttpResponse(
        body=answer.body,
        status_code=answer.status,
        headers={**answer.headers, "Content-Type": answer.content_type},
    )


def _form(req: func.HttpRequest) -> dict[str, str]:
    """The fields of an ``application/x-www-form-urlencoded`` POST body."""
    if req.method.upper() != "POST":
        return {}
    try:
        text = req.get_body().decode("utf-8")
    except UnicodeDecodeError:
        return {}
    return dict(parse_qsl(text, keep_blank_values=True))


def _local_millennium_view(services: Any) -> Any:
    """Locally, what the simulator holds (its journal in the data folder); the
    local-run package is not deployed, so in Azure there is none."""
    try:
        from localrun.millennium_view import local_view
    except ImportError:
        return None
    return local_view(services.settings, all_at_once=False)


def _readable_dead_letters(bus: Any) -> Any:
    """The dead letters where the app may read them (the local run's embedded queue),
    as in functions/ops.py; in Azure the app has no receive right on them."""
    from shared.deadletters.embedded import EmbeddedDeadLetters
    from shared.queue.embedded import EmbeddedQueue

    return EmbeddedDeadLetters(bus) if isinstance(bus, EmbeddedQueue) else None
