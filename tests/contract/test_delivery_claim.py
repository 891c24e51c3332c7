"""Webhook idempotency under concurrency, against both TableStore adapters.

Eight deliveries with one ``webhook-id`` race through the real handler at once.
The claim is an insert-if-absent in the ``deliveries`` table (a unique key in
SQLite, a conditional insert in Table storage), so exactly one of them has an
effect, whatever the adapter.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import threading
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import pytest

from shared.crosswalk.port import TableStore
from shared.names import TABLE_DELIVERIES
from shared.profiles import Mode
from shared.queue.port import OutboundMessage
from shared.webhook.handler import WebhookDelivery, WebhookPorts, WebhookResult, accept_delivery
from shared.webhook.idempotency import Claim, DeliveryRecord, claim_delivery
from shared.webhook.signature import sign
from tests.builders import make_snapshot
from tests.fakes import RecordingBus, make_profiles


class NetworkBus(RecordingBus):
    """A bus whose send takes as long as a round trip to Service Bus does: the time
    in which a twin delivery could slip through if the webhook-id were not claimed."""

    def send(self, messages: Sequence[OutboundMessage]) -> None:
        time.sleep(SEND_SECONDS)
        super().send(messages)


SEND_SECONDS = 0.02
SECRET = "whsec_" + base64.b64encode(b"claim-contract-secret-32-bytes!!").decode()
TWINS = 8


@pytest.fixture
def deliveries(store: TableStore) -> TableStore:
    store.create_tables([TABLE_DELIVERIES])
    return store


def _body(version: int) -> bytes:
    snapshot = make_snapshot(version=version)
    event = {
        "specversion": "1.0",
        "id": f"evt-claim-v{version}",
        "source": "orbit://vgr/SU",
        "type": "se.vgr.orbit.booking.updated.v1",
        "subject": f"bookings/{snapshot.booking_id}",
        "data": snapshot.model_dump(mode="json", by_alias=True),
    }
    return json.dumps(event).encode()


def _race(store: TableStore, bodies: list[bytes]) -> tuple[list[WebhookResult], NetworkBus]:
    """Post every body at the same moment, all with one new webhook-id."""
    webhook_id = f"msg_{uuid.uuid4().hex}"
    bus = NetworkBus()
    start = threading.Barrier(len(bodies))
    now = dt.datetime.now(dt.UTC)

    def deliver(body: bytes) -> WebhookResult:
        headers = sign(SECRET, webhook_id, int(now.timestamp()), body)
        headers["content-type"] = "application/cloudevents+json"
        start.wait()
        return accept_delivery(
            WebhookDelivery.of(headers, body),
            WebhookPorts(
                secrets=[SECRET],
                store=store,
                bus=bus,
                profiles=make_profiles(SU=Mode.INTEGRATED),
                clock=lambda: now,
            ),
        )

    with ThreadPoolExecutor(len(bodies)) as pool:
        results = list(pool.map(deliver, bodies))
    return results, bus


def test_of_concurrent_deliveries_with_different_bodies_exactly_one_has_an_effect(
    deliveries: TableStore,
) -> None:
    results, bus = _race(deliveries, [_body(version) for version in range(1, TWINS + 1)])

    statuses = sorted(result.status for result in results)
    assert statuses == [202] + [422] * (TWINS - 1)
    refused = [json.loads(r.body()) for r in results if r.status == 422]
    assert {problem["type"].rsplit("/", 1)[1] for problem in refused} == {"webhook-id-reused"}
    (accepted,) = [json.loads(r.body()) for r in results if r.status == 202]
    (message,) = bus.sent  # one event on the queue, and it is the accepted one
    assert json.loads(message.body)["event_id"] == accepted["eventId"]


def test_concurrent_retries_of_one_delivery_all_get_the_same_202_and_one_message_id(
    deliveries: TableStore,
) -> None:
    results, bus = _race(deliveries, [_body(3)] * TWINS)

    assert [result.status for result in results] == [202] * TWINS
    assert len({result.body() for result in results}) == 1  # same correlationId for all
    assert len({message.message_id for message in bus.sent}) == 1  # duplicates are dropped


def test_a_claim_is_an_insert_if_absent(deliveries: TableStore) -> None:
    webhook_id = f"msg_{uuid.uuid4().hex}"

    def record(correlation_id: str) -> DeliveryRecord:
        return DeliveryRecord(
            event_id="evt-1",
            booking_id="OB-1",
            version=1,
            correlation_id=correlation_id,
            body_digest="d",
            accepted_at=dt.datetime(2026, 11, 22, tzinfo=dt.UTC),
        )

    start = threading.Barrier(TWINS)

    def claim(index: int) -> Claim:
        start.wait()
        return claim_delivery(deliveries, webhook_id, record(f"c{index}"))

    with ThreadPoolExecutor(TWINS) as pool:
        claims = list(pool.map(claim, range(TWINS)))

    winners = [claim for claim in claims if claim.won]
    assert len(winners) == 1
    assert {claim.record.correlation_id for claim in claims} == {winners[0].record.correlation_id}


def _deliver(
    store: TableStore, bus: RecordingBus, webhook_id: str, body: bytes, now: dt.datetime
) -> WebhookResult:
    headers = sign(SECRET, webhook_id, int(time.time()), body)  # signed now, whatever ``now``
    headers["content-type"] = "application/cloudevents+json"
    ports = WebhookPorts(
        secrets=[SECRET],
        store=store,
        bus=bus,
        profiles=make_profiles(SU=Mode.INTEGRATED),
        clock=lambda: now,
    )
    return accept_delivery(WebhookDelivery.of(headers, body), ports)


def _reserialised(body: bytes) -> bytes:
    """The same event as a sender that rebuilds its JSON for a retry might send it."""
    return json.dumps(json.loads(body), separators=(",", ":"), sort_keys=True).encode()


def test_a_retry_after_a_503_is_accepted_though_serialised_anew(deliveries: TableStore) -> None:
    """Before, the 503'd delivery's claim kept its body digest: the retry got 422
    webhook-id-reused, which a sender never retries, and the event was lost."""
    webhook_id, now, bus = f"msg_{uuid.uuid4().hex}", dt.datetime.now(dt.UTC), RecordingBus()
    bus.down = True
    assert _deliver(deliveries, bus, webhook_id, _body(4), now).status == 503
    bus.down = False

    retry = _deliver(deliveries, bus, webhook_id, _reserialised(_body(4)), now)

    assert retry.status == 202
    (message,) = bus.sent
    assert json.loads(message.body)["event_id"] == "evt-claim-v4"


def test_a_claim_its_503_could_not_give_up_is_taken_over_once_stale(
    deliveries: TableStore,
) -> None:
    webhook_id, bus = f"msg_{uuid.uuid4().hex}", RecordingBus()
    first = dt.datetime.now(dt.UTC)
    held = DeliveryRecord("evt-claim-v5", "OB-1", 5, "c-first", "other-digest", first)
    claim_delivery(deliveries, webhook_id, held)  # never accepted, never released

    soon = _deliver(deliveries, bus, webhook_id, _body(5), first + dt.timedelta(minutes=1))
    later = _deliver(deliveries, bus, webhook_id, _body(5), first + dt.timedelta(minutes=6))

    assert soon.status == 422  # a twin may still be under way: its body wins
    assert later.status == 202
    assert len(bus.sent) == 1


def test_an_accepted_delivery_is_never_taken_over(deliveries: TableStore) -> None:
    webhook_id, now, bus = f"msg_{uuid.uuid4().hex}", dt.datetime.now(dt.UTC), RecordingBus()
    assert _deliver(deliveries, bus, webhook_id, _body(6), now).status == 202

    later = now + dt.timedelta(hours=1)
    assert _deliver(deliveries, bus, webhook_id, _body(7), later).status == 422
    assert len(bus.sent) == 1
