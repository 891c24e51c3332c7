"""Driving the jump-out through the local run: templates aimed at the simulator,
signed launch requests, synthetic patients seeded into Millennium."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import httpx

from localrun.app import LocalRun
from shared.identity import ASSIGNING_AUTHORITY_OID, IdentifierSystem
from shared.profiles import Launch, Mode, Profiles
from shared.services import Services
from shared.webhook.signature import sign

USER = "SE2321000131-P000000000777"


def aim_launch_at_simulator(run: LocalRun, **modes: Mode) -> None:
    """Point every profile's launch templates at this run's simulator (its HTTP port
    is ephemeral in tests); ``modes`` overrides administrations' modes (SU=...)."""
    simulator = run.simulator.http_url
    launch = Launch(
        millennium_url=f"{simulator}/millennium/launch?person={{personId}}&encounter={{encounterId}}",
        orbit_url=f"{simulator}/orbit/booking/{{bookingId}}",
    )
    services = running(run)
    profiles = services.profiles
    services.profiles = Profiles(
        {
            code: profiles.get(code).model_copy(
                update={"launch": launch, "mode": modes.get(code, profiles.get(code).mode)}
            )
            for code in profiles.codes()
        }
    )


def set_mode(run: LocalRun, code: str, mode: Mode) -> None:
    """Switch one administration's mode, as a deployed profile change would."""
    services = running(run)
    changed = {c: services.profiles.get(c) for c in services.profiles.codes()}
    changed[code] = changed[code].model_copy(update={"mode": mode})
    services.profiles = Profiles(changed)


def running(run: LocalRun) -> Services:
    assert run.services is not None, "start the local run first"
    return run.services


def launch_body(value: str, *, target: str = "millennium", **extra: Any) -> dict[str, Any]:
    return {
        "target": target,
        "administration": "SU",
        "patient": {"identifier": {"system": "personnummer", "value": value}},
        "user": {"hsaId": USER},
        **extra,
    }


def post_launch(
    base_url: str, secret: str | None, body: dict[str, Any], *, host: str | None = None
) -> httpx.Response:
    """POST /api/launch, signed with ``secret`` (None: unsigned); ``host`` overrides
    the Host header (as a client or a proxy on the way could)."""
    raw = json.dumps(body).encode()
    headers = {"content-type": "application/json"}
    if host is not None:
        headers["host"] = host
    if secret is not None:
        headers |= sign(secret, f"msg_{uuid.uuid4().hex}", int(time.time()), raw)
    return httpx.post(f"{base_url}/api/launch", content=raw, headers=headers)


def seed_patient(simulator_url: str, value: str, family: str, given: str) -> str:
    """Register a synthetic person in the simulated Millennium; its person id."""
    oid = ASSIGNING_AUTHORITY_OID[IdentifierSystem.PERSONNUMMER]
    patient = {
        "resourceType": "Patient",
        "identifier": [{"system": f"urn:oid:{oid}", "value": value}],
        "name": [{"family": family, "given": [given]}],
    }
    response = httpx.post(f"{simulator_url}/fhir/_seed", json=patient)
    response.raise_for_status()
    return str(response.json()["id"])
