"""Alerts and the workbook only name metrics and dimensions that
shared/telemetry_names.py defines, and every alert has a runbook entry."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from infra_support import INFRA, OPERATIONS_DOC, relative

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
    assert set(_METRIC.findall(text)) <= set(names.ALL_METRICS)
    assert set(_DIMENSION.findall(text)) <= set(names.ALL_DIMENSIONS)


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
