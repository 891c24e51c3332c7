"""Benchmark: the Millennium link budget, side by side in one run.

    python -m bench.link [--messages 3000] [--bookings 1000] [--backlog 2000] [--write]

With the local run, its worker process and the simulator (connection budget 1,
the simulator enforcing it) each in a process of their own (`bench.outside`):

1. **bare link**: ``--messages`` HL7 messages sent one after another over the
   budgeted link (the run's own lease file) to the simulator with no added
   latency and no pipeline;
2. **durable floor**: the same messages, each with only the durable steps the
   pipeline's guarantees need and none of its logic: a kick sent, received and
   completed on an embedded queue, the intent written to a crosswalk before the
   send and the outcome after it (ETag-conditional), one audit row, on one
   thread and on four sharing the connection; the faster is a ceiling on this
   machine for any pipeline that commits each message's steps on their own;
3. **pipeline**: ``--bookings`` bookings (with rebookings and cancellations)
   through the webhook, queues and workers over the same budget until Millennium
   holds every last snapshot; the ratio of the pipeline's and the bare link's
   message rates is the figure issue 11/13 ask for;
4. **live before backlog** (one local run in this process, as the go-live
   needs its services): a go-live of ``--backlog`` bookings paced at
   ``--pace`` bookings/s with a 5 ms Millennium while a live booking arrives every
   second: the live changes' latency (202 → all targets confirmed) and the
   drain's message rate.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.outside import LocalRunProcess, Simulator
from bench.pipeline import measured_run, throughput
from bench.report import write_figures
from localrun.app import LocalRun, local_settings
from shared.crosswalk.sqlite import SqliteTableStore
from shared.link.budget import Budget, BudgetedLink
from shared.link.sqlite_leases import SqliteLeases
from shared.mllp.client import MllpClient
from shared.queue.embedded import EmbeddedQueue
from shared.queue.port import OutboundMessage
from simulator.samples import adt
from tests.builders import synthetic_personnummer
from tests.e2e.backlog import drain_with_live_changes, profiles_with_sas_in_jumpout, shadow_backlog

FLOOR_THREADS = (1, 4)  # the pipeline's worker runs four threads per queue


def start(tmp: Path, profiles: Path | None = None) -> LocalRun:
    os.environ["LOCAL_DATA_DIR"] = str(tmp / "data")
    os.environ["MILLENNIUM_MLLP_MAX_CONNECTIONS"] = "1"
    if profiles is not None:
        os.environ["ADMINISTRATION_PROFILES"] = str(profiles)
    settings = dataclasses.replace(local_settings(), host_port=0, mllp_port=0)
    return LocalRun(settings, simulator_http_port=0, durable_simulator=False).start()


def _budgeted_link(run: LocalRunProcess, simulator: Simulator) -> BudgetedLink:
    """A link over the run's own budget (its lease file), one connection."""
    return BudgetedLink(
        lambda: MllpClient("127.0.0.1", simulator.mllp_port, timeout=10),
        SqliteLeases(run.data_dir / "link-leases.sqlite3"),
        Budget(slots=1, wait_seconds=60),
    )


def _payloads(prefix: str, messages: int) -> list[bytes]:
    pnr = synthetic_personnummer(1)
    return [adt("A05", f"{prefix}{n}", f"OB-{prefix}-{n}", pnr).encode() for n in range(messages)]


def bare_link(run: LocalRunProcess, simulator: Simulator, messages: int) -> float:
    """Messages/s over the run's own budget (its lease file), the pipeline idle."""
    link = _budgeted_link(run, simulator)
    payloads = _payloads("BARE", messages)
    started = time.perf_counter()
    for payload in payloads:
        link.exchange(payload, codec="utf-8")
    elapsed = time.perf_counter() - started
    link.close()
    return messages / elapsed


def durable_floor(
    run: LocalRunProcess, simulator: Simulator, messages: int, folder: Path, *, threads: int = 1
) -> float:
    """Messages/s with only the durable steps per message (files in ``folder``), the
    messages shared among ``threads`` threads of this process: while one thread
    waits for its ACK on the one connection, the others can do their durable steps."""
    link = _budgeted_link(run, simulator)
    payloads = _payloads("FLOOR", messages)
    with EmbeddedQueue(folder / "queue.sqlite3") as queue:
        store = SqliteTableStore(folder / "crosswalk.sqlite3")
        store.create_tables(["targets", "audit"])

        def durable_steps(first: int) -> None:
            kicks = f"floor-{first}"  # a queue per thread: each receives its own kick
            for n in range(first, messages, threads):
                booking = f"OB-FLOOR-{n}"
                kick = OutboundMessage(
                    queue=kicks, body=b"{}", session_id=booking, message_id=f"k{n}"
                )
                queue.send([kick])
                received = queue.receive(kicks, wait=1.0)
                intent = store.insert("targets", booking, "encounter", {"intent": f"FLOOR{n}"})
                link.exchange(payloads[n], codec="utf-8")
                store.update("targets", booking, "encounter", {"confirmed": "AA"}, intent.etag)
                store.insert("audit", booking, f"ack-{n}", {"kind": "ack"})
                queue.complete_many(received)

        started = time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(durable_steps, range(threads)))  # re-raises a thread's error
        elapsed = time.perf_counter() - started
        store.close()
    link.close()
    return messages / elapsed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--bookings", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--backlog", type=int, default=2000)
    parser.add_argument("--pace", type=float, default=40.0)
    parser.add_argument("--live", type=int, default=30)
    parser.add_argument("--worker-processes", type=int, default=1)
    parser.add_argument("--write", action="store_true", help="write figures to docs/performance.md")
    args = parser.parse_args(argv)
    lines: list[str] = []
    with measured_run(worker_processes=args.worker_processes) as (outside, simulator):
        outside.wait_idle(30)
        bare = bare_link(outside, simulator, args.messages)
        floors = {}
        for threads in FLOOR_THREADS:
            with tempfile.TemporaryDirectory() as floor_folder:
                floors[threads] = durable_floor(
                    outside, simulator, args.messages, Path(floor_folder), threads=threads
                )
        floor = max(floors.values())
        figures = throughput(outside, simulator, args.bookings, args.clients)
        stats = simulator.stats()
    pipeline = figures.messages / figures.elapsed_s
    lines += [
        f"- Bare link, budget 1 connection, no added latency ({args.messages} messages "
        f"one after another): {bare:.0f} messages/s",
        "- Durable floor over the same budget (the same messages, each only sent, "
        "received and completed as a kick, its intent and outcome written to a "
        "crosswalk and one audit row): "
        + ", ".join(
            f"{rate:.0f} messages/s on {threads} thread(s) ({rate / bare:.2f} of the bare link)"
            for threads, rate in floors.items()
        ),
        f"- Pipeline over the same budget in the same run ({args.bookings} bookings, "
        f"{figures.events} events, {args.worker_processes} worker process(es)): "
        f"{pipeline:.0f} messages/s, "
        f"ratio pipeline ÷ bare link {pipeline / bare:.2f}, pipeline ÷ durable floor "
        f"{pipeline / floor:.2f}; the simulator saw at most "
        f"{stats['max_connections_seen']} connection(s), {stats['over_limit_connections']} "
        "over the limit",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        profiles = profiles_with_sas_in_jumpout(Path(tmp) / "profiles")
        run = start(Path(tmp), profiles)
        try:
            run.simulator.faults.latency_ms = 5
            backlog = shadow_backlog(run, args.backlog)
            result = drain_with_live_changes(
                run,
                profiles,
                backlog=backlog,
                pace=args.pace,
                live=args.live,
                interval=1.0,
                timeout=args.backlog / args.pace * 3 + 60,
            )
        finally:
            run.stop()
            os.environ.pop("ADMINISTRATION_PROFILES", None)
    # Inclusive: with a few dozen samples the default method extrapolates past the max.
    cuts = statistics.quantiles(
        [1000 * s for s in result.live_latencies], n=100, method="inclusive"
    )
    p50, p99 = cuts[49], cuts[98]
    lines.append(
        f"- Live before backlog, 5 ms Millennium, budget 1: a go-live of {args.backlog} "
        f"bookings paced at {args.pace:g}/s drained at {result.drain_messages_per_second:.0f} "
        f"messages/s over {result.drain_seconds:.0f} s; {len(result.live_latencies)} live "
        f"changes meanwhile converged in p50 {p50:.0f} ms, p99 {p99:.0f} ms "
        f"(max {1000 * max(result.live_latencies):.0f} ms; backlog still to go at each: "
        f"median {statistics.median(result.backlog_left_at_live):.0f})"
    )
    print("\n".join(lines))
    if args.write:
        write_figures("link", lines)


if __name__ == "__main__":
    main()
