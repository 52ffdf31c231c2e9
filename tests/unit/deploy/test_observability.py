"""The Grafana dashboard and the Prometheus alert rules in deploy/observability: they parse, have
the fields Grafana and Prometheus need, and name only metrics some service exports (collected
from the Prometheus registry after importing every metrics module of the code base)."""

from __future__ import annotations

import importlib
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from prometheus_client import REGISTRY

ROOT = Path(__file__).resolve().parents[3]
OBSERVABILITY = ROOT / "deploy" / "observability"
METRIC = re.compile(r"\btouchline_[a-z0-9_]+\b")
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "summary": ("_sum", "_count")}


@cache
def exported_names() -> frozenset[str]:
    """Every sample name (with _bucket/_sum/_count/_total) the services' metric modules define."""
    sources = sorted(ROOT.glob("shared/metrics.py")) + sorted(ROOT.glob("services/*/metrics.py"))
    assert len(sources) >= 2
    for path in sources:
        package = "shared" if path.parent.name == "shared" else path.parent.name
        importlib.import_module(f"touchline.{package}.metrics")
    # From the families, not their samples: a labelled metric has no sample before its first use.
    names: set[str] = set()
    for family in REGISTRY.collect():
        if family.name.startswith("touchline_"):
            names |= {family.name + suffix for suffix in SUFFIXES.get(family.type, ("",))}
    return frozenset(names)


def unknown_metrics(expr: str) -> set[str]:
    return set(METRIC.findall(expr)) - exported_names()


def balanced(expr: str) -> bool:
    depth = 0
    for char in expr:
        depth += {"(": 1, ")": -1, "[": 1, "]": -1, "{": 1, "}": -1}.get(char, 0)
        if depth < 0:
            return False
    return depth == 0


def rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load((OBSERVABILITY / "alerts.yaml").read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def dashboard_exprs() -> list[tuple[str, str]]:
    dashboard = json.loads((OBSERVABILITY / "grafana-dashboard.json").read_text())
    return [(p["title"], t["expr"]) for p in dashboard["panels"] for t in p.get("targets", [])]


def test_the_check_knows_the_metrics_and_catches_a_misspelt_one() -> None:
    assert "touchline_consumer_lag_records" in exported_names()
    assert "touchline_ingest_accepted_total" in exported_names()
    assert unknown_metrics("rate(touchline_consumer_lags_records[5m])") == {"touchline_consumer_lags_records"}
    assert not balanced("sum(rate(x[5m])")


def test_every_alert_rule_is_complete_and_names_only_exported_metrics() -> None:
    found = rules()
    names = {r["alert"] for r in found}
    assert {
        "TouchlineConsumerLagGrowing",
        "TouchlineDeadLetters",
        "TouchlineTimersLate",
        "TouchlineSmtpFailing",
        "TouchlineHttp5xx",
    } <= names
    assert len(names) == len(found), "alert names must be unique"
    for rule in found:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule["alert"]
        assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        assert balanced(rule["expr"]), rule["alert"]
        assert METRIC.search(rule["expr"]), rule["alert"]
        assert unknown_metrics(rule["expr"]) == set(), rule["alert"]
        if "for" in rule:
            assert re.fullmatch(r"\d+[smh]", rule["for"]), rule["alert"]


def test_the_dashboard_is_grafana_json_whose_panels_query_only_exported_metrics() -> None:
    dashboard = json.loads((OBSERVABILITY / "grafana-dashboard.json").read_text())
    assert dashboard["uid"] and dashboard["title"] and dashboard["schemaVersion"] >= 36
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    assert all({"x", "y", "w", "h"} <= set(p["gridPos"]) for p in dashboard["panels"])
    exprs = dashboard_exprs()
    assert len(exprs) >= 15
    for title, expr in exprs:
        assert balanced(expr), title
        assert METRIC.search(expr), title
        assert unknown_metrics(expr) == set(), title


def test_the_dashboard_shows_what_the_issue_asks_operators_to_see() -> None:
    shown = {name for _, expr in dashboard_exprs() for name in METRIC.findall(expr)}
    for needed in (
        "touchline_consumer_lag_records",
        "touchline_consumer_batch_duration_seconds_bucket",
        "touchline_consumer_batch_records_sum",
        "touchline_dead_lettered_total",
        "touchline_skipped_total",
        "touchline_event_age_seconds_bucket",
        "touchline_ingest_accepted_total",
        "touchline_ingest_rejected_total",
        "touchline_http_request_seconds_bucket",
        "touchline_touch_timers_due",
        "touchline_touch_timer_lateness_seconds_bucket",
        "touchline_notify_deliveries_total",
        "touchline_notify_smtp_seconds_bucket",
        "touchline_notify_webhook_attempts_total",
    ):
        assert needed in shown, needed
