"""Per-administration profiles: every site-specific code, as data (TOML files).

Millennium's inbound specifications are site-specific, so facility codes,
patient classes, encounter types, location codes and receiving application names
live in ``profiles/<CODE>.toml``, one file per administration (förvaltning).
Profiles may override codes, never message structure.
"""

from __future__ import annotations

import tomllib
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.booking import AdmissionType
from shared.errors import UnknownAdministration, UnmappedLocation


class Mode(StrEnum):
    """How far an administration is switched on (brief §7)."""

    OFF = "off"  # webhooks rejected with 409
    JUMPOUT = "jumpout"  # stage 1: snapshots kept (shadow), nothing sent to Millennium
    INTEGRATED = "integrated"  # stage 2: bookings synchronised to Millennium


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Location(_Model):
    """A Millennium location (HL7 PL) that an HSA-id maps to."""

    point_of_care: Annotated[str, Field(min_length=1)]  # PL.1
    room: str | None = None  # PL.2
    bed: str | None = None  # PL.3
    facility: str | None = None  # PL.4 (defaults to the profile's facility)
    building: str | None = None  # PL.7
    description: str | None = None  # PL.9 (not personal data: a unit name)


class PerAdmissionType(_Model):
    inpatient: str
    daySurgery: str  # noqa: N815  (mirrors the contract's admission.type values)
    outpatient: str

    def for_type(self, admission_type: AdmissionType) -> str:
        return str(getattr(self, admission_type.value))


class Launch(_Model):
    """URL templates for the jump-out; placeholders are the target system's own ids."""

    millennium_url: str = ""  # e.g. https://…/launch?person={personId}&encounter={encounterId}
    orbit_url: str = ""  # e.g. https://…/booking/{bookingId}


class Profile(_Model):
    code: Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9]{1,9}$")]
    name: str
    mode: Mode = Mode.INTEGRATED
    sending_application: str = "ORBIT"  # MSH-3
    sending_facility: str  # MSH-4 (administration code as Millennium knows it)
    receiving_application: str  # MSH-5
    receiving_facility: str  # MSH-6
    charset: Literal["UNICODE UTF-8", "8859/1"] = "UNICODE UTF-8"  # MSH-18
    facility: str  # PL.4 default and PV1-39 servicing facility
    patient_class: PerAdmissionType  # PV1-2
    encounter_type: PerAdmissionType  # PV1-18
    appointment_type: str = "SURGERY"  # SCH-7 identifier's coding system fallback / SCH-8
    filler_status: str = "Booked"  # SCH-25 while booked
    cancelled_status: str = "Cancelled"  # SCH-25 on S15
    surgeon_role: str = "SURGEON"  # AIP-4 resource role of the surgeon
    ae_retry_limit: Annotated[int, Field(ge=0, le=20)] = 5
    locations: dict[str, Location]  # HSA-id → location
    launch: Launch = Launch()

    def location(self, hsa_id: str) -> Location:
        """The location for ``hsa_id``.

        Raises:
            UnmappedLocation: names the HSA-id and the profile, never the patient.
        """
        try:
            return self.locations[hsa_id]
        except KeyError:
            raise UnmappedLocation(
                f"HSA-id {hsa_id} has no location in profile {self.code}; "
                f"add it under [locations] in profiles/{self.code}.toml and resubmit"
            ) from None

    @property
    def encoding(self) -> str:
        """The Python codec matching MSH-18 (bytes on the wire are encoded so)."""
        return "utf-8" if self.charset == "UNICODE UTF-8" else "iso-8859-1"


class Profiles:
    """All profiles of a folder, by administration code."""

    def __init__(self, profiles: dict[str, Profile]) -> None:
        self._profiles = profiles

    def get(self, code: str) -> Profile:
        """The profile of ``code``.

        Raises:
            UnknownAdministration: no profile file for the code.
        """
        try:
            return self._profiles[code]
        except KeyError:
            raise UnknownAdministration(
                f"no profile for administration {code}; add profiles/{code}.toml"
            ) from None

    def find(self, code: str) -> Profile | None:
        return self._profiles.get(code)

    def codes(self) -> list[str]:
        return sorted(self._profiles)


def load_profile(path: Path) -> Profile:
    """Read one profile file.

    Raises:
        ValueError: the file is not valid TOML or not a valid profile (the message
            names the file and the field).
    """
    with path.open("rb") as handle:
        data = tomllib.load(handle)
    try:
        return Profile.model_validate(data)
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None


@lru_cache(maxsize=8)
def load_profiles(folder: str) -> Profiles:
    """Every ``*.toml`` profile in ``folder`` (cached per folder path)."""
    profiles = {}
    for path in sorted(Path(folder).glob("*.toml")):
        profile = load_profile(path)
        profiles[profile.code] = profile
    return Profiles(profiles)
