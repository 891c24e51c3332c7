"""Synthetic examples for the published contract, produced by the real handler.

Every response example in ``docs/contract/openapi.json`` is what `accept_delivery`
actually answered to a crafted delivery, so the documentation cannot drift from
the code. The patient is synthetic: a birth number in the 980-999 test series
with its check digit computed, and a made-up name.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from shared.crosswalk.port import TableStore
from shared.errors import QueueUnavailable
from shared.identity import IdentifierSystem, with_check_digit
from shared.names import TABLE_DELIVERIES
from shared.profiles import Mode, PerAdmissionType, Profile, Profiles
from shared.queue.port import DeadLetter, OutboundMessage
from shared.webhook.handler import WebhookDelivery, WebhookPorts, WebhookResult, accept_delivery
from shared.webhook.media import MAX_BODY_BYTES
from shared.webhook.signature import sign

EXAMPLE_SECRET = "whsec_" + "b3JiaXQtbWlsbGVubml1bS1leGFtcGxlLW9ubHkh"
"""A documentation-only secret (base64 of ``orbit-millennium-example-only!``)."""

_SOMEONE_ELSES_SECRET = "whsec_" + "c29tZW9uZS1lbHNlcy1zZWNyZXQtMzItYnl0ZXMh"

SIGNING_EXAMPLE_BODY = b'{"specversion":"1.0","id":"5d0c2d8e-8a4b-4a3e-9d53-1d3c2f1f0a11"}'
"""A short body for the worked signing example (a real delivery signs the whole event)."""
SIGNING_EXAMPLE_ID = "msg_2f9Xq"
SIGNING_EXAMPLE_TIMESTAMP = 1795331700  # 2026-11-22T07:15:00Z

EXAMPLE_TIME = dt.datetime(2026, 11, 22, 7, 15, tzinfo=dt.UTC)
CET = dt.timezone(dt.timedelta(hours=1))


def example_personnummer() -> str:
    return with_check_digit(IdentifierSystem.PERSONNUMMER, "19121212982")


def example_event(**data_changes: Any) -> dict[str, Any]:
    """The contract's example event (a booked inpatient operation at SU)."""
    data: dict[str, Any] = {
        "bookingId": "OB-2026-000123",
        "version": 3,
        "status": "booked",
        "administration": "SU",
        "patient": {
            "identifier": {"system": "personnummer", "value": example_personnummer()},
            "familyName": "Tolvansson",
            "givenName": "Tolvan",
            "protectedIdentity": False,
        },
        "procedure": {"code": "NFB49", "text": "Primär total höftledsplastik"},
        "diagnosis": {"code": "M16.1"},
        "operatingUnit": {"hsaId": "SE2321000131-E000000000101", "name": "Operation Sahlgrenska"},
        "theatre": "SAL 5",
        "surgeon": {"hsaId": "SE2321000131-P000000000456"},
        "plannedStart": "2026-12-01T08:00:00+01:00",
        "plannedEnd": "2026-12-01T10:00:00+01:00",
        "admission": {
            "type": "inpatient",
            "ward": {"hsaId": "SE2321000131-E000000000202", "name": "Ortopedavdelning 1"},
            "admitAt": "2026-11-30T18:00:00+01:00",
            "expectedNights": 3,
        },
        "cancellationReason": None,
    }
    data.update(data_changes)
    kind = "cancelled" if data["status"] == "cancelled" else "updated"
    return {
        "specversion": "1.0",
        "id": "5d0c2d8e-8a4b-4a3e-9d53-1d3c2f1f0a11",
        "source": f"orbit://vgr/{data['administration']}",
        "type": f"se.vgr.orbit.booking.{kind}.v1",
        "subject": f"bookings/{data['bookingId']}",
        "time": "2026-11-22T08:15:00+01:00",
        "datacontenttype": "application/json",
        "data": data,
    }


def example_cancellation() -> dict[str, Any]:
    return example_event(version=4, status="cancelled", cancellationReason="Patienten förhindrad")


@dataclass(frozen=True)
class ResponseExample:
    name: str
    summary: str
    status: int
    document: dict[str, Any]
    headers: dict[str, str]


class _Bus:
    """Accepts everything (or nothing while ``down``)."""

    def __init__(self) -> None:
        self.down = False
        self.broken = False

    def send(self, messages: Sequence[OutboundMessage]) -> None:
        if self.broken:
            raise RuntimeError("example of an unexpected failure")
        if self.down:
            raise QueueUnavailable("example outage")

    def dead_letter(self, letter: DeadLetter) -> None:
        """Not used by the webhook."""


def _profile(code: str, mode: Mode) -> Profile:
    codes = PerAdmissionType(inpatient="I", daySurgery="O", outpatient="O")
    return Profile(
        code=code,
        name=code,
        mode=mode,
        sending_facility=code,
        receiving_application="MILLENNIUM",
        receiving_facility="VGR",
        facility=code,
        patient_class=codes,
        encounter_type=codes,
        locations={},
    )


class _Examples:
    """Sends crafted deliveries through the real handler and keeps the answers."""

    def __init__(self, store: TableStore) -> None:
        self.store = store
        self.bus = _Bus()
        self.profiles = Profiles(
            {"SU": _profile("SU", Mode.INTEGRATED), "NU": _profile("NU", Mode.OFF)}
        )
        self._ids: Iterator[str] = (
            str(uuid.uuid5(uuid.NAMESPACE_URL, f"orbit-millennium-example-{n}"))
            for n in itertools.count()
        )
        self._webhook_ids = itertools.count(1)

    def deliver(
        self,
        body: bytes,
        *,
        webhook_id: str | None = None,
        secret: str = EXAMPLE_SECRET,
        content_type: str = "application/cloudevents+json",
    ) -> WebhookResult:
        webhook_id = webhook_id or f"msg_example_{next(self._webhook_ids)}"
        headers = sign(secret, webhook_id, int(time.time()), body)
        headers["content-type"] = content_type
        return accept_delivery(
            WebhookDelivery.of(headers, body),
            WebhookPorts(
                secrets=[EXAMPLE_SECRET],
                store=self.store,
                bus=self.bus,
                profiles=self.profiles,
                clock=lambda: EXAMPLE_TIME,
                new_id=lambda: next(self._ids),
            ),
        )


def _json(document: dict[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False).encode()


def response_examples(store: TableStore) -> list[ResponseExample]:
    """Every documented response, as the handler answered it. ``store`` must be an
    empty table store (e.g. ``SqliteTableStore(":memory:")``)."""
    store.create_tables([TABLE_DELIVERIES])
    run = _Examples(store)
    cases: list[tuple[str, str, Callable[[], WebhookResult]]] = [
        (
            "accepted",
            "Accepted and durably enqueued",
            lambda: run.deliver(_json(example_event()), webhook_id="msg_2f9Xq"),
        ),
        (
            "replayed",
            "The same webhook-id again: the original answer",
            lambda: run.deliver(_json(example_event()), webhook_id="msg_2f9Xq"),
        ),
        ("invalidJson", "The body is not JSON", lambda: run.deliver(b'{"specversion": "1.0",')),
        (
            "invalidSchema",
            "Fields do not follow the v1 schema",
            lambda: run.deliver(_json(_schema_errors())),
        ),
        (
            "badSignature",
            "No signature matches a configured secret",
            lambda: run.deliver(_json(example_event()), secret=_SOMEONE_ELSES_SECRET),
        ),
        (
            "administrationOff",
            "The administration is not switched on",
            lambda: run.deliver(_json(example_event(administration="NU"))),
        ),
        (
            "tooLarge",
            "The body is over 256 KiB",
            lambda: run.deliver(_json({**example_event(), "padding": "x" * MAX_BODY_BYTES})),
        ),
        (
            "wrongMediaType",
            "Not CloudEvents JSON",
            lambda: run.deliver(_json(example_event()), content_type="text/plain"),
        ),
        (
            "semanticErrors",
            "Bad check digit and end before start",
            lambda: run.deliver(_json(_semantic_errors())),
        ),
        (
            "unknownAdministration",
            "No profile for the administration",
            lambda: run.deliver(_json(example_event(administration="XYZ"))),
        ),
        (
            "webhookIdReused",
            "A webhook-id reused for a different body",
            lambda: run.deliver(_json(example_cancellation()), webhook_id="msg_2f9Xq"),
        ),
        (
            "internalError",
            "An unexpected failure of ours",
            lambda: _while(run.bus, "broken", lambda: run.deliver(_json(example_event(version=5)))),
        ),
        (
            "queueUnavailable",
            "The queue cannot be reached",
            lambda: _while(run.bus, "down", lambda: run.deliver(_json(example_event(version=6)))),
        ),
    ]
    examples = []
    for name, summary, deliver in cases:
        result = deliver()
        examples.append(
            ResponseExample(name, summary, result.status, _document(result), dict(result.headers))
        )
    return examples


def _while(bus: _Bus, flag: str, action: Callable[[], WebhookResult]) -> WebhookResult:
    setattr(bus, flag, True)
    try:
        return action()
    finally:
        setattr(bus, flag, False)


def _document(result: WebhookResult) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(result.body())
    return document


def _schema_errors() -> dict[str, Any]:
    event = example_event()
    event["data"]["patient"]["identifier"]["system"] = "passport"
    del event["data"]["version"]
    return event


def _semantic_errors() -> dict[str, Any]:
    number = example_personnummer()
    wrong = number[:-1] + str((int(number[-1]) + 1) % 10)
    event = example_event(plannedEnd="2026-12-01T07:00:00+01:00")
    event["data"]["patient"]["identifier"]["value"] = wrong
    return event
