"""Deliver a booking's queue messages concurrently, one port call at a time, in an
order a seed picks, with the bus, the crosswalk and Millennium failing now and then.

Each delivery (an event's intake, a kick's target worker) runs on a thread of its
own, but only one thread runs at a time: before every call on a port (a crosswalk
table operation, a bus send, a Millennium exchange) the delivery stops at a
checkpoint, and the scheduler picks at random which stopped delivery goes on, or
starts a new one as the queues allow (one delivery per queue at a time: the
booking is one session on each queue, FIFO). So an intake and the three target
workers interleave their reads and writes at every point where the real ones
can, and the same seed replays the same interleaving.

The queues are modelled as the bus is: duplicate detection drops a message whose
id was sent before (for ever, stricter than the real window), and a delivery
that raises goes through the real settlement, which schedules its copy (or, when
the bus is down for that too, the message is redelivered). Time does not pass: a
scheduled message (a retry) is due at once.

Faults, each with its own rate: a bus send or a crosswalk operation fails before
it does anything (transient); Millennium answers AE (at most ``MAX_AE_ANSWERS``
times, below every profile's retry limit) or its ACK is lost after it took the
message (in doubt: the worker resends the same message).
"""

from __future__ import annotations

import datetime as dt
import random
import threading
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from shared.crosswalk.repository import Crosswalk
from shared.crosswalk.sqlite import SqliteTableStore
from shared.errors import AckTimeout, QueueUnavailable, TransientError
from shared.hl7.ack import Ack
from shared.messages import EventMessage, Kick
from shared.names import ALL_TABLES, QUEUE_EVENTS, SYNC_QUEUES
from shared.profiles import Profiles
from shared.queue.port import DeadLetter, OutboundMessage
from shared.sync.intake import store_event
from shared.sync.plan import plan
from shared.sync.policy import RetryPolicy
from shared.sync.ports import SyncPorts
from shared.sync.settlement import QueueMessage, SettlementPorts, settle
from shared.sync.worker import sync_target
from shared.targets import Target, desired_facts
from tests.sync_fakes import ScriptedMillennium, hl7_channels

STEP_TIMEOUT_SECONDS = 10.0
MAX_AE_ANSWERS = 2
MAX_STEPS = 20_000  # a run that takes more has lost its way (kicks kicking kicks)

_current = threading.local()


class Hang(AssertionError):
    """A delivery did not reach its next checkpoint in time."""


class _Delivery:
    """One delivery on its own thread, run by the scheduler between checkpoints."""

    def __init__(self, work: Callable[[], None]) -> None:
        self._work = work
        self._go = threading.Event()
        self._stopped = threading.Event()
        self.done = False
        self.error: BaseException | None = None
        threading.Thread(target=self._main, daemon=True).start()

    def _main(self) -> None:
        _current.delivery = self
        self._go.wait()
        self._go.clear()
        try:
            self._work()
        except BaseException as error:  # reported by the scheduler
            self.error = error
        self.done = True
        self._stopped.set()

    def checkpoint(self) -> None:
        self._stopped.set()
        self._go.wait()
        self._go.clear()

    def resume(self) -> None:
        """Run until the next checkpoint or the end.

        Raises:
            Hang: it did not get there within STEP_TIMEOUT_SECONDS.
        """
        self._stopped.clear()
        self._go.set()
        if not self._stopped.wait(STEP_TIMEOUT_SECONDS):
            raise Hang("a delivery did not reach its next port call")


def checkpoint() -> None:
    """Before a port call: let the scheduler pick who goes next (no-op outside a
    delivery, e.g. the test's own setup and checks)."""
    delivery = getattr(_current, "delivery", None)
    if delivery is not None:
        delivery.checkpoint()


@dataclass(frozen=True)
class Faults:
    """How often each port fails (0: never)."""

    bus: float = 0.0
    store: float = 0.0
    millennium: float = 0.0


class _GatedStore:
    """A TableStore whose every operation is a checkpoint, and fails when ``fails``
    says so (before it does anything)."""

    def __init__(self, store: SqliteTableStore, fails: Callable[[], bool]) -> None:
        self._store = store
        self._fails = fails

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._store, name)
        if not callable(attribute):
            return attribute

        def gated(*args: Any, **kwargs: Any) -> Any:
            checkpoint()
            if self._fails():
                raise TransientError("the crosswalk is unreachable (interleaving test)")
            return attribute(*args, **kwargs)

        return gated


class _GatedMillennium:
    """A Millennium link whose every exchange is a checkpoint; when ``troubled`` says
    so it answers AE, or takes the message and loses its ACK."""

    def __init__(self, millennium: ScriptedMillennium, troubled: Callable[[], bool]) -> None:
        self._millennium = millennium
        self._troubled = troubled
        self._ae_answers = 0

    def exchange(self, payload: bytes, *, codec: str) -> Ack:
        checkpoint()
        if not self._troubled():
            return self._millennium.exchange(payload, codec=codec)
        if self._ae_answers < MAX_AE_ANSWERS:
            self._ae_answers += 1
            self._millennium.script.append("AE")
            return self._millennium.exchange(payload, codec=codec)
        self._millennium.exchange(payload, codec=codec)
        raise AckTimeout("the ACK was lost (interleaving test)")


class Queues:
    """The bus, as the sync handlers see it: sessions per queue, FIFO, duplicate
    detection by message id; a send fails when the scheduler says the bus is down."""

    def __init__(self, fails: Callable[[], bool]) -> None:
        self.pending: dict[str, deque[QueueMessage]] = {
            queue: deque() for queue in (QUEUE_EVENTS, *SYNC_QUEUES)
        }
        self.dead_letters: list[DeadLetter] = []
        self.dropped_duplicates = 0
        self._seen: set[str] = set()
        self._fails = fails

    def send(self, messages: Sequence[OutboundMessage]) -> None:
        checkpoint()
        if self._fails():
            raise QueueUnavailable("the bus is down (interleaving test)")
        for message in messages:
            if message.message_id in self._seen:
                self.dropped_duplicates += 1
                continue
            self._seen.add(message.message_id)
            self.pending[message.queue].append(
                QueueMessage(
                    message.queue,
                    message.body,
                    message.session_id,
                    message.message_id,
                    dict(message.properties),
                )
            )

    def dead_letter(self, letter: DeadLetter) -> None:
        checkpoint()
        self.dead_letters.append(letter)


class Interleaving:
    """One booking's deliveries under a seeded scheduler (see the module docstring)."""

    def __init__(self, seed: int, profiles: Profiles, faults: Faults | None = None) -> None:
        faults = faults or Faults()
        self._random = random.Random(seed)
        store = SqliteTableStore(":memory:")
        store.create_tables(ALL_TABLES)
        self.crosswalk = Crosswalk(_GatedStore(store, lambda: self._happens(faults.store)))
        self.queues = Queues(lambda: self._happens(faults.bus))
        self.millennium = ScriptedMillennium()
        now = dt.datetime(2026, 11, 22, 8, 0, tzinfo=dt.UTC)
        self.ports = SyncPorts(
            crosswalk=self.crosswalk,
            bus=self.queues,
            profiles=profiles,
            channels=hl7_channels(
                _GatedMillennium(self.millennium, lambda: self._happens(faults.millennium))
            ),
            clock=lambda: now,
            retry=RetryPolicy(),
        )
        self._settlement = SettlementPorts(self.queues, self.crosswalk, lambda: now)
        self.deliveries: Counter[str] = Counter()
        self.overlaps = 0  # deliveries started while another one was running
        self._arrivals: deque[EventMessage] = deque()
        self._running: dict[str, _Delivery] = {}

    def post(self, events: Sequence[EventMessage]) -> None:
        """Events that arrive, in this order, at moments the scheduler picks."""
        self._arrivals.extend(events)

    def run(self) -> None:
        """Until nothing is left to arrive, deliver or resume.

        Raises:
            AssertionError: a delivery raised something the settlement does not
                handle, hung, or the run did not end within MAX_STEPS steps.
        """
        for _ in range(MAX_STEPS):
            choices = self._choices()
            if not choices:
                return
            self._take(self._random.choice(choices))
        raise AssertionError(f"still delivering after {MAX_STEPS} steps")

    def _choices(self) -> list[str]:
        choices = [f"resume {queue}" for queue in self._running]
        choices += [
            f"start {queue}"
            for queue, waiting in self.queues.pending.items()
            if waiting and queue not in self._running
        ]
        if self._arrivals:
            choices.append("arrive")
        return choices

    def _take(self, choice: str) -> None:
        action, _, queue = choice.partition(" ")
        if action == "arrive":
            event = self._arrivals.popleft()
            self.queues.pending[QUEUE_EVENTS].append(
                QueueMessage(QUEUE_EVENTS, event.model_dump_json().encode(), "", event.event_id)
            )
            return
        if action == "start":
            message = self.queues.pending[queue].popleft()
            self.deliveries[queue] += 1
            self.overlaps += bool(self._running)
            self._running[queue] = _Delivery(lambda: self._deliver(message))
        delivery = self._running[queue]
        delivery.resume()
        if delivery.done:
            del self._running[queue]
            if delivery.error is not None:
                raise AssertionError(f"a {queue} delivery raised") from delivery.error

    def _deliver(self, message: QueueMessage) -> None:
        """As the trigger does: settle the message by what its handler did; when even
        the copy could not be scheduled, the host redelivers it."""
        try:
            settle(message, self._handler(message.queue), self._settlement)
        except TransientError:
            self.queues.pending[message.queue].append(message)

    def _handler(self, queue: str) -> Callable[[bytes], object]:
        if queue == QUEUE_EVENTS:
            return lambda body: store_event(EventMessage.model_validate_json(body), self.ports)
        return lambda body: sync_target(Kick.model_validate_json(body), self.ports)

    def _happens(self, rate: float) -> bool:
        """A fault, inside a delivery (the test's own setup and checks see none)."""
        inside = getattr(_current, "delivery", None) is not None
        return inside and rate > 0 and self._random.random() < rate

    def unconverged(self, booking_id: str) -> dict[Target, str]:
        """What is not in line with the newest snapshot, per target (empty: converged)."""
        stored = self.crosswalk.load_snapshot(booking_id)
        assert stored is not None
        states = self.crosswalk.load_targets(booking_id)
        confirmed = {target: state.confirmed for target, state in states.items()}
        left: dict[Target, str] = {}
        for target, state in states.items():
            desired = desired_facts(stored.snapshot, target, stored.patient_generation)
            decision = plan(target, desired, confirmed)
            if state.intent is not None or state.blocked is not None or decision is not None:
                left[target] = f"intent={state.intent is not None} blocked={state.blocked} "
                left[target] += f"next={decision}"
        return left

    def converged_versions(self, booking_id: str) -> list[int]:
        """The snapshot versions whose convergence the workers recorded."""
        return [int(row["version"]) for row in self.crosswalk.convergences(booking_id)]

    def newest_version(self, booking_id: str) -> int:
        stored = self.crosswalk.load_snapshot(booking_id)
        assert stored is not None
        return stored.version
