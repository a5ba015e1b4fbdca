"""Differential testing: the same request judged by kube-apiserver's built-in
ValidatingAdmissionPolicy plugin and by celgate, and what differs.

Each case is one object created (``?dryRun=All``: admission runs, nothing is stored) twice in
the same API server: in a ``native`` namespace, where the policies are real API objects, and in
a ``webhook`` namespace with the same labels, where only celgate sees the request (see
registration.py). What is compared is what a user or an auditor gets back:

- the verdict, the HTTP status code and the Status reason;
- the denial message from ``ValidatingAdmissionPolicy '<p>' with binding '<b>' denied request: ``
  on (the native ``pods "x" is forbidden: `` and the webhook's ``admission webhook "..." denied
  the request: `` prefixes are the only intended difference and are cut off);
- the Warning headers (as a multiset: the two orders are not specified);
- the audit annotations of the request's audit event (celgate's come back prefixed with the
  webhook's name, which is cut off).

Two kinds of difference are accepted as equal because the built-in plugin's own choice is
unspecified: which of several denials it reports, and which of several Audit failures it
records (see ``equivalent_denial`` and ``equivalent_audit``). Namespace names, which differ
between the two modes by construction, read as ``<namespace>``.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import yaml

from admission_request import AdmissionOutcome

VAP_MESSAGE = "ValidatingAdmissionPolicy '"
WEBHOOK_ANNOTATION_PREFIX = "validate.celgate.io/"
# Audit annotations the API server adds for reasons of its own (apiserver.latency.k8s.io/* only
# on requests slower than 500 ms; k8s.io/deprecated and k8s.io/removed-release on deprecated
# APIs such as v1 Endpoints).
_NOT_ADMISSION = ("authorization.k8s.io/", "apiserver.latency.k8s.io/", "pod-security.kubernetes.io/",
                  "mutation.webhook.", "k8s.io/deprecated", "k8s.io/removed-release")


@dataclass(frozen=True)
class Scenario:
    """Namespace labels (and param objects) a case runs under."""

    name: str
    labels: dict[str, str]
    configmaps: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class Case:
    id: str
    scenario: Scenario
    obj: dict[str, Any]

    @property
    def name(self) -> str:
        return self.obj["metadata"]["name"]


@dataclass(frozen=True)
class Verdict:
    """One side's answer, normalised so that equal behaviour compares equal."""

    allowed: bool
    status: int
    reason: str
    message: str
    warnings: tuple[str, ...]
    audit: tuple[tuple[str, str], ...]

    @property
    def category(self) -> str:
        if self.allowed:
            return "warned" if self.warnings else "allowed"
        return "denied" if self.message.startswith(VAP_MESSAGE) else f"failed {self.status}"


@dataclass(frozen=True)
class Comparison:
    case: Case
    native: Verdict
    webhook: Verdict
    differences: tuple[str, ...] = field(default=())

    @property
    def agree(self) -> bool:
        return not self.differences


def policy_message(message: str) -> str:
    """The message from ``ValidatingAdmissionPolicy '...`` on; the whole message otherwise."""
    index = message.find(VAP_MESSAGE)
    return message[index:] if index >= 0 else message


def audit_annotations(event: dict[str, Any] | None, *, webhook: bool) -> tuple[tuple[str, str], ...]:
    annotations = (event or {}).get("annotations") or {}
    if webhook:
        pairs = [(k[len(WEBHOOK_ANNOTATION_PREFIX):], v) for k, v in annotations.items()
                 if k.startswith(WEBHOOK_ANNOTATION_PREFIX)]
    else:  # the plugin's own keys: validation.policy.admission.k8s.io/... and <policy>/<key>
        pairs = [(k, v) for k, v in annotations.items()
                 if not k.startswith(_NOT_ADMISSION)]
    # A webhook's keys get "<webhook name>/" prepended and must then hold exactly one "/"
    # (admission.checkKeyFormat), so celgate cannot return the plugin's keys verbatim: compare
    # with "/" read as "_" on both sides.
    return tuple(sorted((k.replace("/", "_"), v) for k, v in pairs))


def verdict(outcome: AdmissionOutcome, audit_event: dict[str, Any] | None, *, webhook: bool,
            namespace: str = "") -> Verdict:
    """``namespace`` (the two modes run in different namespaces) reads as ``<namespace>``."""

    def neutral(text: str) -> str:
        return text.replace(namespace, "<namespace>") if namespace else text

    return Verdict(
        allowed=outcome.allowed,
        status=outcome.status,
        reason=outcome.reason,
        message=neutral(policy_message(outcome.message)),
        warnings=tuple(sorted(neutral(w) for w in outcome.warnings)),
        audit=tuple((k, neutral(v)) for k, v in audit_annotations(audit_event, webhook=webhook)),
    )


_DENIAL = re.compile(r"ValidatingAdmissionPolicy '([^']*)' with binding '[^']*' denied request: (.*)", re.S)
_WARNING = re.compile(r"Validation failed for ValidatingAdmissionPolicy '([^']*)' with binding '[^']*': (.*)", re.S)


def _warned(native: Verdict) -> set[tuple[str, str]]:
    """(policy, message) of every native Warn failure."""
    return {m.groups() for m in map(_WARNING.fullmatch, native.warnings) if m}


def equivalent_denial(native: Verdict, webhook: Verdict) -> bool:
    """Both denied, by different policies, and celgate's denial is one the built-in plugin also
    found (it warned with the same policy and message). The plugin reports the first denial in
    the order of its policy informer's cache, which is unspecified (a Go map); see
    staging/src/k8s.io/apiserver/pkg/admission/plugin/policy/validating/dispatcher.go."""
    native_denial, webhook_denial = _DENIAL.fullmatch(native.message), _DENIAL.fullmatch(webhook.message)
    if native.allowed or webhook.allowed or not native_denial or not webhook_denial:
        return False
    warned = _warned(native)
    return native_denial.groups() in warned and webhook_denial.groups() in warned


def _failures(audit: tuple[tuple[str, str], ...]) -> tuple[dict[str, tuple[str, str]], list[tuple[str, str]]]:
    """Split the validation_failure annotation (parsed: (policy, message)) from the others."""
    failures, others = {}, []
    for key, value in audit:
        if key.endswith("validation_failure"):
            try:
                (entry,) = json.loads(value)
                failures[key] = (entry["policy"], entry["message"])
            except (ValueError, KeyError, TypeError):
                others.append((key, value))
        else:
            others.append((key, value))
    return failures, others


def equivalent_audit(native: Verdict, webhook: Verdict) -> bool:
    """The annotations agree except that each side recorded a different one of several Audit
    failures: the plugin keeps the first it meets (an annotation is never overwritten), in the
    same unspecified order as the first denial."""
    native_failures, native_other = _failures(native.audit)
    webhook_failures, webhook_other = _failures(webhook.audit)
    if native_other != webhook_other or len(native_failures) != len(webhook_failures):
        return False
    warned = _warned(native)
    return all(f in warned for f in [*native_failures.values(), *webhook_failures.values()])


def differences(native: Verdict, webhook: Verdict) -> tuple[str, ...]:
    found = []
    if native.allowed != webhook.allowed:
        found.append(f"verdict: native {'allowed' if native.allowed else 'denied'}, "
                     f"celgate {'allowed' if webhook.allowed else 'denied'}")
    elif (native.status, native.reason) != (webhook.status, webhook.reason):
        found.append(f"status: native {native.status} {native.reason}, celgate {webhook.status} {webhook.reason}")
    if native.message != webhook.message and not equivalent_denial(native, webhook):
        found.append(f"message:\n      native:  {native.message}\n      celgate: {webhook.message}")
    if Counter(native.warnings) != Counter(webhook.warnings):
        only_native = sorted((Counter(native.warnings) - Counter(webhook.warnings)).elements())
        only_webhook = sorted((Counter(webhook.warnings) - Counter(native.warnings)).elements())
        found.append("warnings:" + "".join(f"\n      native only:  {w}" for w in only_native)
                     + "".join(f"\n      celgate only: {w}" for w in only_webhook))
    if native.audit != webhook.audit and not equivalent_audit(native, webhook):
        found.append(f"audit annotations:\n      native:  {dict(native.audit)}\n      celgate: {dict(webhook.audit)}")
    return tuple(found)


# --------------------------------------------------------------------------- cases


def _object_name(text: str) -> str:
    """A DNS-1123 name: fixture stems have underscores and upper case."""
    return re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")[:63]


PSA_SCENARIOS = [
    # Enforce, Warn and Audit at one level: the first denial, every warning, an audit record.
    Scenario("restricted", {f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "warn", "audit")}),
    # The usual PSA rollout: enforce baseline, warn and audit restricted. Restricted-only
    # violations are admitted with warnings; baseline ones are denied and warned about.
    Scenario("baseline+warn-restricted", {"pod-security.kubernetes.io/enforce": "baseline",
                                          "pod-security.kubernetes.io/warn": "restricted",
                                          "pod-security.kubernetes.io/audit": "restricted"}),
    # Pinned versions: each mode reads its own version label (the message names it).
    Scenario("baseline-v1.24+warn-restricted-v1.21", {"pod-security.kubernetes.io/enforce": "baseline",
                                                      "pod-security.kubernetes.io/enforce-version": "v1.24",
                                                      "pod-security.kubernetes.io/warn": "restricted",
                                                      "pod-security.kubernetes.io/warn-version": "v1.21"}),
]


def psa_cases(corpus: Path, version: str = "v1.35") -> list[Case]:
    """Every Pod of ``corpus/<level>/<version>/{pass,fail}/``, under every PSA scenario.

    No defaulting is applied here: the API server defaults each Pod before admission."""
    cases = []
    for path in sorted(corpus.glob(f"*/{version}/*/*.yaml")):
        level, _, outcome = path.parts[-4], path.parts[-3], path.parts[-2]
        obj = yaml.safe_load(path.read_text())
        obj.setdefault("metadata", {})["name"] = _object_name(f"{level}-{outcome}-{path.stem}")
        obj["metadata"].pop("namespace", None)
        for scenario in PSA_SCENARIOS:
            cases.append(Case(f"psa/{level}/{version}/{outcome}/{path.stem} @{scenario.name}", scenario, obj))
    return cases


def _workload(kind: str, name: str, template: dict[str, Any]) -> dict[str, Any]:
    """``template`` (a Pod's metadata and spec) as the Pod template of a valid ``kind``."""
    labels = {"app": name}
    pod_template = {"metadata": {**template.get("metadata", {}), "labels": labels}, "spec": dict(template["spec"])}
    pod_template["metadata"].pop("name", None)
    if kind in ("Job", "CronJob"):
        pod_template["spec"]["restartPolicy"] = "Never"
    meta = {"name": name}
    if kind == "PodTemplate":
        return {"apiVersion": "v1", "kind": kind, "metadata": meta, "template": pod_template}
    if kind == "ReplicationController":
        return {"apiVersion": "v1", "kind": kind, "metadata": meta,
                "spec": {"replicas": 1, "selector": labels, "template": pod_template}}
    if kind == "Job":
        return {"apiVersion": "batch/v1", "kind": kind, "metadata": meta, "spec": {"template": pod_template}}
    if kind == "CronJob":
        return {"apiVersion": "batch/v1", "kind": kind, "metadata": meta,
                "spec": {"schedule": "0 * * * *", "jobTemplate": {"spec": {"template": pod_template}}}}
    spec: dict[str, Any] = {"selector": {"matchLabels": labels}, "template": pod_template}
    if kind != "DaemonSet":
        spec["replicas"] = 1
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": meta, "spec": spec}


WORKLOAD_KINDS = ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job", "CronJob",
                  "ReplicationController", "PodTemplate")


def workload_cases(corpus: Path, version: str = "v1.35", per_kind: int = 6) -> list[Case]:
    """Restricted ``fail`` Pods of the corpus as the template of every workload kind (PSA warns
    and audits templates, never denies them): ``per_kind`` Pods per kind, a different slice each."""
    pods = sorted(corpus.glob(f"restricted/{version}/fail/*.yaml"))
    scenario = PSA_SCENARIOS[1]
    cases = []
    for index, kind in enumerate(WORKLOAD_KINDS):
        for path in pods[index * per_kind:(index + 1) * per_kind]:
            name = _object_name(f"{kind}-{path.stem}")
            obj = _workload(kind, name, yaml.safe_load(path.read_text()))
            cases.append(Case(f"workloads/{kind}/{path.stem} @{scenario.name}", scenario, obj))
    return cases


def custom_cases(path: Path) -> list[Case]:
    """Cases of a file ``{scenarios: {name: {labels, configmaps}}, cases: [{scenario, object}]}``."""
    document = yaml.safe_load(path.read_text())
    scenarios = {
        name: Scenario(name, dict(spec.get("labels") or {}), tuple(spec.get("configmaps") or ()))
        for name, spec in document["scenarios"].items()
    }
    cases = []
    for entry in document["cases"]:
        obj = entry["object"]
        cases.append(Case(f"custom/{entry['scenario']}/{obj['metadata']['name']}", scenarios[entry["scenario"]], obj))
    return cases


def policy_validation_cases(path: Path) -> list[Case]:
    """One ValidatingAdmissionPolicy on Pods per entry of ``path`` (its spec fields)."""
    scenario = Scenario("policy-validation", {})
    cases = []
    for entry in yaml.safe_load(path.read_text()):
        spec = {key: value for key, value in entry.items() if key != "id"}
        obj = {
            "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
            "metadata": {"name": _object_name(f"e2e-validation-{entry['id']}")},
            "spec": {"failurePolicy": "Fail",
                     "matchConstraints": {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"],
                                                             "operations": ["CREATE"], "resources": ["pods"]}]},
                     **spec},
        }
        cases.append(Case(f"policy-validation/{entry['id']}", scenario, obj))
    return cases


def validation_verdict(accepted: bool, problems: Iterable[tuple[str, str]]) -> Verdict:
    """A policy create as a Verdict: accepted, or rejected with its (field, message) problems."""
    return Verdict(
        allowed=accepted, status=201 if accepted else 422, reason="" if accepted else "Invalid",
        message="\n".join(sorted(f"{field}: {message}" for field, message in problems)),
        warnings=(), audit=(),
    )


# --------------------------------------------------------------------------- report


@dataclass(frozen=True)
class Summary:
    compared: int
    agree: int
    differ: int

    def line(self) -> str:
        return f"differential: {self.compared} compared, {self.agree} agree, {self.differ} differ"


def summarize(comparisons: Iterable[Comparison]) -> Summary:
    comparisons = list(comparisons)
    agree = sum(c.agree for c in comparisons)
    return Summary(len(comparisons), agree, len(comparisons) - agree)


def _groups(comparisons: Iterable[Comparison]) -> dict[str, list[Comparison]]:
    """Comparisons by the first segment of their case id (psa, custom, kubescape, ...)."""
    groups: dict[str, list[Comparison]] = {}
    for comparison in comparisons:
        groups.setdefault(comparison.case.id.split("/", 1)[0], []).append(comparison)
    return groups


def render_table(comparisons: list[Comparison], *, per_group: int = 3, in_full: Iterable[str] = ()) -> str:
    """Counts per case group, differences by aspect, and the first few differences of each group
    (every difference of the groups named in ``in_full``)."""
    groups = _groups(comparisons)
    in_full = set(in_full)
    rows = [("cases", "compared", "agree", "differ", "native outcomes")]
    for group, members in sorted(groups.items()):
        outcomes = Counter(c.native.category for c in members)
        s = summarize(members)
        rows.append((group, str(s.compared), str(s.agree), str(s.differ),
                     ", ".join(f"{n} {k}" for k, n in sorted(outcomes.items()))))
    total = summarize(comparisons)
    rows.append(("total", str(total.compared), str(total.agree), str(total.differ), ""))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    differing = [c for c in comparisons if not c.agree]
    if differing:
        aspects = Counter(d.split(":", 1)[0] for c in differing for d in c.differences)
        lines.append("\ndifferences by aspect: " + ", ".join(f"{k} {n}" for k, n in aspects.most_common()))
    for group, members in sorted(groups.items()):
        group_differing = [c for c in members if not c.agree]
        shown = len(group_differing) if group in in_full else min(per_group, len(group_differing))
        if group_differing:
            lines.append(f"\n{group}: " + (f"all {shown}" if shown == len(group_differing) else
                                             f"first {shown} of {len(group_differing)}") + " differences")
            for comparison in group_differing[:shown]:
                lines.append(f"  {comparison.case.id}")
                lines.extend(f"    {d}" for d in comparison.differences)
    return "\n".join(lines)


def write_report(path: Path, comparisons: list[Comparison], collections: Iterable[str] = ()) -> Summary:
    """The counts tests/e2e/run prints, plus every difference in full, as JSON. ``collections``
    (case groups that are policy collections: kubescape, ...) get a row each."""
    summary = summarize(comparisons)
    groups = _groups(comparisons)
    rows = []
    for name in collections:
        s = summarize(groups.get(name, []))
        rows.append({"collection": name, "compared": s.compared, "agree": s.agree, "differ": s.differ})
    path.write_text(json.dumps({
        "compared": summary.compared, "agree": summary.agree, "differ": summary.differ,
        "collections": rows,
        "differences": [{"case": c.case.id, "differences": list(c.differences)} for c in comparisons if not c.agree],
    }, indent=2))
    return summary
