"""Benchmark: jump-out latency through the local run (real HTTP, SQLite, simulator FHIR).

    python -m bench.launch [--launches 300] [--write]

Times, per launch, the signed ``POST /api/launch`` (the first one per patient asks
the simulator's FHIR API, later ones hit the lookup cache) and the browser's
``GET /api/launch/{code}`` (redeem + audit + 302). Synthetic patients only.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import tempfile
import time
import uuid

import httpx

from bench.report import write_figures
from localrun.app import LocalRun, local_settings
from shared.identity import ASSIGNING_AUTHORITY_OID, IdentifierSystem, with_check_digit
from shared.profiles import Launch, Profiles
from shared.webhook.signature import sign

PATIENTS = 20


def _patient(n: int) -> str:
    return with_check_digit(IdentifierSystem.PERSONNUMMER, f"19500101{980 + n % 20:03d}"[:11])


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def _summary(name: str, seconds: list[float]) -> str:
    ms = [s * 1000 for s in seconds]
    return (
        f"{name}: p50 {statistics.median(ms):.1f} ms, p99 {_percentile(ms, 0.99):.1f} ms "
        f"({len(ms)} requests)"
    )


def run(launches: int) -> list[str]:
    with tempfile.TemporaryDirectory() as data:
        os.environ["LOCAL_DATA_DIR"] = data
        settings = dataclasses.replace(local_settings(), host_port=0, mllp_port=0)
        local = LocalRun(settings, simulator_http_port=0).start()
        try:
            return _measure(local, launches)
        finally:
            local.stop()


def _measure(local: LocalRun, launches: int) -> list[str]:
    assert local.services is not None
    simulator = local.simulator.http_url
    template = f"{simulator}/millennium/launch?person={{personId}}&encounter={{encounterId}}"
    profiles = local.services.profiles
    local.services.profiles = Profiles(
        {
            code: profiles.get(code).model_copy(
                update={"launch": Launch(millennium_url=template, orbit_url="")}
            )
            for code in profiles.codes()
        }
    )
    oid = ASSIGNING_AUTHORITY_OID[IdentifierSystem.PERSONNUMMER]
    values = sorted({_patient(n) for n in range(PATIENTS)})
    with httpx.Client() as client:
        for value in values:
            patient = {
                "resourceType": "Patient",
                "identifier": [{"system": f"urn:oid:{oid}", "value": value}],
                "name": [{"family": "Bench", "given": ["Test"]}],
            }
            client.post(f"{simulator}/fhir/_seed", json=patient).raise_for_status()
        secret = local.settings.launch_secrets_orbit[0]
        first: list[float] = []
        cached: list[float] = []
        follow: list[float] = []
        for i in range(launches):
            value = values[i % len(values)]
            body = json.dumps(
                {
                    "target": "millennium",
                    "administration": "SU",
                    "patient": {"identifier": {"system": "personnummer", "value": value}},
                    "user": {"hsaId": "SE2321000131-P000000000777"},
                }
            ).encode()
            headers = sign(secret, f"msg_{uuid.uuid4().hex}", int(time.time()), body)
            headers["content-type"] = "application/json"
            started = time.perf_counter()
            created = client.post(f"{local.base_url}/api/launch", content=body, headers=headers)
            (first if i < len(values) else cached).append(time.perf_counter() - started)
            if created.status_code != 201:
                raise SystemExit(f"launch answered {created.status_code}")
            started = time.perf_counter()
            followed = client.get(created.json()["launchUrl"])
            follow.append(time.perf_counter() - started)
            if followed.status_code != 302:
                raise SystemExit(f"follow answered {followed.status_code}")
    return [
        _summary("- Jump-out `POST /api/launch`, FHIR lookup (first per patient)", first),
        _summary("- Jump-out `POST /api/launch`, lookup cached", cached),
        _summary("- Jump-out `GET /api/launch/{code}` (redeem, audit, 302)", follow),
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="jump-out latency through the local run")
    parser.add_argument("--launches", type=int, default=300)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args(argv)
    lines = run(args.launches)
    print("\n".join(lines))
    if args.write:
        write_figures("launch", lines)


if __name__ == "__main__":
    main()
