"""HTTP trigger ``GET /api/ops/bookings/{bookingId}``: one booking's trace, for operators.

Thin: it gathers the services and calls ``shared.ops.http_api.booking_trace_answer``.
``FUNCTION`` auth level in Azure (a function key) *and* the operators' key checked
by the handler. The route is not under ``admin/``: the Functions host reserves
that prefix for its own API and would refuse to load the function.
"""

from __future__ import annotations

import logging

import azure.functions as func

bp = func.Blueprint()  # type: ignore[no-untyped-call]

logger = logging.getLogger("orbitsync.ops")


@bp.function_name("ops_booking_trace")
@bp.route(route="ops/bookings/{bookingId}", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
def ops_booking_trace(req: func.HttpRequest) -> func.HttpResponse:
    # Imported here, not at module level: importing function_app must stay cheap.
    from shared.crosswalk.repository import Crosswalk
    from shared.errors import TransientError
    from shared.ops.admin_key import configured_keys, keys_problem
    from shared.ops.http_api import Answer, booking_trace_answer
    from shared.problems import problem
    from shared.services import get_services

    try:
        services = get_services()
        answer = booking_trace_answer(
            req.route_params.get("bookingId", ""),
            dict(req.headers),
            dict(req.params),
            keys=configured_keys(),
            keys_problem=keys_problem(),
            crosswalk=Crosswalk(services.store),
            dead_letters=services.dead_letters,
            clock=services.clock,
        )
    except TransientError as error:
        logger.warning("ops booking trace status=503 error_type=%s", type(error).__name__)
        unavailable = problem(
            503,
            "Temporarily unavailable",
            "The crosswalk or the queue could not be reached. Try again in a minute.",
            type_suffix="unavailable",
        )
        answer = Answer(503, unavailable.body(), unavailable.content_type)
    except Exception as error:
        # The text may hold anything; the type is enough to find the cause.
        logger.error("ops booking trace status=500 error_type=%s", type(error).__name__)
        failed = problem(
            500,
            "Internal error",
            "The trace could not be built. Use the CLI meanwhile: "
            ".venv/bin/python -m tools.ops booking <id>.",
            type_suffix="internal-error",
        )
        answer = Answer(500, failed.body(), failed.content_type)
    return func.HttpResponse(
        body=answer.body,
        status_code=answer.status,
        headers=dict(answer.headers),
        mimetype=answer.content_type,
        charset="utf-8",
    )
