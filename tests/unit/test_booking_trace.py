"""The per-booking trace and its HTTP answer, from a crosswalk filled by the real
intake and worker (no queues, no sockets)."""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path

import pytest

from shared.crosswalk.repository import Crosswalk
from shared.crosswalk.sqlite import SqliteTableStore
from shared.deadletters.port import Letter
from shared.messages import EventMessage
from shared.names import ALL_TABLES, QUEUE_ENCOUNTER
from shared.ops.admin_key import ADMIN_KEY_HEADER, is_authorised, key_id
from shared.ops.booking_trace import HIDDEN_PROTECTED, PATIENT_NOT_SHOWN, booking_trace
from shared.ops.http_api import booking_trace_answer
from shared.profiles import load_profiles
from shared.sync.intake import store_event
from shared.sync.policy import RetryPolicy
from shared.sync.ports import SyncPorts
from tests.builders import make_patient, make_snapshot, synthetic_personnummer
from tests.fakes import RecordingBus
from tests.sync_fakes import Pump, ScriptedMillennium, hl7_channels
from tools.ops.render import trace_text

NOW = dt.datetime(2026, 11, 22, 8, 0, tzinfo=dt.UTC)
PROFILES = load_profiles(str(Path(__file__).resolve().parents[2] / "profiles"))
BOOKING = "OB-2026-000123"


class World:
    def __init__(self, script: list | None = None) -> None:
        store = SqliteTableStore(":memory:")
        store.create_tables(ALL_TABLES)
        self.crosswalk = Crosswalk(store)
        self.bus = RecordingBus()
        self.ports = SyncPorts(
            crosswalk=self.crosswalk,
            bus=self.bus,
            profiles=PROFILES,
            channels=hl7_channels(ScriptedMillennium(list(script or []))),
            clock=lambda: NOW,
            retry=RetryPolicy(),
        )
        self.pump = Pump(self.ports, self.bus)

    def accept(self, snapshot, *, pump: bool = True) -> None:
        event = EventMessage(
            event_id=f"event-v{snapshot.version}",
            event_type="se.vgr.orbit.booking.updated.v1",
            webhook_id="w",
            correlation_id="corr-1",
            received_at=NOW - dt.timedelta(seconds=2),
            snapshot=snapshot,
        )
        store_event(event, self.ports)
        if pump:
            self.pump.run()

    def trace(self, **kwargs):
        return booking_trace(BOOKING, self.crosswalk, clock=lambda: NOW, **kwargs)


def personal(snapshot) -> list[str]:
    patient = snapshot.patient
    return [patient.identifier.value, patient.family_name, patient.given_name]


def test_a_converged_booking_shows_events_messages_and_lag_without_personal_data():
    world = World()
    snapshot = make_snapshot()
    world.accept(snapshot)
    trace = world.trace(parked=[])

    assert trace["inSync"] is True
    assert trace["patient"] == PATIENT_NOT_SHOWN
    assert trace["snapshot"]["version"] == 1 and trace["snapshot"]["correlationId"] == "corr-1"
    assert [(e["kind"], e["eventId"]) for e in trace["events"]] == [("event-stored", "event-v1")]
    assert [(m["trigger"], m["ack"]) for m in trace["messages"]] == [
        ("ADT^A05", "AA"),
        ("SIU^S12", "AA"),
        ("ADT^A14", "AA"),
    ]
    assert all(len(m["controlId"]) == 20 and m["attempt"] == 1 for m in trace["messages"])
    assert trace["converged"] == [{"version": 1, "at": NOW.isoformat(), "lagMs": 2000}]
    encounter = trace["targets"]["encounter"]
    assert encounter["state"] == "in sync" and encounter["patient"] == "same as snapshot"
    assert encounter["desired"] == encounter["confirmed"]
    ward = snapshot.admission.ward
    assert ward is not None and encounter["desired"]["location_hsa_id"] == ward.hsa_id
    assert "patient" not in encounter["desired"]
    text = json.dumps(trace, ensure_ascii=False)
    assert not [datum for datum in personal(snapshot) if datum in text]


def test_a_rejected_message_shows_the_block_and_the_waiting_dependents():
    world = World(script=["AR"])
    world.accept(make_snapshot())
    trace = world.trace()
    encounter = trace["targets"]["encounter"]
    assert encounter["state"] == "blocked"
    assert encounter["blocked"]["reason"] == "rejected-by-millennium"
    assert "MSH-10" in encounter["blocked"]["description"]
    assert encounter["confirmed"] == "none in Millennium" and encounter["differs"] == ["existence"]
    assert trace["targets"]["appointment"]["state"] == "not yet sent"
    assert [(b["target"], b["reason"]) for b in trace["blocks"]] == [
        ("encounter", "rejected-by-millennium")
    ]
    assert trace["messages"][0]["ack"] == "AR"
    assert trace["inSync"] is False and trace["converged"] == []
    assert "tools.ops deadletters" in trace["deadLetters"]["parked"]  # not looked up


def test_parked_dead_letters_of_the_booking_are_listed():
    world = World(script=["AR"])
    world.accept(make_snapshot())
    mine = Letter("7", QUEUE_ENCOUNTER, "rejected-by-millennium", "why", BOOKING, "m", b"")
    other = Letter("8", QUEUE_ENCOUNTER, "rejected-by-millennium", "why", "OB-other", "m", b"")
    parked = world.trace(parked=[mine, other])["deadLetters"]["parked"]
    assert [p["id"] for p in parked] == ["7"]


def test_a_corrected_patient_shows_as_differs_without_naming_anyone():
    world = World()
    world.accept(make_snapshot())
    corrected = make_snapshot(version=2, patient=make_patient(2, family_name="Öberg"))
    world.accept(corrected, pump=False)
    encounter = world.trace()["targets"]["encounter"]
    assert encounter["patient"].startswith("differs: another person")
    assert "patient" in encounter["differs"]
    assert "Öberg" not in json.dumps(encounter, ensure_ascii=False)


def test_the_patient_is_shown_only_when_asked_and_the_access_is_audited():
    world = World()
    snapshot = make_snapshot()
    world.accept(snapshot)
    shown = world.trace(show_patient=True, accessed_by="cli")
    assert shown["patient"]["identifier"]["value"] == snapshot.patient.identifier.value
    later = world.trace()
    assert later["patient"] == PATIENT_NOT_SHOWN
    assert [(a["kind"], a["detail"]) for a in later["operatorActions"]] == [
        ("patient-shown", "cli")
    ]


def test_protected_identity_hides_location_time_and_descriptions():
    world = World(script=["AR"])
    snapshot = make_snapshot(patient=make_patient(3, protected=True))
    world.accept(snapshot)
    parked = [
        Letter("1", QUEUE_ENCOUNTER, "rejected-by-millennium", "at SU-KIR1", BOOKING, "m", b"")
    ]
    trace = world.trace(parked=parked)
    encounter = trace["targets"]["encounter"]
    desired = encounter["desired"]
    assert desired["locationAndTime"] == HIDDEN_PROTECTED
    assert not {"location_hsa_id", "admit_at", "surgeon_hsa_id"} & set(desired)
    assert encounter["blocked"]["description"] == HIDDEN_PROTECTED
    assert trace["deadLetters"]["parked"][0]["description"] == HIDDEN_PROTECTED
    text = json.dumps(trace, ensure_ascii=False)
    ward = snapshot.admission.ward
    assert ward is not None and ward.hsa_id not in text and "SU-KIR1" not in text
    assert trace["snapshot"]["protectedIdentity"] is True


def test_an_unknown_booking_has_no_trace():
    assert World().trace() is None


# --- the operators' key and the HTTP answer ------------------------------------------------


def test_the_key_check_accepts_any_configured_key_and_nothing_else():
    assert is_authorised("new", ["old", "new"])
    assert not is_authorised("", ["old"])
    assert not is_authorised(None, ["old"])
    assert not is_authorised("old", [])
    assert not is_authorised("ol", ["old"])


def answer(
    world: World, booking: str = BOOKING, *, key: str | None = "k1", query=None, keys=("k1",)
):
    headers = {ADMIN_KEY_HEADER.upper(): key} if key is not None else {}
    return booking_trace_answer(
        booking,
        headers,
        query or {},
        keys=keys,
        crosswalk=world.crosswalk,
        dead_letters=None,
        clock=lambda: NOW,
    )


@pytest.fixture
def synced() -> World:
    world = World()
    world.accept(make_snapshot())
    return world


def test_the_endpoint_is_off_without_keys_and_closed_without_the_right_one(synced):
    off = answer(synced, keys=())
    assert off.status == 503 and b"OPS_ADMIN_SECRETS" in off.body
    assert answer(synced, key=None).status == 401
    assert answer(synced, key="k2").status == 401
    assert answer(synced, "bad id/..").status == 400
    missing = answer(synced, "OB-2026-999999")
    assert missing.status == 404 and missing.content_type == "application/problem+json"
    assert missing.headers["Cache-Control"] == "no-store"


def test_the_endpoint_answers_the_trace_and_the_patient_only_on_request(synced):
    plain = answer(synced)
    assert plain.status == 200 and plain.headers["Cache-Control"] == "no-store"
    snapshot = make_snapshot()
    assert snapshot.patient.identifier.value.encode() not in plain.body
    assert json.loads(plain.body)["inSync"] is True
    shown = answer(synced, query={"showPatient": "true"})
    assert snapshot.patient.identifier.value.encode() in shown.body


def test_showing_the_patient_is_audited_with_the_key_id_and_correlation_id(synced):
    shown = answer(synced, key="k1", query={"showPatient": "true"})
    correlation = shown.headers["X-Correlation-Id"]
    (action,) = json.loads(answer(synced).body)["operatorActions"]
    assert action["kind"] == "patient-shown" and action["detail"] == "ops-api"
    assert action["keyId"] == key_id("k1") and action["keyId"] != "k1"
    assert action["correlationId"] == correlation
    assert "k1" not in json.dumps(action)


def test_key_ids_are_stable_short_and_tell_keys_apart():
    assert key_id("k1") == key_id(" k1 ") and key_id("k1") != key_id("k2")
    assert key_id("k1").startswith("k-") and len(key_id("k1")) == 14


def test_every_key_check_is_logged_without_the_key_and_counted(synced, caplog, monkeypatch):
    counted: list[str] = []
    monkeypatch.setattr("shared.telemetry.ops_key_checked", counted.append)
    secret = "s3cr3t-operators-key-0123456789"
    caplog.set_level(logging.INFO, logger="orbitsync.ops")
    answer(synced, key=secret, keys=(secret,))
    answer(synced, key="wrong-key-guess", keys=(secret,))
    answer(synced, key=None, keys=(secret,))
    assert counted == ["accepted", "no-matching-key", "missing-key"]
    lines = [record.getMessage() for record in caplog.records]
    assert len(lines) == 3
    assert f"result=accepted key={key_id(secret)}" in lines[0]
    assert "result=no-matching-key key=-" in lines[1]
    assert secret not in caplog.text and "wrong-key-guess" not in caplog.text


def test_a_booking_id_that_is_an_identity_number_is_refused_without_echo(synced):
    number = synthetic_personnummer(4)
    for booking in (number, f"OB-{number}"):
        refused = answer(synced, booking)
        assert refused.status == 400 and number.encode() not in refused.body


def test_an_application_errors_text_is_in_the_trace_while_the_booking_retries():
    """Before, the ERR text of an AE reached operators only in the dead letter, after
    the profile's ae_retry_limit: while the booking retried, the trace showed
    'ACK AE' and nothing to take to Cerner."""
    world = World(script=["AE"])
    world.accept(make_snapshot())
    (answered,) = [m for m in world.trace()["messages"] if m["ack"] == "AE"]
    assert answered["why"] == "ERR text"
    assert "(ERR text)" in trace_text(world.trace())


def test_a_resend_after_a_resubmit_is_counted_as_the_send_millennium_sees():
    """The attempt starts again at 1 when an operator resubmits an in-doubt message;
    before, the trace then said 'send #1' for the fifth copy of one MSH-10."""
    from shared.crosswalk.repository import AuditRecord

    world = World()
    world.accept(make_snapshot(), pump=False)
    for minute, (kind, attempt) in enumerate([("in-doubt", 1), ("in-doubt", 2), ("ack", 1)]):
        world.crosswalk.audit(
            BOOKING,
            AuditRecord(
                kind=kind,
                at=NOW + dt.timedelta(minutes=minute),
                target="encounter",
                trigger="ADT^A05",
                control_id="ABCDEFGHIJKLMNOPQRST",
                ack_code="AA" if kind == "ack" else "",
                extra={"attempt": attempt},
            ),
        )
    assert [m["send"] for m in world.trace()["messages"]] == [1, 2, 3]
    assert "send #3" in trace_text(world.trace())
