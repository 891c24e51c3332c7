"""The contextual jump-out (kontextuellt uthopp): single-use launch links between
Orbit and Millennium (brief §7, docs/jumpout.md).

* `request`  — the launch request body and its checks;
* `fhir`     — the Millennium FHIR R4 port, its httpx adapter and OAuth2 token;
* `lookup`   — the cache of Millennium ids (no identity numbers in keys);
* `resolve`  — from a request to the target system's own ids and URL;
* `codes`    — single-use codes and the audit of each launch (``launches`` table);
* `handler`  — the plain handlers behind ``POST /api/launch`` and ``GET /api/launch/{code}``;
* `pages`    — the page a clinician sees for a used, expired or unknown link.
"""
