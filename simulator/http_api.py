"""The simulator's HTTP side: inspection, fault control and a minimal FHIR R4 API.

A test tool on loopback: responses may contain the synthetic patients' data, but
nothing is logged (request lines would carry identifiers in FHIR search URLs).

    GET  /                           HTML: what Millennium holds, by visit number
    GET  /state                      counts and every encounter/appointment/admit
    GET  /state/bookings/{visit}     one booking's Millennium records and messages
    GET  /stats                      counters (received, by type, by ACK code, ...)
    GET  /stats/acks?code=AA&atLeast=N&timeout=S
                                     wait (at most S ≤ 60 s) until N ACKs with that code
                                     were sent: {"code", "count", "reached"}
    GET  /log                        every received message: MSH-10, type, ACK code
    GET  /faults   POST /faults      read / change fault injection
    POST /reset                      forget everything (state, stats, faults, state file)
    GET  /fhir/Patient?identifier=system|value     searchset Bundle
    GET  /fhir/Patient/{id}                        one Patient
    POST /fhir/_seed                               register a Patient without HL7
    GET  /fhir/Encounter?identifier=[system|]visit searchset Bundle (by visit number)
    GET  /fhir/Encounter/{id}                      one Encounter
    GET  /millennium/launch?person=&encounter=     jump-out landing page (chart)
    GET  /orbit/booking/{bookingId}                jump-out landing page (booking)
"""

from __future__ import annotations

import dataclasses
import json
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from simulator.fhir import (
    FhirError,
    encounter_resource,
    find_encounter,
    operation_outcome,
    patient_resource,
    search_encounters,
    search_patients,
    seed_patient,
)
from simulator.millennium import Millennium
from simulator.pages import millennium_chart, millennium_overview, orbit_booking
from simulator.state import MillenniumState

MAX_BODY_BYTES = 1024 * 1024
JSON = "application/json"
MAX_ACK_WAIT = 60.0
FHIR_JSON = "application/fhir+json"


class SimulatorHttpServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], millennium: Millennium) -> None:
        super().__init__(address, _Handler)
        self.millennium = millennium


class _Handler(BaseHTTPRequestHandler):
    server: SimulatorHttpServer
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle on, a keep-alive client's
    # next request waits for the delayed ACK (~40 ms) — the FHIR lookups felt it.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        """Silence request logging: FHIR search URLs carry patient identifiers."""

    # --- routing ---

    def do_GET(self) -> None:
        path, query = self._target()
        millennium = self.server.millennium
        if path == "/":
            stats = millennium.stats()
            visit = _first(query, "visit").strip()
            self._html(200, millennium.with_state(lambda s: millennium_overview(s, stats, visit)))
        elif path == "/state":
            self._json(HTTPStatus.OK, millennium.with_state(_state_view))
        elif path.startswith("/state/bookings/"):
            visit_number = unquote(path.removeprefix("/state/bookings/"))
            self._json(HTTPStatus.OK, self._booking(visit_number))
        elif path == "/stats":
            self._json(HTTPStatus.OK, millennium.stats())
        elif path == "/stats/acks":
            self._wait_for_acks(query)
        elif path == "/log":
            self._json(HTTPStatus.OK, [dataclasses.asdict(e) for e in millennium.log_entries()])
        elif path == "/faults":
            self._json(HTTPStatus.OK, millennium.faults.as_dict())
        elif path == "/fhir/Patient":
            self._search_patients(query)
        elif path.startswith("/fhir/Patient/"):
            self._read_patient(unquote(path.removeprefix("/fhir/Patient/")))
        elif path == "/fhir/Encounter":
            self._search_encounters(query)
        elif path.startswith("/fhir/Encounter/"):
            self._read_encounter(unquote(path.removeprefix("/fhir/Encounter/")))
        elif path == "/millennium/launch":
            person, encounter = _first(query, "person"), _first(query, "encounter")
            self._html(*millennium.with_state(lambda s: millennium_chart(s, person, encounter)))
        elif path.startswith("/orbit/booking/"):
            booking_id = unquote(path.removeprefix("/orbit/booking/"))
            self._html(*millennium.with_state(lambda s: orbit_booking(s, booking_id)))
        else:
            self._not_found(path)

    def do_POST(self) -> None:
        path, _ = self._target()
        body = self._body()
        if body is _INVALID:
            return
        millennium = self.server.millennium
        if path == "/faults":
            try:
                millennium.faults.update(body or {})
            except (ValueError, TypeError) as error:
                self._json(HTTPStatus.BAD_REQUEST, {"error": str(error)})
                return
            self._json(HTTPStatus.OK, millennium.faults.as_dict())
        elif path == "/reset":
            millennium.reset()
            self._json(HTTPStatus.OK, {"reset": True})
        elif path == "/fhir/_seed":
            self._seed(body)
        else:
            self._not_found(path)

    # --- handlers ---

    def _booking(self, visit_number: str) -> dict[str, Any]:
        millennium = self.server.millennium

        def view(state: MillenniumState) -> dict[str, Any]:
            encounter = state.encounters.get(visit_number)
            appointment = state.appointment_for_visit(visit_number)
            admit = state.pending_admits.get(visit_number)
            person_id = next(
                (r.person_id for r in (encounter, appointment, admit) if r is not None), None
            )
            person = state.persons.get(person_id) if person_id else None
            return {
                "visit_number": visit_number,
                "person": _plain(person),
                "encounter": _plain(encounter),
                "appointment": _plain(appointment),
                "pending_admit": _plain(admit),
            }

        booking = millennium.with_state(view)
        booking["messages"] = [dataclasses.asdict(e) for e in millennium.history(visit_number)]
        return booking

    def _wait_for_acks(self, query: dict[str, list[str]]) -> None:
        code = _first(query, "code") or "AA"
        try:
            at_least = int(_first(query, "atLeast"))
            timeout = float(_first(query, "timeout") or "30")
        except ValueError:
            self._json(HTTPStatus.BAD_REQUEST, {"error": "atLeast and timeout must be numbers"})
            return
        if code not in ("AA", "AE", "AR", "CA", "CE", "CR") or not 0 <= timeout <= MAX_ACK_WAIT:
            self._json(
                HTTPStatus.BAD_REQUEST,
                {"error": f"code must be an ACK code, timeout 0–{MAX_ACK_WAIT:g} s"},
            )
            return
        count = self.server.millennium.wait_for_acks(code, at_least, timeout)
        self._json(HTTPStatus.OK, {"code": code, "count": count, "reached": count >= at_least})

    def _search_patients(self, query: dict[str, list[str]]) -> None:
        identifiers = query.get("identifier")
        if not identifiers:
            self._json(
                HTTPStatus.BAD_REQUEST,
                operation_outcome("search needs identifier=<system>|<value>"),
                FHIR_JSON,
            )
            return
        base_url = f"http://{self.headers.get('Host', 'localhost')}/fhir"
        try:
            bundle = self.server.millennium.with_state(
                lambda state: search_patients(state, identifiers[0], base_url)
            )
        except FhirError as error:
            self._json(HTTPStatus.BAD_REQUEST, operation_outcome(str(error)), FHIR_JSON)
            return
        self._json(HTTPStatus.OK, bundle, FHIR_JSON)

    def _read_patient(self, person_id: str) -> None:
        person = self.server.millennium.with_state(lambda state: state.persons.get(person_id))
        if person is None:
            outcome = operation_outcome(f"no Patient with id {person_id}", "not-found")
            self._json(HTTPStatus.NOT_FOUND, outcome, FHIR_JSON)
            return
        self._json(HTTPStatus.OK, patient_resource(person), FHIR_JSON)

    def _search_encounters(self, query: dict[str, list[str]]) -> None:
        identifier = _first(query, "identifier")
        base_url = f"http://{self.headers.get('Host', 'localhost')}/fhir"
        try:
            bundle = self.server.millennium.with_state(
                lambda state: search_encounters(state, identifier, base_url)
            )
        except FhirError as error:
            self._json(HTTPStatus.BAD_REQUEST, operation_outcome(str(error)), FHIR_JSON)
            return
        self._json(HTTPStatus.OK, bundle, FHIR_JSON)

    def _read_encounter(self, encounter_id: str) -> None:
        encounter = self.server.millennium.with_state(
            lambda state: find_encounter(state, encounter_id)
        )
        if encounter is None:
            outcome = operation_outcome(f"no Encounter with id {encounter_id}", "not-found")
            self._json(HTTPStatus.NOT_FOUND, outcome, FHIR_JSON)
            return
        self._json(HTTPStatus.OK, encounter_resource(encounter), FHIR_JSON)

    def _seed(self, body: Any) -> None:
        try:
            person, created = self.server.millennium.seed(
                lambda state: seed_patient(state, body), body
            )
        except FhirError as error:
            self._json(HTTPStatus.BAD_REQUEST, operation_outcome(str(error)), FHIR_JSON)
            return
        status = HTTPStatus.CREATED if created else HTTPStatus.OK
        self._json(status, patient_resource(person), FHIR_JSON)

    # --- plumbing ---

    def _target(self) -> tuple[str, dict[str, list[str]]]:
        parts = urlsplit(self.path)
        return parts.path.rstrip("/") or "/", parse_qs(parts.query)

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self._json(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": "body over 1 MiB"})
            return _INVALID
        raw = self.rfile.read(length) if length else b""
        if not raw.strip():
            return None
        try:
            return json.loads(raw)
        except ValueError:
            self._json(HTTPStatus.BAD_REQUEST, {"error": "the body is not valid JSON"})
            return _INVALID

    def _not_found(self, path: str) -> None:
        self._json(HTTPStatus.NOT_FOUND, {"error": f"no such endpoint: {self.command} {path}"})

    def _json(self, status: HTTPStatus, body: Any, content_type: str = JSON) -> None:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", f"{content_type}; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)

    def _html(self, status: int, page: str) -> None:
        data = page.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)


_INVALID = object()


def _first(query: dict[str, list[str]], name: str) -> str:
    return query.get(name, [""])[0]


def _plain(record: Any) -> dict[str, Any] | None:
    return dataclasses.asdict(record) if record is not None else None


def _state_view(state: MillenniumState) -> dict[str, Any]:
    return {
        "counts": state.counts(),
        "persons": {pid: dataclasses.asdict(p) for pid, p in state.persons.items()},
        "encounters": {vn: dataclasses.asdict(e) for vn, e in state.encounters.items()},
        "appointments": {
            a.visit_number: dataclasses.asdict(a) for a in state.appointments.values()
        },
        "pending_admits": {vn: dataclasses.asdict(a) for vn, a in state.pending_admits.items()},
    }
