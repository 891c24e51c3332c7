"""The go-live command: it kicks the shadowed future bookings of an integrated
administration, reports without sending in a dry run, refuses other modes, and
is safe to repeat."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from shared.crosswalk.repository import Crosswalk, StoredSnapshot
from shared.crosswalk.sqlite import SqliteTableStore
from shared.golive import PROTECTED_DATE, GoLiveRefused, go_live, main
from shared.hl7.channel import Hl7Channel
from shared.messages import Kick, KickCause
from shared.names import ALL_TABLES, SYNC_QUEUES
from shared.ops.millennium_view import NOTHING_HELD, MillenniumHolds
from shared.profiles import Mode, Profiles
from shared.services import use_services
from shared.settings import reset_settings
from shared.sync.policy import RetryPolicy
from shared.sync.ports import SyncPorts
from shared.targets import Target
from tests.builders import CET, make_patient, make_snapshot, profile
from tests.fakes import FixedClock, RecordingBus
from tests.sync_fakes import Pump, ScriptedMillennium, hl7_channels

NOW = dt.datetime(2026, 11, 22, 9, 0, tzinfo=CET)


def ports_for(mode: Mode, store=None, bus=None) -> SyncPorts:
    if store is None:
        store = SqliteTableStore(":memory:")
        store.create_tables(ALL_TABLES)
    su = profile("SU").model_copy(update={"mode": mode})
    return SyncPorts(
        crosswalk=Crosswalk(store),
        bus=bus or RecordingBus(),
        profiles=Profiles({"SU": su, "SAS": profile("SAS")}),
        channels=hl7_channels(ScriptedMillennium()),
        clock=FixedClock(NOW),
        retry=RetryPolicy(),
    )


def shadow(ports: SyncPorts, booking_id: str, start: dt.datetime, **overrides) -> None:
    snapshot = make_snapshot(
        booking_id=booking_id,
        planned_start=start,
        planned_end=start + dt.timedelta(hours=2),
        admission={"type": "outpatient"},
        **overrides,
    )
    ports.crosswalk.save_snapshot(StoredSnapshot(snapshot, NOW, "e", "c"), None)


@pytest.fixture
def shadowed() -> SyncPorts:
    """SU switched to integrated with bookings kept while it was in jumpout mode."""
    ports = ports_for(Mode.INTEGRATED)
    tomorrow = NOW + dt.timedelta(days=1)
    shadow(ports, "OB-FUTURE-1", tomorrow)
    shadow(ports, "OB-FUTURE-2", tomorrow + dt.timedelta(days=3), patient=make_patient(2))
    shadow(ports, "OB-PROTECTED", tomorrow, patient=make_patient(3, protected=True))
    shadow(ports, "OB-UNDER-WAY", NOW - dt.timedelta(hours=1))
    shadow(ports, "OB-PAST", NOW - dt.timedelta(days=2))
    shadow(ports, "OB-CANCELLED", tomorrow, status="cancelled")
    shadow(ports, "OB-OTHER-ADMIN", tomorrow, administration="SAS")
    return ports


def kicks(ports: SyncPorts) -> list[Kick]:
    bus = ports.bus
    assert isinstance(bus, RecordingBus)
    return [Kick.model_validate_json(m.body) for m in bus.sent if m.queue in SYNC_QUEUES]


def test_a_dry_run_lists_what_would_be_sent_and_sends_nothing(shadowed):
    report = go_live("SU", shadowed, dry_run=True)
    ids = [booking.booking_id for booking in report.bookings]
    assert sorted(ids) == ["OB-FUTURE-1", "OB-FUTURE-2", "OB-PROTECTED", "OB-UNDER-WAY"]
    assert report.per_target() == {Target.ENCOUNTER: 4, Target.APPOINTMENT: 4, Target.BED: 0}
    assert (report.over, report.cancelled, report.kicked) == (1, 1, 0)
    assert kicks(shadowed) == []
    text = report.text()
    assert "dry run" in text and "OB-FUTURE-2" in text and "2026-11-26" in text
    assert "encounter: 4" in text


def test_the_report_holds_no_personal_data_and_hides_a_protected_bookings_date(shadowed):
    report = go_live("SU", shadowed, dry_run=True)
    (protected,) = [b for b in report.bookings if b.booking_id == "OB-PROTECTED"]
    assert protected.planned_date == PROTECTED_DATE
    text = report.text()
    for n in (1, 2, 3):
        patient = make_patient(n)
        assert patient["identifier"]["value"] not in text
    assert "Åkerström" not in text and "Märta" not in text


def test_go_live_kicks_each_future_booking_with_the_go_live_cause(shadowed):
    report = go_live("SU", shadowed, dry_run=False)
    assert report.kicked == 4
    sent = kicks(shadowed)
    assert {kick.booking_id for kick in sent} == {
        "OB-FUTURE-1",
        "OB-FUTURE-2",
        "OB-PROTECTED",
        "OB-UNDER-WAY",
    }
    assert {kick.cause for kick in sent} == {KickCause.GO_LIVE}
    # Every target is kicked, as intake does (a skipped kick can be a lost wake-up).
    assert {kick.target for kick in sent} == set(Target)


def test_after_the_workers_ran_a_second_go_live_sends_nothing(shadowed):
    go_live("SU", shadowed, dry_run=False)
    bus = shadowed.bus
    assert isinstance(bus, RecordingBus)
    Pump(shadowed, bus).run()
    channel = shadowed.channels[Target.ENCOUNTER]
    assert isinstance(channel, Hl7Channel)
    millennium = channel.link
    assert isinstance(millennium, ScriptedMillennium)
    assert sorted(millennium.triggers()) == ["ADT^A05"] * 4 + ["SIU^S12"] * 4
    before = len(bus.sent)
    again = go_live("SU", shadowed, dry_run=False)
    assert (again.kicked, again.in_sync, len(again.bookings)) == (0, 4, 0)
    assert len(bus.sent) == before


@pytest.mark.parametrize("mode", [Mode.OFF, Mode.JUMPOUT])
def test_go_live_refuses_unless_the_administration_is_integrated(mode):
    ports = ports_for(mode)
    shadow(ports, "OB-FUTURE-1", NOW + dt.timedelta(days=1))
    with pytest.raises(GoLiveRefused, match="integrated"):
        go_live("SU", ports, dry_run=False)
    assert kicks(ports) == []


@pytest.fixture
def local_services(monkeypatch, tmp_path):
    """The command builds its services from settings: here a throw-away data folder."""
    monkeypatch.setenv("LOCAL_DATA_DIR", str(tmp_path))
    SqliteTableStore(tmp_path / "crosswalk.sqlite3").create_tables(ALL_TABLES)  # a run's
    use_services(None)
    reset_settings()
    yield tmp_path
    use_services(None)
    reset_settings()


def test_the_command_line_refuses_an_unknown_administration(local_services, capsys):
    assert main(["NOPE", "--dry-run"]) == 2
    assert "no profile for administration NOPE" in capsys.readouterr().err


def test_the_command_line_prints_the_dry_run_report(local_services, capsys):
    assert main(["SU", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "Go-live SU (dry run: nothing sent)" in out
    assert "bookings to bring into Millennium: 0" in out


def test_the_command_line_takes_a_lower_case_code_and_names_what_it_read(local_services, capsys):
    assert main(["su", "--dry-run"]) == 0
    captured = capsys.readouterr()
    assert "Go-live SU (dry run: nothing sent)" in captured.out
    assert f"crosswalk: SQLite in {local_services}" in captured.err


def test_an_empty_dry_run_says_nothing_to_send_instead_of_an_empty_table(local_services, capsys):
    assert main(["SU", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "Nothing to send." in out
    assert "booking " not in out  # no table header over no rows


def test_the_command_line_prints_json(local_services, capsys):
    assert main(["SU", "--dry-run", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["administration"] == "SU" and report["dryRun"] is True
    assert report["bookings"] == [] and report["millenniumChecked"] is False


def test_the_command_line_refuses_a_data_folder_that_does_not_exist(monkeypatch, tmp_path, capsys):
    missing = tmp_path / "typo"
    monkeypatch.setenv("LOCAL_DATA_DIR", str(missing))
    use_services(None)
    reset_settings()
    try:
        assert main(["SU", "--dry-run"]) == 2
    finally:
        use_services(None)
        reset_settings()
    assert f"The data folder {missing} does not exist" in capsys.readouterr().err
    assert not missing.exists(), "the command created the folder it refused"


def test_help_explains_every_argument_and_reads_nothing(local_services, capsys):
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    text = capsys.readouterr().out
    for word in ("administration", "--dry-run", "--json"):
        assert word in text


def test_a_booking_the_crosswalk_calls_in_sync_but_millennium_lacks_is_reported(shadowed):
    go_live("SU", shadowed, dry_run=False)
    bus = shadowed.bus
    assert isinstance(bus, RecordingBus)
    Pump(shadowed, bus).run()
    everything = MillenniumHolds(encounter=True, appointment=True, bed=False)  # outpatients
    agreeing = go_live("SU", shadowed, dry_run=True, millennium=lambda booking: everything)
    lost = go_live("SU", shadowed, dry_run=True, millennium=lambda booking: NOTHING_HELD)
    assert agreeing.disagreeing == () and agreeing.in_sync == 4
    assert "Millennium itself was asked and agrees" in agreeing.text()
    assert lost.in_sync == 0
    assert lost.disagreeing == ("OB-FUTURE-1", "OB-FUTURE-2", "OB-PROTECTED", "OB-UNDER-WAY")
    assert "NOT in sync although the crosswalk says so: 4 bookings" in lost.text()
    unchecked = go_live("SU", shadowed, dry_run=True)
    assert "Millennium itself was not asked" in unchecked.text()


def test_a_paced_go_live_schedules_its_kicks_soonest_operation_first(shadowed):
    """The backlog lane: kicks come due one booking at a time at the pace, so a live
    change never waits behind the whole go-live in the queue."""
    go_live("SU", shadowed, dry_run=False, bookings_per_second=4)
    bus = shadowed.bus
    assert isinstance(bus, RecordingBus)
    due: dict[str, set[dt.datetime | None]] = {}
    for message in bus.sent:
        if message.queue in SYNC_QUEUES:
            booking = Kick.model_validate_json(message.body).booking_id
            due.setdefault(booking, set()).add(message.scheduled_at)
    assert all(len(times) == 1 for times in due.values())  # a booking's targets together
    order = sorted(due, key=lambda booking: min(t for t in due[booking] if t is not None))
    assert order[0] == "OB-UNDER-WAY" and order[-1] == "OB-FUTURE-2"
    times = sorted(t for booking in due for t in due[booking] if t is not None)
    assert times == [NOW + dt.timedelta(seconds=n / 4) for n in range(4)]


def test_an_unpaced_go_live_kicks_everything_now(shadowed):
    go_live("SU", shadowed, dry_run=False)
    bus = shadowed.bus
    assert isinstance(bus, RecordingBus)
    assert {m.scheduled_at for m in bus.sent if m.queue in SYNC_QUEUES} == {None}
