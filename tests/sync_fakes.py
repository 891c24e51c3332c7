"""Fakes for driving the sync handlers without queues or sockets.

`ScriptedMillennium` answers each exchange from a script (ACK codes or
exceptions) and records what it was sent; `Pump` plays the queue: it delivers
recorded kicks to the worker until nothing is left.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from shared.errors import PermanentError
from shared.hl7.ack import Ack, message_control_id, message_type
from shared.hl7.channel import Hl7Channel
from shared.messages import Kick
from shared.mllp.link import HL7Link
from shared.names import SYNC_QUEUES
from shared.sync.channel import Channels
from shared.sync.ports import SyncPorts
from shared.sync.worker import SyncOutcome, sync_target
from shared.targets import Target
from tests.fakes import RecordingBus


@dataclass
class Sent:
    trigger: str
    control_id: str
    message: str


@dataclass
class ScriptedMillennium:
    """Answers AA unless the script says otherwise. Script entries are an ACK code
    ("AE", "AR") or an exception instance to raise (the send is then in doubt)."""

    script: list[str | BaseException] = field(default_factory=list)
    sent: list[Sent] = field(default_factory=list)
    on_send: Callable[[str], None] | None = None  # called with the trigger, before answering

    def exchange(self, payload: bytes, *, codec: str) -> Ack:
        message = payload.decode(codec)
        control_id = message_control_id(message)
        self.sent.append(Sent(message_type(message), control_id, message))
        if self.on_send is not None:
            self.on_send(message_type(message))
        answer = self.script.pop(0) if self.script else "AA"
        if isinstance(answer, BaseException):
            raise answer
        return Ack(
            code=answer, control_id=control_id, error_text="" if answer == "AA" else "ERR text"
        )

    def triggers(self) -> list[str]:
        return [sent.trigger for sent in self.sent]


@dataclass
class Pump:
    """Delivers kicks from a RecordingBus to `sync_target`, scheduled ones included
    (time is not simulated: a retry is delivered as soon as it is next in line)."""

    ports: SyncPorts
    bus: RecordingBus
    outcomes: list[SyncOutcome] = field(default_factory=list)
    errors: list[PermanentError] = field(default_factory=list)
    delivered: int = 0

    def run(self, limit: int = 200, before_each: Callable[[Kick], None] | None = None) -> None:
        while self.delivered < len(self._kicks()) and limit > 0:
            limit -= 1
            message = self._kicks()[self.delivered]
            self.delivered += 1
            kick = Kick.model_validate_json(message.body)
            if before_each:
                before_each(kick)
            try:
                self.outcomes.append(sync_target(kick, self.ports))
            except PermanentError as error:
                self.errors.append(error)

    def _kicks(self) -> list:
        return [m for m in self.bus.sent if m.queue in SYNC_QUEUES]


def hl7_channels(link: HL7Link, processing_id: str = "T") -> Channels:
    """The production HL7 channel of every target over ``link``."""
    return {target: Hl7Channel(target, link, processing_id=processing_id) for target in Target}


def fixed_clock(start: dt.datetime) -> Callable[[], dt.datetime]:
    return lambda: start
