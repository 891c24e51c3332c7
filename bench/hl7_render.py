"""Benchmark: HL7 rendering throughput on one core, with hl7apy-valid output.

    python -m bench.hl7_render [--messages 50000] [--sample 200]

Renders ``--messages`` messages round-robin over every trigger, for a pool of
synthetic bookings at SU (UTF-8) and SÄS (ISO-8859-1), and prints messages per
second for rendering alone and for the whole per-message work of a send
(control id + render + encode). Then validates a sample with hl7apy (strict).
The target (brief §9) is at least 5,000 messages per second per core.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import time
from collections.abc import Callable
from pathlib import Path

from docgen.hl7_validate import unexpected_warnings, validate_strict
from shared.booking import BookingSnapshot
from shared.hl7.control_id import control_id
from shared.hl7.encoding import encode_message
from shared.hl7.render import render_message
from shared.hl7.triggers import Trigger
from shared.identity import IdentifierSystem, with_check_digit
from shared.profiles import Profile, load_profiles
from shared.targets import Facts, desired_facts
from tests.hl7_support import TARGET_OF

PROFILES = Path(__file__).resolve().parents[1] / "profiles"
SITES = {"SU": (101, 201), "SAS": (301, 401)}
FAMILY = ["Åkerström", "Öberg", "Lindqvist", "Berg|Ström", "Nilsson", "Hägg"]
GIVEN = ["Märta", "Renée", "Sölve", "Åsa", "Erik", "Anna^Lena"]
CET = dt.timezone(dt.timedelta(hours=1))
Job = tuple[Trigger, Facts, Profile, str, int]


def snapshot(number: int, code: str) -> BookingSnapshot:
    unit, ward = SITES[code]
    born = dt.date(1940, 1, 1) + dt.timedelta(days=number // 20)
    start = dt.datetime(2026, 12, 1, 7, 30, tzinfo=CET) + dt.timedelta(minutes=37 * number)
    return BookingSnapshot.model_validate(
        {
            "booking_id": f"OB-2026-{number:06d}",
            "version": 1 + number % 4,
            "status": "booked",
            "administration": code,
            "patient": {
                "identifier": {
                    "system": "personnummer",
                    "value": with_check_digit(
                        IdentifierSystem.PERSONNUMMER, f"{born:%Y%m%d}{980 + number % 20}"
                    ),
                },
                "family_name": FAMILY[number % len(FAMILY)],
                "given_name": GIVEN[number % len(GIVEN)],
                "protected_identity": number % 10 == 0,
            },
            "procedure": {"code": "NFB49", "text": "Primär total höftledsplastik"},
            "diagnosis": {"code": "M16.1"},
            "operating_unit": {"hsa_id": f"SE2321000131-E{unit + number % 4:012d}"},
            "theatre": f"SAL {1 + number % 9}",
            "surgeon": {"hsa_id": f"SE2321000131-P{456 + number % 50:012d}"},
            "planned_start": start,
            "planned_end": start + dt.timedelta(minutes=60 + 15 * (number % 8)),
            "admission": {
                "type": "inpatient",
                "ward": {"hsa_id": f"SE2321000131-E{ward + number % 6:012d}"},
                "expected_nights": number % 5,
            },
        }
    )


def jobs(pool_size: int) -> list[Job]:
    """One job per (booking, trigger): everything a render needs, prepared up front."""
    profiles = load_profiles(str(PROFILES))
    bookings = [snapshot(n, "SU" if n % 2 == 0 else "SAS") for n in range(pool_size)]
    prepared: list[Job] = []
    # Trigger by trigger, so consecutive messages are of different bookings (as in a
    # busy worker): nothing one message computed is reused by the next.
    for trigger, target in TARGET_OF.items():
        for booking in bookings:
            facts = desired_facts(booking, target)
            assert facts is not None
            code = booking.administration
            prepared.append(
                (trigger, facts, profiles.get(code), booking.booking_id, booking.version)
            )
    return prepared


def run(count: int, work: Callable[[Job], object], prepared: list[Job]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) for ``count`` calls of ``work``."""
    cycle = itertools.islice(itertools.cycle(prepared), count)
    wall, cpu = time.perf_counter(), time.process_time()
    for job in cycle:
        work(job)
    return time.perf_counter() - wall, time.process_time() - cpu


SENT_AT = dt.datetime(2026, 11, 22, 8, 15, tzinfo=CET)


def render_only(job: Job) -> str:
    trigger, facts, profile, _, _ = job
    return render_message(
        trigger, facts, profile, control_id="BENCH1", sent_at=SENT_AT, processing_id="T"
    )


def full_send_preparation(job: Job) -> bytes:
    trigger, facts, profile, booking_id, version = job
    text = render_message(
        trigger,
        facts,
        profile,
        control_id=control_id(booking_id, TARGET_OF[trigger], trigger, version, 0),
        sent_at=SENT_AT,
        processing_id="T",
    )
    return encode_message(text, profile)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="HL7 rendering benchmark (one core)")
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--sample", type=int, default=200)
    args = parser.parse_args(argv)

    prepared = jobs(pool_size=200)
    run(2_000, full_send_preparation, prepared)  # warm up
    for label, work in [
        ("render", render_only),
        ("control id + render + encode", full_send_preparation),
    ]:
        wall, cpu = run(args.messages, work, prepared)
        print(
            f"{label:30s} {args.messages:>7,d} messages  {args.messages / wall:>9,.0f} msg/s "
            f"(wall)  {args.messages / cpu:>9,.0f} msg/s (CPU)  "
            f"{1e6 * wall / args.messages:6.1f} µs/msg"
        )

    step = max(1, len(prepared) // args.sample)
    sample = prepared[::step][: args.sample]
    started = time.perf_counter()
    unexpected = 0
    for job in sample:
        unexpected += len(unexpected_warnings(validate_strict(render_only(job))))
    elapsed = time.perf_counter() - started
    print(
        f"hl7apy strict validation: {len(sample)} sampled messages valid, "
        f"{unexpected} unexpected warnings ({len(sample) / elapsed:,.0f} msg/s for hl7apy)"
    )
    if unexpected:
        raise SystemExit("unexpected hl7apy warnings: see tests/unit/test_hl7_render.py")


if __name__ == "__main__":
    main()
