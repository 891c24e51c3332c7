"""Alerts and the workbook only name metrics and dimensions that
shared/telemetry_names.py defines, and every alert has a runbook entry."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from infra_support import INFRA, OPERATIONS_DOC, REPO, relative

from shared import telemetry_names as names

ALERTS_BICEP = INFRA / "modules" / "alerts.bicep"
WORKBOOK = INFRA / "workbooks" / "operations.workbook.json"
TELEMETRY_VIEWS = sorted([*INFRA.glob("alerts/*.kql"), WORKBOOK, ALERTS_BICEP])

_METRIC = re.compile(r"orbitsync\.[a-z0-9_.]*[a-z0-9_]")
_DIMENSION = re.compile(r"customDimensions\[\\?\"(\w+)\\?\"\]")


def _slug(heading: str) -> str:
    """GitHub's anchor for a Markdown heading."""
    return re.sub(r"[^a-z0-9 -]", "", heading.strip().lower()).replace(" ", "-")


def test_metric_names_are_unique_and_prefixed() -> None:
    assert len(set(names.ALL_METRICS)) == len(names.ALL_METRICS)
    assert all(name.startswith(names.METRIC_PREFIX) for name in names.ALL_METRICS)
    assert len(set(names.ALL_SPANS)) == len(names.ALL_SPANS)


@pytest.mark.parametrize("path", TELEMETRY_VIEWS, ids=relative)
def test_views_name_only_defined_metrics_and_dimensions(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert set(_METRIC.findall(text)) <= set(names.ALL_METRICS) | set(names.ALL_SPANS)
    assert set(_DIMENSION.findall(text)) <= set(names.ALL_DIMENSIONS)


# --- what the host emits (host.json) and what the KQL reads --------------------------

HOST_JSON = REPO / "host.json"
APP_REQUEST_SPANS = {names.SPAN_WEBHOOK_RECEIVE, names.SPAN_EVENT_STORE, names.SPAN_SYNC_TARGET}
"""The app's server and consumer spans: its rows in ``requests``, one per execution."""
TELEMETRY_CODE = REPO / "shared" / "telemetry" / "__init__.py"
_REQUEST_NAMES = re.compile(r"\|\s*where name in \(([^)]*)\)")


def _host_records_every_invocation() -> bool:
    levels = json.loads(HOST_JSON.read_text(encoding="utf-8"))["logging"]["logLevel"]
    level = levels.get("Host.Results", levels.get("default", "Information"))
    return level in ("Trace", "Debug", "Information")


def _kql_sources() -> dict[str, str]:
    """Every KQL the operators' views run: alert files, workbook queries, runbook blocks."""
    sources = {
        relative(path): path.read_text(encoding="utf-8") for path in INFRA.glob("alerts/*.kql")
    }
    workbook = json.loads(WORKBOOK.read_text(encoding="utf-8"))
    for index, item in enumerate(_workbook_items(workbook)):
        query = item.get("content", {}).get("query")
        if isinstance(query, str):
            sources[f"workbook item {index}"] = query
    doc = OPERATIONS_DOC.read_text(encoding="utf-8")
    for index, block in enumerate(re.findall(r"```kusto\n(.*?)```", doc, re.S)):
        sources[f"docs/operations.md kusto block {index}"] = block
    return sources


def _workbook_items(node: object) -> list[dict]:
    if isinstance(node, dict):
        found = [node] if "content" in node else []
        for value in node.values():
            found += _workbook_items(value)
        return found
    if isinstance(node, list):
        return [item for value in node for item in _workbook_items(value)]
    return []


def test_host_results_are_errors_only_so_requests_must_be_read_by_span_name() -> None:
    # "Host.Results": "Error" keeps the bill down but leaves only failed host rows in
    # requests: a failure rate over them is 100 % whenever anything fails.
    assert not _host_records_every_invocation()
    for name, query in _kql_sources().items():
        if not re.search(r"^\s*requests\b", query, re.M):
            continue
        match = _REQUEST_NAMES.search(query)
        assert match, f"{name} reads requests without filtering on the app's span names"
        used = set(re.findall(r'"([^"]+)"', match.group(1)))
        assert used <= set(names.ALL_SPANS), f"{name}: {used - set(names.ALL_SPANS)}"


def test_the_failure_rate_counts_every_unit_of_work_the_app_records() -> None:
    query = (INFRA / "alerts" / "failure-rate.kql").read_text(encoding="utf-8")
    match = _REQUEST_NAMES.search(query)
    assert match is not None
    assert set(re.findall(r'"([^"]+)"', match.group(1))) == APP_REQUEST_SPANS
    assert names.SPAN_MLLP_SEND not in query, "a client span is a dependency, not a request"


def test_the_spans_the_failure_rate_reads_are_emitted_as_requests() -> None:
    # Server and consumer spans are exported to requests; the code must start them.
    code = TELEMETRY_CODE.read_text(encoding="utf-8")
    constant = {value: key for key, value in vars(names).items() if key.startswith("SPAN_")}
    for span in APP_REQUEST_SPANS:
        assert f"names.{constant[span]}" in code, f"{span} is not emitted"
    assert 'names.SPAN_WEBHOOK_RECEIVE, "server"' in code
    assert '_work_span(name, "consumer"' in code  # SPAN_EVENT_STORE or SPAN_SYNC_TARGET


def test_alerts_and_workbook_use_the_metrics_operators_need() -> None:
    used = set()
    for path in TELEMETRY_VIEWS:
        used |= set(_METRIC.findall(path.read_text(encoding="utf-8")))
    workbook = set(_METRIC.findall(WORKBOOK.read_text(encoding="utf-8")))
    assert {names.SYNC_LAG_MS, names.RETRIES_SCHEDULED} <= used  # the sync lag alert
    assert {names.SYNC_LAG_MS, names.HL7_MESSAGES_SENT, names.DEAD_LETTERED} <= workbook


def test_the_workbook_is_valid_json_with_resource_placeholders() -> None:
    text = WORKBOOK.read_text(encoding="utf-8")
    document = json.loads(text)
    assert document["version"] == "Notebook/1.0"
    assert document["fallbackResourceIds"] == ["__APP_INSIGHTS_ID__"]
    assert "__SERVICE_BUS_ID__" in text


def _runbook_anchors_in_alerts() -> set[str]:
    return set(re.findall(r"#(alert-[a-z0-9-]+)'", ALERTS_BICEP.read_text(encoding="utf-8")))


def _alert_entries_in_operations_doc() -> set[str]:
    headings = re.findall(r"^### (Alert: .+)$", OPERATIONS_DOC.read_text(encoding="utf-8"), re.M)
    return {_slug(heading) for heading in headings}


def test_every_alert_links_a_runbook_entry_and_every_entry_has_an_alert() -> None:
    anchors = _runbook_anchors_in_alerts()
    assert len(anchors) >= 4
    assert anchors == _alert_entries_in_operations_doc()


def test_every_alert_rule_carries_its_runbook_link() -> None:
    text = ALERTS_BICEP.read_text(encoding="utf-8")
    rules = re.split(r"\nresource ", text)[1:]
    alert_rules = [
        rule for rule in rules if "metricAlerts@" in rule or "scheduledQueryRules@" in rule
    ]
    assert len(alert_rules) == len(_runbook_anchors_in_alerts())
    for rule in alert_rules:
        assert "Runbook: ${runbook." in rule, rule.splitlines()[0]
        assert "autoMitigate: true" in rule, f"{rule.splitlines()[0]} must be stateful"
