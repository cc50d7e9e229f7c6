"""The Grafana dashboard (deploy/grafana/agentcli-dashboard.json): it loads, every panel has a
query on the chosen Prometheus data source, the promised panels are there, and every metric and
label it queries is one the service really exports."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from .metric_names import exported_metrics, problems, usage

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "agentcli-dashboard.json"

# The promised panels: a word or two each title must contain (case-insensitive).
PROMISED = {
    "request rate": ("request rate", "endpoint", "status"),
    "duration quantiles": ("duration", "p50", "p95", "p99"),
    "tokens": ("tokens per second", "kind"),
    "errors": ("errors", "code"),
    "cost": ("cost per hour", "agent", "model"),
    "cleanups": ("cleanups per minute",),
    "active sessions": ("active sessions",),
    "active streams": ("active streams",),
    "first event": ("time to first event", "p95"),
    "store": ("store operation", "p95", "operation"),
    "budget": ("budget rejections",),
    "readiness": ("ready",),
}


def _dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return loaded


def _panels() -> list[dict[str, Any]]:
    """Every panel, those inside collapsed rows too; rows themselves are not panels."""
    out: list[dict[str, Any]] = []
    for panel in _dashboard()["panels"]:
        if panel["type"] == "row":
            out.extend(panel.get("panels", []))
        else:
            out.append(panel)
    return out


def _targets() -> list[tuple[str, dict[str, Any]]]:
    return [(panel["title"], target) for panel in _panels() for target in panel["targets"]]


def test_the_dashboard_is_a_current_grafana_dashboard() -> None:
    dashboard = _dashboard()
    assert 36 <= dashboard["schemaVersion"] <= 41
    assert dashboard["uid"]
    assert dashboard["title"]
    assert dashboard.get("id") is None, "no database id: it is imported or provisioned"
    ids = [panel["id"] for panel in dashboard["panels"]] + [
        panel["id"] for row in dashboard["panels"] for panel in row.get("panels", [])
    ]
    assert len(ids) == len(set(ids)), "panel ids are unique"
    for panel in dashboard["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]


def test_the_data_source_is_chosen_on_import() -> None:
    variables = {var["name"]: var for var in _dashboard()["templating"]["list"]}
    datasource = variables["datasource"]
    assert datasource["type"] == "datasource"
    assert datasource["query"] == "prometheus"
    for title, target in _targets():
        assert target["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, title
    for panel in _panels():
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]


def test_every_panel_has_a_query() -> None:
    for panel in _panels():
        assert panel["targets"], f"{panel['title']}: no target"
        for target in panel["targets"]:
            assert target["expr"].strip(), f"{panel['title']}: an empty query"
            assert target["refId"], panel["title"]
        ref_ids = [target["refId"] for target in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids)), panel["title"]


def test_the_promised_panels_are_there() -> None:
    titles = [panel["title"].lower() for panel in _panels()]
    missing = [
        what
        for what, words in PROMISED.items()
        if not any(all(word in title for word in words) for title in titles)
    ]
    assert missing == [], f"no panel for: {', '.join(missing)}"


def test_every_metric_and_label_queried_is_exported() -> None:
    exported = exported_metrics()
    found = {
        f"{title}: {problem}"
        for title, target in _targets()
        for problem in problems(target["expr"], exported)
    }
    assert found == set(), "\n".join(sorted(found))


def test_every_query_names_a_metric() -> None:
    for title, target in _targets():
        assert usage(target["expr"]).metrics, title


def test_the_variables_query_exported_metrics() -> None:
    exported = exported_metrics()
    for var in _dashboard()["templating"]["list"]:
        if var["type"] != "query":
            continue
        query = var["query"]["query"] if isinstance(var["query"], dict) else var["query"]
        match = re.fullmatch(r"label_values\((.*),\s*(\w+)\)", query)
        assert match is not None, query
        selector, label = match.groups()
        assert problems(selector, exported) == [], query
        name = next(iter(usage(selector).metrics))
        labels = exported.labels[name]
        assert labels is None or label in labels | {"job", "instance"}, query
