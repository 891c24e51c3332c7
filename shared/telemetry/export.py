"""Switch on export to Application Insights, once, only when it is asked for.

The Azure Monitor OpenTelemetry distro (``azure-monitor-opentelemetry``) is
configured on the first telemetry call of a process when the setting
``APPLICATIONINSIGHTS_CONNECTION_STRING`` is set (the Bicep sets it, together with
``APPLICATIONINSIGHTS_AUTHENTICATION_STRING`` for Entra ID export, which the
exporter reads itself). Never at import time, never in tests: without the
setting nothing is configured and the OpenTelemetry API stays a no-op.

What the distro is told:

* ``logger_name="orbitsync"``: only the structured lines of ``shared.telemetry``
  (and other ``orbitsync.*`` loggers) are exported as OpenTelemetry logs; the
  Functions host already collects every other log line, so they are not sent twice.
* the redacting span and log processors go first, before the distro's exporting
  processors, so what is exported has passed them.
"""

from __future__ import annotations

import logging
import threading

from shared import telemetry_names as names

log = logging.getLogger(f"{names.LOGGER_NAME}.telemetry")

_lock = threading.Lock()
_configured = False


def configure_export_if_asked() -> bool:
    """Configure the distro if the connection string is set and it is not done yet.

    Returns True when this call configured it. Never raises: telemetry must not
    stop bookings, so a failure is logged (by type) and the app runs without export.
    """
    global _configured
    connection_string = _connection_string()
    with _lock:
        if _configured or not connection_string:
            return False
        try:
            _configure(connection_string)
        except Exception as error:
            log.warning("telemetry export not configured: %s", type(error).__name__)
            return False
        _configured = True
        return True


def _connection_string() -> str:
    from shared.settings import SettingsError, get_settings

    try:
        return get_settings().app_insights_connection_string
    except SettingsError:
        return ""  # the app's entrypoints report the malformed setting themselves


def _configure(connection_string: str) -> None:
    from azure.monitor.opentelemetry import configure_azure_monitor

    from shared.telemetry.redacting import RedactingLogRecordProcessor, RedactingSpanProcessor

    configure_azure_monitor(
        connection_string=connection_string,
        logger_name=names.LOGGER_NAME,
        span_processors=[RedactingSpanProcessor()],
        log_record_processors=[RedactingLogRecordProcessor()],
    )
