"""The alert rules in ``deploy/prometheus/alerts.yml`` load, and name only served metrics.

``promtool`` is not on the test machines, so each rule is checked by hand:
the file is YAML of the Prometheus rule-file shape, every rule has an alert
name, an expression, a severity and a summary, ``for`` is a duration, and every
metric an expression reads is in a scrape of a running app. The per-organisation
quota gauges come from the organisation-quota module; until this app serves
them they are held to the list below (and to the scrape, once it has them).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from tests.support.api import Api
from tests.support.promql import exposed_names, metric_names

RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "alerts.yml"

ORG_QUOTA_METRICS = frozenset(
    {
        "registry_org_evaluations_today",
        "registry_org_daily_quota",
        "registry_org_queries_today",
        "registry_org_daily_query_quota",
    }
)
"""Gauges of the per-organisation quotas (``services/quotas.py``), labelled ``org``."""

_DURATION = re.compile(r"^([0-9]+(ms|s|m|h|d|w|y))+$")


def rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(RULES.read_text())
    assert set(document) == {"groups"}
    found = []
    for group in document["groups"]:
        assert set(group) <= {"name", "rules", "interval"}, group.keys()
        assert group["rules"], group["name"]
        found.extend(group["rules"])
    return found


def test_every_rule_has_the_shape_prometheus_loads() -> None:
    names = set()
    for rule in rules():
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule
        assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", rule["alert"]), rule["alert"]
        assert rule["alert"] not in names, f"{rule['alert']} defined twice"
        names.add(rule["alert"])
        assert isinstance(rule["expr"], str)
        assert rule["expr"].strip()
        assert rule["expr"].count("(") == rule["expr"].count(")"), rule["alert"]
        assert _DURATION.match(rule.get("for", "0s")), rule["alert"]
        assert rule["labels"]["severity"] in {"page", "warning"}, rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
    wanted = {
        "RegistryMergeDelayBreach",
        "RegistrySequencerStalled",
        "RegistryAppealsAboutToAutoOverturn",
        "RegistryRedisFallbackActive",
        "RegistryOrgQuotaNearExhaustion",
        "RegistryDatabasePoolSaturated",
    }
    assert wanted <= names, wanted - names


def test_the_name_extraction_sees_metrics_and_skips_the_rest() -> None:
    expr = (
        'max by (org) (a_total{x="by(y)"}) / on(org) group_left(z) '
        "rate(b_seconds[5m] offset 1h) > 0.9 and c unless sum without (i) (d) > bool 1e3"
    )
    assert metric_names(expr) == {"a_total", "b_seconds", "c", "d"}


async def test_every_metric_a_rule_reads_is_served(api: Api) -> None:
    response = await api.client.get("/metrics")
    assert response.status_code == 200
    served = exposed_names(response.text)
    for rule in rules():
        named = metric_names(rule["expr"])
        assert named, rule["alert"]
        missing = named - served - ORG_QUOTA_METRICS
        assert not missing, f"{rule['alert']} reads {sorted(missing)}, not served"
    # Once the quota gauges are served, they must be served under these names.
    quota_like = {n for n in served if n.startswith("registry_org_")}
    assert quota_like <= ORG_QUOTA_METRICS, quota_like - ORG_QUOTA_METRICS
