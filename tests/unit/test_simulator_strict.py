"""The strict simulator's own checks (simulator.strict), without sockets."""

from __future__ import annotations

import pytest

from simulator.er7 import Er7Message
from simulator.strict import violations

HEADER = "MSH|^~\\&|ORBIT|SU|MILLENNIUM|VGR|{now}||ADT^A05^ADT_A05|C1|T|2.5.1|||||SWE|UNICODE UTF-8"


def message(now: str = "20261122081500+0100", *segments: str) -> str:
    lines = [HEADER.format(now=now), *segments]
    return "".join(line + "\r" for line in lines)


def problems(text: str) -> list[str]:
    return [f"{v.location} {v.text}".strip() for v in violations(text, Er7Message(text))]


@pytest.mark.parametrize(
    "now",
    [
        "20261122081500+0100",
        "20260701080000+0200",
        "20260329015959+0100",  # a second before spring forward
        "20260329030000+0200",  # the first second after it
        "20261025023000+0200",  # 02:30 the first time
        "20261025023000+0100",  # 02:30 the second time
    ],
)
def test_local_times_with_the_right_offset_pass(now):
    assert problems(message(now)) == []


@pytest.mark.parametrize(
    "now",
    [
        "20261122071500+0000",  # UTC
        "20260701080000+0100",  # a winter offset in summer
        "20260329023000+0100",  # a wall time that does not exist in Stockholm
        "20261122081500",  # no offset at all
    ],
)
def test_other_offsets_are_violations(now):
    assert [p.split(" ")[0] for p in problems(message(now))] == ["MSH-7"]


def test_another_zone_can_be_configured():
    text = message("20261122091500+0200")
    assert violations(text, Er7Message(text), "Europe/Helsinki") == []


def test_a_missing_final_cr_and_pv2_11_on_a_bed_booking():
    pv2_11 = "PV2" + "|" * 11 + "3"
    text = message("20261122081500+0100", pv2_11).replace("ADT^A05^", "ADT^A14^")
    assert any("PV2-11" in p for p in problems(text))
    assert problems(text.rstrip("\r")) == [
        "the last segment does not end with a carriage return",
        "PV2-11 PV2-11 is the actual length of stay, unknown for a bed booking; "
        "send the expected nights in PV2-10",
    ]
