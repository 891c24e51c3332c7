"""MLLP client side: framing, a blocking client, and the HL7 exchange over it.

* :mod:`shared.mllp.framing` — ``frame`` and the incremental ``FrameReader``.
* :mod:`shared.mllp.client` — ``MllpClient`` (one per thread) and ``exchange``:
  encode, send, parse the ACK and check that it answers this message.
* :mod:`shared.mllp.charset` — MSH-18 character sets and their Python codecs.
"""

from shared.mllp.framing import FrameReader, FramingError, frame

__all__ = ["FrameReader", "FramingError", "frame"]
