"""Acknowledgments: render (for the simulator) and parse (for the sync), round trip."""

from __future__ import annotations

import datetime as dt

import hl7
import pytest

from docgen.hl7_validate import unexpected_warnings, validate_strict
from shared.hl7.ack import (
    Ack,
    MalformedHl7,
    NotAnAck,
    message_control_id,
    message_structure,
    message_type,
    parse_ack,
    render_ack,
)
from shared.hl7.render import MESSAGE_STRUCTURE, render_message
from shared.hl7.triggers import Trigger
from tests.builders import CET, make_facts, profile
from tests.hl7_support import TARGET_OF

SENT_AT = dt.datetime(2026, 11, 22, 8, 15, tzinfo=CET)


def message(trigger: Trigger = Trigger.A05, code: str = "SU", control_id: str = "ORB1") -> str:
    facts = make_facts(TARGET_OF[trigger], administration=code)
    return render_message(
        trigger, facts, profile(code), control_id=control_id, sent_at=SENT_AT, processing_id="T"
    )


def test_accepting_ack_mirrors_the_message_header():
    ack = hl7.parse(render_ack(message(), "AA", control_id="MIL42", sent_at=SENT_AT))
    msh = ack.segment("MSH")

    assert [str(msh[number]) for number in (3, 4, 5, 6)] == ["MILLENNIUM", "VGR", "ORBIT", "SU"]
    assert str(msh[7]) == "20261122081500+0100"
    assert str(msh[9]) == "ACK^A05^ACK"
    assert str(msh[10]) == "MIL42"
    assert str(msh[11]) == "T"
    assert str(msh[12]) == "2.5.1"
    assert str(msh[18]) == "UNICODE UTF-8"
    assert str(ack.segment("MSA")) == "MSA|AA|ORB1"
    assert "ERR" not in {str(segment[0]) for segment in ack}


@pytest.mark.parametrize("code", ["AA", "AE", "AR"])
@pytest.mark.parametrize("trigger", list(Trigger), ids=lambda trigger: trigger.value)
def test_ack_validates_strictly_and_round_trips(trigger, code):
    error_text = "" if code == "AA" else "Encounter not found"
    text = render_ack(message(trigger), code, error_text, control_id="MIL7", sent_at=SENT_AT)

    assert unexpected_warnings(validate_strict(text)) == []
    assert parse_ack(text) == Ack(code, "ORB1", error_text)
    assert message_type(text) == f"ACK^{trigger.value[4:]}"


def test_error_ack_carries_err_with_code_severity_and_text():
    text = render_ack(
        message(), "AE", "Unknown encounter", control_id="MIL8", sent_at=SENT_AT, error_code="204"
    )
    err = hl7.parse(text).segment("ERR")

    assert str(err[3]) == "204^Unknown key identifier^HL70357"
    assert str(err[4]) == "E"
    assert str(err[8]) == "Unknown encounter"


def test_error_text_with_delimiters_round_trips():
    error_text = "PV1-3 'SU|KIR^1' & more ~ \\ odd"
    text = render_ack(message(), "AR", error_text, control_id="MIL9", sent_at=SENT_AT)

    assert text.count("\r") == 3  # MSH, MSA, ERR, each ended: the text broke no segment
    assert parse_ack(text).error_text == error_text


def test_ack_echoes_the_latin1_charset_of_the_message():
    text = render_ack(message(code="SAS"), "AA", control_id="MIL10", sent_at=SENT_AT)
    assert str(hl7.parse(text).segment("MSH")[18]) == "8859/1"
    assert str(hl7.parse(text).segment("MSH")[6]) == "SAS"


def test_ack_without_send_time_uses_now_with_an_offset():
    text = render_ack(message(), "AA", control_id="MIL11")
    sent = str(hl7.parse(text).segment("MSH")[7])
    assert len(sent) == 19 and sent[14] in "+-"


def test_render_ack_refuses_unknown_codes_and_text_on_acceptance():
    with pytest.raises(ValueError, match="code"):
        render_ack(message(), "OK", control_id="MIL12")
    with pytest.raises(ValueError, match="no error text"):
        render_ack(message(), "AA", "but why", control_id="MIL12")


def test_render_ack_of_garbage_is_malformed():
    with pytest.raises(MalformedHl7):
        render_ack("hello", "AR", "not HL7", control_id="MIL13")


# --- parsing what other systems send --------------------------------------------------


def test_parse_ack_reads_legacy_msa3_and_err1_text():
    text = (
        "MSH|^~\\&|MILLENNIUM|VGR|ORBIT|SU|20261122081501||ACK|MIL1|P|2.3\r"
        "MSA|AE|ORB1|Patient locked\r"
        "ERR|PV1^1^3^103&Table value not found&HL70357"
    )
    assert parse_ack(text) == Ack("AE", "ORB1", "Patient locked; 103 Table value not found")


def test_parse_ack_uses_err_diagnostic_when_user_message_is_missing():
    text = "MSH|^~\\&|M|V|O|S|2026||ACK^A05^ACK|M1|P|2.5.1\rMSA|AR|ORB2\rERR|||102|E|||bad date"
    assert parse_ack(text).error_text == "bad date"


def test_parse_ack_accepts_newlines_and_other_delimiters():
    text = "MSH#$*!@#M#V#O#S#2026##ACK$A05#M1#P#2.5.1\nMSA#AE#ORB3\nERR###207#E####a!F!b"
    assert parse_ack(text) == Ack("AE", "ORB3", "a#b")


def test_parse_ack_of_a_message_that_is_not_an_ack():
    with pytest.raises(NotAnAck):
        parse_ack(message())


def test_parse_ack_with_unknown_msa1():
    with pytest.raises(NotAnAck):
        parse_ack("MSH|^~\\&|M|V|O|S|2026||ACK|M1|P|2.5.1\rMSA|XX|ORB1")


@pytest.mark.parametrize("garbage", ["", "hello", "MSH", "PID|1||x"])
def test_parse_ack_of_garbage_raises_a_value_error(garbage):
    with pytest.raises(ValueError):
        parse_ack(garbage)


# --- header helpers --------------------------------------------------------------------


@pytest.mark.parametrize("trigger", list(Trigger), ids=lambda trigger: trigger.value)
def test_header_helpers_read_msh9_and_msh10(trigger):
    text = message(trigger, control_id="ABC123")

    assert message_control_id(text) == "ABC123"
    assert Trigger(message_type(text)) is trigger
    assert message_structure(text) == MESSAGE_STRUCTURE[trigger]


def test_header_helpers_on_a_bare_ack():
    text = "MSH|^~\\&|M|V|O|S|2026||ACK|M1|P|2.3\rMSA|AA|ORB1"
    assert (message_type(text), message_structure(text), message_control_id(text)) == (
        "ACK",
        "",
        "M1",
    )


def test_header_helpers_refuse_non_hl7():
    with pytest.raises(MalformedHl7):
        message_control_id("GET / HTTP/1.1")
