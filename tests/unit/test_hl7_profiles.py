"""The administration profiles shipped in profiles/ (SU, SÄS)."""

from __future__ import annotations

import pytest

from shared.booking import AdmissionType
from shared.errors import UnmappedLocation
from shared.profiles import Mode
from tests.builders import profile

SITES = {
    "SU": ("UNICODE UTF-8", "utf-8", range(101, 105), range(201, 207)),
    "SAS": ("8859/1", "iso-8859-1", range(301, 305), range(401, 407)),
}


def hsa(number: int) -> str:
    return f"SE2321000131-E{number:012d}"


@pytest.mark.parametrize("code", SITES)
def test_profile_is_integrated_with_its_charset(code):
    charset, encoding, _, _ = SITES[code]
    loaded = profile(code)
    assert loaded.code == code
    assert loaded.mode is Mode.INTEGRATED
    assert loaded.charset == charset
    assert loaded.encoding == encoding


@pytest.mark.parametrize("code", SITES)
def test_profile_maps_its_operating_units_and_wards(code):
    _, _, units, wards = SITES[code]
    loaded = profile(code)
    for number in [*units, *wards]:
        location = loaded.location(hsa(number))
        assert location.point_of_care.startswith(f"{code}-")
        assert location.description
    assert len(units) >= 4 and len(wards) >= 6


@pytest.mark.parametrize("code", SITES)
def test_profile_has_a_code_for_every_admission_type(code):
    loaded = profile(code)
    for admission_type in AdmissionType:
        assert loaded.patient_class.for_type(admission_type)
        assert loaded.encounter_type.for_type(admission_type)


@pytest.mark.parametrize("code", SITES)
def test_launch_templates_point_at_the_local_simulator(code):
    launch = profile(code).launch
    assert launch.millennium_url.startswith("http://127.0.0.1:8090/")
    assert "{personId}" in launch.millennium_url and "{encounterId}" in launch.millennium_url
    assert launch.orbit_url == "http://127.0.0.1:8090/orbit/booking/{bookingId}"


def test_profiles_do_not_share_locations():
    assert not set(profile("SU").locations) & set(profile("SAS").locations)
    with pytest.raises(UnmappedLocation, match="SAS"):
        profile("SAS").location(hsa(101))
