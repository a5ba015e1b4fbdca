"""Admit manifests offline: the evaluation path ``celgate test``, test suites and the bench share.

It builds the cluster state a dry run needs (namespaces, params) from the documents the user
gave, turns every manifest into AdmissionAttributes and calls the same ``decide`` the webhook
calls. No printing, no exit codes: those belong to the command.
"""

from __future__ import annotations

import multiprocessing
import os
from dataclasses import dataclass, field
from typing import Any, Collection, Iterable, Mapping, Sequence

from webhook.admission.manifest import (
    ManifestError,
    ObjectKey,
    as_stored,
    attributes_for_manifest,
    object_key,
)
from webhook.cel.string_format import go_quote
from webhook.documents import Document
from webhook.policy.attributes import AdmissionAttributes, Operation, UserInfo
from webhook.policy.cluster_data import OfflineClusterData, StaticClusterData, namespace_object
from webhook.policy.decision import AdmissionDecision, AdmissionStatus
from webhook.policy.dispatcher import decide
from webhook.policy.loader import BINDING_KIND, GROUP, POLICY_KIND, PolicySet


class DryRunError(ValueError):
    """The inputs cannot be evaluated as given (a bad manifest, an unpaired --old object, ...)."""


@dataclass(frozen=True)
class DryRunRequest:
    """What the command line says about every request: the operation, user and old objects."""

    operation: Operation = "CREATE"
    user: UserInfo = field(default_factory=UserInfo)
    old_objects: tuple[Document, ...] = ()


def forbidden_message(attributes: AdmissionAttributes, message: str) -> str:
    """The denial as kube-apiserver returns it to kubectl: ``pods "web" is forbidden: <message>``.

    The built-in VAP plugin wraps its denial in admission.NewForbidden
    (staging/src/k8s.io/apiserver/pkg/admission/errors.go); a webhook's response carries only
    ``message``, so the wrapping belongs here, not in the shared decision.
    """
    resource = attributes.resource
    qualified = f"{resource.resource}.{resource.group}" if resource.group else resource.resource
    name = attributes.name or _generate_name(attributes) or "Unknown"
    return f"{qualified} {go_quote(name)} is forbidden: {message}"


def _generate_name(attributes: AdmissionAttributes) -> str:
    metadata = (attributes.object or {}).get("metadata") or {}
    return str(metadata.get("generateName") or "")


@dataclass(frozen=True)
class ObjectResult:
    """One input document and the decision on it."""

    document: Document
    attributes: AdmissionAttributes
    decision: AdmissionDecision

    @property
    def status(self) -> AdmissionStatus | None:
        """The API status kube-apiserver would answer with; None when allowed."""
        status = self.decision.status
        if status is None:
            return None
        return AdmissionStatus(status.code, status.reason, forbidden_message(self.attributes, status.message))

    @property
    def source(self) -> str:
        return f"{self.document.source}#{self.document.index}"

    @property
    def api_version(self) -> str:
        return str(self.document.obj.get("apiVersion", ""))

    @property
    def kind(self) -> str:
        return self.attributes.kind.kind

    @property
    def namespace(self) -> str:
        return self.attributes.namespace

    @property
    def name(self) -> str:
        return self.attributes.name

    @property
    def display_name(self) -> str:
        """``Pod team-a/web`` or ``Namespace team-a``, the way a person names an object."""
        where = f"{self.namespace}/{self.name}" if self.namespace and self.kind != "Namespace" else self.name
        return f"{self.kind} {where or '(unnamed)'}"


@dataclass(frozen=True)
class Summary:
    objects: int
    allowed: int
    denied: int
    # Count of warning messages returned to the client, over all objects.
    warnings: int
    # Count of evaluations that hit an error, denied (failurePolicy Fail) or admitted (Ignore), over all objects.
    errors: int

    @classmethod
    def of(cls, results: Sequence[ObjectResult]) -> "Summary":
        allowed = sum(1 for result in results if result.decision.allowed)
        return cls(
            objects=len(results),
            allowed=allowed,
            denied=len(results) - allowed,
            warnings=sum(len(result.decision.warnings) for result in results),
            errors=sum(
                1
                for result in results
                for evaluation in result.decision.evaluations
                if evaluation.result == "error" or evaluation.ignored_error
            ),
        )


def is_policy_document(obj: Mapping[str, Any]) -> bool:
    # By group, not version: a policy of an unserved version is the loader's to reject, clearly.
    group = str(obj.get("apiVersion", "")).rpartition("/")[0]
    return group == GROUP and obj.get("kind") in (POLICY_KIND, BINDING_KIND)


def split_policy_documents(documents: Iterable[Document]) -> tuple[list[Document], list[Document]]:
    """(ValidatingAdmissionPolicy and binding documents, every other document)."""
    policies: list[Document] = []
    others: list[Document] = []
    for document in documents:
        (policies if is_policy_document(document.obj) else others).append(document)
    return policies, others


def _where(document: Document) -> str:
    return f"{document.source}#{document.index} (line {document.line})"


def cluster_for(
    documents: Sequence[Document],
    *,
    namespace_labels: Mapping[str, Mapping[str, str]] | None = None,
    params: Sequence[Mapping[str, Any]] = (),
    param_kinds: Collection[tuple[str, str]] = (),
) -> OfflineClusterData:
    """The cluster a dry run sees: the inputs exist in it, as do their namespaces.

    Namespace objects among the inputs are the namespaces; ``namespace_labels`` adds labels to
    (or creates) a namespace; any other namespace (an input's, or one a request names) exists with only
    the name label, as the apiserver would have it. Input objects of a policy's paramKind
    (``param_kinds``: (apiVersion, kind) pairs) are params, as is every ``params`` object.
    """
    namespaces: dict[str, dict[str, Any]] = {}
    stored: list[dict[str, Any]] = []
    for document in documents:
        raw = document.obj
        if not (raw.get("kind") == "Namespace" or (raw.get("apiVersion"), raw.get("kind")) in param_kinds):
            continue  # only namespaces and params are cluster state; other objects are not stored
        try:
            obj = as_stored(raw)
        except ManifestError as error:
            raise DryRunError(f"{_where(document)}: {error}") from error
        stored.append(obj)
        if obj.get("kind") == "Namespace" and obj.get("apiVersion") == "v1" and obj["metadata"].get("name"):
            namespaces[obj["metadata"]["name"]] = obj
    for name, labels in (namespace_labels or {}).items():
        namespace = namespaces.setdefault(name, namespace_object(name))
        namespace["metadata"]["labels"] = {**namespace["metadata"].get("labels", {}), **labels}
    input_params = [obj for obj in stored if (obj.get("apiVersion"), obj.get("kind")) in param_kinds]
    try:
        return OfflineClusterData(namespaces=list(namespaces.values()), params=[*input_params, *params])
    except ValueError as error:
        raise DryRunError(f"param object: {error}") from error  # the namespaces above all have names


def _old_objects_by_key(old_objects: Sequence[Document]) -> dict[ObjectKey, Document]:
    by_key: dict[ObjectKey, Document] = {}
    for document in old_objects:
        try:
            key = object_key(document.obj)
        except ManifestError as error:
            raise DryRunError(f"{_where(document)}: {error}") from error
        if key in by_key:
            raise DryRunError(f"{_where(document)}: a second old object for {key} (first at {_where(by_key[key])})")
        by_key[key] = document
    return by_key


def attributes_for_documents(
    documents: Sequence[Document], request: DryRunRequest
) -> list[tuple[Document, AdmissionAttributes]]:
    """Every document as an admission request, old objects paired; raises DryRunError for any problem."""
    if request.old_objects and request.operation != "UPDATE":
        raise DryRunError(f"--old objects are only used with --operation UPDATE, not {request.operation}")
    old_by_key = _old_objects_by_key(request.old_objects)
    pairs: list[tuple[Document, AdmissionAttributes]] = []
    problems: list[str] = []
    for document in documents:
        try:
            old = old_by_key.get(object_key(document.obj)) if request.operation == "UPDATE" else None
            attributes = attributes_for_manifest(
                document.obj,
                operation=request.operation,
                old_object=old.obj if old is not None else None,
                user=request.user,
            )
        except ManifestError as error:
            problems.append(f"{_where(document)}: {error}")
            continue
        pairs.append((document, attributes))
    if problems:
        raise DryRunError("\n".join(problems))
    return pairs


def admit_documents(
    policy_set: PolicySet,
    documents: Sequence[Document],
    cluster: StaticClusterData,
    request: DryRunRequest = DryRunRequest(),
    jobs: int = 1,
) -> list[ObjectResult]:
    """Decide on every document, in order, with the webhook's own ``decide``.

    Every document is turned into a request first, so a bad input fails the run before anything
    is evaluated rather than halfway through a report. ``jobs`` processes share the work (0: one
    per core, when there are enough objects to share), each deciding with the same compiled
    policies and cluster data, forked from this process.
    """
    pairs = attributes_for_documents(documents, request)
    workers = _workers(jobs, len(pairs))
    if workers <= 1:
        decisions = [decide(policy_set, attributes, cluster) for _, attributes in pairs]
    else:
        decisions = _decide_in_processes(policy_set, [attributes for _, attributes in pairs], cluster, workers)
    return [ObjectResult(document, attributes, decision) for (document, attributes), decision in zip(pairs, decisions)]


# Below this many objects per process, forking costs more than it saves.
_OBJECTS_PER_PROCESS = 200


def _workers(jobs: int, objects: int) -> int:
    """How many processes decide: ``jobs``, or with 0 as many as there are cores and objects to share."""
    if jobs == 1 or "fork" not in multiprocessing.get_all_start_methods():
        return 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    wanted = jobs if jobs > 0 else cores
    return max(1, min(wanted, objects // _OBJECTS_PER_PROCESS))


# What forked processes decide on: set by the parent just before it forks, read by the children.
_SHARED: tuple[PolicySet, Sequence[AdmissionAttributes], StaticClusterData] | None = None


def _decide_range(bounds: tuple[int, int]) -> list[AdmissionDecision]:
    assert _SHARED is not None
    policy_set, requests, cluster = _SHARED
    return [decide(policy_set, attributes, cluster) for attributes in requests[bounds[0]:bounds[1]]]


def _decide_in_processes(policy_set: PolicySet, requests: Sequence[AdmissionAttributes],
                         cluster: StaticClusterData, workers: int) -> list[AdmissionDecision]:
    """The same decisions, shared among forked processes (the compiled policies are inherited,
    not recompiled); in order."""
    global _SHARED
    step = -(-len(requests) // (workers * 4))  # a few chunks each, so a slow chunk does not idle the rest
    chunks = [(start, min(start + step, len(requests))) for start in range(0, len(requests), step)]
    _SHARED = (policy_set, requests, cluster)
    try:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            parts = pool.map(_decide_range, chunks)
    finally:
        _SHARED = None
    return [decision for part in parts for decision in part]

