"""The function app registers exactly the expected functions, cheaply and safely."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

EXPECTED_FUNCTIONS = {
    "orbit_webhook": ("httpTrigger", "orbit/events"),
    "orbit_event_intake": ("serviceBusTrigger", "orbit-events"),
    "sync_encounter": ("serviceBusTrigger", "sync-encounter"),
    "sync_appointment": ("serviceBusTrigger", "sync-appointment"),
    "sync_bed": ("serviceBusTrigger", "sync-bed"),
    "ops_booking_trace": ("httpTrigger", "ops/bookings/{bookingId}"),
    "ops_browser": ("httpTrigger", "ops/browser"),
    "ops_browser_login": ("httpTrigger", "ops/browser/login"),
    "ops_browser_logout": ("httpTrigger", "ops/browser/logout"),
    "ops_browser_booking": ("httpTrigger", "ops/browser/bookings/{bookingId}"),
    "ops_browser_resubmit": ("httpTrigger", "ops/browser/bookings/{bookingId}/resubmit"),
    "ops_browser_patient": ("httpTrigger", "ops/browser/bookings/{bookingId}/patient"),
    "launch_create": ("httpTrigger", "launch"),
    "launch_follow": ("httpTrigger", "launch/{code}"),
    "health": ("httpTrigger", "health"),
    "retention_cleanup": ("timerTrigger", "0 17 1 * * *"),
}

_PROBE = """
import json, sys
import function_app
import shared.services, shared.settings
functions = {}
for f in function_app.app.get_functions():
    b = f.get_trigger().get_dict_repr()
    where = b.get("route") or b.get("queueName") or b.get("schedule")
    functions[f.get_function_name()] = [b["type"], where, bool(b.get("isSessionsEnabled")),
                                        b.get("runOnStartup"), b.get("useMonitor")]
print(json.dumps({
    "functions": functions,
    "services_built": shared.services._services is not None,
    "settings_read": shared.settings.get_settings.cache_info().currsize > 0,
    "azure_sdks": sorted(
        m for m in sys.modules
        if m.startswith(("azure.servicebus", "azure.data", "azure.identity"))
    ),
    "telemetry_modules": sorted(
        m for m in sys.modules if m.startswith(("opentelemetry", "azure.monitor"))
    ),
}))
"""


def _probe() -> dict:
    # A clean interpreter with no app settings at all, as in a fresh Azure worker.
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", _PROBE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    probe: dict = json.loads(out.stdout)
    return probe


def test_registered_functions_are_exactly_the_expected_set():
    functions = _probe()["functions"]
    assert {name: tuple(v[:2]) for name, v in functions.items()} == EXPECTED_FUNCTIONS


def test_every_queue_trigger_uses_sessions():
    functions = _probe()["functions"]
    for name, (kind, _, sessions, *_) in functions.items():
        if kind == "serviceBusTrigger":
            assert sessions, name


def test_the_timer_never_runs_on_start_up_and_keeps_its_schedule_in_the_host_storage():
    # Flex Consumption starts hosts on every scale-out: run_on_startup would run the
    # clean-up at random; use_monitor lets a run missed during a deployment catch up.
    functions = _probe()["functions"]
    timers = {name: v for name, v in functions.items() if v[0] == "timerTrigger"}
    assert timers == {"retention_cleanup": ["timerTrigger", "0 17 1 * * *", False, False, True]}


def test_import_reads_no_settings_builds_no_services_and_loads_no_azure_sdk():
    probe = _probe()
    assert probe["services_built"] is False
    assert probe["settings_read"] is False
    assert probe["azure_sdks"] == []


def test_import_loads_no_opentelemetry_and_no_azure_monitor_exporter():
    # shared.telemetry imports the OpenTelemetry API on first use and the distro only
    # when APPLICATIONINSIGHTS_CONNECTION_STRING is set: cold start pays for neither.
    assert _probe()["telemetry_modules"] == []
