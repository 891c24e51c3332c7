"""No keys, SAS tokens, connection strings or secret values anywhere in infra/ or
in the deployment definitions (brief §3 principle 8)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from infra_support import INFRA, REPO, relative

SCANNED = [
    *sorted(path for path in INFRA.rglob("*") if path.is_file()),
    REPO / "azure.yaml",
    REPO / ".github" / "workflows" / "deploy.yml",
    REPO / ".azuredevops" / "deploy.yml",
]

FORBIDDEN = {
    "listKeys / list*Keys() call": re.compile(r"\blist\w*Keys\b", re.IGNORECASE),
    "connection strings listed": re.compile(r"listConnectionStrings", re.IGNORECASE),
    "SAS token function": re.compile(r"list(Account|Service)Sas", re.IGNORECASE),
    "account key": re.compile(r"AccountKey\s*=|\bprimaryKey\b|\bsecondaryKey\b", re.IGNORECASE),
    "shared access key or signature": re.compile(r"SharedAccess(Key|Signature)", re.IGNORECASE),
    "SAS token query": re.compile(r"[?&]sig=|[?&]sv=\d{4}-", re.IGNORECASE),
    "storage connection string": re.compile(r"DefaultEndpointsProtocol", re.IGNORECASE),
    "content share (needs an account key)": re.compile(r"WEBSITE_CONTENTAZUREFILE", re.IGNORECASE),
    "connection string": re.compile(r"connection_?strings?\b", re.IGNORECASE),
    "webhook secret value": re.compile(r"whsec_[A-Za-z0-9+/=]{8,}"),
    "client secret": re.compile(r"client[-_]?secret", re.IGNORECASE),
}

ALLOWED = (
    # Application Insights' connection string names the ingestion endpoint; it is
    # not an account key (the component has local auth off and the app exports
    # with Entra ID, APPLICATIONINSIGHTS_AUTHENTICATION_STRING).
    "APPLICATIONINSIGHTS_CONNECTION_STRING",
    "appInsights.properties.ConnectionString",
)


def findings(text: str) -> list[str]:
    """The kinds of forbidden material in ``text`` (after removing the allowed names)."""
    for allowed in ALLOWED:
        text = text.replace(allowed, "")
    return [kind for kind, pattern in FORBIDDEN.items() if pattern.search(text)]


@pytest.mark.parametrize("path", SCANNED, ids=relative)
def test_file_holds_no_key_sas_or_connection_string(path: Path) -> None:
    assert findings(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize(
    "line",
    [
        "value: storage.listKeys().keys[0].value",
        "value: namespace.listConnectionStrings().primaryConnectionString",
        "'DefaultEndpointsProtocol=https;AccountName=x;AccountKey=abc'",
        "Endpoint=sb://x.servicebus.windows.net/;SharedAccessKeyName=a;SharedAccessKey=b",
        "https://x.blob.core.windows.net/c?sv=2022-11-02&sig=abc",
        "name: 'WEBSITE_CONTENTAZUREFILECONNECTIONSTRING'",
        "param secret = 'whsec_" + "Q" * 32 + "'",
        "AzureWebJobsStorage: storageConnectionString",
    ],
)
def test_scanner_catches_known_bad_material(line: str) -> None:
    assert findings(line)


def test_scanner_allows_the_application_insights_setting() -> None:
    line = (
        "name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'\n"
        "value: appInsights.properties.ConnectionString"
    )
    assert findings(line) == []
