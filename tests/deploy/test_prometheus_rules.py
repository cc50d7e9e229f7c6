"""The alerting rules (deploy/prometheus/rules.yaml): promtool checks them and runs their unit
tests (rules.test.yaml), and checks the compose file's Prometheus configuration; then, without
promtool, every rule is checked for what an on-call person needs and for metrics and labels the
service really exports."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]  # no types-PyYAML in the pinned tools

from .metric_names import exported_metrics, problems, usage

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "deploy" / "prometheus"
RULES = PROMETHEUS / "rules.yaml"
RULE_TESTS = PROMETHEUS / "rules.test.yaml"
CONFIG = PROMETHEUS / "prometheus.yml"
OPERATIONS = ROOT / "docs" / "operations.md"

SEVERITIES = {"critical", "warning", "info"}


def _promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.skip(
            "promtool not found: apt-get install prometheus (or unpack its .deb; .ci/run does)"
        )
    return found


def _run_promtool(*args: str) -> None:
    done = subprocess.run(
        [_promtool(), *args], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, f"promtool {' '.join(args)}:\n{done.stdout}\n{done.stderr}"


def test_promtool_checks_the_rules() -> None:
    _run_promtool("check", "rules", str(RULES.relative_to(ROOT)))


def test_promtool_unit_tests_pass() -> None:
    _run_promtool("test", "rules", str(RULE_TESTS.relative_to(ROOT)))


def test_promtool_checks_the_compose_prometheus_config() -> None:
    # rule_files are relative to prometheus.yml, so this also finds and checks rules.yaml.
    _run_promtool("check", "config", str(CONFIG.relative_to(ROOT)))


def _load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _alerts() -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = []
    for group in _load(RULES)["groups"]:
        rules.extend(group["rules"])
    return rules


def test_rules_are_alerts_with_what_on_call_needs() -> None:
    alerts = _alerts()
    names = [rule.get("alert") for rule in alerts]
    assert all(names), "recording rules belong elsewhere: every rule here is an alert"
    assert len(names) == len(set(names)), "alert names are unique"
    for rule in alerts:
        name = rule["alert"]
        assert re.fullmatch(r"Agentcli[A-Z][A-Za-z]+", name), name
        assert "for" in rule, f"{name}: a `for:` (even 0m) says how long before it fires"
        assert rule["labels"]["severity"] in SEVERITIES, name
        annotations = rule["annotations"]
        assert annotations["summary"].strip(), name
        assert annotations["description"].strip(), name
        # The runbook is the section of docs/operations.md named after the alert.
        assert annotations["runbook_url"] == f"docs/operations.md#{name.lower()}", name


def test_the_promised_alerts_exist() -> None:
    exprs = {rule["alert"]: " ".join(rule["expr"].split()) for rule in _alerts()}
    text = "\n".join(exprs.values())
    assert 'agent_requests_total{status="5xx"}' in text  # the error rate
    latency = "rate(agent_request_duration_seconds_bucket[5m])"
    assert f"histogram_quantile(0.95, sum by (le) ({latency}))" in text
    assert "agent_ready == 0" in text
    assert 'up{job="agentcli"} == 0' in text
    assert "sum(increase(agent_cost_usd_total[1h])) > 10" in text
    assert "agent_context_cleanups_total" in text
    assert (
        "histogram_quantile(0.95, sum by (le, operation) "
        "(rate(agent_store_operation_seconds_bucket[5m]))) > 0.25"
    ) in text


def test_the_error_rate_alert_reads_the_real_status_label() -> None:
    # The middleware labels requests with the status class: f"{status // 100}xx".
    middleware = (ROOT / "src" / "agentcli" / "server" / "middleware.py").read_text()
    assert 'f"{status // 100}xx"' in middleware
    expr = next(rule["expr"] for rule in _alerts() if rule["alert"] == "AgentcliHighErrorRate")
    assert 'status="5xx"' in expr


def test_every_alert_is_tested_firing_and_silent() -> None:
    firing: set[str] = set()
    silent: set[str] = set()
    tests = _load(RULE_TESTS)
    assert tests["rule_files"] == ["rules.yaml"]
    for case in tests["tests"]:
        for check in case.get("alert_rule_test", []):
            (firing if check.get("exp_alerts") else silent).add(check["alertname"])
    names = {rule["alert"] for rule in _alerts()}
    assert names - firing == set(), "alerts never shown firing in rules.test.yaml"
    assert names - silent == set(), "alerts never shown silent in rules.test.yaml"
    assert (firing | silent) - names == set(), "tests of alerts that do not exist"


def test_every_metric_and_label_in_the_rules_is_exported() -> None:
    exported = exported_metrics()
    found = {
        f"{rule['alert']}: {problem}"
        for rule in _alerts()
        for problem in problems(rule["expr"], exported)
    }
    assert found == set(), "\n".join(sorted(found))


def test_the_rules_name_metrics() -> None:
    # The scanner the check above relies on finds every metric of every rule.
    for rule in _alerts():
        assert usage(rule["expr"]).metrics, rule["alert"]


def _github_anchor(heading: str) -> str:
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def test_every_runbook_anchor_is_a_heading_of_the_operations_guide() -> None:
    assert OPERATIONS.is_file(), "docs/operations.md holds the runbook"
    anchors = {
        _github_anchor(line.lstrip("#"))
        for line in OPERATIONS.read_text(encoding="utf-8").splitlines()
        if line.startswith("#")
    }
    missing = sorted(
        rule["annotations"]["runbook_url"].partition("#")[2]
        for rule in _alerts()
        if rule["annotations"]["runbook_url"].partition("#")[2] not in anchors
    )
    assert missing == [], f"docs/operations.md has no heading for: {', '.join(missing)}"
