"""MLLP framing: frames out, frames back from arbitrarily split or coalesced reads."""

from __future__ import annotations

import pytest

from shared.mllp.charset import UnsupportedCharset, codec_for, declared_charset
from shared.mllp.framing import FrameReader, FramingError, frame

MESSAGE = (
    "MSH|^~\\&|ORBIT|SU|MILLENNIUM|SU|20261122||ADT^A05|C1|T|2.5.1"
    "\rPID|1||X^^^&1.2&ISO||Åkerström^Märta"
)
PAYLOAD = MESSAGE.encode("utf-8")


def test_frame_wraps_payload_in_start_and_end_blocks():
    assert frame(b"MSH|x") == b"\x0bMSH|x\x1c\x0d"


@pytest.mark.parametrize("bad", [b"MSH|\x0bx", b"MSH|\x1cx"])
def test_frame_refuses_payload_containing_block_characters(bad):
    with pytest.raises(FramingError, match="block character"):
        frame(bad)


def test_reader_returns_a_complete_frame():
    assert FrameReader().feed(frame(PAYLOAD)) == [PAYLOAD]


def test_reader_reassembles_a_frame_fed_one_byte_at_a_time():
    reader = FrameReader()
    frames: list[bytes] = []
    for byte in frame(PAYLOAD):
        frames += reader.feed(bytes([byte]))
    assert frames == [PAYLOAD]
    assert not reader.has_partial_frame


@pytest.mark.parametrize("cut", [1, 5, len(PAYLOAD), len(PAYLOAD) + 1, len(PAYLOAD) + 2])
def test_reader_handles_a_split_at_any_point(cut):
    data = frame(PAYLOAD)
    reader = FrameReader()
    first = reader.feed(data[:cut])
    assert first == []
    assert reader.has_partial_frame
    assert reader.feed(data[cut:]) == [PAYLOAD]


def test_reader_splits_coalesced_frames():
    data = frame(b"MSH|one") + frame(b"MSH|two") + frame(b"MSH|thr")
    reader = FrameReader()
    assert reader.feed(data[:-3]) == [b"MSH|one", b"MSH|two"]
    assert reader.feed(data[-3:]) == [b"MSH|thr"]


def test_reader_rejects_bytes_before_the_start_block_naming_the_offset():
    reader = FrameReader()
    reader.feed(frame(b"MSH|one"))
    with pytest.raises(FramingError, match=r"offset 10, got 0x4D"):
        reader.feed(b"MSH|garbage")


def test_reader_rejects_end_block_without_carriage_return():
    with pytest.raises(FramingError, match="not 0x0D"):
        FrameReader().feed(b"\x0bMSH|secret\x1cX")


def test_reader_rejects_a_start_block_inside_a_frame():
    with pytest.raises(FramingError, match="inside a frame"):
        FrameReader().feed(b"\x0bMSH|a\x0bMSH|b")


def test_reader_rejects_an_oversized_frame_before_it_completes():
    reader = FrameReader(max_frame_bytes=10)
    with pytest.raises(FramingError, match="exceeds 10 bytes"):
        reader.feed(b"\x0b" + b"A" * 11)


def test_framing_errors_never_quote_the_payload():
    with pytest.raises(FramingError) as caught:
        FrameReader().feed(b"\x0bPID|1||Hemligsson\x1cX")
    assert "Hemligsson" not in str(caught.value)


def test_declared_charset_reads_msh18_from_raw_bytes():
    assert declared_charset(("MSH|^~\\&" + "|" * 16 + "8859/1").encode()) == "8859/1"
    assert declared_charset(PAYLOAD) == ""
    assert declared_charset(b"MSH|^~\\&" + b"|" * 16 + b"UNICODE UTF-8~8859/1\rPID|1") == (
        "UNICODE UTF-8"
    )


def test_declared_charset_needs_an_msh_segment():
    with pytest.raises(ValueError, match="MSH"):
        declared_charset(b"PID|1")


@pytest.mark.parametrize(
    ("msh18", "codec"),
    [
        ("UNICODE UTF-8", "utf-8"),
        ("8859/1", "iso-8859-1"),
        ("", "ascii"),
        ("unicode utf-8", "utf-8"),
    ],
)
def test_codec_for_maps_hl7_charsets(msh18, codec):
    assert codec_for(msh18) == codec


def test_codec_for_names_the_supported_sets_when_unknown():
    with pytest.raises(UnsupportedCharset, match="UNICODE UTF-8"):
        codec_for("ISO IR87")
