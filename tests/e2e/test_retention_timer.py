"""The local run calls the app's timer functions: the retention clean-up runs there
as in Azure (on a short interval instead of the nightly schedule)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Iterator

import pytest

from localrun.__main__ import banner, startup_details
from localrun.app import LocalRun, app_functions, local_settings
from localrun.timers import LOCAL_TIMER_INTERVAL_SECONDS, Timers, timer_triggers
from shared.names import TABLE_DELIVERIES
from shared.webhook.idempotency import DeliveryRecord, claim_delivery, delivery_key
from tests.e2e.conftest import LogCapture


@pytest.fixture
def quick_timers_run(tmp_path, monkeypatch) -> Iterator[LocalRun]:
    monkeypatch.setenv("LOCAL_DATA_DIR", str(tmp_path / "data"))
    settings = dataclasses.replace(local_settings(), host_port=0, simulator=False)
    run = LocalRun(settings, timer_interval_seconds=0.2).start()
    yield run
    run.stop()


def test_the_retention_timer_is_registered_for_the_local_run() -> None:
    [trigger] = timer_triggers(app_functions())

    assert trigger.name == "retention_cleanup"
    assert trigger.schedule == "0 17 1 * * *"
    assert LOCAL_TIMER_INTERVAL_SECONDS >= 60  # locally not more often than a minute


def test_the_local_run_runs_the_clean_up_on_its_interval(
    quick_timers_run: LocalRun, captured_logs: LogCapture
) -> None:
    store = quick_timers_run.services.store  # type: ignore[union-attr]
    timers = quick_timers_run.timers
    old = dt.datetime.now(dt.UTC) - dt.timedelta(days=30)
    for webhook_id in ("msg_old_1", "msg_old_2"):
        record = DeliveryRecord("evt", "OB-2026-000123", 1, "corr", "digest", old, accepted=True)
        claim_delivery(store, webhook_id, record)
    recent = DeliveryRecord("evt", "OB-2026-000124", 1, "corr", "d", dt.datetime.now(dt.UTC))
    claim_delivery(store, "msg_recent", recent)

    # A round may be under way already: wait for one that started after the rows.
    wanted = timers.runs + 2
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and timers.runs < wanted:
        time.sleep(0.05)

    assert [e.partition_key for e in store.scan(TABLE_DELIVERIES)] == [delivery_key("msg_recent")]
    assert timers.runs >= wanted
    assert any("retention clean-up removed=" in line for line in captured_logs.lines)


def test_a_failing_timer_function_is_logged_by_type_and_the_timers_go_on(
    captured_logs: LogCapture,
) -> None:
    class Broken:
        def get_trigger(self):  # mimics azure.functions' FunctionBuilder
            return self

        def get_dict_repr(self):
            return {"type": "timerTrigger", "schedule": "0 * * * * *", "name": "timer"}

        def get_function_name(self) -> str:
            return "broken"

        def get_user_function(self):
            def fail(timer: object) -> None:
                raise RuntimeError("some text that might hold anything 194001019878")

            return fail

    timers = Timers([Broken()], interval_seconds=3600)

    timers.run_once()
    timers.run_once()

    assert timers.runs == 2
    failures = [line for line in captured_logs.lines if "timer function broken failed" in line]
    assert len(failures) == 2
    assert all("RuntimeError" in line and "194001019878" not in line for line in failures)


def test_the_banner_names_the_timer_and_its_local_interval(quick_timers_run: LocalRun) -> None:
    details = startup_details(quick_timers_run)

    assert details["timers"] == [
        {"name": "retention_cleanup", "schedule": "0 17 1 * * *", "localIntervalSeconds": 0.2}
    ]
    assert "Timer:                retention_cleanup every 0.2 s (Azure: '0 17 1 * * *' UTC)" in (
        banner(details)
    )
