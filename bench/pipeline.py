"""Benchmark: the whole local pipeline (webhook → queues → workers → MLLP → simulator).

    python -m bench.pipeline [--bookings 2000] [--clients 4] [--e2e 200]
                             [--worker-processes 1] [--growth 1000,4000,16000] [--write]

The local run (``python -m localrun``, with ``--worker-processes`` worker processes),
the Millennium simulator and the posting clients each run in processes of their
own (`bench.outside`), so the figures are the pipeline's and not the contention of
one interpreter. It measures:

* webhook latency, warm: with the worker processes paused (SIGSTOP: the HTTP path
  alone), and while they drain a backlog of ``--bookings``;
* end to end, one booking at a time: POST → all three Millennium records exist,
  with a simulated Millennium latency of 5 ms;
* throughput: ``--bookings`` synthetic bookings (with rebookings and
  cancellations) posted by ``--clients`` processes until Millennium holds the last
  snapshot of every booking, with the CPU the local run's processes used;
* ``--growth``: the throughput run at each size on a fresh data folder, so the cost
  per booking can be compared across sizes (there the backlog grows with the size
  too); then waves of the smallest size on one data folder up to the largest, so
  the stored history grows while the backlog stays one wave.

Targets (brief §9, issue 13): webhook p99 ≤ 20 ms while draining; booking → all
ACKs p99 ≤ 40 ms with a 5 ms Millennium; 44,000 bookings in ≤ 120 s on 2 cores.
"""

from __future__ import annotations

import argparse
import functools
import multiprocessing
import os
import signal
import statistics
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.outside import LocalRunProcess, Poster, Simulator, timed
from bench.report import write_figures
from localrun.expected import millennium_differences
from localrun.hospital_day import hospital_day
from shared.booking import BookingSnapshot
from tests.builders import make_snapshot
from tests.e2e.harness import event_of

CONVERGE_TIMEOUT_SECONDS = 3600.0
BOOKING_TIMEOUT_SECONDS = 30.0


@contextmanager
def measured_run(
    *, worker_processes: int = 1, connections: int = 1
) -> Iterator[tuple[LocalRunProcess, Simulator]]:
    """A fresh local run and simulator, each in its own process, stopped afterwards."""
    with tempfile.TemporaryDirectory() as tmp:
        simulator = Simulator(Path(tmp), connection_limit=connections)
        try:
            run = LocalRunProcess(
                Path(tmp), simulator, worker_processes=worker_processes, connections=connections
            )
            try:
                yield run, simulator
            finally:
                run.stop()
        finally:
            simulator.stop()


def quantiles(values: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return cuts[49], cuts[98]


@contextmanager
def workers_paused(run: LocalRunProcess) -> Iterator[None]:
    """SIGSTOP the worker processes (the HTTP host keeps serving), SIGCONT after."""
    workers = run.pids[1:]
    for pid in workers:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in workers:
            os.kill(pid, signal.SIGCONT)


def webhook_latency(run: LocalRunProcess, count: int, first: int) -> list[float]:
    """Milliseconds per POST of ``count`` new bookings, one after another (warm: the
    first tenth is dropped)."""
    events = [event_of(make_snapshot(booking_id=f"OB-2026-{first + n:06d}")) for n in range(count)]
    with Poster(run.base_url, run.secret) as poster:
        latencies = [timed(functools.partial(poster.post, event)) for event in events]
    return latencies[count // 10 :]


def end_to_end(run: LocalRunProcess, simulator: Simulator, count: int) -> list[float]:
    """Milliseconds from POST to Millennium's third AA, one booking at a time (with
    nothing else going on, the booking's encounter, appointment and bed booking).
    It waits on the simulator's ACK counter in one request per booking: polling it
    every half millisecond took, with its two processes, the CPU that the local
    run and the simulator needed (10–30 ms stalls in the p99), and a look at the
    state would make it render its whole log."""
    simulator.set_latency(5)
    run.wait_idle(600)
    latencies = []
    with Poster(run.base_url, run.secret) as poster:
        for n in range(count):
            snapshot = make_snapshot(booking_id=f"OB-2027-{n:06d}")
            acknowledged = _accepted(simulator)
            started = time.perf_counter()
            poster.post(event_of(snapshot))
            if simulator.wait_for_acks("AA", acknowledged + 3, BOOKING_TIMEOUT_SECONDS) < (
                acknowledged + 3
            ):
                raise TimeoutError(f"{snapshot.booking_id} was not acknowledged three times")
            latencies.append((time.perf_counter() - started) * 1000)
    simulator.set_latency(0)
    return latencies


def _accepted(simulator: Simulator) -> int:
    return int(simulator.stats()["by_ack"].get("AA", 0))


@dataclass(frozen=True)
class Throughput:
    bookings: int
    events: int
    posted_s: float
    elapsed_s: float
    messages: int
    cpu_s: float
    duplicate_creates: int

    @property
    def ms_per_booking(self) -> float:
        return 1000 * self.elapsed_s / self.bookings

    @property
    def cpu_ms_per_booking(self) -> float:
        return 1000 * self.cpu_s / self.bookings


def throughput(
    run: LocalRunProcess,
    simulator: Simulator,
    bookings: int,
    clients: int,
    *,
    first_index: int = 1,
    seed: int = 44,
) -> Throughput:
    """Post a synthetic day of ``bookings`` (ids from ``first_index``) from ``clients``
    processes and wait until Millennium holds every booking's last snapshot."""
    events = list(
        hospital_day(bookings, seed=seed, administrations=("SU", "SAS"), first_index=first_index)
    )
    shards: list[list[dict[str, Any]]] = [[] for _ in range(clients)]
    for event in events:  # one booking's events stay in order on one client
        shards[hash(event["data"]["bookingId"]) % clients].append(event)
    before = int(simulator.stats()["received"])
    cpu_before = run.cpu_seconds()
    started = time.perf_counter()
    post_in_processes(run, shards)
    posted = time.perf_counter() - started
    wait_converged(run, simulator, _latest(events))
    elapsed = time.perf_counter() - started
    stats = simulator.stats()
    return Throughput(
        bookings=bookings,
        events=len(events),
        posted_s=posted,
        elapsed_s=elapsed,
        messages=int(stats["received"]) - before,
        cpu_s=run.cpu_seconds() - cpu_before,
        duplicate_creates=int(stats["duplicate_creates"]),
    )


def post_in_processes(run: LocalRunProcess, shards: list[list[dict[str, Any]]]) -> None:
    """Each shard posted in order by a process of its own."""
    context = multiprocessing.get_context("spawn")
    with context.Pool(len(shards)) as pool:
        pool.starmap(_post_shard, [(run.base_url, run.secret, shard) for shard in shards])


def _post_shard(base_url: str, secret: str, events: list[dict[str, Any]]) -> None:
    with Poster(base_url, secret) as poster:
        for event in events:
            poster.post(event)


def wait_converged(
    run: LocalRunProcess, simulator: Simulator, latest: list[BookingSnapshot]
) -> None:
    """Until the queues are idle and Millennium matches every snapshot.

    Raises:
        TimeoutError: not converged within CONVERGE_TIMEOUT_SECONDS.
    """
    deadline = time.monotonic() + CONVERGE_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        idle = run.wait_idle(max(1.0, deadline - time.monotonic()))
        if idle and not millennium_differences(latest, simulator.state()):
            return
        time.sleep(0.2)
    raise TimeoutError("the pipeline did not converge")


def _latest(events: Iterable[dict[str, Any]]) -> list[BookingSnapshot]:
    latest: dict[str, BookingSnapshot] = {}
    for event in events:
        latest[event["data"]["bookingId"]] = BookingSnapshot.model_validate(event["data"])
    return list(latest.values())


def throughput_line(figures: Throughput, clients: int) -> str:
    return (
        f"- Throughput: {figures.bookings} bookings ({figures.events} events with "
        f"rebookings and cancellations, {clients} posting processes) converged in "
        f"{figures.elapsed_s:.1f} s: {figures.events / figures.elapsed_s:.0f} events/s, "
        f"{figures.messages / figures.elapsed_s:.0f} HL7 messages/s, "
        f"{figures.duplicate_creates} duplicate creates; the local run's processes used "
        f"{figures.cpu_ms_per_booking:.1f} ms CPU per booking; at that rate 44,000 "
        f"bookings take {44_000 * figures.ms_per_booking / 1000:.0f} s"
    )


def growth_lines(sizes: list[int], clients: int, worker_processes: int) -> list[str]:
    """The throughput run at each size, each on a fresh data folder."""
    rows = []
    for size in sizes:
        with measured_run(worker_processes=worker_processes) as (run, simulator):
            figures = throughput(run, simulator, size, clients)
        rows.append(figures)
        print(throughput_line(figures, clients), flush=True)
    first = rows[0]
    lines = [
        "",
        "| bookings | events | converged in | ms per booking | CPU ms per booking | "
        "HL7 messages/s |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {row.bookings:,} | {row.events:,} | {row.elapsed_s:.0f} s | "
        f"{row.ms_per_booking:.1f} | {row.cpu_ms_per_booking:.1f} | "
        f"{row.messages / row.elapsed_s:.0f} |"
        for row in rows
    ]
    last = rows[-1]
    cpu_change = 100 * (last.cpu_ms_per_booking / first.cpu_ms_per_booking - 1)
    time_change = 100 * (last.ms_per_booking / first.ms_per_booking - 1)
    lines.append(
        f"\nFrom {first.bookings:,} to {last.bookings:,} bookings the CPU per booking "
        f"changed by {cpu_change:+.0f} % and the time per booking by {time_change:+.0f} %."
    )
    return lines


def history_lines(total: int, wave: int, clients: int, worker_processes: int) -> list[str]:
    """Waves of ``wave`` new bookings on one data folder until ``total`` are stored,
    each posted after the last converged: the backlog stays one wave while the
    tables grow, so a change in CPU per booking from wave to wave is the stored
    history's doing (the per-size runs above also grow the backlog with the size)."""
    cpu: list[float] = []
    with measured_run(worker_processes=worker_processes) as (run, simulator):
        for index in range(total // wave):
            figures = throughput(
                run, simulator, wave, clients, first_index=1 + index * wave, seed=44 + index
            )
            cpu.append(figures.cpu_ms_per_booking)
            print(f"wave {index + 1}: {figures.cpu_ms_per_booking:.1f} ms CPU per booking")
    fitted_first, fitted_last = _fitted_ends(cpu)
    quarter = max(1, len(cpu) // 4)
    return [
        "",
        f"Stored history, one data folder: {len(cpu)} waves of {wave:,} new bookings, each "
        f"posted once the one before converged, until {wave * len(cpu):,} were stored. "
        "CPU ms per booking, wave by wave: " + ", ".join(f"{value:.1f}" for value in cpu) + ".",
        "",
        f"Median of the first {quarter} waves {statistics.median(cpu[:quarter]):.1f} ms, of "
        f"the last {quarter} {statistics.median(cpu[-quarter:]):.1f} ms; the least-squares "
        f"line goes from {fitted_first:.1f} to {fitted_last:.1f} ms, "
        f"{100 * (fitted_last / fitted_first - 1):+.0f} % from the first wave to the last.",
    ]


def _fitted_ends(values: list[float]) -> tuple[float, float]:
    """The least-squares line through ``values`` (at 0, 1, …) at its first and last x."""
    if len(values) < 2:
        return values[0], values[0]
    slope, intercept = statistics.linear_regression(range(len(values)), values)
    return intercept, intercept + slope * (len(values) - 1)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bookings", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--webhook", type=int, default=1000)
    parser.add_argument("--e2e", type=int, default=200)
    parser.add_argument("--worker-processes", type=int, default=1)
    parser.add_argument(
        "--growth", default="", help="comma-separated sizes, e.g. 1000,4000,16000 (only these)"
    )
    parser.add_argument("--write", action="store_true", help="write figures to docs/performance.md")
    args = parser.parse_args(argv)
    if args.growth:
        sizes = [int(size) for size in args.growth.split(",")]
        lines = growth_lines(sizes, args.clients, args.worker_processes)
        lines += history_lines(max(sizes), min(sizes), args.clients, args.worker_processes)
        print("\n".join(lines))
        if args.write:
            write_figures("growth", lines)
        return
    lines = pipeline_lines(args)
    print("\n".join(lines))
    if args.write:
        write_figures("pipeline", lines)


def pipeline_lines(args: argparse.Namespace) -> list[str]:
    lines = [
        f"_Local run with {args.worker_processes} worker process(es); simulator and "
        "posting clients in processes of their own._",
        "",
    ]
    with measured_run(worker_processes=args.worker_processes) as (run, simulator):
        if args.worker_processes:
            with workers_paused(run):
                p50, p99 = quantiles(webhook_latency(run, args.webhook, 500_000))
            lines.append(
                f"- Webhook latency, warm, worker processes paused ({args.webhook} "
                f"requests): p50 {p50:.1f} ms, p99 {p99:.1f} ms"
            )
            run.wait_idle(600)
            with workers_paused(run):  # a backlog to drain
                backlog = list(hospital_day(args.bookings, seed=45, administrations=("SU",)))
                post_in_processes(run, [backlog])
            p50, p99 = quantiles(webhook_latency(run, args.webhook, 600_000))
            lines.append(
                f"- Webhook latency, warm, while the workers drain a backlog of "
                f"{len(backlog)} events ({args.webhook} requests): "
                f"p50 {p50:.1f} ms, p99 {p99:.1f} ms"
            )
        run.wait_idle(600)
        p50, p99 = quantiles(end_to_end(run, simulator, args.e2e))
        lines.append(
            f"- End to end, booking → all 3 Millennium records, 5 ms Millennium "
            f"({args.e2e} bookings one at a time): p50 {p50:.0f} ms, p99 {p99:.0f} ms"
        )
    with measured_run(worker_processes=args.worker_processes) as (run, simulator):
        lines.append(
            throughput_line(throughput(run, simulator, args.bookings, args.clients), args.clients)
        )
    return lines


if __name__ == "__main__":
    main()
