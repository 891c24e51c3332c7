"""Millennium's FHIR R4 API as the jump-out needs it: a port and its httpx adapter.

Three questions, all read-only:

* which Millennium person has this patient identifier
  (``Patient?identifier=urn:oid:<oid>|<value>``);
* which encounter carries this visit number (``Encounter?identifier=<visit number>``;
  the visit number is the Orbit booking id, PV1-19);
* what one encounter is (``Encounter/<id>``), for the way back to Orbit.

In Azure the adapter authenticates with OAuth2 client credentials (`ClientCredentials`);
against the local simulator it sends no token.

The search URL carries the identifier, so nothing here ever logs a URL or puts one
in an exception: errors name the resource type and the HTTP status only. httpx
itself logs every request URL at INFO, which is why `HttpxFhir` raises the level
of the ``httpx`` logger.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from shared.errors import TransientError

FHIR_JSON = "application/fhir+json"
DEFAULT_TIMEOUT_SECONDS = 5.0
TOKEN_EARLY_REFRESH_SECONDS = 60.0
"""A token is renewed this long before it expires, so a request never carries a stale one."""


class FhirUnavailable(TransientError):
    """Millennium's FHIR API (or its token endpoint) could not answer.

    The message names the step and the HTTP status or error type, never a URL.
    """


@dataclass(frozen=True)
class FhirEncounter:
    """What the jump-out needs of one FHIR Encounter."""

    encounter_id: str
    person_id: str  # from subject.reference "Patient/<id>"; "" when absent
    identifiers: tuple[tuple[str, str], ...]  # (system, value) pairs


class MillenniumFhir(Protocol):
    """The read-only questions the jump-out asks Millennium.

    Raises (every method):
        FhirUnavailable: the API could not be reached or answered an error.
    """

    def person_ids(self, system: str, value: str) -> list[str]:
        """Ids of the Patients with identifier ``system|value`` (normally zero or one)."""

    def encounters_with_identifier(self, value: str) -> list[FhirEncounter]:
        """Encounters carrying an identifier with this value (the visit number)."""

    def encounter(self, encounter_id: str) -> FhirEncounter | None:
        """One Encounter, or None when Millennium has none with this id."""


class TokenSource(Protocol):
    def token(self) -> str:
        """A bearer token. Raises FhirUnavailable."""

    def invalidate(self) -> None:
        """Forget the cached token (after the API answered 401)."""


class HttpxFhir:
    """`MillenniumFhir` over HTTP with httpx; ``token`` None means no authentication."""

    def __init__(
        self,
        base_url: str,
        *,
        token: TokenSource | None = None,
        client: httpx.Client | None = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        # httpx logs "HTTP Request: GET <url>" at INFO; our URLs carry identifiers.
        logging.getLogger("httpx").setLevel(logging.WARNING)
        self._base_url = base_url.rstrip("/")
        self._token = token
        self._client = client or httpx.Client(timeout=timeout)

    def person_ids(self, system: str, value: str) -> list[str]:
        bundle = self._get("Patient", {"identifier": f"{system}|{value}"})
        return [resource["id"] for resource in _matches(bundle, "Patient")]

    def encounters_with_identifier(self, value: str) -> list[FhirEncounter]:
        bundle = self._get("Encounter", {"identifier": value})
        return [_encounter(resource) for resource in _matches(bundle, "Encounter")]

    def encounter(self, encounter_id: str) -> FhirEncounter | None:
        resource = self._get(f"Encounter/{encounter_id}", {})
        if resource is None or resource.get("resourceType") != "Encounter":
            return None
        return _encounter(resource)

    def _get(self, path: str, params: Mapping[str, str]) -> dict[str, Any] | None:
        """The JSON answer, or None for 404.

        Raises:
            FhirUnavailable: any other non-200 answer, a network error, or not JSON.
        """
        what = path.split("/")[0]
        response = self._send(path, params, what)
        if response.status_code == 401 and self._token is not None:
            self._token.invalidate()  # revoked or rotated: one fresh try
            response = self._send(path, params, what)
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise FhirUnavailable(f"FHIR {what} request answered HTTP {response.status_code}")
        try:
            document = response.json()
        except ValueError:
            raise FhirUnavailable(f"FHIR {what} answer is not JSON") from None
        if not isinstance(document, dict):
            raise FhirUnavailable(f"FHIR {what} answer is not a JSON object")
        return document

    def _send(self, path: str, params: Mapping[str, str], what: str) -> httpx.Response:
        headers = {"Accept": FHIR_JSON}
        if self._token is not None:
            headers["Authorization"] = f"Bearer {self._token.token()}"
        try:
            return self._client.get(f"{self._base_url}/{path}", params=params, headers=headers)
        except httpx.HTTPError as error:
            # The error's text holds the URL; its type says enough.
            raise FhirUnavailable(f"FHIR {what} request failed ({type(error).__name__})") from None


class ClientCredentials:
    """OAuth2 client credentials grant (RFC 6749 §4.4) with a cached token.

    The client authenticates with HTTP Basic (RFC 6749 §2.3.1), which every
    authorization server must support. Thread-safe: concurrent launches share one token.
    """

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        scope: str,
        *,
        client: httpx.Client | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._token_url = token_url
        self._auth = (client_id, client_secret)
        self._scope = scope
        self._client = client or httpx.Client(timeout=DEFAULT_TIMEOUT_SECONDS)
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: tuple[str, float] | None = None  # token, renew-after (clock time)

    def token(self) -> str:
        """Raises:
        FhirUnavailable: the token endpoint failed or answered without a token.
        """
        with self._lock:
            if self._cached is None or self._clock() >= self._cached[1]:
                self._cached = self._fetch()
            return self._cached[0]

    def invalidate(self) -> None:
        with self._lock:
            self._cached = None

    def _fetch(self) -> tuple[str, float]:
        form = {"grant_type": "client_credentials"}
        if self._scope:
            form["scope"] = self._scope
        try:
            response = self._client.post(
                self._token_url, data=form, auth=self._auth, headers={"Accept": "application/json"}
            )
        except httpx.HTTPError as error:
            raise FhirUnavailable(f"FHIR token request failed ({type(error).__name__})") from None
        if response.status_code != 200:
            raise FhirUnavailable(f"FHIR token request answered HTTP {response.status_code}")
        try:
            answer = response.json()
            token = str(answer["access_token"])
            lifetime = float(answer.get("expires_in", 300))
        except (ValueError, KeyError, TypeError):
            raise FhirUnavailable("FHIR token answer has no access_token") from None
        renew_after = self._clock() + max(lifetime - TOKEN_EARLY_REFRESH_SECONDS, 0.0)
        return token, renew_after


def build_fhir(
    base_url: str, token_url: str, client_id: str, client_secret: str, scope: str
) -> HttpxFhir:
    """The adapter the settings describe; without a token URL it sends no token (local).

    Raises:
        ValueError: no base URL, or a token URL without client id and secret.
    """
    if not base_url:
        raise ValueError("MILLENNIUM_FHIR_BASE_URL is not set")
    token: TokenSource | None = None
    if token_url:
        if not client_id or not client_secret:
            raise ValueError(
                "MILLENNIUM_FHIR_TOKEN_URL is set but MILLENNIUM_FHIR_CLIENT_ID or "
                "MILLENNIUM_FHIR_SECRET is empty"
            )
        token = ClientCredentials(token_url, client_id, client_secret, scope)
    return HttpxFhir(base_url, token=token)


def _matches(bundle: dict[str, Any] | None, resource_type: str) -> list[dict[str, Any]]:
    """The matching resources of a searchset Bundle (includes and outcomes left out)."""
    if bundle is None:
        return []
    matches = []
    for entry in bundle.get("entry") or []:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict) or resource.get("resourceType") != resource_type:
            continue
        mode = (entry.get("search") or {}).get("mode", "match")
        if mode == "match" and isinstance(resource.get("id"), str):
            matches.append(resource)
    return matches


def _encounter(resource: dict[str, Any]) -> FhirEncounter:
    reference = str((resource.get("subject") or {}).get("reference", ""))
    person_id = reference.removeprefix("Patient/") if reference.startswith("Patient/") else ""
    identifiers = tuple(
        (str(item.get("system", "")), str(item.get("value", "")))
        for item in resource.get("identifier") or []
        if isinstance(item, dict)
    )
    return FhirEncounter(
        encounter_id=str(resource.get("id", "")), person_id=person_id, identifiers=identifiers
    )
