"""The monitoring bundle in manifests/monitoring/: every file parses and is installed by its
kustomization, every PromQL expression (alerts, recording rules, dashboard panels) names only
metrics and labels celgate really exports, every alert tells an operator what to do, and the
ServiceMonitor scrapes the port the Deployment serves /metrics on.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import typing
from pathlib import Path
from typing import Iterator

import pytest
import yaml
from prometheus_client.metrics import MetricWrapperBase

import webhook.metrics
from webhook.policy.decision import EnforcementAction, ErrorType

REPO = Path(__file__).resolve().parent.parent
MONITORING = REPO / "manifests" / "monitoring"
RUNBOOK = REPO / "docs" / "monitoring.md"
JOB = "celgate"

# Sample names per metric type as exposed in multiprocess mode, which the Deployment runs
# (--workers 2): prometheus_client's MultiProcessCollector writes no `_created` samples, so a
# query on one would match nothing in a cluster.
SAMPLE_SUFFIXES = {"counter": ("_total",), "gauge": ("",), "histogram": ("_bucket", "_sum", "_count")}
# Labels Prometheus attaches to every series scraped through a ServiceMonitor.
TARGET_LABELS = {"job", "namespace", "pod", "service", "endpoint", "instance", "container"}
# Metrics from outside celgate, each with who exports it.
EXTERNAL_METRICS = {
    "up": {"labels": TARGET_LABELS},  # Prometheus, one per scrape target
    "kube_deployment_status_replicas_available": {"labels": {"namespace", "deployment"}},  # kube-state-metrics
}
# The values celgate writes into its enumerated labels (webhook/metrics.py: record_decision).
LABEL_VALUES = {
    "enforcement_action": set(typing.get_args(EnforcementAction)),
    "error_type": set(typing.get_args(ErrorType)),
    "allowed": {"true", "false"},
}


def exported_samples() -> dict[str, set[str]]:
    """Sample name -> label names, for every metric defined in webhook/metrics.py."""
    samples: dict[str, set[str]] = {}
    for metric in vars(webhook.metrics).values():
        if not isinstance(metric, MetricWrapperBase):
            continue
        (family,) = metric.describe()
        # No public accessor for a wrapper's label names; _labelnames is what .labels() checks against.
        labels = set(metric._labelnames) | TARGET_LABELS
        for suffix in SAMPLE_SUFFIXES[family.type]:
            samples[family.name + suffix] = labels | ({"le"} if suffix == "_bucket" else set())
    return samples


EXPORTED = exported_samples()

# --- a PromQL reader just good enough to find metric names and label matchers ---------------
_VARIABLE = re.compile(r"\$\{?\w+\}?")  # Grafana's $__rate_interval, ${datasource}, ...
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_SELECTOR = re.compile(r"(?<![\w:])([A-Za-z_:][\w:]*)?\s*\{([^{}]*)\}")
_MATCHER = re.compile(r'([A-Za-z_]\w*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"')
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^()]*)\)")
_RANGE = re.compile(r"\[[^\]]*\]")
_IDENTIFIER = re.compile(r"(?<![\w:.])([A-Za-z_:][\w:]*)(\s*\()?")
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan"}


def selectors(expr: str) -> Iterator[tuple[str | None, list[tuple[str, str, str]]]]:
    """(metric name or None, [(label, operator, value)]) for every `name{...}` in expr."""
    for match in _SELECTOR.finditer(_VARIABLE.sub("", expr)):
        yield match.group(1), _MATCHER.findall(match.group(2))


def grouping_labels(expr: str) -> set[str]:
    labels: set[str] = set()
    for clause in _GROUPING.findall(_STRING.sub('""', expr)):
        labels |= {label.strip() for label in clause.split(",") if label.strip()}
    return labels


def metric_names(expr: str) -> set[str]:
    """Every metric an expression reads: identifiers that are not functions, keywords or labels."""
    bare = _VARIABLE.sub("", expr)
    bare = _STRING.sub('""', bare)
    bare = re.sub(r"\{[^{}]*\}", " ", bare)
    bare = _GROUPING.sub(" ", bare)
    bare = _RANGE.sub(" ", bare)
    return {name for name, call in _IDENTIFIER.findall(bare) if not call and name.lower() not in _KEYWORDS}


# --- the files ----------------------------------------------------------------------------------
KUSTOMIZATION = yaml.safe_load((MONITORING / "kustomization.yaml").read_text())
RULE = yaml.safe_load((MONITORING / "prometheusrule.yaml").read_text())
SERVICE_MONITOR = yaml.safe_load((MONITORING / "servicemonitor.yaml").read_text())
SCAN_SERVICE_MONITOR = yaml.safe_load((MONITORING / "servicemonitor-scan.yaml").read_text())
SCAN_SERVICE = yaml.safe_load((REPO / "manifests" / "scan" / "service.yaml").read_text())
DASHBOARD = json.loads((MONITORING / "grafana-dashboard.json").read_text())
SERVICE = yaml.safe_load((REPO / "manifests" / "service.yaml").read_text())
DEPLOYMENT = yaml.safe_load((REPO / "manifests" / "deployment.yaml").read_text())

RULES = [rule for group in RULE["spec"]["groups"] for rule in group["rules"]]
ALERTS = [rule for rule in RULES if "alert" in rule]
RECORDED = {rule["record"] for rule in RULES if "record" in rule}
PANELS = DASHBOARD["panels"]
EXPRESSIONS = [(f"rule {rule.get('alert') or rule['record']}", rule["expr"]) for rule in RULES] + [
    (f"panel {panel['title']!r} {target['refId']}", target["expr"]) for panel in PANELS for target in panel["targets"]
]
EXPRESSION_IDS = [source for source, _ in EXPRESSIONS]


def unknown_metrics(expr: str) -> set[str]:
    return metric_names(expr) - EXPORTED.keys() - EXTERNAL_METRICS.keys() - RECORDED


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ('sum by (le) (rate(celgate_a_bucket{job="celgate", le!="1"}[5m]))', {"celgate_a_bucket"}),
        ('absent(up{job="celgate"} == 1)', {"up"}),
        ("(min by (pod) (celgate_b) - time()) < 14 * 86400", {"celgate_b"}),
        ('rate(celgate_c_total[1h] offset 10m) or 0 * celgate_d and on (pod) celgate_e > 1e3', {"celgate_c_total", "celgate_d", "celgate_e"}),
        ("topk(10, sum by (policy) (increase(celgate_f_total[$__range])))", {"celgate_f_total"}),
        ("job:celgate_requests:rate5m > bool 0", {"job:celgate_requests:rate5m"}),
    ],
)
def test_metric_names_are_read_from_promql(expr, names):
    assert metric_names(expr) == names


def test_a_misspelt_metric_name_is_reported():
    (expr,) = [rule["expr"] for rule in ALERTS if rule["alert"] == "CelgatePolicyErrors"]
    misspelt = expr.replace("celgate_policy_evaluation_errors_total", "celgate_policy_evaluation_error_total")
    assert unknown_metrics(expr) == set()
    assert unknown_metrics(misspelt) == {"celgate_policy_evaluation_error_total"}


def test_exported_samples_include_the_suffixes_prometheus_client_appends():
    assert {"celgate_admission_requests_total", "celgate_admission_duration_seconds_bucket",
            "celgate_admission_duration_seconds_count", "celgate_policy_set_generation"} <= EXPORTED.keys()
    assert "celgate_admission_requests" not in EXPORTED


@pytest.mark.parametrize(("source", "expr"), EXPRESSIONS, ids=EXPRESSION_IDS)
def test_every_expression_reads_only_exported_metrics(source, expr):
    assert metric_names(expr), f"{source}: no metric found in {expr!r}"
    assert unknown_metrics(expr) == set(), f"{source}: not exported by webhook/metrics.py"


@pytest.mark.parametrize(("source", "expr"), EXPRESSIONS, ids=EXPRESSION_IDS)
def test_every_selector_uses_labels_the_metric_has(source, expr):
    for name, matchers in selectors(expr):
        known = EXPORTED.get(name) or EXTERNAL_METRICS.get(name, {}).get("labels")
        assert known is not None, f"{source}: selector without a known metric name: {name!r}"
        for label, operator, value in matchers:
            assert label in known, f"{source}: {name} has no label {label!r}"
            if operator == "=" and label in LABEL_VALUES:
                assert value in LABEL_VALUES[label], f"{source}: {label}={value!r} is never written"
            if operator == "=" and label == "job" and name != "kube_deployment_status_replicas_available":
                assert value == JOB, f"{source}: the ServiceMonitor produces job={JOB!r}"


@pytest.mark.parametrize(("source", "expr"), EXPRESSIONS, ids=EXPRESSION_IDS)
def test_every_aggregation_keeps_labels_that_exist(source, expr):
    everything = set().union(*EXPORTED.values(), *(m["labels"] for m in EXTERNAL_METRICS.values()))
    assert grouping_labels(expr) <= everything, source


@pytest.mark.parametrize("alert", ALERTS, ids=[a["alert"] for a in ALERTS])
def test_every_alert_is_actionable(alert):
    assert re.fullmatch(r"\d+[smh]", alert.get("for", "")), "an alert needs `for` so a blip does not page"
    assert alert["labels"]["severity"] in {"critical", "warning", "info"}
    assert alert["annotations"]["summary"].strip()
    anchor = f"docs/monitoring.md#{alert['alert'].lower()}"
    assert anchor in alert["annotations"]["description"], "the description points at its runbook section"


def test_every_alert_has_a_runbook_section():
    headings = {line[4:].strip() for line in RUNBOOK.read_text().splitlines() if line.startswith("### ")}
    names = [alert["alert"] for alert in ALERTS]
    assert len(names) == len(set(names))
    assert set(names) <= headings


def test_kustomization_installs_every_file_and_is_not_part_of_the_base():
    (generator,) = KUSTOMIZATION["configMapGenerator"]
    generated = {entry.split("=", 1)[-1] for entry in generator["files"]}
    assert set(KUSTOMIZATION["resources"]) | generated | {"kustomization.yaml"} == {p.name for p in MONITORING.iterdir()}
    assert generator["options"]["labels"]["grafana_dashboard"] == "1"
    base = yaml.safe_load((REPO / "manifests" / "kustomization.yaml").read_text())
    assert not any("monitoring" in entry for entry in base.get("resources", []) + base.get("components", []))


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")
def test_kustomize_builds_the_bundle():
    built = subprocess.run(["kubectl", "kustomize", str(MONITORING)], capture_output=True, text=True, timeout=30, check=True)
    objects = {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(built.stdout)}
    assert set(objects) == {("ServiceMonitor", "celgate"), ("ServiceMonitor", "celgate-scan"), ("PrometheusRule", "celgate"),
                            ("ConfigMap", "celgate-grafana-dashboard")}
    assert json.loads(objects[("ConfigMap", "celgate-grafana-dashboard")]["data"]["celgate.json"]) == DASHBOARD


def test_service_monitor_scrapes_the_metrics_port_of_the_celgate_service():
    spec = SERVICE_MONITOR["spec"]
    labels = SERVICE["metadata"]["labels"]
    assert spec["selector"]["matchLabels"].items() <= labels.items()
    assert SERVICE["metadata"]["namespace"] in spec["namespaceSelector"]["matchNames"]
    assert labels[spec["jobLabel"]] == JOB
    (endpoint,) = spec["endpoints"]
    (port,) = [p for p in SERVICE["spec"]["ports"] if p["name"] == endpoint["port"]]
    (container,) = DEPLOYMENT["spec"]["template"]["spec"]["containers"]
    assert port["targetPort"] in {p["name"] for p in container["ports"]}
    assert (endpoint["path"], endpoint["scheme"]) == ("/metrics", "http")


def test_the_scan_service_monitor_scrapes_the_scanner_and_not_the_webhook():
    spec = SCAN_SERVICE_MONITOR["spec"]
    assert spec["selector"]["matchLabels"].items() <= SCAN_SERVICE["metadata"]["labels"].items()
    assert not spec["selector"]["matchLabels"].items() <= SERVICE["metadata"]["labels"].items()
    assert not SERVICE_MONITOR["spec"]["selector"]["matchLabels"].items() <= SCAN_SERVICE["metadata"]["labels"].items()
    # the scanner's Pods must never become endpoints of the webhook Service
    assert not SERVICE["spec"]["selector"].items() <= SCAN_SERVICE["spec"]["selector"].items()


def test_dashboard_panels_have_unique_ids_and_the_datasource_variable():
    assert DASHBOARD["schemaVersion"] == 39
    (variable,) = [v for v in DASHBOARD["templating"]["list"] if v["name"] == "datasource"]
    assert (variable["type"], variable["query"]) == ("datasource", "prometheus")
    ids = [panel["id"] for panel in PANELS]
    assert len(ids) == len(set(ids))
    for panel in PANELS:
        for holder in [panel, *panel["targets"]]:
            assert holder["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]


def test_dashboard_charts_every_signal_the_alerts_watch():
    charted = set().union(*(metric_names(t["expr"]) for panel in PANELS for t in panel["targets"]))
    alerted = set().union(*(metric_names(alert["expr"]) for alert in ALERTS)) - EXTERNAL_METRICS.keys()
    assert alerted <= charted


def test_objects_live_in_the_celgate_namespace():
    namespace = SERVICE["metadata"]["namespace"]
    assert SERVICE_MONITOR["metadata"]["namespace"] == RULE["metadata"]["namespace"] == namespace
    assert KUSTOMIZATION["configMapGenerator"][0]["namespace"] == namespace
