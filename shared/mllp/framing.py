"""MLLP framing: ``0x0B <payload> 0x1C 0x0D``, kept apart from HL7 parsing.

MLLP (the Minimal Lower Layer Protocol, HL7 v2 implementation guide, appendix C)
wraps each message in a start block and an end block. TCP is a byte stream, so
one ``recv`` may return half a frame or several frames at once; the
:class:`FrameReader` collects bytes until frames are complete.

Errors name byte values and offsets only, never payload text: the payload is a
patient's HL7 message.
"""

from __future__ import annotations

from shared.errors import PermanentError

START_BLOCK = b"\x0b"
END_BLOCK = b"\x1c"
CARRIAGE_RETURN = b"\x0d"
TRAILER = END_BLOCK + CARRIAGE_RETURN

DEFAULT_MAX_FRAME_BYTES = 1024 * 1024
"""Largest payload accepted; a bigger one means the peer is not speaking MLLP."""


class FramingError(PermanentError, ValueError):
    """The byte stream is not valid MLLP (or a payload cannot be framed)."""


def frame(payload: bytes) -> bytes:
    """Wrap ``payload`` in an MLLP frame.

    Raises:
        FramingError: the payload contains a start or end block byte, which
            would make the frame ambiguous for the receiver.
    """
    if START_BLOCK in payload or END_BLOCK in payload:
        raise FramingError("payload contains an MLLP block character (0x0B or 0x1C)")
    return START_BLOCK + payload + TRAILER


class FrameReader:
    """Extract complete frames from a byte stream fed in arbitrary pieces.

    Between frames only the start block is allowed: anything else is garbage and
    raises :class:`FramingError` (the connection cannot be trusted afterwards).
    A reader is not thread-safe; use one per connection.
    """

    def __init__(self, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> None:
        self._buffer = bytearray()
        self._max_frame_bytes = max_frame_bytes
        self._consumed = 0  # bytes of the stream already turned into frames

    @property
    def has_partial_frame(self) -> bool:
        """True when bytes of an incomplete frame are buffered."""
        return bool(self._buffer)

    def feed(self, data: bytes) -> list[bytes]:
        """Add ``data`` from the stream; return the payloads of frames now complete.

        Raises:
            FramingError: bytes outside a frame, a start block inside a frame,
                an end block not followed by a carriage return, or a frame
                larger than ``max_frame_bytes``.
        """
        self._buffer += data
        frames: list[bytes] = []
        while self._buffer:
            payload = self._next_frame()
            if payload is None:
                break
            frames.append(payload)
        return frames

    def _next_frame(self) -> bytes | None:
        buffer = self._buffer
        if buffer[0:1] != START_BLOCK:
            raise FramingError(
                f"expected MLLP start block 0x0B at stream offset {self._consumed}, "
                f"got 0x{buffer[0]:02X}"
            )
        end = buffer.find(END_BLOCK, 1)
        if end < 0:
            self._check_open_frame(len(buffer))
            return None
        if end + 1 == len(buffer):
            return None  # the carriage return after the end block has not arrived yet
        if buffer[end + 1 : end + 2] != CARRIAGE_RETURN:
            raise FramingError(
                f"MLLP end block 0x1C at stream offset {self._consumed + end} "
                f"is followed by 0x{buffer[end + 1]:02X}, not 0x0D"
            )
        self._check_open_frame(end)
        payload = bytes(buffer[1:end])
        del buffer[: end + 2]
        self._consumed += end + 2
        return payload

    def _check_open_frame(self, length: int) -> None:
        """Reject a nested start block or an oversized frame in ``buffer[1:length]``."""
        nested = self._buffer.find(START_BLOCK, 1, length)
        if nested >= 0:
            raise FramingError(
                f"MLLP start block 0x0B inside a frame at stream offset {self._consumed + nested}"
            )
        if length - 1 > self._max_frame_bytes:
            raise FramingError(f"MLLP frame exceeds {self._max_frame_bytes} bytes")
