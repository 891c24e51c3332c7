"""The channel port: how the sync core reaches one Millennium target.

The planner decides *what* must happen to a target in neutral terms (an
`Operation`: create, update, reschedule or remove, with the facts to carry). A
channel owns *how* it travels: it prepares the operation into a payload with the
idempotency key the counterpart deduplicates by, sends it, and maps the reply
onto one `Outcome`. The HL7 v2 channel (``shared.hl7.channel``) chooses the
trigger event, MSH-10, rendering and MSH-18 encoding; a FHIR R4 channel would be
one more module behind the same port (docs/architecture.md, "Adding a channel").

The core never looks inside a payload. While a send is in doubt, the crosswalk
keeps the `Prepared` payload and key, and the same payload is sent again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from shared.profiles import Profile
from shared.targets import Facts, Target


class OperationKind(StrEnum):
    CREATE = "create"
    UPDATE = "update"  # anything but the time changed
    RESCHEDULE = "reschedule"  # the time changed (appointments)
    REMOVE = "remove"


@dataclass(frozen=True)
class Operation:
    """One change to one target: ``facts`` travel with it (for a removal, the
    confirmed facts being removed); ``confirms`` is the target's confirmed
    state once the counterpart accepts it (None: the target no longer exists);
    ``replaces``, for an update or a reschedule, the confirmed facts it changes
    (a channel that sends what changed, as HL7's segment action codes do)."""

    target: Target
    kind: OperationKind
    facts: Facts
    confirms: Facts | None
    replaces: Facts | None = None


@dataclass(frozen=True)
class SendContext:
    """What a channel needs beside the operation to prepare it."""

    booking_id: str
    version: int  # the snapshot version the operation comes from
    refusals: int  # earlier refusals of this target: each gets a new idempotency key
    profile: Profile
    now: dt.datetime


@dataclass(frozen=True)
class Prepared:
    """An operation ready to send, as the crosswalk keeps it while it is in doubt.

    ``payload`` is the channel's own (for HL7: the ER7 text); the core stores and
    returns it untouched. ``label`` and ``key`` name it in logs and the audit
    trail and never hold personal data. ``wire`` is the payload already encoded
    for the transport, when the channel made it in ``prepare``; it is not stored.
    """

    channel: str
    key: str
    label: str
    payload: str
    wire: bytes | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Confirmed:
    """The counterpart applied it. ``code``: its answer as the audit trail shows
    it (HL7: the ACK code); ``warning``: its remark, already redacted."""

    code: str
    warning: str = ""


@dataclass(frozen=True)
class RetryLater:
    """Not applied, for a reason that may pass (HL7 AE): a new attempt later.
    ``reason`` is the counterpart's, already redacted."""

    code: str
    reason: str


@dataclass(frozen=True)
class Rejected:
    """Not applied, and sending it again cannot help (HL7 AR): an operator acts."""

    code: str
    reason: str


@dataclass(frozen=True)
class InDoubt:
    """No usable answer: it may have been applied. Resend the *same* payload.
    ``reason`` names what happened (e.g. ``AckTimeout``), never the payload."""

    reason: str


@dataclass(frozen=True)
class NotSent:
    """Nothing went out: no connection could be had (refused, the stamp's link
    budget stayed taken). Neither a refusal nor in doubt: the same payload is
    sent later. ``reason`` names what happened, never the payload."""

    reason: str


Outcome = Confirmed | RetryLater | Rejected | InDoubt | NotSent


class Channel(Protocol):
    """One way to reach one target.

    ``updates_in_place`` says whether an existing record can be changed; when it
    cannot (an HL7 pending admit), the planner removes and creates it again.
    ``key_name`` is what operators call the idempotency key (HL7: ``MSH-10``).
    """

    @property
    def name(self) -> str: ...

    @property
    def key_name(self) -> str: ...

    @property
    def updates_in_place(self) -> bool: ...

    def prepare(self, operation: Operation, context: SendContext) -> Prepared:
        """The operation as a payload with its idempotency key.

        Raises:
            PermanentError: the operation cannot be expressed (e.g. an unmapped
                location, a character the transport cannot carry).
        """
        ...

    def send(self, prepared: Prepared, *, attempt: int, profile: Profile) -> Outcome:
        """Send ``prepared`` (``attempt`` counts sends of this payload, from 1; more
        than 1 is a resend of a payload in doubt). ``profile`` is the booking's
        administration's, for what its answers mean."""
        ...


Channels = Mapping[Target, Channel]
"""The channel of each target, chosen in the composition root (shared.services)."""
