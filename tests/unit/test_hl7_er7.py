"""ER7 escaping, timestamps and delimiters; the validation warning filter."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from docgen.hl7_validate import unexpected_warnings
from shared.hl7.er7 import Delimiters, components, dtm, escape, segment, unescape


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("a|b", "a\\F\\b"),
        ("a^b", "a\\S\\b"),
        ("a~b", "a\\R\\b"),
        ("a\\b", "a\\E\\b"),
        ("a&b", "a\\T\\b"),
        ("a\rb\nc", "a\\X0D\\b\\X0A\\c"),
        ("Åkerström", "Åkerström"),
        ("", ""),
    ],
)
def test_escape_and_unescape(raw, escaped):
    assert escape(raw) == escaped
    assert unescape(escaped) == raw


def test_escape_handles_every_delimiter_at_once():
    raw = "\\|^~&\\"
    assert escape(raw) == "\\E\\\\F\\\\S\\\\R\\\\T\\\\E\\"
    assert unescape(escape(raw)) == raw


def test_unescape_drops_formatting_sequences_and_reads_line_breaks():
    assert unescape("a\\H\\b\\N\\c\\.br\\d") == "abc\nd"


def test_unescape_with_declared_delimiters():
    delimiters = Delimiters.of("MSH#$*!@#rest")
    assert unescape("a!F!b!S!c!E!d", delimiters) == "a#b$c!d"


@pytest.mark.parametrize("text", ["", "MSH", "PID|1", "MSH|^^\\&|"])
def test_delimiters_of_a_non_message(text):
    with pytest.raises(ValueError):
        Delimiters.of(text)


STOCKHOLM = ZoneInfo("Europe/Stockholm")


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (
            dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.timezone(dt.timedelta(hours=1))),
            "20261201080000+0100",
        ),
        (
            dt.datetime(2026, 6, 1, 8, 0, 5, 999, tzinfo=dt.timezone(dt.timedelta(hours=2))),
            "20260601080005+0200",
        ),
        (dt.datetime(2026, 6, 1, 23, 59, tzinfo=dt.UTC), "20260602015900+0200"),
        (
            dt.datetime(2026, 6, 1, 8, 0, tzinfo=dt.timezone(-dt.timedelta(hours=3, minutes=30))),
            "20260601133000+0200",
        ),
        (dt.datetime(2026, 3, 29, 0, 59, 59, tzinfo=dt.UTC), "20260329015959+0100"),
        (dt.datetime(2026, 3, 29, 1, 0, 0, tzinfo=dt.UTC), "20260329030000+0200"),
        (dt.datetime(2026, 10, 25, 0, 30, tzinfo=dt.UTC), "20261025023000+0200"),
        (dt.datetime(2026, 10, 25, 1, 30, tzinfo=dt.UTC), "20261025023000+0100"),
    ],
)
def test_dtm_writes_the_instant_in_the_zone_with_the_offset_of_that_instant(moment, expected):
    assert dtm(moment, STOCKHOLM) == expected


def test_dtm_refuses_naive_times():
    with pytest.raises(ValueError):
        dtm(dt.datetime(2026, 12, 1, 8, 0), STOCKHOLM)


def test_escape_turns_every_control_character_into_hex_data():
    assert escape("a\x0bb\x1cc\x00\x7f") == "a\\X0B\\b\\X1C\\c\\X00\\\\X7F\\"


def test_segment_and_components_drop_trailing_empties():
    assert segment("PV1", {1: "1", 3: "", 5: ""}) == "PV1|1"
    assert segment("PD1", {12: "Y"}) == "PD1||||||||||||Y"
    assert components("a", "", "c", "", "") == "a^^c"


def test_only_explained_warnings_are_expected():
    warnings = [
        "Value NNSWE not in table HL70203 in element PID_3.CX_5",
        "Value KVA not in table HL70396 in element AIS_3.CE_3",
        "Value HL70357 not in table HL70396 in element ERR_3.CWE_3",
        "Value XX not in table HL70203 in element PID_3.CX_5",
        "Exceeded max length (15) of XCN.XCN_1",
    ]
    assert unexpected_warnings(warnings) == warnings[3:]
