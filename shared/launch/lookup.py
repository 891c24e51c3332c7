"""A cache of Millennium ids in the ``lookup`` table, so a launch rarely waits for FHIR.

Rows (one per partition; keys never hold an identity number):

| partition key | row key | holds |
|---|---|---|
| ``person-<HMAC-SHA256(key, oid|value) hex>`` | ``millennium`` | the Millennium person id |
| ``booking-<Orbit booking id>`` | ``encounter`` | the encounter id and its person id |
| ``encounter-<Millennium encounter id>`` | ``booking`` | the Orbit booking id (reverse lookup) |

The person key is a *keyed* hash: a plain hash of a personnummer can be reversed
by hashing every possible number (there are only some 10^10), a keyed one cannot
without the key (setting ``LAUNCH_LOOKUP_SECRET``). Changing the key only empties
the cache.

Entries expire after `CACHE_TTL`: Millennium merges duplicate persons
("combines") and an encounter can be cancelled and made again, so an old answer
must not live for ever. Callers still check that ids belong together.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass

from shared.crosswalk.port import Entity, TableStore, Value
from shared.names import TABLE_LOOKUP

CACHE_TTL = dt.timedelta(hours=8)
"""About one working shift: long enough to spare FHIR, short enough to follow combines."""

_PLAIN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class CachedEncounter:
    encounter_id: str
    person_id: str


class LookupCache:
    """Read and write the cached ids.

    Raises (every method): TransientError from the store.
    """

    def __init__(self, store: TableStore, key: bytes, clock: Callable[[], dt.datetime]) -> None:
        self._store = store
        self._key = key
        self._clock = clock

    # --- patient identifier → person id ---

    def person_id(self, oid: str, value: str) -> str | None:
        entity = self._fresh(self._person_key(oid, value), "millennium")
        return str(entity.data["personId"]) if entity else None

    def remember_person(self, oid: str, value: str, person_id: str) -> None:
        self._put(self._person_key(oid, value), "millennium", {"personId": person_id})

    # --- booking → encounter, and back ---

    def encounter_of_booking(self, booking_id: str) -> CachedEncounter | None:
        entity = self._fresh(f"booking-{booking_id}", "encounter")
        if entity is None:
            return None
        return CachedEncounter(str(entity.data["encounterId"]), str(entity.data["personId"]))

    def booking_of_encounter(self, encounter_id: str) -> str | None:
        if not _PLAIN_ID.match(encounter_id):
            return None
        entity = self._fresh(f"encounter-{encounter_id}", "booking")
        return str(entity.data["bookingId"]) if entity else None

    def remember_encounter(self, booking_id: str, encounter: CachedEncounter) -> None:
        """Both directions; ids that could not be a key are simply not cached."""
        if not _PLAIN_ID.match(encounter.encounter_id):
            return
        self._put(
            f"booking-{booking_id}",
            "encounter",
            {"encounterId": encounter.encounter_id, "personId": encounter.person_id},
        )
        self._put(f"encounter-{encounter.encounter_id}", "booking", {"bookingId": booking_id})

    # --- plumbing ---

    def _person_key(self, oid: str, value: str) -> str:
        digest = hmac.new(self._key, f"{oid}|{value}".encode(), hashlib.sha256).hexdigest()
        return f"person-{digest}"

    def _fresh(self, partition_key: str, row_key: str) -> Entity | None:
        entity = self._store.get(TABLE_LOOKUP, partition_key, row_key)
        if entity is None:
            return None
        cached_at = dt.datetime.fromisoformat(str(entity.data["cachedAt"]))
        return entity if self._clock() - cached_at < CACHE_TTL else None

    def _put(self, partition_key: str, row_key: str, data: dict[str, Value]) -> None:
        stamped: dict[str, Value] = {**data, "cachedAt": self._clock().isoformat()}
        self._store.upsert(TABLE_LOOKUP, partition_key, row_key, stamped)
