"""Per-administration profiles: every site-specific code, as data (TOML files).

Millennium's inbound specifications are site-specific, so facility codes,
patient classes, encounter types, location codes and receiving application names
live in ``profiles/<CODE>.toml``, one file per administration (förvaltning).
Profiles may override codes, never message structure.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import tomllib
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.booking import AdmissionType
from shared.errors import UnknownAdministration, UnmappedLocation
from shared.identity import ASSIGNING_AUTHORITY_OID, IdentifierSystem
from shared.names import LAUNCH_URL_SETTINGS
from shared.secrets import is_key_vault_reference


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
    """URL templates for the jump-out; placeholders are the target system's own ids.

    A template starts with one of the settings ``names.LAUNCH_URL_SETTINGS``
    (``${MILLENNIUM_WEB_URL}``, ``${ORBIT_WEB_URL}``), filled in when the profile is
    loaded: each stamp's settings name its own Millennium and Orbit, and the local
    run sets its simulator's, so no host or port is fixed in a profile. A setting
    that is not set (or is an unresolved Key Vault reference) stays in the
    template, and the launch answers 503 naming it.
    """

    millennium_url: str = ""  # e.g. https://…/launch?person={personId}&encounter={encounterId}
    orbit_url: str = ""  # e.g. https://…/booking/{bookingId}


class IdentifierAuthority(_Model):
    """How PID-3 names one identifier system: CX.4 ``namespace&OID&ISO`` and CX.5."""

    namespace: Annotated[str, Field(min_length=1, max_length=20)]  # CX.4 HD.1
    oid: Annotated[str, Field(pattern=r"^[0-2](\.(0|[1-9][0-9]*))+$")]  # CX.4 HD.2
    type_code: Annotated[str, Field(min_length=1, max_length=5)]  # CX.5 (HL7 table 0203)


def _default_identifiers() -> dict[IdentifierSystem, IdentifierAuthority]:
    # Both national numbers are issued by Skatteverket ("national person identifier",
    # NNSWE); reserve numbers are assigned by the region ("patient internal id", PI).
    return {
        IdentifierSystem.PERSONNUMMER: IdentifierAuthority(
            namespace="PERSONNUMMER",
            oid=ASSIGNING_AUTHORITY_OID[IdentifierSystem.PERSONNUMMER],
            type_code="NNSWE",
        ),
        IdentifierSystem.SAMORDNINGSNUMMER: IdentifierAuthority(
            namespace="SAMORDNINGSNUMMER",
            oid=ASSIGNING_AUTHORITY_OID[IdentifierSystem.SAMORDNINGSNUMMER],
            type_code="NNSWE",
        ),
        IdentifierSystem.RESERVNUMMER: IdentifierAuthority(
            namespace="VGR_RESERVNUMMER",
            oid=ASSIGNING_AUTHORITY_OID[IdentifierSystem.RESERVNUMMER],
            type_code="PI",
        ),
    }


class CodeSystems(_Model):
    """CE.3 / CWE.3 coding system names (HL7 table 0396 or local)."""

    procedure: str = "KVA"  # SCH-7, AIS-3: KVÅ
    diagnosis: str = "ICD-10-SE"  # DG1-3
    event_reason: str = "L"  # SCH-6: local codes
    hsa: str = "HSA"  # XCN.9 HD.1 of clinicians (HD.2 is the HSA OID)


class EventReasons(_Model):
    """SCH-6 event reason codes (CE.1) per appointment message; texts are fixed."""

    booked: str = "BOOKED"  # S12
    rescheduled: str = "RESCHEDULED"  # S13
    modified: str = "MODIFIED"  # S14
    cancelled: str = "CANCELLED"  # S15 (CE.2 carries cancellationReason when given)
    corrected: str = "CORRECTED"  # S15 of a patient correction (removed under the old person)


class MeasureUnit(_Model):
    """A unit of measure as CE: code^text^system (AIS-8, AIL-10, AIP-10, TQ1-6)."""

    code: str = "min"
    text: str = "minute"
    system: str = "ISO+"


class BedBookingId(StrEnum):
    """How Millennium identifies a pending admit (bed booking)."""

    VISIT_NUMBER = "visit-number"  # the encounter's PV1-19 (one pending admit per encounter)
    OWN_ALIAS = "own-alias"  # its own alias in PV1-50 (alternate visit id), PV1-19 links


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
    appointment_type: str = "SURGERY"  # SCH-8 (unless appointment_types maps the KVÅ code)
    filler_status: str = "Booked"  # SCH-25 while booked
    cancelled_status: str = "Cancelled"  # SCH-25 on S15
    surgeon_role: str = "SURGEON"  # AIP-4 resource role of the surgeon
    ae_retry_limit: Annotated[int, Field(ge=0, le=20)] = 5
    # Acknowledgments (docs/hl7-mapping.md, "Acknowledgments"): what a commit accept
    # (CA) means when original mode was asked for, and which ERR-3 codes of an AE to
    # an in-doubt *resend* mean "applied already" (e.g. 205 duplicate key).
    commit_accept: Literal["confirmed", "in-doubt"] = "confirmed"
    already_applied_codes: tuple[str, ...] = ()
    time_zone: str = "Europe/Stockholm"  # every time sent, with the offset of its instant
    namespace: str = "ORBIT"  # CX.4 of visit number, EI.2 of appointment ids
    send_placer_id: bool = True  # SCH-1 = the booking id too (SCH-2, filler, always is)
    identifiers: dict[IdentifierSystem, IdentifierAuthority] = Field(
        default_factory=_default_identifiers
    )
    code_systems: CodeSystems = CodeSystems()
    event_reasons: EventReasons = EventReasons()
    minute_unit: MeasureUnit = MeasureUnit()
    bed_booking_id: BedBookingId = BedBookingId.VISIT_NUMBER
    appointment_types: dict[str, str] = {}  # KVÅ code → SCH-8 (unmapped: appointment_type)
    rooms: dict[str, str] = {}  # theatre text → PL.2 room code (unmapped: the text itself)
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

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone {value!r}") from None
        return value

    @field_validator("identifiers")
    @classmethod
    def _every_system(
        cls, value: dict[IdentifierSystem, IdentifierAuthority]
    ) -> dict[IdentifierSystem, IdentifierAuthority]:
        # A partial table replaces only the systems it names.
        return {**_default_identifiers(), **value}

    @property
    def zone(self) -> ZoneInfo:
        """The administration's time zone (every time is sent in it)."""
        return ZoneInfo(self.time_zone)

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


log = logging.getLogger("orbitsync.profiles")

_SETTING_REFERENCE = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}")


def expand_settings(template: str, variables: Mapping[str, str]) -> str:
    """``template`` with every ``${NAME}`` that ``variables`` sets replaced by its value
    (trailing slash dropped, so ``${X}/path`` never doubles it); unset ones stay, and
    so does one whose value is a Key Vault reference the platform did not resolve.

    Raises:
        ValueError: the template names a setting that is not one of
            ``LAUNCH_URL_SETTINGS``.
    """
    named = set(_SETTING_REFERENCE.findall(template)) - set(LAUNCH_URL_SETTINGS)
    if named:
        raise ValueError(
            f"a launch template may name only {', '.join(LAUNCH_URL_SETTINGS)}, "
            f"not {', '.join(sorted(named))}"
        )

    def value(match: re.Match[str]) -> str:
        found = variables.get(match.group(1), "").strip().rstrip("/")
        if is_key_vault_reference(found):
            return match.group(0)
        return found or match.group(0)

    return _SETTING_REFERENCE.sub(value, template)


def unset_setting(template: str) -> str | None:
    """The first ``${NAME}`` still in ``template`` (a setting that was not set), or None."""
    match = _SETTING_REFERENCE.search(template)
    return match.group(1) if match else None


def load_profile(path: Path, variables: Mapping[str, str] | None = None) -> Profile:
    """Read one profile file; ``${NAME}`` in launch templates from ``variables``
    (default: the environment).

    Raises:
        ValueError: the file is not valid TOML or not a valid profile (the message
            names the file and the field).
    """
    with path.open("rb") as handle:
        try:
            data = tomllib.load(handle)
        except tomllib.TOMLDecodeError as error:
            raise ValueError(f"{path}: not valid TOML: {error}") from None
    launch = data.get("launch")
    if isinstance(launch, dict):
        env = os.environ if variables is None else variables
        try:
            data["launch"] = {
                key: expand_settings(value, env) if isinstance(value, str) else value
                for key, value in launch.items()
            }
        except ValueError as error:
            raise ValueError(f"{path}: [launch] {error}") from None
    try:
        return Profile.model_validate(data)
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None


def read_folder(folder: str, variables: Mapping[str, str] | None = None) -> dict[str, Profile]:
    """Every ``*.toml`` profile in ``folder``, by code.

    Raises:
        ValueError: a file is invalid (names the file), or two files share a code.
    """
    profiles: dict[str, Profile] = {}
    for path in sorted(Path(folder).glob("*.toml")):
        profile = load_profile(path, variables)
        if profile.code in profiles:
            raise ValueError(f"{path}: administration {profile.code} has a second profile file")
        profiles[profile.code] = profile
    return profiles


def folder_version(folder: str, files: list[str]) -> tuple[int, ...]:
    """What changes when a profile file is added, removed or edited: the folder's
    modification time (a file added, removed or replaced) and each of ``files``'s
    size and modification time (a file edited in place).

    A few stat calls, about 7 µs: cheap enough to check on every use.
    """
    try:
        version = [os.stat(folder).st_mtime_ns]
        for path in files:
            stat = os.stat(path)
            version += [stat.st_size, stat.st_mtime_ns]
    except OSError:
        return ()
    return tuple(version)


def _profile_files(folder: str) -> list[str]:
    return [str(path) for path in sorted(Path(folder).glob("*.toml"))]


class ReloadingProfiles(Profiles):
    """The profiles of a folder, read again whenever a file in it changes.

    An operator who adds a missing HSA-id to ``profiles/SU.toml`` and resubmits
    the dead letter gets the fix applied without a restart. A file that no longer
    reads (a typo) keeps the previous profiles in force and is logged with the
    file's name; ``tools.ops deadletters resubmit`` refuses until it reads.
    """

    def __init__(self, folder: str, variables: Mapping[str, str] | None = None) -> None:
        self.folder = folder
        self._variables = dict(os.environ if variables is None else variables)
        self._lock = threading.Lock()
        self._files = _profile_files(folder)
        self._version = folder_version(folder, self._files)
        super().__init__(read_folder(folder, self._variables))

    def _fresh(self) -> None:
        if folder_version(self.folder, self._files) == self._version:
            return
        with self._lock:
            self._files = _profile_files(self.folder)
            version = folder_version(self.folder, self._files)
            if version == self._version:
                return
            try:
                profiles = read_folder(self.folder, self._variables)
            except (OSError, ValueError) as error:
                # Not the error text's values: it names the file and the field.
                log.error("profiles not reloaded, the previous ones stay in force: %s", error)
                self._version = version  # log once per change, not per message
                return
            self._profiles = profiles
            self._version = version
            log.info("profiles reloaded from %s: %s", self.folder, ", ".join(sorted(profiles)))

    def get(self, code: str) -> Profile:
        self._fresh()
        return super().get(code)

    def find(self, code: str) -> Profile | None:
        self._fresh()
        return super().find(code)

    def codes(self) -> list[str]:
        self._fresh()
        return super().codes()


def load_profiles(folder: str, variables: Mapping[str, str] | None = None) -> Profiles:
    """Every ``*.toml`` profile in ``folder``, reloaded when the files change.

    Raises:
        ValueError: a file is invalid (the message names the file and the field).
    """
    return ReloadingProfiles(folder, variables)
