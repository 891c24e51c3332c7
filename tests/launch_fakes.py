"""Test doubles for the jump-out: a scripted Millennium FHIR API and signed requests."""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from shared.crosswalk.sqlite import SqliteTableStore
from shared.identity import ASSIGNING_AUTHORITY_OID, IdentifierSystem
from shared.launch.fhir import FhirEncounter, FhirUnavailable
from shared.launch.handler import LaunchHttpRequest, LaunchPorts
from shared.launch.request import Caller
from shared.names import ALL_TABLES
from shared.profiles import Launch, Mode, Profiles
from shared.webhook.signature import new_secret, sign
from tests.builders import profile, synthetic_personnummer
from tests.fakes import FixedClock

BASE_URL = "https://orbitmil.example"
MILLENNIUM_URL = "https://millennium.example/launch?person={personId}&encounter={encounterId}"
ORBIT_URL = "https://orbit.example/booking/{bookingId}"
USER = "SE2321000131-P000000000777"
NOW = dt.datetime(2026, 11, 22, 9, 0, tzinfo=dt.UTC)


@dataclass
class FakeFhir:
    """Millennium's FHIR API from dictionaries; counts calls; ``down`` makes it fail."""

    persons: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    encounters: list[FhirEncounter] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    down: bool = False

    def add_person(self, value: str, person_id: str, system: str = "personnummer") -> None:
        oid = ASSIGNING_AUTHORITY_OID[IdentifierSystem(system)]
        self.persons.setdefault((f"urn:oid:{oid}", value), []).append(person_id)

    def add_encounter(self, encounter_id: str, person_id: str, visit_number: str) -> None:
        self.encounters.append(FhirEncounter(encounter_id, person_id, (("ORBIT", visit_number),)))

    def person_ids(self, system: str, value: str) -> list[str]:
        self._call("Patient")
        return list(self.persons.get((system, value), []))

    def encounters_with_identifier(self, value: str) -> list[FhirEncounter]:
        self._call("Encounter?")
        return [e for e in self.encounters if value in [v for _, v in e.identifiers]]

    def encounter(self, encounter_id: str) -> FhirEncounter | None:
        self._call("Encounter/")
        return next((e for e in self.encounters if e.encounter_id == encounter_id), None)

    def _call(self, what: str) -> None:
        if self.down:
            raise FhirUnavailable(f"FHIR {what} request failed (ConnectError)")
        self.calls.append(what)


@dataclass
class LaunchWorld:
    """Everything a launch handler test needs, with secrets for both callers."""

    store: SqliteTableStore
    fhir: FakeFhir
    clock: FixedClock
    profiles: Profiles
    orbit_secret: str = field(default_factory=new_secret)
    millennium_secret: str = field(default_factory=new_secret)
    codes: list[str] = field(default_factory=list)

    def ports(self, **overrides: Any) -> LaunchPorts:
        values: dict[str, Any] = {
            "store": self.store,
            "profiles": self.profiles,
            "fhir": self.fhir,
            "secrets": {
                Caller.ORBIT: (self.orbit_secret,),
                Caller.MILLENNIUM: (self.millennium_secret,),
            },
            "lookup_key": b"test lookup key",
            "clock": self.clock,
            "public_base_url": BASE_URL,
            "new_code": self._new_code,
        }
        values.update(overrides)
        return LaunchPorts(**values)

    def _new_code(self) -> str:
        from shared.launch.codes import new_code

        code = new_code()
        self.codes.append(code)
        return code


def make_world(mode: Mode = Mode.INTEGRATED) -> LaunchWorld:
    su = profile("SU").model_copy(
        update={"mode": mode, "launch": Launch(millennium_url=MILLENNIUM_URL, orbit_url=ORBIT_URL)}
    )
    off = profile("SAS").model_copy(update={"mode": Mode.OFF})
    store = SqliteTableStore(":memory:")
    store.create_tables(ALL_TABLES)
    return LaunchWorld(
        store=store,
        fhir=FakeFhir(),
        clock=FixedClock(NOW),
        profiles=Profiles({"SU": su, "SAS": off}),
    )


def launch_body(
    *,
    target: str = "millennium",
    value: str | None = None,
    system: str = "personnummer",
    **extra: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "target": target,
        "administration": "SU",
        "patient": {"identifier": {"system": system, "value": value or synthetic_personnummer(1)}},
        "user": {"hsaId": USER},
    }
    body.update(extra)
    return body


def signed_request(
    body: dict[str, Any] | bytes,
    secret: str,
    *,
    webhook_id: str | None = None,
    timestamp: int | None = None,
    content_type: str = "application/json",
) -> LaunchHttpRequest:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = sign(
        secret, webhook_id or f"msg_{uuid.uuid4().hex}", timestamp or int(time.time()), raw
    )
    headers["Content-Type"] = content_type
    return LaunchHttpRequest.of(headers, raw)


def code_of(launch_url: str) -> str:
    return launch_url.rsplit("/", 1)[1]
