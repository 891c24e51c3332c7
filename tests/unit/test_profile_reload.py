"""Profiles are reread when their files change (issue 12: a fixed HSA-id was only
picked up after a restart, so a resubmitted dead letter failed again)."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import pytest

from shared.errors import UnmappedLocation
from shared.profiles import Mode, load_profiles
from tests.builders import PROFILES_DIR

NEW_WARD = "SE2321000131-E000000000299"
NEW_LOCATION = f'\n[locations."{NEW_WARD}"]\npoint_of_care = "SU-NYAVD"\n'


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    copy = tmp_path / "profiles"
    shutil.copytree(PROFILES_DIR, copy)
    return copy


def touch_later(path: Path) -> None:
    """Move the modification time on, as a save a moment later would (file systems
    with coarse timestamps could otherwise give the edit the old time)."""
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


def test_an_added_location_is_seen_without_a_restart(folder: Path) -> None:
    profiles = load_profiles(str(folder))
    with pytest.raises(UnmappedLocation):
        profiles.get("SU").location(NEW_WARD)
    su = folder / "SU.toml"
    su.write_text(su.read_text() + NEW_LOCATION)
    touch_later(su)
    assert profiles.get("SU").location(NEW_WARD).point_of_care == "SU-NYAVD"


def test_a_mode_switch_and_a_new_file_are_seen(folder: Path) -> None:
    profiles = load_profiles(str(folder))
    skas = folder / "SKAS.toml"
    assert profiles.get("SKAS").mode is Mode.JUMPOUT
    skas.write_text(skas.read_text().replace('mode = "jumpout"', 'mode = "integrated"'))
    touch_later(skas)
    assert profiles.get("SKAS").mode is Mode.INTEGRATED
    text = (folder / "SU.toml").read_text()
    (folder / "NU.toml").write_text(text.replace('code = "SU"', 'code = "NU"'))
    touch_later(folder)
    assert "NU" in profiles.codes()


def test_a_file_that_no_longer_reads_keeps_the_previous_profiles(folder, caplog) -> None:
    profiles = load_profiles(str(folder))
    su = folder / "SU.toml"
    good = su.read_text()
    su.write_text(good + "\n[locations.broken\n")
    touch_later(su)
    with caplog.at_level(logging.ERROR, logger="orbitsync.profiles"):
        assert profiles.get("SU").code == "SU"  # the old profile stays in force
    assert "SU.toml" in caplog.text and "not reloaded" in caplog.text
    su.write_text(good + NEW_LOCATION)
    touch_later(su)
    assert profiles.get("SU").location(NEW_WARD).point_of_care == "SU-NYAVD"


def test_launch_templates_take_the_settings_given_at_load(folder: Path) -> None:
    profiles = load_profiles(str(folder), {"ORBIT_WEB_URL": "http://127.0.0.1:45678/orbit"})
    assert (
        profiles.get("SAS").launch.orbit_url == "http://127.0.0.1:45678/orbit/booking/{bookingId}"
    )
