"""The retention ages as settings: defaults, limits, 'off', and a bad value that
switches off only the clean-up."""

from __future__ import annotations

import datetime as dt

import pytest

from shared.names import SETTINGS
from shared.retention.policy import MIN_AUDIT_DAYS
from shared.settings import read_settings

DAY = dt.timedelta(days=1)
NAMES = ("RETENTION_DELIVERIES_DAYS", "RETENTION_LAUNCH_CODES_DAYS", "RETENTION_AUDIT_DAYS")


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in NAMES:
        monkeypatch.delenv(name, raising=False)


def test_every_retention_setting_is_listed() -> None:
    assert set(NAMES) <= set(SETTINGS)


def test_the_defaults_are_a_week_a_day_and_ten_years() -> None:
    settings = read_settings()

    assert settings.retention_problem == ""
    assert settings.retention.deliveries == 7 * DAY
    assert settings.retention.launch_codes == 1 * DAY
    assert settings.retention.audit == 3650 * DAY


def test_ages_are_read_in_days_and_audit_may_be_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RETENTION_DELIVERIES_DAYS", "14")
    monkeypatch.setenv("RETENTION_LAUNCH_CODES_DAYS", "2")
    monkeypatch.setenv("RETENTION_AUDIT_DAYS", " OFF ")

    settings = read_settings()

    assert settings.retention_problem == ""
    assert settings.retention.deliveries == 14 * DAY
    assert settings.retention.launch_codes == 2 * DAY
    assert settings.retention.audit is None


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("RETENTION_DELIVERIES_DAYS", "2", "RETENTION_DELIVERIES_DAYS must be 3 or more"),
        ("RETENTION_DELIVERIES_DAYS", "a week", "RETENTION_DELIVERIES_DAYS must be a whole"),
        ("RETENTION_LAUNCH_CODES_DAYS", "0", "RETENTION_LAUNCH_CODES_DAYS must be 1 or more"),
        ("RETENTION_AUDIT_DAYS", str(MIN_AUDIT_DAYS - 1), "at least five years"),
        ("RETENTION_AUDIT_DAYS", "0", "or 'off'"),
        ("RETENTION_AUDIT_DAYS", "forever", "RETENTION_AUDIT_DAYS must be 1827 or more"),
    ],
)
def test_a_bad_age_switches_off_the_clean_up_only_and_names_the_setting(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, says: str
) -> None:
    monkeypatch.setenv(name, value)

    settings = read_settings()  # does not raise: the webhook and workers go on

    assert says in settings.retention_problem
