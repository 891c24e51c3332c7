"""Operations through the whole local run: one connected trace per booking change,
the metrics operators alert on, and the dead-letter tools after a real failure."""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from localrun.hospital_day import hospital_day
from shared import telemetry
from shared import telemetry_names as names
from shared.booking import AdmissionType, BookingSnapshot, BookingStatus
from shared.ops.admin_key import ADMIN_KEY_HEADER
from shared.settings import reset_settings
from shared.telemetry.redacting import RedactingSpanProcessor
from tests.builders import make_snapshot
from tests.e2e.harness import wait_converged
from tools.ops.__main__ import main as ops_cli

pytestmark = pytest.mark.e2e
BOOKING = "OB-2026-000123"
REJECTED_WARD = "SE2321000131-E000000000201"  # mapped to point of care SU-KIR1
REJECTED_POINT_OF_CARE = "SU-KIR1"


class RecordHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@dataclass
class Capture:
    spans: InMemorySpanExporter
    metrics: InMemoryMetricReader
    logs: RecordHandler

    def finished(self) -> list[Any]:  # ReadableSpan; Any spares Optional checks in asserts
        return list(self.spans.get_finished_spans())

    def points(self, metric: str) -> list[Any]:
        data = self.metrics.get_metrics_data()
        found = []
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for item in scope.metrics:
                    if item.name == metric:
                        found += list(item.data.data_points)
        return found


@pytest.fixture
def capture(local_run) -> Iterator[Capture]:
    """The SDK with in-memory exporters, configured for this test only (the app itself
    only ever uses the API), with the redacting processor first as in Azure."""
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(RedactingSpanProcessor())
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    handler = RecordHandler()
    logger = logging.getLogger(names.LOGGER_NAME)
    previous_level = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    telemetry.use_providers(tracer_provider, meter_provider)
    yield Capture(spans, reader, handler)
    telemetry.use_providers()
    logger.removeHandler(handler)
    logger.setLevel(previous_level)
    tracer_provider.shutdown()
    meter_provider.shutdown()


def _eventually(check, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.05)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict | tuple | list) or hasattr(value, "items"):
        items = value.items() if hasattr(value, "items") else enumerate(value)
        for key, item in items:
            yield str(key)
            yield from _strings(item)
    elif value is not None:
        yield str(value)


def _everything_exported(capture: Capture) -> str:
    texts: list[str] = []
    for span in capture.finished():
        texts += [span.name, span.status.description or "", *_strings(dict(span.attributes))]
        for event in span.events:
            texts += [event.name, *_strings(dict(event.attributes or {}))]
    data = capture.metrics.get_metrics_data()
    for resource in data.resource_metrics if data else ():
        for scope in resource.scope_metrics:
            for item in scope.metrics:
                for point in item.data.data_points:
                    texts += list(_strings(dict(point.attributes or {})))
    for record in capture.logs.records:
        texts += [record.getMessage(), *_strings(vars(record))]
    return "\n".join(texts)


def test_one_connected_trace_from_the_webhook_to_every_ack(local_run, orbit, capture):
    assert orbit.send(make_snapshot()).status_code == 202
    assert wait_converged(local_run.simulator.http_url, orbit.latest.values()) == []
    assert _eventually(lambda: capture.points(names.SYNC_LAG_MS)), "no sync lag recorded"

    spans = [s for s in capture.finished() if s.attributes.get("booking_id") == BOOKING]
    by_name: dict[str, list[Any]] = {}
    for span in spans:
        by_name.setdefault(span.name, []).append(span)
    (webhook,) = by_name[names.SPAN_WEBHOOK_RECEIVE]
    (intake,) = by_name[names.SPAN_EVENT_STORE]
    workers = by_name[names.SPAN_SYNC_TARGET]
    sends = by_name[names.SPAN_MLLP_SEND]

    # One trace: every span of the booking change shares the webhook's trace id...
    assert {span.context.trace_id for span in spans} == {webhook.context.trace_id}
    # ...and hangs off it: webhook → intake → encounter worker → dependents, each send
    # a child of the worker that made it.
    ids = {span.context.span_id: span for span in spans}
    assert webhook.parent is None
    assert intake.parent.span_id == webhook.context.span_id
    for worker in workers:
        assert worker.parent.span_id in ids
    worker_ids = {worker.context.span_id for worker in workers}
    assert all(send.parent.span_id in worker_ids for send in sends)
    assert {w.attributes["target"] for w in workers} == {"encounter", "appointment", "bed"}
    assert {(s.attributes["trigger"], s.attributes["ack_code"]) for s in sends} == {
        ("ADT^A05", "AA"),
        ("SIU^S12", "AA"),
        ("ADT^A14", "AA"),
    }
    assert all(len(str(s.attributes["control_id"])) == 20 for s in sends)

    # The metrics the alerts and the workbook read.
    [received] = capture.points(names.EVENTS_RECEIVED)
    [accepted] = capture.points(names.EVENTS_ACCEPTED)
    assert received.value == accepted.value == 1
    assert received.attributes == {"administration": "SU"}
    sent = {
        (p.attributes["trigger"], p.attributes["ack_code"]): p.value
        for p in capture.points(names.HL7_MESSAGES_SENT)
    }
    assert sent == {("ADT^A05", "AA"): 1, ("SIU^S12", "AA"): 1, ("ADT^A14", "AA"): 1}
    [lag] = capture.points(names.SYNC_LAG_MS)
    assert lag.count == 1 and lag.attributes == {"administration": "SU"}

    # Structured log lines carry what operators filter on.
    hl7_lines = [r for r in capture.logs.records if getattr(r, "trigger", None)]
    assert {r.trigger for r in hl7_lines} == {"ADT^A05", "SIU^S12", "ADT^A14"}
    for record in hl7_lines:
        assert record.booking_id == BOOKING
        assert record.target in {"encounter", "appointment", "bed"}
        assert record.ack_code == "AA" and record.attempt == 1 and record.control_id

    # No personal data in any span, event, metric attribute or log record.
    exported = _everything_exported(capture)
    assert orbit.personal_data
    assert not [datum for datum in orbit.personal_data if datum in exported]


def test_rejections_and_in_doubt_resends_are_counted(local_run, orbit, capture):
    local_run.simulator.faults.reject_locations = {REJECTED_POINT_OF_CARE}
    orbit.send(make_snapshot())  # inpatient on ward 201: the encounter is answered AR
    assert _eventually(lambda: capture.points(names.DEAD_LETTERED))
    [dead] = capture.points(names.DEAD_LETTERED)
    assert dict(dead.attributes) == {
        "administration": "SU",
        "target": "encounter",
        "reason": "rejected-by-millennium",
    }
    sent = {
        (p.attributes["trigger"], p.attributes["ack_code"])
        for p in capture.points(names.HL7_MESSAGES_SENT)
    }
    assert ("ADT^A05", "AR") in sent

    local_run.simulator.faults.reject_locations = frozenset()
    local_run.simulator.faults.ack_timeout_rate = 1.0  # applied, but no ACK: in doubt
    orbit.send(make_snapshot(booking_id="OB-2026-000124"))
    assert _eventually(lambda: capture.points(names.RETRIES_SCHEDULED))
    local_run.simulator.faults.ack_timeout_rate = 0.0
    assert _eventually(lambda: capture.points(names.IN_DOUBT_RESENDS), timeout=15)
    assert ("ADT^A05", "none") in {
        (p.attributes["trigger"], p.attributes["ack_code"])
        for p in capture.points(names.HL7_MESSAGES_SENT)
    }
    assert (
        wait_converged(local_run.simulator.http_url, [orbit.latest["OB-2026-000124"]], timeout=30)
        == []
    )


def _cli(*argv: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    out = io.StringIO()
    reset_settings()
    code = ops_cli(list(argv), out=out, confirm=lambda _: "yes", environ=env or {})
    return code, out.getvalue()


def _rejected(snapshot: BookingSnapshot) -> bool:
    """Whether the snapshot wants something on the ward Millennium rejects."""
    ward = snapshot.admission.ward
    return (
        snapshot.status is BookingStatus.BOOKED
        and snapshot.admission.type is AdmissionType.INPATIENT
        and ward is not None
        and ward.hsa_id == REJECTED_WARD
    )


def test_a_rejected_location_is_dead_lettered_listed_and_resubmitted_after_the_fix(
    local_run, orbit
):
    simulator = local_run.simulator
    simulator.faults.reject_locations = {REJECTED_POINT_OF_CARE}
    for event in hospital_day(80):
        assert orbit.post(event).status_code == 202
    affected = sorted(b for b, s in orbit.latest.items() if _rejected(s))
    assert affected, "the day should book someone onto the rejected ward"
    assert local_run.dispatcher.wait_idle(60)
    differences = wait_converged(simulator.http_url, orbit.latest.values(), timeout=1)
    assert differences, "Millennium cannot hold bookings on a ward it rejects"

    code, listing = _cli("deadletters", "list")
    assert code == 0
    assert "rejected-by-millennium" in listing
    assert all(booking in listing for booking in affected)
    code, listing_json = _cli("deadletters", "list", "--json")
    letters = json.loads(listing_json)
    assert {x["bookingId"] for x in letters if x["reason"] == "rejected-by-millennium"} >= set(
        affected
    )
    code, shown = _cli("deadletters", "show", letters[0]["id"])
    assert code == 0 and "location SU-KIR1 is not known to Millennium" in shown

    # The fix: Millennium now knows the location (or the profile maps the ward to a
    # code it knows). Resubmitting brings every booking to the right state.
    simulator.faults.reject_locations = frozenset()
    code, report = _cli("deadletters", "resubmit", "--reason", "rejected-by-millennium")
    assert code == 0, report
    assert wait_converged(simulator.http_url, orbit.latest.values(), timeout=60) == []
    assert simulator.stats()["duplicate_creates"] == 0

    code, after = _cli("deadletters", "list")
    assert "rejected-by-millennium" not in after
    code, trace = _cli("booking", affected[0])
    assert code == 0
    assert "dead-letter-resubmitted" in trace and "in sync with Millennium: yes" in trace
    # Resubmitting again is harmless: nothing is left, nothing changes.
    code, _ = _cli("deadletters", "resubmit", "--reason", "rejected-by-millennium")
    assert code == 1
    assert wait_converged(simulator.http_url, orbit.latest.values(), timeout=5) == []


def test_the_trace_endpoint_needs_the_operators_key_and_hides_the_patient(
    local_run, orbit, monkeypatch
):
    monkeypatch.setenv("OPS_ADMIN_SECRETS", "old-key current-key")
    reset_settings()
    snapshot = make_snapshot()
    orbit.send(snapshot)
    assert wait_converged(local_run.simulator.http_url, orbit.latest.values()) == []
    url = f"{local_run.base_url}/api/ops/bookings/{BOOKING}"

    assert httpx.get(url).status_code == 401
    assert httpx.get(url, headers={ADMIN_KEY_HEADER: "wrong"}).status_code == 401
    answer = httpx.get(url, headers={ADMIN_KEY_HEADER: "current-key"})
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "no-store"
    trace = answer.json()
    assert trace["inSync"] is True
    assert {m["trigger"] for m in trace["messages"]} == {"ADT^A05", "SIU^S12", "ADT^A14"}
    assert not [datum for datum in orbit.personal_data if datum in answer.text]

    shown = httpx.get(url, params={"showPatient": "true"}, headers={ADMIN_KEY_HEADER: "old-key"})
    assert snapshot.patient.identifier.value in shown.text
    again = httpx.get(url, headers={ADMIN_KEY_HEADER: "old-key"}).json()
    assert [a["kind"] for a in again["operatorActions"]] == ["patient-shown"]
    unknown = httpx.get(f"{url}9", headers={ADMIN_KEY_HEADER: "old-key"})
    assert unknown.status_code == 404
    assert unknown.headers["content-type"].startswith("application/problem+json")
