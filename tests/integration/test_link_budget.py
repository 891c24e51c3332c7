"""The Millennium link's connection budget, over real sockets to the simulator.

The simulator counts the connections it sees at once, as an interface engine
with a connection limit would; the budget must never let it see more than the
stamp's slots, however many threads and "processes" (links sharing one lease
file) send at the same time.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shared.errors import ConnectionFailed, LinkBusy, LinkUnavailable
from shared.link.blob_leases import BlobLeases
from shared.link.budget import Budget, BudgetedLink
from shared.link.sqlite_leases import SqliteLeases
from shared.mllp.client import MllpClient
from simulator import start_simulator
from simulator.samples import adt
from tests.azurite import DEV_ACCOUNT, DEV_KEY, azurite_blob_port  # noqa: F401
from tests.builders import synthetic_personnummer

PNR = synthetic_personnummer(1)


@pytest.fixture
def sim() -> Iterator[Any]:
    with start_simulator(enforce_order=False) as handle:
        yield handle


def budgeted(sim: Any, leases: Any, **budget: Any) -> BudgetedLink:
    return BudgetedLink(
        lambda: MllpClient("127.0.0.1", sim.mllp_port, timeout=5), leases, Budget(**budget)
    )


def send_many(link: BudgetedLink, prefix: str, count: int) -> list[str]:
    codes = []
    for n in range(count):
        message = adt("A05", f"{prefix}N{n}", f"OB-{prefix}-{n}", PNR).encode()
        codes.append(link.exchange(message, codec="utf-8").code)
    return codes


def in_threads(work: list[Any]) -> list[Any]:
    results: list[Any] = [None] * len(work)

    def run(index: int) -> None:
        results[index] = work[index]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(work))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


@pytest.mark.parametrize("slots", [1, 2])
def test_many_threads_of_several_processes_never_exceed_the_budget(
    sim: Any, tmp_path: Path, slots: int
) -> None:
    lease_file = tmp_path / "link-leases.sqlite3"
    # Three "processes": three links, each with its own lease store on one file.
    links = [
        budgeted(sim, SqliteLeases(lease_file), slots=slots, wait_seconds=30) for _ in range(3)
    ]
    work = [
        (lambda link=link, p=f"P{i}T{t}": send_many(link, p, 25))
        for i, link in enumerate(links)
        for t in range(4)
    ]
    results = in_threads(work)
    assert all(codes == ["AA"] * 25 for codes in results)
    stats = sim.stats()
    assert stats["received"] == 12 * 25
    assert 1 <= stats["max_connections_seen"] <= slots
    assert stats["over_limit_connections"] == 0
    for link in links:
        link.close()


def test_a_send_that_cannot_get_a_slot_is_not_sent_and_says_why(sim: Any, tmp_path: Path) -> None:
    lease_file = tmp_path / "link-leases.sqlite3"
    other_instance = SqliteLeases(lease_file)
    assert other_instance.try_acquire(0) is not None  # holds the only slot
    link = budgeted(sim, SqliteLeases(lease_file), slots=1, wait_seconds=0.2)
    with pytest.raises(LinkBusy, match="1 Millennium connection"):
        link.exchange(adt("A05", "C1", "OB-1", PNR).encode(), codec="utf-8")
    assert sim.stats()["received"] == 0


def test_an_idle_connection_is_closed_and_its_slot_released(sim: Any, tmp_path: Path) -> None:
    now = [0.0]
    lease_file = tmp_path / "link-leases.sqlite3"
    link = BudgetedLink(
        lambda: MllpClient("127.0.0.1", sim.mllp_port, timeout=5),
        SqliteLeases(lease_file),
        Budget(slots=1, idle_seconds=60),
        clock=lambda: now[0],
    )
    assert send_many(link, "I", 1) == ["AA"]
    assert link.open_connections == 1
    other = SqliteLeases(lease_file)
    assert other.try_acquire(0) is None  # still ours
    now[0] = 59.0
    link.tend()
    assert link.open_connections == 1
    now[0] = 61.0
    link.tend()
    assert link.open_connections == 0
    wait_for(lambda: sim.stats()["connections_open"] == 0)
    assert other.try_acquire(0) is not None
    link.close()


def test_an_idle_connection_wanted_by_another_instance_is_given_up_at_once(
    sim: Any, tmp_path: Path
) -> None:
    lease_file = tmp_path / "link-leases.sqlite3"
    link = budgeted(sim, SqliteLeases(lease_file), slots=1, idle_seconds=600)
    assert send_many(link, "T", 1) == ["AA"]
    other = SqliteLeases(lease_file)
    assert other.try_acquire(0) is None
    link.tend()
    assert link.open_connections == 1  # nobody else asked: it stays open
    other.want(0)
    link.tend()
    assert link.open_connections == 0
    taken = other.try_acquire(0)
    assert taken is not None  # the other instance gets its turn
    other.release(0, taken)
    link.close()


def test_a_connection_whose_lease_cannot_be_renewed_is_closed(sim: Any, tmp_path: Path) -> None:
    now = [0.0]
    wall = [1000.0]
    lease_file = tmp_path / "link-leases.sqlite3"
    leases = SqliteLeases(lease_file, duration=30, clock=lambda: wall[0])
    link = BudgetedLink(
        lambda: MllpClient("127.0.0.1", sim.mllp_port, timeout=5),
        leases,
        Budget(slots=1, idle_seconds=600),
        clock=lambda: now[0],
    )
    assert send_many(link, "L", 1) == ["AA"]
    wall[0] += 31  # the process stalled: the lease lapsed and another instance took it
    assert SqliteLeases(lease_file, clock=lambda: wall[0]).try_acquire(0) is not None
    now[0] = 11.0  # a third of the duration: time to renew
    link.tend()
    assert link.open_connections == 0
    wait_for(lambda: sim.stats()["connections_open"] == 0)


def test_pacing_spaces_the_sends_of_one_connection() -> None:
    budget = Budget(slots=2, max_messages_per_second=10)
    assert budget.send_interval == pytest.approx(0.2)  # 2 connections × 5 msg/s = 10 msg/s
    assert Budget(slots=1).send_interval == 0.0


def test_pacing_waits_between_sends(sim: Any, tmp_path: Path) -> None:
    slept: list[float] = []
    now = [100.0]  # time passes only while the link sleeps: sends themselves take none

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    link = BudgetedLink(
        lambda: MllpClient("127.0.0.1", sim.mllp_port, timeout=5),
        SqliteLeases(tmp_path / "l.sqlite3"),
        Budget(slots=1, max_messages_per_second=4),
        clock=lambda: now[0],
        sleep=sleep,
    )
    assert send_many(link, "R", 3) == ["AA"] * 3
    assert slept == [pytest.approx(0.25), pytest.approx(0.25)]
    link.close()


@pytest.mark.parametrize("bad", [{"slots": 0}, {"max_messages_per_second": -1}])
def test_a_budget_that_cannot_work_is_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        Budget(**bad)


def test_the_simulator_closes_connections_beyond_its_limit() -> None:
    with start_simulator(connection_limit=1) as limited:
        first = MllpClient("127.0.0.1", limited.mllp_port, timeout=5)
        assert first.send(adt("A05", "C1", "OB-1", PNR).encode())
        second = MllpClient("127.0.0.1", limited.mllp_port, timeout=2)
        with pytest.raises(ConnectionFailed):  # closed at once: no ACK ever comes
            second.send(adt("A05", "C2", "OB-2", PNR).encode())
        stats = limited.stats()
        assert (stats["max_connections_seen"], stats["over_limit_connections"]) == (1, 1)
        first.close()


# --- the lease stores ---------------------------------------------------------------


def test_sqlite_leases_are_exclusive_until_released_or_lapsed(tmp_path: Path) -> None:
    wall = [0.0]
    a = SqliteLeases(tmp_path / "l.sqlite3", duration=30, clock=lambda: wall[0])
    b = SqliteLeases(tmp_path / "l.sqlite3", duration=30, clock=lambda: wall[0])
    held = a.try_acquire(0)
    assert held is not None and b.try_acquire(0) is None
    assert b.try_acquire(1) is not None  # another slot is free
    wall[0] = 20
    assert a.renew(0, held)
    wall[0] = 45  # renewed at 20: still held until 50
    assert b.try_acquire(0) is None
    wall[0] = 51
    taken = b.try_acquire(0)
    assert taken is not None and not a.renew(0, held)
    a.release(0, held)  # not ours any more: changes nothing
    assert a.try_acquire(0) is None
    b.release(0, taken)
    assert a.try_acquire(0) is not None


def blob_store(port: int, container: str) -> BlobLeases:
    from azure.core.credentials import AzureNamedKeyCredential
    from azure.storage.blob import ContainerClient

    client = ContainerClient(
        f"http://127.0.0.1:{port}/{DEV_ACCOUNT}",
        container,
        credential=AzureNamedKeyCredential(DEV_ACCOUNT, DEV_KEY),
    )
    return BlobLeases(client, duration=15)


def test_blob_leases_are_exclusive_until_released(azurite_blob_port: int) -> None:  # noqa: F811
    a = blob_store(azurite_blob_port, "millennium-link")
    b = blob_store(azurite_blob_port, "millennium-link")
    held = a.try_acquire(0)
    assert held is not None
    assert b.try_acquire(0) is None
    assert a.renew(0, held)
    assert not b.renew(0, "00000000-0000-0000-0000-000000000000")
    other = b.try_acquire(1)
    assert other is not None
    a.release(0, held)
    again = b.try_acquire(0)
    assert again is not None and not a.renew(0, held)
    b.release(0, again)
    b.release(1, other)


def test_blob_leases_refuse_a_duration_azure_does_not_offer() -> None:
    with pytest.raises(ValueError, match="15-60"):
        BlobLeases(object(), duration=90)  # type: ignore[arg-type]


def wait_for(condition: Any, timeout: float = 5.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


def test_a_missing_lease_account_stops_only_the_link_and_says_which_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from shared.crosswalk.sqlite import SqliteTableStore
    from shared.errors import LinkUnavailable
    from shared.hl7.channel import Hl7Channel
    from shared.services import ServiceOverrides, build_services
    from shared.settings import read_settings
    from shared.targets import Target
    from tests.fakes import RecordingBus

    monkeypatch.setenv("QUEUE_BACKEND", "servicebus")
    monkeypatch.delenv("MILLENNIUM_LINK_LEASE_ACCOUNT_URL", raising=False)
    # The services still build, so the webhook and everything else keep working.
    overrides = ServiceOverrides(store=SqliteTableStore(":memory:"), bus=RecordingBus())
    services = build_services(read_settings(), overrides)
    channel = services.channels[Target.ENCOUNTER]
    assert isinstance(channel, Hl7Channel)
    link = channel.link
    with pytest.raises(LinkUnavailable, match="MILLENNIUM_LINK_LEASE_ACCOUNT_URL"):
        link.exchange(adt("A05", "C1", "OB-1", PNR).encode(), codec="utf-8")


def test_a_connection_checked_in_just_after_a_sender_looked_is_taken_without_sleeping(
    sim: Any, tmp_path: Path
) -> None:
    """The check-in lands between the waiting sender's look for an idle connection and
    its wait: the sender must see it rather than sleep through a missed wake-up."""
    link = budgeted(sim, SqliteLeases(tmp_path / "leases.sqlite3"), slots=1, wait_seconds=5)
    held = link._checkout()  # the budget's only connection, busy with another send
    looked = link._new_connection

    def look_then_the_other_send_checks_in() -> Any:
        found = looked()
        link._checkin(held)
        return found

    waits: list[float | None] = []
    real_wait = link._changed.wait

    def counted_wait(timeout: float | None = None) -> bool:
        waits.append(timeout)
        return real_wait(timeout)

    link._new_connection = look_then_the_other_send_checks_in  # type: ignore[method-assign]
    link._changed.wait = counted_wait  # type: ignore[method-assign]
    try:
        assert link._checkout() is held
        assert waits == []
    finally:
        link.close()


class StalledRenewals:
    """Leases whose renewals hang, as a blob lease call does while the SDK retries
    (minutes with its default policy), until ``release_renewals`` is set."""

    def __init__(self, leases: SqliteLeases) -> None:
        self._leases = leases
        self.release_renewals = threading.Event()
        self.duration = leases.duration

    def renew(self, slot: int, lease_id: str) -> bool:
        self.release_renewals.wait(10)
        return self._leases.renew(slot, lease_id)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._leases, name)


def test_a_connection_is_closed_at_its_deadline_while_its_renewal_hangs(
    sim: Any, tmp_path: Path
) -> None:
    """Before, a connection was closed only once a renewal came back as failed, and
    Azure fails a renewal only after someone else took the lease: the successor
    connected beside it. Now it is closed at two thirds of the lease's duration."""
    now, wall = [0.0], [1000.0]
    lease_file = tmp_path / "link-leases.sqlite3"
    leases = StalledRenewals(SqliteLeases(lease_file, duration=30, clock=lambda: wall[0]))
    link = BudgetedLink(
        lambda: MllpClient("127.0.0.1", sim.mllp_port, timeout=5),
        leases,
        Budget(slots=1, idle_seconds=600),
        clock=lambda: now[0],
    )
    try:
        assert send_many(link, "D", 1) == ["AA"]
        now[0] = 20.0  # the janitor's renewal (due at 10 s) hangs; the deadline passes
        wait_for(lambda: link.open_connections == 0)
        wall[0] += 31  # the store's lease lapses; another instance takes the slot
        other = budgeted(sim, SqliteLeases(lease_file, clock=lambda: wall[0]), slots=1)
        assert send_many(other, "E", 1) == ["AA"]
        other.close()
        assert sim.stats()["max_connections_seen"] == 1
    finally:
        leases.release_renewals.set()
        link.close()


def test_an_exchange_in_flight_at_its_deadline_is_aborted_and_in_doubt(
    sim: Any, tmp_path: Path
) -> None:
    """Before, a busy connection whose lease was lost stayed open until its ACK came
    or its timeout ran out, however long after the lease that was."""
    now = [0.0]
    leases = StalledRenewals(SqliteLeases(tmp_path / "link-leases.sqlite3", duration=30))
    link = BudgetedLink(
        lambda: MllpClient("127.0.0.1", sim.mllp_port, timeout=30),
        leases,
        Budget(slots=1, idle_seconds=600),
        clock=lambda: now[0],
    )
    sim.faults.latency_ms = 20_000
    outcome: list[BaseException | str] = []

    def send() -> None:
        try:
            outcome.extend(send_many(link, "F", 1))
        except ConnectionFailed as error:
            outcome.append(error)

    sender = threading.Thread(target=send)
    try:
        sender.start()
        wait_for(lambda: sim.stats()["connections_open"] == 1)
        now[0] = 20.0
        sender.join(timeout=5)
        assert not sender.is_alive(), "the exchange outlived its deadline"
        assert isinstance(outcome[0], ConnectionFailed)  # in doubt: resent with its MSH-10
        assert link.open_connections == 0  # (the simulator notices once its delay is over)
    finally:
        sim.faults.latency_ms = 0
        leases.release_renewals.set()
        link.close()


def test_a_connection_that_fails_to_open_gives_its_slot_back(sim: Any, tmp_path: Path) -> None:
    """Before, the slot stayed taken until its lease lapsed: every sender of the stamp
    got LinkBusy for 30 s."""
    lease_file = tmp_path / "link-leases.sqlite3"

    def refused() -> MllpClient:
        raise LinkUnavailable("no TLS trust configured (test)")

    failing = BudgetedLink(refused, SqliteLeases(lease_file), Budget(slots=1))
    with pytest.raises(LinkUnavailable):
        failing.exchange(adt("A05", "G1", "OB-G-1", PNR).encode(), codec="utf-8")
    failing.close()
    assert SqliteLeases(lease_file).try_acquire(0) is not None


def test_close_during_an_exchange_closes_the_connection_when_it_returns(
    sim: Any, tmp_path: Path
) -> None:
    """Before, close() retired idle connections only: the busy one went back to the
    idle list, open, with no janitor left to renew or close it."""
    link = budgeted(sim, SqliteLeases(tmp_path / "link-leases.sqlite3"), slots=1)
    sim.faults.latency_ms = 300
    sender = threading.Thread(target=send_many, args=(link, "H", 1))
    try:
        sender.start()
        wait_for(lambda: sim.stats()["connections_open"] == 1)
        link.close()
        sender.join(timeout=5)
        assert link.open_connections == 0
        wait_for(lambda: sim.stats()["connections_open"] == 0)
        with pytest.raises(LinkUnavailable):
            send_many(link, "I", 1)
    finally:
        sim.faults.latency_ms = 0
