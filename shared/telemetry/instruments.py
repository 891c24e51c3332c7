"""The OpenTelemetry API objects behind ``shared.telemetry``: tracer, counters, histogram.

Imported on first use only (never by ``function_app``). Everything here is the
*API*: with no SDK configured the calls are no-ops; the SDK providers come from
``configure_azure_monitor`` in Azure, or from a test via ``use_providers``.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.propagate import extract, inject
from opentelemetry.trace import (
    INVALID_SPAN,
    NoOpTracerProvider,
    ProxyTracerProvider,
    Span,
    SpanKind,
    Status,
    StatusCode,
)

from shared import telemetry_names as names

_KINDS = {"server": SpanKind.SERVER, "consumer": SpanKind.CONSUMER, "client": SpanKind.CLIENT}


class Instruments:
    """One tracer and one instrument per metric name, from the given or global providers."""

    def __init__(self, tracer_provider: Any = None, meter_provider: Any = None) -> None:
        tracers = tracer_provider or trace.get_tracer_provider()
        meters = meter_provider or metrics.get_meter_provider()
        self._tracer = tracers.get_tracer(names.LOGGER_NAME)
        meter = meters.get_meter(names.LOGGER_NAME)
        self._counters = {name: meter.create_counter(name, unit="1") for name in names.COUNTERS}
        self._gauges = {
            name: meter.create_up_down_counter(name, unit="1") for name in names.UP_DOWN_COUNTERS
        }
        self._histograms = {
            name: meter.create_histogram(name, unit="ms") for name in names.HISTOGRAMS
        }

    def span(
        self,
        name: str,
        kind: str,
        parent: Mapping[str, str] | None,
        attributes: Mapping[str, str | int | float | bool],
    ) -> AbstractContextManager[Span]:
        """Start a current span; ``parent`` is a carrier (message properties) to continue
        the trace from, or None for a child of the current span. Exceptions are not
        recorded with their text (it might hold data); ``fail`` notes the type."""
        context = extract(dict(parent)) if parent is not None else None
        return self._tracer.start_as_current_span(
            name,
            context=context,
            kind=_KINDS[kind],
            attributes=dict(attributes),
            record_exception=False,
            set_status_on_exception=False,
        )

    def add(self, metric: str, attributes: Mapping[str, str], amount: int = 1) -> None:
        self._counters[metric].add(amount, dict(attributes))

    def change(self, metric: str, delta: int, attributes: Mapping[str, str]) -> None:
        self._gauges[metric].add(delta, dict(attributes))

    def record(self, metric: str, milliseconds: int, attributes: Mapping[str, str]) -> None:
        self._histograms[metric].record(milliseconds, dict(attributes))

    def carrier(self) -> dict[str, str]:
        """The current span's W3C trace context (``traceparent``), empty without one."""
        carrier: dict[str, str] = {}
        inject(carrier)
        return carrier

    @staticmethod
    def fail(span: Span, why: str, *, error_type: str = "") -> None:
        """Mark ``span`` failed with a short code (a reason or an ACK code), never a
        text; ``error_type`` names the exception class when one ended it."""
        span.set_status(Status(StatusCode.ERROR, why))
        if error_type:
            span.set_attribute(names.ATTR_ERROR_TYPE, error_type)


class Disabled(Instruments):
    """Used when no SDK is installed (no connection string, no test providers): every
    call returns at once instead of building no-op spans and propagating contexts
    that nobody records, which would cost ~20 µs per span on the hot path."""

    def __init__(self) -> None:
        return None

    def span(
        self,
        name: str,
        kind: str,
        parent: Mapping[str, str] | None,
        attributes: Mapping[str, str | int | float | bool],
    ) -> AbstractContextManager[Span]:
        return nullcontext(INVALID_SPAN)

    def add(self, metric: str, attributes: Mapping[str, str], amount: int = 1) -> None:
        return None

    def change(self, metric: str, delta: int, attributes: Mapping[str, str]) -> None:
        return None

    def record(self, metric: str, milliseconds: int, attributes: Mapping[str, str]) -> None:
        return None

    def carrier(self) -> dict[str, str]:
        return {}


def global_instruments() -> Instruments:
    """Instruments on the global providers, or ``Disabled`` when they are the API's
    no-op placeholders (nothing was configured in this process)."""
    tracers = trace.get_tracer_provider()
    if isinstance(tracers, ProxyTracerProvider | NoOpTracerProvider):
        return Disabled()
    return Instruments()
