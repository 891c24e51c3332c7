"""The channel seam: the sync core speaks operations, channels speak the wire.

* the core (shared/sync) imports nothing of HL7 or MLLP, directly or through
  another module;
* a second channel is one module (tests/fake_channel.py) plus one registration;
* an in-doubt intent written by the layout before channels is still read and
  resent with the same MSH-10 (a deployed stamp's in-doubt sends survive).
"""

from __future__ import annotations

import ast
import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

from shared.crosswalk.repository import TARGET_PREFIX, Crosswalk
from shared.crosswalk.sqlite import SqliteTableStore
from shared.hl7.ack import message_control_id
from shared.hl7.channel import Hl7Channel
from shared.messages import EventMessage
from shared.names import ALL_TABLES, TABLE_BOOKINGS
from shared.profiles import load_profiles
from shared.sync.channel import Operation, OperationKind, SendContext
from shared.sync.intake import store_event
from shared.sync.policy import RetryPolicy
from shared.sync.ports import SyncPorts
from shared.targets import Target, desired_facts
from tests.builders import make_snapshot
from tests.fake_channel import FakeFhirAppointments, InDoubt, Rejected
from tests.fakes import RecordingBus
from tests.sync_fakes import Pump, ScriptedMillennium, hl7_channels

ROOT = Path(__file__).resolve().parents[2]
NOW = dt.datetime(2026, 11, 22, 8, 0, tzinfo=dt.UTC)
PROFILES = load_profiles(str(ROOT / "profiles"))
WIRE_PACKAGES = ("shared.hl7", "shared.mllp")


def test_no_module_of_the_sync_core_imports_hl7_or_mllp() -> None:
    for path in sorted((ROOT / "shared" / "sync").glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            for name in names:
                assert not name.startswith(WIRE_PACKAGES), f"{path.name} imports {name}"


def test_importing_the_sync_core_loads_no_hl7_or_mllp_module() -> None:
    code = (
        "import sys, shared.sync.handlers, shared.sync.settlement, shared.sync.convergence;"
        f"print([m for m in sys.modules if m.startswith({WIRE_PACKAGES!r})])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


class World:
    def __init__(self, appointments: FakeFhirAppointments) -> None:
        store = SqliteTableStore(":memory:")
        store.create_tables(ALL_TABLES)
        self.store = store
        self.bus = RecordingBus()
        self.hl7 = ScriptedMillennium()
        self.appointments = appointments
        # The one registration: the appointment target gets the second channel.
        channels = {**hl7_channels(self.hl7), Target.APPOINTMENT: appointments}
        self.ports = SyncPorts(
            Crosswalk(store), self.bus, PROFILES, channels, lambda: NOW, RetryPolicy()
        )
        self.pump = Pump(self.ports, self.bus)

    def event(self, **overrides: object) -> None:
        self.arrive(**overrides)
        self.pump.run()

    def arrive(self, **overrides: object) -> None:
        """The intake stores the event and kicks its targets; nothing is sent yet."""
        snapshot = make_snapshot(**overrides)
        store_event(
            EventMessage(
                event_id=f"e{snapshot.version}",
                event_type="se.vgr.orbit.booking.updated.v1",
                webhook_id=f"w{snapshot.version}",
                correlation_id="c",
                received_at=NOW,
                snapshot=snapshot,
            ),
            self.ports,
        )

    def confirmed(self, target: Target) -> object:
        return Crosswalk(self.store).load_targets("OB-2026-000123")[target].confirmed


def test_a_second_channel_serves_a_target_beside_hl7_with_the_same_guarantees() -> None:
    world = World(FakeFhirAppointments())
    world.event()
    assert world.hl7.triggers() == ["ADT^A05", "ADT^A14"]
    assert [label for label, _, _ in world.appointments.sent] == ["Appointment create"]
    assert all(world.confirmed(target) is not None for target in Target)

    world.event(version=2, status="cancelled")
    assert [label for label, _, _ in world.appointments.sent][-1] == "Appointment remove"
    assert world.hl7.triggers()[-1] == "ADT^A38"  # the encounter still goes last
    assert all(world.confirmed(target) is None for target in Target)


def test_the_second_channel_gets_in_doubt_resends_of_the_same_payload() -> None:
    world = World(FakeFhirAppointments(script=[InDoubt("timeout")]))
    world.event()
    (first, second) = world.appointments.sent
    assert first[:2] == second[:2] and (first[2], second[2]) == (1, 2)


def test_a_rejection_by_the_second_channel_blocks_its_target_with_its_key_name() -> None:
    world = World(FakeFhirAppointments(script=[Rejected("422", "unknown slot")]))
    world.event()
    (error,) = world.pump.errors
    assert error.reason == "rejected-by-millennium"
    assert "request id" in str(error) and "422: unknown slot" in str(error)


def test_an_in_doubt_intent_of_the_layout_before_channels_is_resent_unchanged() -> None:
    """A row written by the previous release: trigger, controlId, message, encoding."""
    store = SqliteTableStore(":memory:")
    store.create_tables(ALL_TABLES)
    bus = RecordingBus()
    millennium = ScriptedMillennium()
    ports = SyncPorts(
        Crosswalk(store), bus, PROFILES, hl7_channels(millennium), lambda: NOW, RetryPolicy()
    )
    snapshot = make_snapshot()
    store_event(
        EventMessage(
            event_id="e1",
            event_type="se.vgr.orbit.booking.created.v1",
            webhook_id="w1",
            correlation_id="c",
            received_at=NOW,
            snapshot=snapshot,
        ),
        ports,
    )
    facts = desired_facts(snapshot, Target.ENCOUNTER)
    assert facts is not None
    channel = Hl7Channel(Target.ENCOUNTER, millennium, processing_id="T")
    operation = Operation(Target.ENCOUNTER, OperationKind.CREATE, facts, facts)
    prepared = channel.prepare(
        operation, SendContext(snapshot.booking_id, 1, 0, PROFILES.get("SU"), NOW)
    )
    legacy_intent = {
        "trigger": "ADT^A05",
        "controlId": prepared.key,
        "version": 1,
        "message": prepared.payload.rstrip("\r"),  # that release sent no final CR
        "encoding": "utf-8",
        "confirms": facts.model_dump_json(),
        "createdAt": NOW.isoformat(),
        "attempts": 1,
    }
    store.insert(
        TABLE_BOOKINGS,
        snapshot.booking_id,
        TARGET_PREFIX + "encounter",
        {
            "target": "encounter",
            "confirmed": "",
            "confirmedVersion": 0,
            "seq": 0,
            "intent": json.dumps(legacy_intent, ensure_ascii=False),
            "aeAttempts": 0,
            "refusals": 0,
            "retries": 1,
            "blocked": "",
        },
    )
    state = Crosswalk(store).load_targets(snapshot.booking_id)[Target.ENCOUNTER]
    assert state.intent is not None
    assert (state.intent.prepared.channel, state.intent.key) == ("hl7v2", prepared.key)

    Pump(ports, bus).run()
    resent = millennium.sent[0]
    assert (resent.trigger, resent.control_id) == ("ADT^A05", prepared.key)
    assert message_control_id(resent.message) == prepared.key
    assert resent.message == prepared.payload
    confirmed = Crosswalk(store).load_targets(snapshot.booking_id)[Target.ENCOUNTER]
    assert confirmed.confirmed == facts and confirmed.intent is None


def test_a_message_in_doubt_on_a_channel_that_no_longer_serves_its_target_blocks_it() -> None:
    """A release that moves a target to another channel while one of its messages is
    in doubt: the worker sends no other channel's payload, and says what a resubmit
    can do (before, 'check Millennium, then resubmit', which was refused again)."""
    appointments = FakeFhirAppointments(script=[InDoubt("timeout")])
    world = World(appointments)
    channels = world.ports.channels
    assert isinstance(channels, dict)

    def release_after_the_first_send(_: object) -> None:
        if appointments.sent:
            channels[Target.APPOINTMENT] = hl7_channels(world.hl7)[Target.APPOINTMENT]

    world.arrive()
    world.pump.run(before_each=release_after_the_first_send)
    (error,) = world.pump.errors
    assert error.reason == "channel-changed"
    assert "resends it only once that channel serves the target again" in str(error)
    assert "SIU^S12" not in world.hl7.triggers()  # nothing sent on the new channel
