"""A minimal FHIR R4 API over the simulator's persons and encounters.

Enough for the jump-out's lookups:

* ``Patient?identifier=<system>|<value>`` answers a ``searchset`` Bundle whose
  Patient ids are Millennium person ids. Identifier systems are OID URIs
  (``urn:oid:1.2.752.129.2.1.3.1``); a plain OID is accepted too.
* ``Encounter?identifier=[<system>|]<visit number>`` and ``Encounter/<id>``: the
  encounter ids Millennium assigned, with the visit number (PV1-19) as an
  identifier of system ``ORBIT`` and the person as ``subject``.
"""

from __future__ import annotations

from typing import Any

from simulator.inbound import PatientData
from simulator.state import Encounter, MillenniumState, Person

OID_PREFIX = "urn:oid:"
VISIT_NUMBER_SYSTEM = "ORBIT"
"""How the simulated Millennium names the visit number's system (PV1-19's CX.4)."""
CONFIDENTIALITY_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"


class FhirError(ValueError):
    """A request the endpoint cannot serve; the text goes into an OperationOutcome."""


def patient_resource(person: Person) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "id": person.person_id,
        "identifier": [{"system": OID_PREFIX + person.authority, "value": person.value}],
        "name": [{"family": person.family_name, "given": [person.given_name]}],
    }
    if person.protected:
        # Skyddade personuppgifter: flag the record as restricted, as an EHR would.
        resource["meta"] = {"security": [{"system": CONFIDENTIALITY_SYSTEM, "code": "R"}]}
    return resource


def search_patients(state: MillenniumState, identifier: str, base_url: str) -> dict[str, Any]:
    """A searchset Bundle for the ``identifier`` search parameter (``system|value`` or ``value``).

    Raises:
        FhirError: the parameter is empty.
    """
    system, separator, value = identifier.partition("|")
    if not separator:
        system, value = "", identifier
    if not value:
        raise FhirError("the identifier parameter needs a value: identifier=<system>|<value>")
    if system:
        person = state.find_person(_oid(system), value)
        matches = [person] if person else []
    else:
        matches = state.persons_with_value(value)
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(matches),
        "entry": [
            {
                "fullUrl": f"{base_url}/Patient/{person.person_id}",
                "resource": patient_resource(person),
                "search": {"mode": "match"},
            }
            for person in matches
        ],
    }


def encounter_resource(encounter: Encounter) -> dict[str, Any]:
    return {
        "resourceType": "Encounter",
        "id": encounter.encounter_id,
        "status": "planned",
        "identifier": [
            {
                "type": {"text": "Visit Number"},
                "system": VISIT_NUMBER_SYSTEM,
                "value": encounter.visit_number,
            }
        ],
        "class": {"code": encounter.patient_class},
        "subject": {"reference": f"Patient/{encounter.person_id}"},
    }


def search_encounters(state: MillenniumState, identifier: str, base_url: str) -> dict[str, Any]:
    """A searchset Bundle of the encounters whose visit number is ``identifier``
    (``system|value`` or ``value``; only the ``ORBIT`` system has visit numbers).

    Raises:
        FhirError: the parameter is empty.
    """
    system, separator, value = identifier.partition("|")
    if not separator:
        system, value = "", identifier
    if not value:
        raise FhirError("the identifier parameter needs a value: identifier=[<system>|]<value>")
    encounter = state.encounters.get(value)
    matches = [encounter] if encounter and system in ("", VISIT_NUMBER_SYSTEM) else []
    resources = [(e.encounter_id, encounter_resource(e)) for e in matches]
    return _bundle("Encounter", resources, base_url)


def find_encounter(state: MillenniumState, encounter_id: str) -> Encounter | None:
    return next((e for e in state.encounters.values() if e.encounter_id == encounter_id), None)


def _bundle(
    resource_type: str, resources: list[tuple[str, dict[str, Any]]], base_url: str
) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "entry": [
            {
                "fullUrl": f"{base_url}/{resource_type}/{resource_id}",
                "resource": resource,
                "search": {"mode": "match"},
            }
            for resource_id, resource in resources
        ],
    }


def seed_patient(state: MillenniumState, body: Any) -> tuple[Person, bool]:
    """Register a person from a FHIR Patient resource, without HL7 (jump-out-only tests).

    Returns the person and whether it was new. Seeding an existing identifier
    updates its name and returns the same person id.

    Raises:
        FhirError: not a Patient with one identifier (system and value) and a name.
    """
    if not isinstance(body, dict) or body.get("resourceType") != "Patient":
        raise FhirError("the body must be a FHIR Patient resource")
    identifiers = body.get("identifier")
    if not isinstance(identifiers, list) or not identifiers or not isinstance(identifiers[0], dict):
        raise FhirError("Patient.identifier needs one entry with system and value")
    system, value = identifiers[0].get("system"), identifiers[0].get("value")
    if not isinstance(system, str) or not isinstance(value, str) or not system or not value:
        raise FhirError("Patient.identifier[0] needs a system (OID URI) and a value")
    family, given = _name(body)
    existed = state.find_person(_oid(system), value) is not None
    person = state.register_person(
        PatientData(
            authority=_oid(system),
            value=value,
            family_name=family,
            given_name=given,
            protected=_restricted(body),
        )
    )
    return person, not existed


def operation_outcome(text: str, code: str = "invalid") -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": code, "diagnostics": text}],
    }


def _oid(system: str) -> str:
    return system[len(OID_PREFIX) :] if system.startswith(OID_PREFIX) else system


def _name(body: dict[str, Any]) -> tuple[str, str]:
    names = body.get("name")
    if not isinstance(names, list) or not names or not isinstance(names[0], dict):
        return "", ""
    given = names[0].get("given") or [""]
    return str(names[0].get("family", "")), str(given[0] if isinstance(given, list) else given)


def _restricted(body: dict[str, Any]) -> bool:
    security = (body.get("meta") or {}).get("security") or []
    return any(isinstance(label, dict) and label.get("code") == "R" for label in security)
