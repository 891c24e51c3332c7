"""Before a dead letter is resubmitted: has its cause been fixed where the app reads it?

A resubmitted letter whose cause is still there is dead-lettered again with the
same reason, after the operator was told "resubmitted". For the cause an
operator fixes in a profile (an unmapped HSA-id), the check reads the booking's
latest snapshot, the one the worker will act on, and the profiles as they are
on disk now (the app rereads changed profile files, shared/profiles.py). For a
cause no fix on our side can remove, the letter is refused outright and the
operator is told what to do instead (``NOT_FIXED_BY_RESUBMIT``).
"""

from __future__ import annotations

from collections.abc import Mapping

from shared.booking import BookingSnapshot
from shared.crosswalk.repository import Crosswalk
from shared.deadletters.port import Letter
from shared.errors import AdministrationMismatch, UnmappedLocation
from shared.profiles import Profiles

NOT_FIXED_BY_RESUBMIT: Mapping[str, str] = {
    # The intake refuses the same event again: the stored booking stays another
    # administration's, and only Orbit can say which booking the event meant.
    AdministrationMismatch.reason: (
        "resubmitting cannot fix this, the event is refused again (another "
        "administration's booking has this booking id). Ask Orbit's vendor which booking "
        "it is (booking ids must be unique across administrations); purge the letter once "
        "they have answered"
    ),
}
"""Reasons a resubmit is refused for whatever is fixed, with what to do instead."""


def unfixed_cause(letter: Letter, crosswalk: Crosswalk, profiles: Profiles) -> str | None:
    """Why ``letter`` would fail again the same way, or None when nothing says so.

    Raises:
        TransientError: the crosswalk is unreachable.
    """
    never = NOT_FIXED_BY_RESUBMIT.get(letter.reason)
    if never is not None:
        return never
    if letter.reason != UnmappedLocation.reason or not letter.booking_id:
        return None
    stored = crosswalk.load_snapshot(letter.booking_id)
    if stored is None:
        return None
    return _unmapped(stored.snapshot, profiles)


def _unmapped(snapshot: BookingSnapshot, profiles: Profiles) -> str | None:
    code = snapshot.administration
    profile = profiles.find(code)
    if profile is None:
        return f"there is no profile for administration {code} (profiles/{code}.toml)"
    hsa_ids = [snapshot.operating_unit.hsa_id]
    if snapshot.admission.ward is not None:
        hsa_ids.append(snapshot.admission.ward.hsa_id)
    missing = [hsa_id for hsa_id in hsa_ids if hsa_id not in profile.locations]
    if not missing:
        return None
    return (
        f"HSA-id {', '.join(missing)} is still not mapped in profiles/{code}.toml; add it "
        "under [locations] (and save the file), then resubmit"
    )
