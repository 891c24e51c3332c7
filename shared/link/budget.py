"""The MLLP link under the stamp's connection budget: one well-mannered client.

A hospital interface engine accepts one or a few connections per inbound
interface, however far Azure scales the app out. So a connection to Millennium
is opened only while this process holds one of the budget's lease slots
(:mod:`shared.link.leases`), and closed before the slot is given up:

* a send takes an idle connection of this process, or opens one under a newly
  acquired slot, or waits (up to ``wait_seconds``) for one to come free, else
  raises `LinkBusy`: nothing was sent, the worker tries again later;
* one message is in flight per connection (original acknowledgment mode);
* ``max_messages_per_second`` (0: no limit) caps the stamp's send rate: each of
  the ``slots`` connections sends at most ``rate / slots`` messages a second;
* a connection unused for ``idle_seconds`` is closed and its slot released;
* a sender that finds every slot taken by other processes says it `wants` one;
  the holder then gives its connection up: at once when idle, else at the next
  return once it has held the slot ``turn_seconds``, and leaves the slot alone
  for ``yield_seconds``, so a busy instance and an idle one share a budget of
  one connection instead of the first keeping it for ever;
* leases are renewed by a background thread at a third of their duration;
* a connection is used only until its own deadline: two thirds of the lease's
  duration after the acquire or last renewal was *asked for* (the store's lease
  runs at least as long). A watchdog thread of its own closes a connection at
  its deadline, aborting an exchange in flight (in doubt: the same MSH-10 is
  sent again), whatever the renewal is doing. Waiting for a renewal to fail is
  not enough: Azure renews a lapsed lease until someone else has taken it, so
  the failure is seen only once the successor may already be connected.

Raises (exchange): LinkBusy, LinkUnavailable (nothing sent); AckTimeout,
ConnectionFailed, AckMismatch (in doubt); TransientError (the lease store).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from shared import telemetry
from shared.errors import IntegrationError, LinkBusy, LinkUnavailable
from shared.hl7.ack import Ack
from shared.link.leases import LeaseStore
from shared.mllp.client import MllpClient, exchange

JANITOR_INTERVAL_SECONDS = 1.0
WATCHDOG_INTERVAL_SECONDS = 0.2
DEADLINE_FRACTION = 2 / 3
"""A connection's deadline, as a fraction of the lease's duration after it was asked
for: the last third is the margin in which the watchdog closes it, well before the
store could give the slot to another process."""
WANT_INTERVAL_SECONDS = 0.5  # how often a waiting process says so, per slot


@dataclass(frozen=True)
class Budget:
    """The stamp's link settings (MILLENNIUM_MLLP_*)."""

    slots: int = 1  # MAX_CONNECTIONS
    max_messages_per_second: float = 0.0  # 0: no limit
    idle_seconds: float = 60.0
    wait_seconds: float = 15.0
    turn_seconds: float = 10.0
    yield_seconds: float = 0.3  # how long a slot given up at the end of a turn is left to others

    def __post_init__(self) -> None:
        if self.slots < 1:
            raise ValueError("the connection budget needs at least one connection")
        times = (self.idle_seconds, self.turn_seconds)
        if self.max_messages_per_second < 0 or min(times) <= 0 or self.wait_seconds < 0:
            raise ValueError("rates and times of the connection budget must not be negative")

    @property
    def send_interval(self) -> float:
        """Seconds between two sends on one connection (0: as fast as it answers)."""
        if not self.max_messages_per_second:
            return 0.0
        return self.slots / self.max_messages_per_second


@dataclass
class _Connection:
    slot: int
    lease_id: str
    client: MllpClient
    renewed_at: float
    used_at: float
    acquired_at: float = 0.0
    acquired_wall: float = 0.0  # wall clock, compared with other processes' wants
    next_send_at: float = 0.0
    wanted: bool = False  # another process waits for this slot
    lost: bool = field(default=False)
    deadline: float = float("inf")  # no use at or after this (monotonic), see DEADLINE_FRACTION


class BudgetedLink:
    """``HL7Link`` that never holds more connections than its slots allow stamp-wide."""

    def __init__(
        self,
        connect: Callable[[], MllpClient],
        leases: LeaseStore,
        budget: Budget,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._connect = connect
        self._sleep = sleep
        self._wall = wall
        self._wanted_at: dict[int, float] = {}  # slot → when this process last said so
        self._leases = leases
        self._budget = budget
        self._clock = clock
        self._idle: list[_Connection] = []
        self._busy: list[_Connection] = []
        self._yielded: dict[int, float] = {}  # slot → until when this process leaves it alone
        self._changed = threading.Condition()
        self._janitor: threading.Thread | None = None
        self._watchdog: threading.Thread | None = None
        self._stopped = threading.Event()

    @property
    def open_connections(self) -> int:
        with self._changed:
            return len(self._idle) + len(self._busy)

    def exchange(self, payload: bytes, *, codec: str) -> Ack:
        connection = self._checkout()
        try:
            self._pace(connection)
            if self._clock() >= connection.deadline:  # the pace outlasted the lease
                connection.lost = True
                raise LinkUnavailable(
                    "the Millennium connection's lease ran out before the send (nothing "
                    "was sent; it goes out again on a new connection)"
                )
            return exchange(connection.client, payload, codec)
        finally:
            self._checkin(connection)

    def close(self, *, drain_seconds: float = 5.0) -> None:
        """Close every connection and release its slot; stop the janitor. A busy
        connection is closed when its exchange returns, within ``drain_seconds`` or
        its deadline, whichever comes first; after that its exchange is aborted."""
        self._stopped.set()
        with self._changed:
            closing, self._idle = self._idle, []
            for connection in self._busy:
                connection.lost = True  # retired at check-in
        for connection in closing:
            self._retire(connection)
        with self._changed:
            give_up = min([self._clock() + drain_seconds, *(c.deadline for c in self._busy)])
            while self._busy and (left := give_up - self._clock()) > 0:
                self._changed.wait(left)
            aborted = list(self._busy)
        for connection in aborted:
            connection.client.abort()

    # --- taking and returning connections ---

    def _checkout(self) -> _Connection:
        if self._stopped.is_set():
            raise LinkUnavailable("the Millennium link of this process is closed")
        self._start_janitor()
        started = self._clock()
        deadline = started + self._budget.wait_seconds
        telemetry.link_waiting(+1)
        try:
            while True:
                connection = self._idle_connection() or self._new_connection()
                if connection is not None:
                    telemetry.link_waited(dt.timedelta(seconds=self._clock() - started))
                    return connection
                remaining = deadline - self._clock()
                if remaining <= 0:
                    raise LinkBusy(
                        f"all {self._budget.slots} Millennium connection(s) of the stamp stayed "
                        f"in use for {self._budget.wait_seconds:g} s; the send is tried again later"
                    )
                with self._changed:
                    # Woken by a connection of this process coming free; slots of other
                    # processes are looked at again after a short while. Looked at
                    # under the lock, so a check-in since the look above is not missed.
                    if not self._idle:
                        self._changed.wait(min(remaining, 0.05 + random.random() * 0.1))
        finally:
            telemetry.link_waiting(-1)

    def _idle_connection(self) -> _Connection | None:
        expired = []
        with self._changed:
            while self._idle:
                connection = self._idle.pop()  # the most recently used: the others may idle out
                if self._clock() < connection.deadline:
                    self._busy.append(connection)
                    break
                connection.lost = True
                expired.append(connection)
            else:
                connection = None
        for stale in expired:
            self._retire(stale)
        return connection

    def _new_connection(self) -> _Connection | None:
        now = self._clock()
        with self._changed:
            held = {c.slot for c in (*self._idle, *self._busy)}
            left = {slot for slot, until in self._yielded.items() if until > now}
        free = [slot for slot in range(self._budget.slots) if slot not in held | left]
        random.shuffle(free)  # instances spread over the slots instead of all trying slot 0
        for slot in free:
            asked = self._clock()
            lease_id = self._leases.try_acquire(slot)
            if lease_id is None:
                continue
            try:
                client = self._connect()
            except BaseException:
                with contextlib.suppress(IntegrationError):  # else it lapses by itself
                    self._leases.release(slot, lease_id)
                raise
            now = self._clock()
            connection = _Connection(
                slot,
                lease_id,
                client,
                asked,
                now,
                acquired_at=now,
                acquired_wall=self._wall(),
                deadline=self._deadline(asked),
            )
            with self._changed:
                self._busy.append(connection)
            telemetry.link_connections(+1)
            return connection
        self._say_wanted(free, now)
        return None

    def _say_wanted(self, slots: list[int], now: float) -> None:
        for slot in slots:
            if now - self._wanted_at.get(slot, -WANT_INTERVAL_SECONDS) >= WANT_INTERVAL_SECONDS:
                self._wanted_at[slot] = now
                with contextlib.suppress(IntegrationError):  # best effort
                    self._leases.want(slot)

    def _checkin(self, connection: _Connection) -> None:
        now = connection.used_at = self._clock()
        turn_over = connection.wanted and (
            now - connection.acquired_at >= self._budget.turn_seconds
        )
        with self._changed:
            self._busy.remove(connection)
            if turn_over:
                self._yielded[connection.slot] = now + self._budget.yield_seconds
            keep = not (connection.lost or turn_over)
            if keep:
                self._idle.append(connection)
                self._changed.notify()
            else:
                self._changed.notify_all()  # a close() may wait for the busy ones
        if not keep:
            self._retire(connection)

    def _pace(self, connection: _Connection) -> None:
        interval = self._budget.send_interval
        if not interval:
            return
        now = self._clock()
        if connection.next_send_at > now:
            self._sleep(connection.next_send_at - now)
            now = connection.next_send_at
        connection.next_send_at = now + interval

    # --- closing and renewing ---

    def _retire(self, connection: _Connection) -> None:
        """Close the connection first, then release its slot: never two at once."""
        connection.client.close()
        telemetry.link_connections(-1)
        with contextlib.suppress(IntegrationError):  # a lapsed lease frees itself
            self._leases.release(connection.slot, connection.lease_id)

    def _deadline(self, asked: float) -> float:
        return asked + self._leases.duration * DEADLINE_FRACTION

    def _start_janitor(self) -> None:
        if self._janitor is not None:
            return
        with self._changed:
            if self._janitor is None:
                self._janitor = threading.Thread(
                    target=self._tend, name="mllp-link-janitor", daemon=True
                )
                self._watchdog = threading.Thread(
                    target=self._watch, name="mllp-link-watchdog", daemon=True
                )
                self._janitor.start()
                self._watchdog.start()

    def _tend(self) -> None:
        while not self._stopped.wait(JANITOR_INTERVAL_SECONDS):
            self.tend()

    def _watch(self) -> None:
        # A thread of its own: the janitor may be stuck in a slow lease call.
        while not self._stopped.wait(WATCHDOG_INTERVAL_SECONDS):
            self.enforce_deadlines()

    def enforce_deadlines(self) -> None:
        """Close every connection at its deadline: an idle one at once, a busy one by
        aborting its exchange (the sender sees the message in doubt)."""
        now = self._clock()
        with self._changed:
            due = [c for c in (*self._idle, *self._busy) if now >= c.deadline and not c.lost]
            for connection in due:
                connection.lost = True
            idle = [c for c in due if c in self._idle]
            self._idle = [c for c in self._idle if c not in idle]
        for connection in idle:
            self._retire(connection)
        for connection in due:
            if connection not in idle:
                connection.client.abort()  # its check-in retires it

    def tend(self) -> None:
        """Close idle connections past ``idle_seconds`` or wanted elsewhere; renew
        leases due for it; note which busy connections are wanted elsewhere."""
        now = self._clock()
        renew_after = self._leases.duration / 3
        with self._changed:
            held = [*self._idle, *self._busy]
        for connection in held:
            connection.wanted = connection.wanted or self._is_wanted(connection)
        with self._changed:
            stale = [
                c for c in self._idle if c.wanted or now - c.used_at >= self._budget.idle_seconds
            ]
            self._idle = [c for c in self._idle if c not in stale]
            for connection in stale:
                if connection.wanted:
                    self._yielded[connection.slot] = now + self._budget.yield_seconds
            due = [c for c in (*self._idle, *self._busy) if now - c.renewed_at >= renew_after]
        for connection in stale:
            self._retire(connection)
        for connection in due:
            self._renew(connection, now)

    def _is_wanted(self, connection: _Connection) -> bool:
        try:
            return self._leases.wanted_at(connection.slot) > connection.acquired_wall
        except IntegrationError:
            return False

    def _renew(self, connection: _Connection, now: float) -> None:
        asked = self._clock()
        try:
            renewed = self._leases.renew(connection.slot, connection.lease_id)
        except IntegrationError:
            renewed = False
        if renewed:
            with self._changed:
                if not connection.lost:  # a late renewal does not revive a closed connection
                    connection.renewed_at = asked
                    connection.deadline = self._deadline(asked)
            return
        with self._changed:
            connection.lost = True
            idle = connection in self._idle
            if idle:
                self._idle.remove(connection)
        if idle:
            self._retire(connection)
        # A busy connection is closed when its exchange returns (checkin).
