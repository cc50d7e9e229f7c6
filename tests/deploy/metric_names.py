"""The metrics the service exports, and the metric names and labels a PromQL expression uses.

Shared by the alerting rules' and the dashboard's tests: an alert or a panel on a metric the
service does not export (a typo, a renamed metric, a label it never sets) shows nothing and
fires never, silently. This catches that without Prometheus.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from prometheus_client.metrics import MetricWrapperBase

from agentcli.server.metrics import Metrics

__all__ = ["Exported", "Usage", "exported_metrics", "problems", "usage"]

# Labels Prometheus adds to every scraped series, and its own per-target series.
TARGET_LABELS = frozenset({"job", "instance"})
PROMETHEUS_OWN = {"up": frozenset[str]()}

# The sample names each metric type exposes (prometheus_client's text format).
_SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "gauge": ("",),
    "summary": ("", "_count", "_sum", "_created"),
    "info": ("_info",),
    "stateset": ("",),
    "gaugehistogram": ("_bucket", "_gcount", "_gsum"),
    "unknown": ("",),
}


@dataclass(frozen=True)
class Exported:
    """Sample names and, where known, their labels (``None``: labels unknown, not checked)."""

    labels: dict[str, frozenset[str] | None]

    @property
    def names(self) -> frozenset[str]:
        return frozenset(self.labels)


def exported_metrics() -> Exported:
    """Every sample name a fresh ``Metrics()`` exports, with its labels."""
    metrics = Metrics()
    # Label names are not in the collected families (a labelled metric with no children has no
    # samples yet), so they come from the collectors Metrics keeps as attributes.
    declared: dict[str, frozenset[str]] = {}
    for collector in vars(metrics).values():
        if isinstance(collector, MetricWrapperBase):
            declared[collector._name] = frozenset(collector._labelnames)
    out: dict[str, frozenset[str] | None] = {}
    for family in metrics.registry.collect():
        base = declared.get(family.name)
        for suffix in _SUFFIXES.get(family.type, ("",)):
            labels = base
            if labels is not None and suffix == "_bucket":
                labels = labels | {"le"}
            out[family.name + suffix] = labels
        for sample in family.samples:  # whatever the type table missed
            out.setdefault(sample.name, base)
    out.update(PROMETHEUS_OWN)
    return Exported(out)


_QUOTED = r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`'
_STRING = re.compile(_QUOTED)
_SELECTOR = re.compile(
    r"(?<![\w:])([a-zA-Z_:][a-zA-Z0-9_:]*)?\s*\{((?:[^}\"'`]|" + _QUOTED + r")*)\}"
)
_MATCHER = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)")
_GROUPING = re.compile(
    r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^()]*)\)", re.IGNORECASE
)
_RANGE = re.compile(r"\[[^\]]*\]")
_IDENTIFIER = re.compile(r"(?<![\w:.$])([a-zA-Z_:][a-zA-Z0-9_:]*)(?![\w:])(\s*\()?")
_KEYWORDS = frozenset(
    {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "inf", "nan"}
    | {"group_left", "group_right", "atan2", "start", "end"}
)


@dataclass
class Usage:
    """What one expression uses: metric names, each selector's labels, grouping labels."""

    metrics: set[str] = field(default_factory=set)
    selector_labels: list[tuple[str, set[str]]] = field(default_factory=list)
    grouping_labels: set[str] = field(default_factory=set)


def usage(expr: str) -> Usage:
    """The metric names and labels a PromQL expression uses (a scanner, not a parser: enough
    for the expressions in deploy/, which it is tested on)."""
    found = Usage()

    def selector(match: re.Match[str]) -> str:
        name, body = match.group(1), match.group(2)
        labels = set(_MATCHER.findall(_STRING.sub('""', body)))
        if name is None:  # {__name__="x", ...}
            named = re.search(r'__name__\s*=\s*"([^"]+)"', body)
            name = named.group(1) if named else None
        if name is not None:
            found.metrics.add(name)
            found.selector_labels.append((name, labels - {"__name__"}))
        return f" {match.group(1) or ''} "

    text = _SELECTOR.sub(selector, expr)
    text = _STRING.sub(" ", text)
    text = _RANGE.sub(" ", text)

    def grouping(match: re.Match[str]) -> str:
        found.grouping_labels.update(
            label.strip() for label in match.group(1).split(",") if label.strip()
        )
        return " "

    text = _GROUPING.sub(grouping, text)
    for ident, call in _IDENTIFIER.findall(text):
        if call or ident.lower() in _KEYWORDS:
            continue  # a function, an aggregation or a keyword
        found.metrics.add(ident)
    return found


def problems(expr: str, exported: Exported) -> list[str]:
    """What in ``expr`` the service does not export: unknown metrics, unknown labels."""
    used = usage(expr)
    out = [f"metric {name} is not exported" for name in sorted(used.metrics - exported.names)]
    known = [name for name in used.metrics if name in exported.labels]
    for name, labels in used.selector_labels:
        allowed = exported.labels.get(name)
        if allowed is None:
            continue
        for label in sorted(labels - allowed - TARGET_LABELS):
            out.append(f"{name} has no label {label}")
    label_sets = [exported.labels[name] for name in known]
    if not known or None in label_sets:
        return out  # labels unknown somewhere: the grouping cannot be judged
    all_labels = set(TARGET_LABELS).union(*(labels for labels in label_sets if labels))
    for label in sorted(used.grouping_labels - all_labels):
        out.append(f"no metric in the expression has the label {label}")
    return out
