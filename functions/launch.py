"""HTTP triggers of the contextual jump-out (brief §7, docs/jumpout.md).

* ``POST /api/launch`` (``launch_create``): server-to-server from Orbit or Millennium,
  signed like the webhook; answers ``201 {"launchUrl", "expiresAt"}``.
* ``GET /api/launch/{code}`` (``launch_follow``): the clinician's browser follows the
  link; ``302`` to the target system, or ``410`` with a page.

The triggers only translate; the handlers live in ``shared.launch.handler``.
"""

from __future__ import annotations

import logging

import azure.functions as func

bp = func.Blueprint()  # type: ignore[no-untyped-call]

logger = logging.getLogger("orbitsync.launch")


# ANONYMOUS on purpose: the POST is authenticated by its signature (per-caller
# secrets), and the GET is followed by a browser that has nothing but the code.
@bp.function_name("launch_create")
@bp.route(route="launch", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
def launch_create(req: func.HttpRequest) -> func.HttpResponse:
    # Imported here, not at module level: importing function_app must stay cheap.
    from shared.errors import HttpRefusal
    from shared.launch.handler import (
        LaunchHttpRequest,
        create_launch,
        internal_error,
        refuse_before_handling,
    )
    from shared.launch.wiring import launch_ports
    from shared.problems import new_correlation_id
    from shared.services import get_services

    try:
        ports = launch_ports(get_services())
        request = LaunchHttpRequest.of(dict(req.headers), req.get_body())
        result = create_launch(request, ports)
    except HttpRefusal as refused:  # not configured
        result = refuse_before_handling(refused)
    except Exception as error:
        # Only reachable when the services cannot be built (a setting is wrong).
        correlation_id = new_correlation_id()
        logger.error(
            "launch create status=500 reason=services-unavailable correlation=%s error_type=%s",
            correlation_id,
            type(error).__name__,
        )
        result = internal_error(correlation_id)
    return func.HttpResponse(
        body=result.body(),
        status_code=result.status,
        headers=dict(result.headers),
        mimetype=result.content_type,
        charset="utf-8",
    )


@bp.function_name("launch_follow")
@bp.route(route="launch/{code}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def launch_follow(req: func.HttpRequest) -> func.HttpResponse:
    from shared.launch.handler import BrowserAnswer, follow_launch
    from shared.launch.pages import PAGE_HEADERS, UNAVAILABLE_PAGE
    from shared.services import get_services

    code = req.route_params.get("code", "")
    try:
        services = get_services()
        answer = follow_launch(code, store=services.store, clock=services.clock)
    except Exception as error:
        logger.error(
            "launch follow status=503 reason=services-unavailable error_type=%s",
            type(error).__name__,
        )
        answer = BrowserAnswer(503, PAGE_HEADERS, UNAVAILABLE_PAGE)
    headers = {**answer.headers, "Content-Type": answer.content_type}
    return func.HttpResponse(body=answer.body, status_code=answer.status, headers=headers)
