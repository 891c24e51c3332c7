"""The administration profiles shipped in profiles/ (SU, SÄS, SkaS)."""

from __future__ import annotations

import re

import pytest

from shared.booking import AdmissionType
from shared.errors import UnmappedLocation
from shared.profiles import Mode, load_profile
from tests.builders import PROFILES_DIR, profile

SITES = {
    "SU": ("UNICODE UTF-8", "utf-8", range(101, 105), range(201, 207)),
    "SAS": ("8859/1", "iso-8859-1", range(301, 305), range(401, 407)),
    "SKAS": ("UNICODE UTF-8", "utf-8", range(501, 505), range(601, 607)),
}
MODES = {"SU": Mode.INTEGRATED, "SAS": Mode.INTEGRATED, "SKAS": Mode.JUMPOUT}


def hsa(number: int) -> str:
    return f"SE2321000131-E{number:012d}"


@pytest.mark.parametrize("code", SITES)
def test_profile_has_its_mode_and_charset(code):
    charset, encoding, _, _ = SITES[code]
    loaded = profile(code)
    assert loaded.code == code
    assert loaded.mode is MODES[code]
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


WEB_URLS = {
    "MILLENNIUM_WEB_URL": "https://powerchart.example.org/su/",
    "ORBIT_WEB_URL": "https://orbit.example.org",
}


@pytest.mark.parametrize("code", SITES)
def test_launch_templates_take_millennium_and_orbit_from_the_stamps_settings(code):
    """A profile names no host, port or simulator: each stamp's settings say where its
    Millennium and Orbit are (the local run sets its simulator's)."""
    path = PROFILES_DIR / f"{code}.toml"
    text = path.read_text()
    assert not re.search(r"127\.0\.0\.1:\d+|localhost:\d+|SIMULATOR", text)
    launch = load_profile(path, WEB_URLS).launch
    assert launch.millennium_url == (
        "https://powerchart.example.org/su/launch?person={personId}&encounter={encounterId}"
    )
    assert launch.orbit_url == "https://orbit.example.org/booking/{bookingId}"


def test_an_unset_setting_stays_in_the_template_for_the_launch_to_name():
    launch = load_profile(PROFILES_DIR / "SU.toml", {}).launch
    assert launch.orbit_url == "${ORBIT_WEB_URL}/booking/{bookingId}"


def test_an_unresolved_key_vault_reference_is_not_put_in_a_url():
    reference = "@Microsoft.KeyVault(SecretUri=https://kv.vault.azure.net/secrets/web/)"
    launch = load_profile(PROFILES_DIR / "SU.toml", {**WEB_URLS, "ORBIT_WEB_URL": reference})
    assert launch.launch.orbit_url == "${ORBIT_WEB_URL}/booking/{bookingId}"


def test_a_template_naming_any_other_setting_is_refused_at_load(tmp_path):
    """Before, any environment variable was filled in, a secret too, and the browser
    was sent to a URL carrying it."""
    text = (PROFILES_DIR / "SU.toml").read_text()
    leaky = tmp_path / "SU.toml"
    leaky.write_text(
        text.replace("${ORBIT_WEB_URL}/booking/", "${ORBIT_WEB_URL}/${OPS_ADMIN_SECRETS}/")
    )
    with pytest.raises(ValueError) as refused:
        load_profile(leaky, {**WEB_URLS, "OPS_ADMIN_SECRETS": "s3cret-operator-key"})
    assert "OPS_ADMIN_SECRETS" in str(refused.value) and "SU.toml" in str(refused.value)
    assert "s3cret-operator-key" not in str(refused.value)


def test_profiles_do_not_share_locations():
    seen: set[str] = set()
    for code in SITES:
        hsa_ids = set(profile(code).locations)
        assert not hsa_ids & seen
        seen |= hsa_ids
    with pytest.raises(UnmappedLocation, match="SAS"):
        profile("SAS").location(hsa(101))
