"""HTTP trigger ``POST /api/orbit/events``: Orbit's booking webhook (contract v1).

The trigger only translates: ``func.HttpRequest`` → `WebhookDelivery`, the plain
handler `accept_delivery` with the app's services, and its result →
``func.HttpResponse``. Everything else lives in ``shared.webhook``.
"""

from __future__ import annotations

import logging

import azure.functions as func

bp = func.Blueprint()  # type: ignore[no-untyped-call]

logger = logging.getLogger("orbitsync.webhook")


# ANONYMOUS on purpose: a function key would be one more shared secret in Orbit's
# configuration. The Standard Webhooks signature (HMAC over id, timestamp and body,
# with rotating secrets) is the authentication, checked first thing in the handler.
@bp.function_name("orbit_webhook")
@bp.route(route="orbit/events", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
def orbit_webhook(req: func.HttpRequest) -> func.HttpResponse:
    # Imported here, not at module level: importing function_app must stay cheap
    # (cold start), and the handler pulls in pydantic models and the SDKs.
    from shared.problems import new_correlation_id
    from shared.services import get_services
    from shared.webhook.handler import (
        WebhookDelivery,
        WebhookPorts,
        WebhookResult,
        accept_delivery,
        internal_error,
    )

    result: WebhookResult
    try:
        services = get_services()
        settings = services.settings
        delivery = WebhookDelivery.of(dict(req.headers), req.get_body())
        result = accept_delivery(
            delivery,
            WebhookPorts(
                secrets=settings.orbit_webhook_secrets,
                secrets_problem=settings.secret("ORBIT_WEBHOOK_SECRETS").problem(),
                administrations=settings.administrations,
                store=services.store,
                bus=services.bus,
                profiles=services.profiles,
                clock=services.clock,
            ),
        )
    except Exception as error:
        # Only reachable when the services cannot be built (a setting is wrong);
        # the handler itself never raises. The text may be long, the type is enough.
        correlation_id = new_correlation_id()
        logger.error(
            "orbit webhook status=500 reason=services-unavailable correlation=%s error_type=%s",
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
