"""The HL7 v2 channel: one Millennium target reached by HL7 v2.5.1 over MLLP.

It turns a neutral operation into the message Millennium expects and its
acknowledgment back into an outcome the sync core understands:

* **prepare**: the trigger event (shared.hl7.triggers), the deterministic MSH-10
  (shared.hl7.control_id), the ER7 text (shared.hl7.render) and its bytes in the
  MSH-18 character set (shared.hl7.encoding), encoded once. A message that could
  never be framed (an MLLP block byte in the bytes) is refused here, before it is
  recorded as an intent, so it cannot get stuck resending.
* **send**: one exchange over the link; ``AA`` → confirmed (an ERR beside it is a
  warning, kept redacted in the audit trail); ``CA`` → confirmed or in doubt, as
  the profile's ``commit_accept`` says; ``AE``/``CE`` → retry later (a new message
  next time), unless it answers an in-doubt *resend* with an ERR-3 code the
  profile lists in ``already_applied_codes`` (the first send was applied):
  confirmed; ``AR``/``CR`` → rejected; no usable ACK (timeout, broken
  connection, MSA-2 for another message) → in doubt; no connection to be had
  (refused, the link budget taken) → not sent.

The payload kept while in doubt is the ER7 text; its MSH-18 says how to encode it
again after a restart, so nothing else is stored.
"""

from __future__ import annotations

from shared import telemetry
from shared.errors import InDoubtError, LinkUnavailable, UnsendableText
from shared.hl7.ack import ACCEPTED, REJECTED, Ack
from shared.hl7.control_id import control_id
from shared.hl7.encoding import encode_message, msh18
from shared.hl7.render import render_message
from shared.hl7.triggers import UPDATES_IN_PLACE, trigger_for
from shared.mllp.charset import codec_for
from shared.mllp.framing import END_BLOCK, START_BLOCK
from shared.mllp.link import HL7Link
from shared.profiles import Profile
from shared.redaction import redact
from shared.sync.channel import (
    Confirmed,
    InDoubt,
    NotSent,
    Operation,
    Outcome,
    Prepared,
    Rejected,
    RetryLater,
    SendContext,
)
from shared.targets import Target

CHANNEL_NAME = "hl7v2"


class Hl7Channel:
    """HL7 v2 messages for one target over an MLLP link."""

    name = CHANNEL_NAME
    key_name = "MSH-10"

    def __init__(self, target: Target, link: HL7Link, *, processing_id: str) -> None:
        self._target = target
        self._link = link
        self._processing_id = processing_id

    @property
    def link(self) -> HL7Link:
        return self._link

    @property
    def updates_in_place(self) -> bool:
        return UPDATES_IN_PLACE[self._target]

    def prepare(self, operation: Operation, context: SendContext) -> Prepared:
        """Raises:
        UnmappedLocation: an HSA-id has no location in the profile.
        UnencodableText: a character the profile's MSH-18 charset cannot carry.
        UnsendableText: the bytes hold an MLLP block character.
        """
        trigger = trigger_for(operation.target, operation.kind)
        # A message Millennium refused is never sent again under the same MSH-10,
        # even after an operator's resubmit: a receiver may remember refused ids.
        key = control_id(
            context.booking_id, operation.target, trigger, context.version, context.refusals
        )
        text = render_message(
            trigger,
            operation.facts,
            context.profile,
            control_id=key,
            sent_at=context.now,
            processing_id=self._processing_id,
            replaces=operation.replaces,
        )
        wire = encode_message(text, context.profile)
        _check_frameable(wire, trigger.value, key)
        return Prepared(self.name, key, trigger.value, text, wire)

    def send(self, prepared: Prepared, *, attempt: int, profile: Profile) -> Outcome:
        wire = prepared.wire if prepared.wire is not None else _encode_again(prepared)
        try:
            with telemetry.mllp_exchange(prepared.label, prepared.key, attempt) as sent:
                ack = self._link.exchange(wire, codec=codec_for(msh18(prepared.payload)))
                sent.acknowledged(ack.code, accepted=ack.code in ACCEPTED)
        except LinkUnavailable as error:
            return NotSent(type(error).__name__)
        except InDoubtError as error:
            return InDoubt(type(error).__name__)
        return outcome_of(ack, profile, resend=attempt > 1)


def outcome_of(ack: Ack, profile: Profile, *, resend: bool) -> Outcome:
    """What an acknowledgment means for the sync (docs/hl7-mapping.md, "Acknowledgments")."""
    text = redact(ack.error_text)
    if ack.code == "CA" and profile.commit_accept == "in-doubt":
        return InDoubt("CommitAcceptOnly")
    if ack.code in ACCEPTED:
        return Confirmed(ack.code, warning=text)
    if ack.code in REJECTED:
        return Rejected(ack.code, text or "no error text")
    already = set(ack.error_codes) & set(profile.already_applied_codes)
    if resend and already:
        applied = ", ".join(sorted(already))
        return Confirmed(ack.code, warning=f"applied already (ERR {applied}): {text}")
    return RetryLater(ack.code, text or "no error text")


def _encode_again(prepared: Prepared) -> bytes:
    """The bytes of a payload read back from the crosswalk (after a restart)."""
    return prepared.payload.encode(codec_for(msh18(prepared.payload)))


def _check_frameable(wire: bytes, label: str, key: str) -> None:
    """Raises UnsendableText when an MLLP block byte would end the frame early."""
    for block in (START_BLOCK, END_BLOCK):
        offset = wire.find(block)
        if offset >= 0:
            raise UnsendableText(
                f"{label} (MSH-10 {key}) holds the MLLP block byte 0x{block[0]:02X} at "
                f"offset {offset}, so it cannot be framed; correct the text in Orbit "
                "(no field may hold control characters)"
            )
