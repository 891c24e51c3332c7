"""What telemetry costs per booking: the calls one new inpatient booking makes
(webhook span, intake span, three worker spans, three MLLP sends, metrics, the
convergence), timed with the OpenTelemetry API alone (no connection string: the
local run, and tests) and with the SDK recording into memory through the
redacting processor (what export costs in-process, before any network).

    python -m bench.telemetry [--write]   # --write puts the figures in docs/performance.md
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from collections.abc import Callable

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from bench.report import write_figures
from shared import telemetry
from shared.telemetry.redacting import RedactingSpanProcessor

SENDS = (("encounter", "ADT^A05"), ("appointment", "SIU^S12"), ("bed", "ADT^A14"))


def one_booking(n: int) -> None:
    booking = f"OB-2026-{n:06d}"
    with telemetry.webhook_span():
        telemetry.annotate(booking_id=booking, event_id="e", version=1, administration="SU")
        properties = telemetry.trace_properties()
        telemetry.webhook_answered(202, "accepted", "c")
    with telemetry.consumer_span("orbit-events", properties, booking_id=booking, message_id="m"):
        telemetry.annotate(administration="SU", version=1, event_id="e")
        kick = telemetry.trace_properties()
    for target, trigger in SENDS:
        with telemetry.consumer_span(f"sync-{target}", kick, booking_id=booking, message_id="k"):
            telemetry.annotate(administration="SU", target=target, cause="event", version=1)
            with telemetry.mllp_exchange(trigger, "ABCDEFGHIJKLMNOPQRST", 1) as sent:
                sent.acknowledged("AA", accepted=True)
            if target == "bed":
                telemetry.sync_converged(1, dt.timedelta(milliseconds=120))


def per_booking_us(bookings: int) -> float:
    one_booking(0)  # warm up (first use imports the API)
    started = time.perf_counter()
    for n in range(bookings):
        one_booking(n)
    return (time.perf_counter() - started) / bookings * 1e6


def with_sdk(run: Callable[[], float]) -> float:
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(RedactingSpanProcessor())
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    telemetry.use_providers(tracer_provider, meter_provider)
    try:
        return run()
    finally:
        telemetry.use_providers()
        tracer_provider.shutdown()
        meter_provider.shutdown()


def main(argv: list[str]) -> None:
    import logging

    logging.getLogger("orbitsync").setLevel(logging.WARNING)  # time the telemetry, not stdout
    bookings = 3000
    api_only = per_booking_us(bookings)
    recorded = with_sdk(lambda: per_booking_us(bookings))
    lines = [
        "| telemetry per booking (8 spans, ~12 metric points) | µs |",
        "|---|---|",
        f"| OpenTelemetry API only (no connection string) | {api_only:.0f} |",
        f"| SDK recording in memory, redacting processor | {recorded:.0f} |",
    ]
    print("\n".join(lines))
    if "--write" in argv:
        write_figures("telemetry", lines)


if __name__ == "__main__":
    main(sys.argv[1:])
