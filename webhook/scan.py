"""Background audit: what already exists, judged by the policies as if it were created now.

Every object of every resource the policies' matchConstraints name is listed (paged) and sent
through ``decide`` — the webhook's own function — as a CREATE by nobody in particular, the way
Kyverno's background scan and Gatekeeper's audit evaluate existing objects. So an UPDATE-only
rule or a rule on ``request.userInfo`` sees what it would see for an anonymous create, and
``oldObject`` is null. Namespaces and param objects come from the same cluster. Files and
directories can be scanned the same way (``scan_documents``).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

from webhook.admission.dry_run import ObjectResult, admit_documents, cluster_for
from webhook.admission.manifest import ManifestError, attributes_for_manifest
from webhook.documents import Document
from webhook.kube_rest import KubeREST, api_prefix
from webhook.policy.cluster_data import StaticClusterData
from webhook.policy.dispatcher import decide
from webhook.policy.loader import PolicySet
from webhook.policy.model import NamedRule
from webhook.reporting.policy_report import ObjectRef, report_object, report_result

SCAN_REPORT_NAME = "celgate-scan"
VIOLATIONS = ("deny", "warn", "audit")
Progress = Callable[[str, int], None]


@dataclass(frozen=True)
class ScanTarget:
    """A listable resource the API server serves."""

    group: str
    version: str
    resource: str
    kind: str
    namespaced: bool

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def label(self) -> str:
        return f"{self.resource}.{self.group}" if self.group else self.resource


@dataclass
class ScanResult:
    results: list[ObjectResult] = field(default_factory=list)
    objects_by_resource: Counter[str] = field(default_factory=Counter)
    skipped: list[str] = field(default_factory=list)  # objects that could not be turned into a request
    namespaces: set[str] = field(default_factory=set)  # the namespaces looked at (None filter: all)
    elapsed_seconds: float = 0.0


def _matches(values: Sequence[str], value: str) -> bool:
    return "*" in values or value in values


def _rule_names(rule: NamedRule, group: str, version: str, resource: str) -> bool:
    if not (_matches(rule.api_groups, group) and _matches(rule.api_versions, version)):
        return False
    if not ("*" in rule.operations or "CREATE" in rule.operations):
        return False
    return any(r in ("*", "*/*", resource) for r in rule.resources)


def scan_targets(policy_set: PolicySet, served: Iterable[ScanTarget]) -> list[ScanTarget]:
    """The served resources some bound policy's matchConstraints select for CREATE, one
    version per resource (the first served one a rule names: discovery lists the preferred first)."""
    rules = [
        rule
        for name in policy_set.names()
        if policy_set.bindings_for(name) and policy_set.policies[name].policy.match_constraints is not None
        for rule in policy_set.policies[name].policy.match_constraints.resource_rules
    ]
    chosen: dict[tuple[str, str], ScanTarget] = {}
    for target in served:
        key = (target.group, target.resource)
        if key not in chosen and any(_rule_names(r, target.group, target.version, target.resource) for r in rules):
            chosen[key] = target
    return sorted(chosen.values(), key=lambda t: (t.group, t.resource))


def discover(rest: KubeREST) -> list[ScanTarget]:
    """Every listable top-level resource, preferred group versions first."""
    group_versions = ["v1"]
    for group in rest.must("GET", "/apis").get("groups") or []:
        preferred = (group.get("preferredVersion") or {}).get("groupVersion")
        versions = [v["groupVersion"] for v in group.get("versions") or []]
        group_versions += ([preferred] + [v for v in versions if v != preferred]) if preferred else versions
    targets = []
    for group_version in group_versions:
        group, _, version = group_version.rpartition("/")
        body = rest.get(api_prefix(group_version))
        for resource in (body or {}).get("resources") or []:
            if "/" in resource["name"] or "list" not in (resource.get("verbs") or []):
                continue
            targets.append(ScanTarget(group, version, resource["name"], resource["kind"], bool(resource.get("namespaced"))))
    return targets


def _list(rest: KubeREST, target: ScanTarget, namespaces: Sequence[str] | None) -> Iterator[list[dict[str, Any]]]:
    prefix = api_prefix(target.api_version)
    paths = ([f"{prefix}/namespaces/{ns}/{target.resource}" for ns in namespaces]
             if namespaces is not None and target.namespaced else [f"{prefix}/{target.resource}"])
    for path in paths:
        for page in rest.list_pages(path):
            for item in page:  # list items carry no type meta
                item.setdefault("apiVersion", target.api_version)
                item.setdefault("kind", target.kind)
            yield page


def _param_namespaces(policy_set: PolicySet, api_version: str, kind: str) -> list[str] | None:
    """The namespaces the bindings' paramRefs name for a param kind, so a ConfigMap param is not
    a list of every ConfigMap in the cluster; None when a paramRef has no namespace (for a
    namespaced kind that is the request's namespace: any of them)."""
    namespaces: set[str] = set()
    for name in policy_set.names():
        param_kind = policy_set.policies[name].policy.param_kind
        if param_kind is None or (param_kind.api_version, param_kind.kind) != (api_version, kind):
            continue
        for binding in policy_set.bindings_for(name):
            if binding.param_ref is None:
                continue
            if not binding.param_ref.namespace:
                return None
            namespaces.add(binding.param_ref.namespace)
    return sorted(namespaces)


def _cluster_data(rest: KubeREST, policy_set: PolicySet) -> StaticClusterData:
    namespaces = [ns for page in rest.list_pages("/api/v1/namespaces") for ns in page]
    params = []
    for api_version, kind in sorted(policy_set.param_kinds()):
        for target in discover_kind(rest, api_version, kind):
            for page in _list(rest, target, _param_namespaces(policy_set, api_version, kind)):
                params.extend(page)
    return StaticClusterData(namespaces=namespaces, params=params)


def discover_kind(rest: KubeREST, api_version: str, kind: str) -> list[ScanTarget]:
    group, _, version = api_version.rpartition("/")
    body = rest.get(api_prefix(api_version)) or {}
    return [ScanTarget(group, version, r["name"], kind, bool(r.get("namespaced")))
            for r in body.get("resources") or [] if r.get("kind") == kind and "/" not in r["name"]]


def scan_cluster(
    rest: KubeREST, policy_set: PolicySet, *, namespaces: Sequence[str] | None = None,
    progress: Progress | None = None,
) -> ScanResult:
    started = time.perf_counter()
    cluster = _cluster_data(rest, policy_set)
    scan = ScanResult()
    index = 0
    for target in scan_targets(policy_set, discover(rest)):
        for page in _list(rest, target, namespaces):
            for obj in page:
                document = Document(source=f"cluster:{target.label}", index=index, line=0, obj=obj)
                index += 1
                try:
                    attributes = attributes_for_manifest(obj, operation="CREATE")
                except ManifestError as error:
                    scan.skipped.append(f"{target.label} {obj.get('metadata', {}).get('name')}: {error}")
                    continue
                scan.results.append(ObjectResult(document, attributes, decide(policy_set, attributes, cluster)))
                scan.objects_by_resource[target.label] += 1
                if attributes.namespace:
                    scan.namespaces.add(attributes.namespace)
            if progress is not None:
                progress(target.label, scan.objects_by_resource[target.label])
    scan.elapsed_seconds = time.perf_counter() - started
    return scan


def scan_documents(
    policy_set: PolicySet, documents: Sequence[Document], *,
    namespace_labels: Mapping[str, Mapping[str, str]] | None = None, params: Sequence[Mapping[str, Any]] = (),
) -> ScanResult:
    started = time.perf_counter()
    cluster = cluster_for(documents, namespace_labels=namespace_labels, params=params, param_kinds=policy_set.param_kinds())
    scan = ScanResult(results=admit_documents(policy_set, documents, cluster))
    for result in scan.results:
        scan.objects_by_resource[result.attributes.resource.resource] += 1
        if result.namespace:
            scan.namespaces.add(result.namespace)
    scan.elapsed_seconds = time.perf_counter() - started
    return scan


def has_findings(result: ObjectResult) -> bool:
    return any(e.result in (*VIOLATIONS, "error") or e.ignored_error for e in result.decision.evaluations)


def violations(scan: ScanResult) -> Counter[tuple[str, str, str]]:
    """Objects failing a policy: (policy, namespace, enforcement action) -> count of objects."""
    counts: Counter[tuple[str, str, str]] = Counter()
    for result in scan.results:
        seen = {(e.policy, result.namespace, e.result) for e in result.decision.evaluations if e.result in VIOLATIONS}
        counts.update(seen)
    return counts


def scan_reports(scan: ScanResult, timestamp: float | None = None) -> list[dict[str, Any]]:
    """One PolicyReport per namespace scanned (a ClusterPolicyReport for cluster-scoped
    objects), results per object and binding; passes are only counted in the summary."""
    now = time.time() if timestamp is None else timestamp
    results: dict[str | None, list[dict[str, Any]]] = {ns: [] for ns in scan.namespaces}
    passes: Counter[str | None] = Counter()
    for result in scan.results:
        namespace = result.namespace or None
        ref = ObjectRef.of(result.document.obj)
        for evaluation in result.decision.evaluations:
            if evaluation.result == "skip":
                continue
            if evaluation.result == "admit" and not evaluation.ignored_error:
                passes[namespace] += 1
                continue
            results.setdefault(namespace, []).append(report_result(evaluation, ref, category="scan", timestamp=now))
    return [report_object(SCAN_REPORT_NAME, namespace, sorted(entries, key=_order), passes=passes[namespace])
            for namespace, entries in sorted(results.items(), key=lambda item: item[0] or "")]


def _order(entry: Mapping[str, Any]) -> tuple[str, str, str]:
    resource = entry["resources"][0]
    return (resource.get("kind", ""), resource.get("name", ""), entry["policy"])
