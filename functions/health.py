"""HTTP trigger ``GET /api/health``: liveness and readiness (``shared.health``).

Anonymous on purpose: Azure's health check and the rollout team's smoke check call
it without a key. It answers states only: no personal data, secrets or addresses.
It is the Flex site's health-check path (infra/modules/functionapp.bicep).
"""

from __future__ import annotations

import json
import logging

import azure.functions as func

bp = func.Blueprint()  # type: ignore[no-untyped-call]

logger = logging.getLogger("orbitsync.health")


@bp.function_name("health")
@bp.route(route="health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def health(req: func.HttpRequest) -> func.HttpResponse:
    # Imported here, not at module level: importing function_app must stay cheap.
    from shared.health import HealthPorts
    from shared.health import health as health_report
    from shared.services import get_services

    try:
        services = get_services()
        answer = health_report(HealthPorts(settings=services.settings, store=services.store))
    except Exception as error:
        # The services cannot be built: a setting is malformed. The type names it.
        logger.error(
            "health status=503 reason=services-unavailable error_type=%s", type(error).__name__
        )
        document = {"status": "unavailable", "checks": {"live": {"status": "ok"}}}
        document["error"] = type(error).__name__
        return func.HttpResponse(
            body=json.dumps(document),
            status_code=503,
            headers={"Cache-Control": "no-store"},
            mimetype="application/json",
        )
    if answer.status != 200:
        logger.warning("health status=%d", answer.status)
    return func.HttpResponse(
        body=answer.body(),
        status_code=answer.status,
        headers=answer.headers,
        mimetype=answer.content_type,
        charset="utf-8",
    )
