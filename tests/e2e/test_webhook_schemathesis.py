"""Schemathesis against the local run: the published contract is what the code does.

Cases are generated from ``docs/contract/openapi.json`` (positive: valid by the
schema; negative: breaking it somewhere), signed like Orbit signs them, posted to
the local run on loopback, and every answer is checked with schemathesis's
conformance checks: no 5xx, only documented status codes, content types,
headers and bodies, valid data accepted, invalid data refused.

Integers: JSON Schema counts ``3.0`` as an integer, the contract does not (strict:
an integer is written ``3``). A schema cannot say so, so the prose contract does,
and generated integral floats are written as integers before sending.

Signing: a generated ``webhook-id`` is kept as it is; a ``webhook-timestamp``
that matches its schema is replaced by the current time, and a present
``webhook-signature`` by a valid one over the exact bytes sent. A header the
case left out (or broke) stays that way, so negative cases stay negative.

Bounded (``CASES_PER_MODE`` per generation mode) so ``make test`` stays quick;
the counts are printed (``pytest -s``) for the issue's closing note.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.config import SchemathesisConfig

from localrun.app import LocalRun
from shared.webhook.signature import HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP

pytestmark = [
    pytest.mark.e2e,
    # Schemathesis's own strategies use `random` (its warning, not ours).
    pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning"),
]

CONTRACT = Path(__file__).resolve().parents[2] / "docs" / "contract" / "openapi.json"
CASES_PER_MODE = 150
TIMESTAMP = re.compile(r"^[0-9]{1,10}$")
CONFIG = """
[checks.positive_data_acceptance]
# Valid by the schema is not always valid in meaning: a check digit, an end
# before the start, an unknown or switched-off administration (all documented).
expected-statuses = [202, 409, 422]
"""
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    positive_data_acceptance,
]


def _signed(kwargs: dict[str, Any], secret: str) -> tuple[bytes, dict[str, str]]:
    """The exact body to send and its headers, signed where the case allows it."""
    headers = {name.lower(): str(value) for name, value in (kwargs.get("headers") or {}).items()}
    if "json" in kwargs:
        raw = json.dumps(_integers_as_integers(kwargs["json"]), ensure_ascii=False).encode()
    else:
        data = kwargs.get("data") or b""
        raw = data if isinstance(data, bytes) else str(data).encode()
    webhook_id = headers.get(HEADER_ID)
    if webhook_id is not None and TIMESTAMP.match(headers.get(HEADER_TIMESTAMP, "")):
        headers[HEADER_TIMESTAMP] = str(int(time.time()))
    if webhook_id is not None and HEADER_SIGNATURE in headers:
        headers[HEADER_SIGNATURE] = _signature(
            secret, webhook_id, headers.get(HEADER_TIMESTAMP, ""), raw
        )
    return raw, headers


def _signature(secret: str, webhook_id: str, timestamp: str, body: bytes) -> str:
    """Standard Webhooks ``v1,`` signature over the raw bytes (UTF-8 or not: a body
    that is not UTF-8 must get its 400, not fail to be signed)."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def _integers_as_integers(value: Any) -> Any:
    """``value`` with every integral float written as an integer (3.0 → 3)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _integers_as_integers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_integers_as_integers(item) for item in value]
    return value


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_the_webhook_conforms_to_its_published_contract(
    local_run: LocalRun, mode: GenerationMode
) -> None:
    config = SchemathesisConfig.from_str(CONFIG)
    schema = schemathesis.openapi.from_path(CONTRACT, config=config)
    operation = schema["/orbit/events"]["POST"]
    base_url = f"{local_run.base_url}/api"
    secret = local_run.settings.orbit_webhook_secrets[0]
    statuses: Counter[int] = Counter()
    failures: list[str] = []
    session = requests.Session()

    @settings(
        max_examples=CASES_PER_MODE,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode), _=st.just(None))
    def probe(case: Any, _: None) -> None:
        kwargs = case.as_transport_kwargs(base_url=base_url)
        raw, headers = _signed(kwargs, secret)
        response = session.request(
            kwargs["method"], kwargs["url"], data=raw, headers=headers, timeout=10
        )
        statuses[response.status_code] += 1
        try:
            case.validate_response(response, checks=CHECKS)
        except Exception as failure:  # one line each; the run goes on to count them all
            failures.append(f"{response.status_code}: {str(failure).splitlines()[0][:200]}")

    probe()
    cases = sum(statuses.values())
    server_errors = sum(n for status, n in statuses.items() if status >= 500)
    print(
        f"\nschemathesis {mode.value}: {cases} cases, {server_errors} 5xx, "
        f"{len(failures)} non-conforming; statuses {dict(sorted(statuses.items()))}"
    )
    assert cases >= CASES_PER_MODE // 2, "too few cases to say anything"
    assert server_errors == 0
    assert failures == []
