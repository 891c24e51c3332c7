"""shared.telemetry with the OpenTelemetry SDK configured in the test only: spans and
trace context across a message, metrics and their dimensions, the redacting
processors, and when export to Application Insights is switched on."""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from opentelemetry.instrumentation.logging.handler import LoggingHandler
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from shared import telemetry
from shared import telemetry_names as names
from shared.identity import IdentifierSystem, with_check_digit
from shared.profiles import Mode
from shared.settings import reset_settings
from shared.telemetry import export
from shared.telemetry.instruments import Disabled
from shared.telemetry.redacting import RedactingLogRecordProcessor, RedactingSpanProcessor
from tests.builders import make_snapshot

NOW = dt.datetime(2026, 11, 22, 8, 0, tzinfo=dt.UTC)
IDENTITY = with_check_digit(IdentifierSystem.PERSONNUMMER, "19850412123")
DASHED = f"{IDENTITY[2:8]}-{IDENTITY[8:]}"  # the 10-digit form with a separator


@dataclass
class Sdk:
    spans: InMemorySpanExporter
    metrics: InMemoryMetricReader

    def finished(self, name: str) -> list[Any]:
        return [s for s in self.spans.get_finished_spans() if s.name == name]

    def points(self, metric: str) -> list[Any]:
        data = self.metrics.get_metrics_data()
        return [
            point
            for resource in (data.resource_metrics if data else ())
            for scope in resource.scope_metrics
            for item in scope.metrics
            if item.name == metric
            for point in item.data.data_points
        ]


@pytest.fixture
def sdk() -> Iterator[Sdk]:
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(RedactingSpanProcessor())
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    telemetry.use_providers(tracer_provider, meter_provider)
    yield Sdk(spans, reader)
    telemetry.use_providers()
    tracer_provider.shutdown()
    meter_provider.shutdown()


# --- trace context across a message -----------------------------------------------------


def test_a_consumer_span_continues_the_trace_of_the_message_it_reads(sdk):
    with telemetry.webhook_span():
        telemetry.annotate(booking_id="OB-1", administration="SU")
        properties = telemetry.trace_properties()
    assert set(properties) == {names.TRACE_PARENT_PROPERTY}

    with (
        telemetry.consumer_span("sync-encounter", properties, booking_id="OB-1", message_id="m"),
        telemetry.mllp_exchange("ADT^A05", "ABCDEFGHIJKLMNOPQRST", 1) as sent,
    ):
        sent.acknowledged("AA", accepted=True)

    [webhook] = sdk.finished(names.SPAN_WEBHOOK_RECEIVE)
    [worker] = sdk.finished(names.SPAN_SYNC_TARGET)
    [send] = sdk.finished(names.SPAN_MLLP_SEND)
    assert worker.context.trace_id == webhook.context.trace_id == send.context.trace_id
    assert worker.parent.span_id == webhook.context.span_id
    assert send.parent.span_id == worker.context.span_id
    assert send.attributes["ack_code"] == "AA"
    assert send.status.status_code is not StatusCode.ERROR


def test_a_message_without_trace_context_starts_a_new_trace(sdk):
    with telemetry.consumer_span("orbit-events", {}, booking_id="OB-1", message_id="m"):
        pass
    [intake] = sdk.finished(names.SPAN_EVENT_STORE)
    assert intake.parent is None


def test_outside_a_unit_of_work_nothing_is_propagated_or_counted_with_booking_fields(sdk):
    assert telemetry.trace_properties() == {}
    telemetry.annotate(booking_id="OB-1")  # no current work: ignored, no error
    telemetry.retry_scheduled(1, dt.timedelta(seconds=2))
    [retry] = sdk.points(names.RETRIES_SCHEDULED)
    assert dict(retry.attributes) == {}


def test_without_an_sdk_every_call_returns_at_once():
    telemetry.use_providers()  # back to the global providers: the API's placeholders
    with telemetry.webhook_span():
        assert telemetry.trace_properties() == {}
        telemetry.webhook_answered(202, "accepted", "c")
    assert isinstance(telemetry._otel(), Disabled)


# --- metrics and span outcomes ---------------------------------------------------------


def test_webhook_answers_count_received_and_accepted_or_rejected_with_reason(sdk):
    for status, reason in ((202, "accepted"), (401, "invalid-signature"), (503, "unavailable")):
        with telemetry.webhook_span():
            telemetry.annotate(administration="SU")
            telemetry.webhook_answered(status, reason, "c")
    [received] = sdk.points(names.EVENTS_RECEIVED)
    [accepted] = sdk.points(names.EVENTS_ACCEPTED)
    rejected = {
        (p.attributes["status"], p.attributes["reason"]): p.value
        for p in sdk.points(names.EVENTS_REJECTED)
    }
    assert received.value == 3 and accepted.value == 1
    assert rejected == {("401", "invalid-signature"): 1, ("503", "unavailable"): 1}
    statuses = [s.status.status_code for s in sdk.finished(names.SPAN_WEBHOOK_RECEIVE)]
    assert statuses.count(StatusCode.ERROR) == 1  # only the 5xx is our failure


def test_a_send_without_ack_counts_as_none_and_a_resend_as_in_doubt(sdk):
    with telemetry.consumer_span("sync-bed", {}, booking_id="OB-2", message_id="m"):
        telemetry.annotate(administration="SU", target="bed")
        with pytest.raises(TimeoutError), telemetry.mllp_exchange("ADT^A14", "C" * 20, 2):
            raise TimeoutError
    [sent] = sdk.points(names.HL7_MESSAGES_SENT)
    [resend] = sdk.points(names.IN_DOUBT_RESENDS)
    assert dict(sent.attributes) == {
        "administration": "SU",
        "target": "bed",
        "trigger": "ADT^A14",
        "ack_code": "none",
    }
    assert resend.value == 1
    [span] = sdk.finished(names.SPAN_MLLP_SEND)
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "ACK none"
    assert span.attributes["error_type"] == "TimeoutError"


def test_dead_letters_and_convergence_are_recorded_with_their_dimensions(sdk, caplog):
    caplog.set_level(logging.INFO, logger=names.LOGGER_NAME)
    with telemetry.consumer_span("sync-encounter", {}, booking_id="OB-3", message_id="m"):
        telemetry.annotate(administration="SU", target="encounter")
        telemetry.dead_lettered("rejected-by-millennium")
        telemetry.sync_converged(3, dt.timedelta(milliseconds=1234))
    [dead] = sdk.points(names.DEAD_LETTERED)
    [lag] = sdk.points(names.SYNC_LAG_MS)
    assert dict(dead.attributes) == {
        "administration": "SU",
        "target": "encounter",
        "reason": "rejected-by-millennium",
    }
    assert lag.sum == 1234 and dict(lag.attributes) == {"administration": "SU"}
    [worker] = sdk.finished(names.SPAN_SYNC_TARGET)
    # Handled, not failed: the failure-rate alert must not page for a dead letter.
    assert worker.status.status_code is not StatusCode.ERROR
    assert worker.attributes["reason"] == "rejected-by-millennium"
    assert [e.name for e in worker.events] == ["dead-lettered", "converged"]
    dead_line = next(r for r in caplog.records if r.getMessage().startswith("dead-lettered"))
    assert dead_line.booking_id == "OB-3" and dead_line.reason == "rejected-by-millennium"


def test_an_exception_leaving_a_unit_of_work_marks_it_failed_by_type_only(sdk):
    with (
        pytest.raises(ValueError),
        telemetry.consumer_span("sync-bed", {}, booking_id="OB-4", message_id="m"),
    ):
        raise ValueError(f"input {IDENTITY} was invalid")
    [span] = sdk.finished(names.SPAN_SYNC_TARGET)
    assert span.status.description == "ValueError"
    assert span.attributes["error_type"] == "ValueError"
    assert span.events == ()  # the exception's text is not recorded


# --- redaction before export -----------------------------------------------------------


def test_the_span_processor_masks_identity_numbers_everywhere_in_a_span():
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(RedactingSpanProcessor())
    provider.add_span_processor(SimpleSpanProcessor(spans))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span(f"lookup {IDENTITY}") as span:
        span.set_attribute("note", f"patient {DASHED} moved")
        span.set_attribute("ids", [IDENTITY, "OB-2026-000123"])
        span.set_attribute("booking_id", "OB-2026-000123")
        span.set_attribute("count", 197001011234)  # a number, not text: left alone
        span.add_event("error", {"text": f"ERR {IDENTITY}"})
        span.set_status(StatusCode.ERROR, f"rejected {IDENTITY}")
    exported: Any = spans.get_finished_spans()[0]
    text = repr(
        (exported.name, dict(exported.attributes), exported.events, exported.status.description)
    )
    assert IDENTITY not in text and DASHED not in text
    assert exported.name == "lookup [redacted]"
    assert exported.attributes["note"] == "patient [redacted] moved"
    assert exported.attributes["ids"] == ("[redacted]", "OB-2026-000123")
    assert exported.attributes["booking_id"] == "OB-2026-000123"
    assert exported.attributes["count"] == 197001011234
    assert exported.events[0].attributes["text"] == "ERR [redacted]"
    assert exported.status.description == "rejected [redacted]"


def test_the_log_processor_masks_identity_numbers_in_body_and_attributes():
    logs = InMemoryLogRecordExporter()
    provider = LoggerProvider()
    provider.add_log_record_processor(RedactingLogRecordProcessor())
    provider.add_log_record_processor(SimpleLogRecordProcessor(logs))
    logger = logging.getLogger("test.redaction")
    logger.propagate = False
    logger.addHandler(LoggingHandler(logger_provider=provider))
    logger.warning("Millennium said %s", IDENTITY, extra={"detail": f"pid {DASHED}", "n": 3})
    provider.shutdown()
    record: Any = logs.get_finished_logs()[0]
    body = record.log_record.body
    attributes = dict(record.log_record.attributes)
    assert body == "Millennium said [redacted]"
    assert attributes["detail"] == "pid [redacted]" and attributes["n"] == 3
    assert IDENTITY not in repr(attributes)


# --- export switch ---------------------------------------------------------------------


@pytest.fixture
def fresh_export(monkeypatch):
    monkeypatch.setattr(export, "_configured", False)
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(export, "_configure", lambda cs: calls.append({"cs": cs}))
    yield calls
    reset_settings()


def test_export_is_not_configured_without_a_connection_string(fresh_export, monkeypatch):
    monkeypatch.delenv("APPLICATIONINSIGHTS_CONNECTION_STRING", raising=False)
    reset_settings()
    assert export.configure_export_if_asked() is False
    assert fresh_export == []


def test_export_is_configured_once_when_a_connection_string_is_set(fresh_export, monkeypatch):
    monkeypatch.setenv("APPLICATIONINSIGHTS_CONNECTION_STRING", "InstrumentationKey=test")
    reset_settings()
    assert export.configure_export_if_asked() is True
    assert export.configure_export_if_asked() is False
    assert fresh_export == [{"cs": "InstrumentationKey=test"}]


def test_the_distro_gets_the_redacting_processors_and_only_the_orbitsync_logger(monkeypatch):
    import azure.monitor.opentelemetry as distro

    received: dict[str, Any] = {}
    monkeypatch.setattr(distro, "configure_azure_monitor", lambda **kw: received.update(kw))
    export._configure("InstrumentationKey=test")
    assert received["connection_string"] == "InstrumentationKey=test"
    assert received["logger_name"] == names.LOGGER_NAME
    assert [type(p) for p in received["span_processors"]] == [RedactingSpanProcessor]
    assert [type(p) for p in received["log_record_processors"]] == [RedactingLogRecordProcessor]


def test_a_failing_configuration_never_stops_the_app(monkeypatch, caplog):
    monkeypatch.setattr(export, "_configured", False)
    monkeypatch.setenv("APPLICATIONINSIGHTS_CONNECTION_STRING", "InstrumentationKey=test")
    reset_settings()

    def broken(connection_string: str) -> None:
        raise RuntimeError("no network")

    monkeypatch.setattr(export, "_configure", broken)
    assert export.configure_export_if_asked() is False
    assert "RuntimeError" in caplog.text and "no network" not in caplog.text
    reset_settings()


# --- through the real webhook handler and intake -----------------------------------------


def _ports_and_store() -> tuple[Any, Any, Any]:
    from shared.crosswalk.repository import Crosswalk
    from shared.crosswalk.sqlite import SqliteTableStore
    from shared.names import ALL_TABLES
    from shared.sync.policy import RetryPolicy
    from shared.sync.ports import SyncPorts
    from tests.fakes import RecordingBus, make_profiles
    from tests.sync_fakes import ScriptedMillennium, hl7_channels

    store = SqliteTableStore(":memory:")
    store.create_tables(ALL_TABLES)
    bus = RecordingBus()
    ports = SyncPorts(
        crosswalk=Crosswalk(store),
        bus=bus,
        profiles=make_profiles(SU=Mode.INTEGRATED),
        channels=hl7_channels(ScriptedMillennium()),
        clock=lambda: NOW,
        retry=RetryPolicy(),
    )
    return ports, store, bus


def test_the_webhook_handler_counts_and_puts_its_trace_context_on_the_event(sdk):
    from shared.webhook.handler import WebhookDelivery, WebhookPorts, accept_delivery
    from shared.webhook.signature import new_secret, sign
    from tests.e2e.harness import event_of

    ports, store, bus = _ports_and_store()
    secret = new_secret()
    body = json.dumps(event_of(make_snapshot())).encode()
    signed = {**sign(secret, "msg_1", int(time.time()), body), "content-type": "application/json"}
    deliveries = [
        WebhookDelivery.of(signed, body),
        WebhookDelivery.of({**signed, "webhook-signature": "v1,AAAA"}, body),
    ]
    for delivery in deliveries:
        accept_delivery(
            delivery,
            WebhookPorts(
                secrets=[secret],
                store=store,
                bus=bus,
                profiles=ports.profiles,
                clock=lambda: NOW,
            ),
        )
    [accepted] = sdk.points(names.EVENTS_ACCEPTED)
    [rejected] = sdk.points(names.EVENTS_REJECTED)
    assert dict(accepted.attributes) == {"administration": "SU"}
    assert rejected.attributes["status"] == "401"
    webhook = next(
        s for s in sdk.finished(names.SPAN_WEBHOOK_RECEIVE) if s.attributes["status"] == 202
    )
    assert webhook.attributes["booking_id"] == make_snapshot().booking_id
    [event] = bus.sent
    trace_id = f"{webhook.context.trace_id:032x}"
    assert event.properties[names.TRACE_PARENT_PROPERTY].split("-")[1] == trace_id


def test_intake_counts_a_stale_event(sdk):
    from shared.messages import EventMessage
    from shared.sync.intake import store_event

    ports, _, _ = _ports_and_store()
    for version in (2, 1):
        event = EventMessage(
            event_id=f"e{version}",
            event_type="se.vgr.orbit.booking.updated.v1",
            webhook_id="w",
            correlation_id="c",
            received_at=NOW,
            snapshot=make_snapshot(version=version),
        )
        with telemetry.consumer_span("orbit-events", {}, booking_id="OB", message_id="m"):
            store_event(event, ports)
    [stale] = sdk.points(names.STALE_EVENTS_IGNORED)
    assert stale.value == 1 and dict(stale.attributes) == {"administration": "SU"}
