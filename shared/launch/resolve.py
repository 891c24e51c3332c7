"""From a launch request to the target system's own ids and the URL that opens them.

* **Into Millennium**: the person id from the patient identifier (lookup cache, else
  FHIR ``Patient?identifier=``). When the administration is integrated and the
  booking's encounter is confirmed in the crosswalk, also the encounter id (cache,
  else FHIR ``Encounter?identifier=<visit number>``); otherwise the patient alone.
* **Into Orbit**: the booking id, given directly or found from a Millennium
  encounter id (cache, else FHIR ``Encounter/<id>`` and its visit number).

Patient safety comes first: whenever the integration knows the booking, its
patient and administration must be the request's, and an encounter must belong
to the person; otherwise the launch is refused rather than opening a context
that might be someone else's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

from shared.booking import BookingSnapshot
from shared.crosswalk.repository import Crosswalk
from shared.errors import RequestRefused
from shared.identity import ASSIGNING_AUTHORITY_OID
from shared.launch.fhir import FhirEncounter, MillenniumFhir
from shared.launch.lookup import CachedEncounter, LookupCache
from shared.launch.refusal import not_configured
from shared.launch.request import LaunchRequest, LaunchTarget
from shared.profiles import Mode, Profile, unset_setting
from shared.targets import Target, booking_of_alias

VISIT_NUMBER_SYSTEM = "ORBIT"
"""Identifier system under which Millennium's FHIR API shows the visit number (PV1-19,
assigning authority ORBIT). Site-specific: confirm it with Cerner's interface team."""

_BOOKING_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")
_PLACEHOLDER = re.compile(r"\{[A-Za-z]+\}")
_LOOPBACK_PREFIXES = ("http://127.0.0.1:", "http://127.0.0.1/", "http://localhost:")


@dataclass(frozen=True)
class ResolvePorts:
    crosswalk: Crosswalk
    fhir: MillenniumFhir
    cache: LookupCache


@dataclass(frozen=True)
class Destination:
    """Where the browser goes, and the ids that say so (for the audit)."""

    url: str
    person_id: str = ""
    encounter_id: str = ""
    booking_id: str = ""


def resolve(request: LaunchRequest, profile: Profile, ports: ResolvePorts) -> Destination:
    """The target URL with the target system's own ids.

    Raises:
        RequestRefused: 404 (patient, booking or encounter unknown), 409 (ids that do
            not belong together), 503 (template missing or unusable).
        FhirUnavailable, TransientError: Millennium or the tables cannot be reached.
    """
    if request.target is LaunchTarget.MILLENNIUM:
        return _into_millennium(request, profile, ports)
    return _into_orbit(request, profile, ports)


def _into_millennium(request: LaunchRequest, profile: Profile, ports: ResolvePorts) -> Destination:
    template = _template(profile.launch.millennium_url, profile.code, "millennium_url")
    person_id = _person_id(request, ports)
    encounter_id = _encounter_id(request, profile, person_id, ports)
    destination = Destination(
        url="",
        person_id=person_id,
        encounter_id=encounter_id,
        booking_id=request.booking_id or "",
    )
    return _with_url(destination, template)


def _into_orbit(request: LaunchRequest, profile: Profile, ports: ResolvePorts) -> Destination:
    template = _template(profile.launch.orbit_url, profile.code, "orbit_url")
    booking_id = request.booking_id or _booking_of_encounter(request.encounter_id or "", ports)
    stored = ports.crosswalk.load_snapshot(booking_id)
    if stored is None:
        raise RequestRefused(
            404,
            "booking-not-found",
            "Booking not found",
            "The integration knows no Orbit booking with this id. Check bookingId (or "
            "encounterId); a booking made in Orbit a moment ago may need a minute.",
        )
    _check_same_booking(stored.snapshot, request)
    return _with_url(Destination(url="", booking_id=booking_id), template)


# --- Millennium ids ------------------------------------------------------------


def _person_id(request: LaunchRequest, ports: ResolvePorts) -> str:
    identifier = request.patient.identifier
    oid = ASSIGNING_AUTHORITY_OID[identifier.system]
    cached = ports.cache.person_id(oid, identifier.value)
    if cached:
        return cached
    person_ids = ports.fhir.person_ids(f"urn:oid:{oid}", identifier.value)
    if not person_ids:
        raise RequestRefused(
            404,
            "patient-not-found",
            "Patient not found in Millennium",
            "Millennium has no patient with this identifier, so there is nothing to open. "
            "Register the patient in Millennium first, or check patient.identifier.",
        )
    if len(person_ids) > 1:
        raise RequestRefused(
            409,
            "patient-ambiguous",
            "Patient ambiguous in Millennium",
            "Millennium has more than one person with this identifier. Ask Millennium's "
            "patient registration to combine the records; until then open Millennium "
            "without the jump-out.",
        )
    ports.cache.remember_person(oid, identifier.value, person_ids[0])
    return person_ids[0]


def _encounter_id(
    request: LaunchRequest, profile: Profile, person_id: str, ports: ResolvePorts
) -> str:
    """The encounter to open, or "" for the patient alone."""
    if request.encounter_id:
        encounter = ports.fhir.encounter(request.encounter_id)
        if encounter is None:
            raise _encounter_not_found()
        if encounter.person_id != person_id:
            raise _mismatch("encounter-patient-mismatch", "encounterId")
        return encounter.encounter_id
    if not request.booking_id or profile.mode is not Mode.INTEGRATED:
        return ""  # jump-out only: Millennium has no encounter from us yet
    stored = ports.crosswalk.load_snapshot(request.booking_id)
    if stored is None:
        return ""
    _check_same_booking(stored.snapshot, request)
    confirmed = ports.crosswalk.load_targets(request.booking_id)[Target.ENCOUNTER].confirmed
    if confirmed is None:
        return ""  # not (yet, or no longer) in Millennium
    # After a patient correction the visit number carries the generation ("OB-1:1").
    return _encounter_of_booking(request.booking_id, confirmed.alias, person_id, ports)


def _encounter_of_booking(
    booking_id: str, visit_number: str, person_id: str, ports: ResolvePorts
) -> str:
    cached = ports.cache.encounter_of_booking(booking_id)
    if cached is not None and cached.person_id == person_id:
        return cached.encounter_id
    found = [
        encounter
        for encounter in ports.fhir.encounters_with_identifier(visit_number)
        if encounter.person_id == person_id and _visit_numbers(encounter) == [visit_number]
    ]
    if len(found) != 1:
        return ""  # Millennium does not show it (yet): open the patient alone
    ports.cache.remember_encounter(booking_id, CachedEncounter(found[0].encounter_id, person_id))
    return found[0].encounter_id


def _booking_of_encounter(encounter_id: str, ports: ResolvePorts) -> str:
    cached = ports.cache.booking_of_encounter(encounter_id)
    if cached:
        return cached
    encounter = ports.fhir.encounter(encounter_id)
    if encounter is None:
        raise _encounter_not_found()
    visit_numbers = _visit_numbers(encounter)
    booking_id = booking_of_alias(visit_numbers[0]) if len(visit_numbers) == 1 else ""
    if not _BOOKING_ID.match(booking_id):
        raise RequestRefused(
            404,
            "encounter-without-booking",
            "Encounter has no Orbit booking",
            "This Millennium encounter was not created from an Orbit booking, so there is "
            "no booking to open. Open Orbit on the patient by hand.",
        )
    ports.cache.remember_encounter(
        booking_id, CachedEncounter(encounter.encounter_id, encounter.person_id)
    )
    return booking_id


def _visit_numbers(encounter: FhirEncounter) -> list[str]:
    return [value for system, value in encounter.identifiers if system == VISIT_NUMBER_SYSTEM]


# --- checks and URL --------------------------------------------------------------


def _check_same_booking(snapshot: BookingSnapshot, request: LaunchRequest) -> None:
    """Raises RequestRefused (409) when the stored booking is not the request's patient's."""
    if snapshot.administration != request.administration:
        raise _mismatch("booking-administration-mismatch", "administration")
    stored = snapshot.patient.identifier
    asked = request.patient.identifier
    if (stored.system, stored.value) != (asked.system, asked.value):
        raise _mismatch("booking-patient-mismatch", "patient.identifier")


def _mismatch(reason: str, path: str) -> RequestRefused:
    return RequestRefused(
        409,
        reason,
        "Ids do not belong together",
        f"The integration's records do not match {path} for this booking or encounter, so "
        "no link was made (it could open the wrong patient). If the booking was just "
        "corrected in Orbit, try again in a minute; otherwise check the ids sent.",
    )


def _encounter_not_found() -> RequestRefused:
    return RequestRefused(
        404,
        "encounter-not-found",
        "Encounter not found",
        "Millennium has no encounter with this encounterId. Check the id sent.",
    )


def _template(template: str, administration: str, name: str) -> str:
    if not template:
        raise not_configured(f"profiles/{administration}.toml has no [launch] {name}")
    unset = unset_setting(template)
    if unset:
        raise not_configured(
            f"[launch] {name} of {administration} needs the setting {unset}, which is not set"
        )
    if not (template.startswith("https://") or template.startswith(_LOOPBACK_PREFIXES)):
        raise not_configured(f"[launch] {name} of {administration} must be an https:// URL")
    return template


def _with_url(destination: Destination, template: str) -> Destination:
    values = {
        "personId": destination.person_id,
        "encounterId": destination.encounter_id,
        "bookingId": destination.booking_id,
    }
    url = template
    for name, value in values.items():
        url = url.replace("{" + name + "}", quote(value, safe=""))
    if _PLACEHOLDER.search(url):
        raise not_configured("a [launch] URL template has an unknown {placeholder}")
    return Destination(
        url=url,
        person_id=destination.person_id,
        encounter_id=destination.encounter_id,
        booking_id=destination.booking_id,
    )
