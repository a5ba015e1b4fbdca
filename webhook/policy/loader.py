"""Loading a policy set: read, validate as on create, compile — all or nothing.

Accepts admissionregistration.k8s.io/v1, and v1beta1/v1alpha1 converted to v1 (their
ValidatingAdmissionPolicy and Binding schemas carry the same fields), the polyfill group
admissionregistration.x-k8s.io (manifests/crds/: the v1 schema as CRDs), which celgate enforces
from the cluster where the built-in plugin would not see it, and objects of a loaded policy's
paramKind as the set's default params (a ConfigMap shipped beside its policies). Every problem in every
document is collected before PolicyLoadError is raised, so one run shows everything to fix.
"""

from __future__ import annotations

import copy
import itertools
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from webhook.documents import Document, DocumentError, DocumentLimitError, read_documents
from webhook.policy.compiler import CompiledPolicy, compile_policy
from webhook.policy.errors import LoadProblem, PolicyLoadError
from webhook.policy.model import Binding, Origin, binding_from_dict, policy_from_dict
from webhook.policy.shape import BINDING_SHAPE, POLICY_SHAPE, check_shape
from webhook.policy.validation import apply_defaults, validate_binding, validate_policy

GROUP = "admissionregistration.k8s.io"
POLYFILL_GROUP = "admissionregistration.x-k8s.io"
POLYFILL_API_VERSION = f"{POLYFILL_GROUP}/v1alpha1"
API_VERSIONS = (f"{GROUP}/v1", f"{GROUP}/v1beta1", f"{GROUP}/v1alpha1", POLYFILL_API_VERSION)
POLICY_KIND = "ValidatingAdmissionPolicy"
BINDING_KIND = "ValidatingAdmissionPolicyBinding"

_generations = itertools.count(1)
_generation_lock = threading.Lock()


@dataclass(frozen=True)
class PolicySet:
    """Compiled policies and their bindings; immutable, swapped whole on reload."""

    generation: int
    policies: Mapping[str, CompiledPolicy]
    bindings: Mapping[str, Binding]
    sources: tuple[str, ...] = field(default=())
    # Objects of a loaded policy's paramKind found among the policy documents: default params,
    # as if they existed in the cluster (cluster_data.WithShippedParams).
    params: tuple[dict[str, Any], ...] = field(default=())

    def names(self) -> list[str]:
        return sorted(self.policies)

    def param_kinds(self) -> set[tuple[str, str]]:
        return {
            (p.policy.param_kind.api_version, p.policy.param_kind.kind)
            for p in self.policies.values()
            if p.policy.param_kind is not None
        }

    def bindings_for(self, policy_name: str) -> list[Binding]:
        """A policy's bindings in name order (kube-apiserver's order is its informer's)."""
        return sorted((b for b in self.bindings.values() if b.policy_name == policy_name), key=lambda b: b.name)


def _next_generation() -> int:
    with _generation_lock:
        return next(_generations)


def load_policy_set(paths: Sequence[str | Path]) -> PolicySet:
    """Every policy and binding under ``paths``; raises PolicyLoadError listing every problem."""
    problems: list[LoadProblem] = []
    documents: list[Document] = []
    for path in paths:
        try:
            documents.extend(read_documents(path))
        except DocumentError as exc:
            where = f"line {exc.line}: " if isinstance(exc, DocumentLimitError) and exc.line else ""
            problems.append(LoadProblem(exc.source, exc.index, "", "", "", where + exc.message))
    return load_policy_documents(documents, problems)


def load_policy_documents(documents: Sequence[Document], read_problems: Sequence[LoadProblem] = ()) -> PolicySet:
    """The policy set of already-read documents (``celgate test`` finds policies among its inputs)."""
    problems = list(read_problems)
    policies: dict[str, CompiledPolicy] = {}
    bindings: dict[str, Binding] = {}
    seen: dict[tuple[str, str], Origin] = {}
    param_kinds = _param_kinds(documents)
    params: list[dict[str, Any]] = []
    for doc in documents:
        if _param_identity(doc.obj) in param_kinds:
            params.append(copy.deepcopy(doc.obj))
        else:
            problems.extend(_load_document(doc, policies, bindings, seen))
    for binding in bindings.values():
        if binding.policy_name not in policies and not _policy_rejected(binding.policy_name, seen):
            problems.append(LoadProblem(
                binding.origin.source, binding.origin.index, BINDING_KIND, binding.name, "spec.policyName",
                f'Invalid value: "{binding.policy_name}": no ValidatingAdmissionPolicy with this name was loaded',
            ))
    if problems:
        raise PolicyLoadError(problems)
    sources = tuple(sorted({doc.source for doc in documents}))
    return PolicySet(
        _next_generation(), dict(sorted(policies.items())), dict(sorted(bindings.items())), sources, tuple(params)
    )


def _param_kinds(documents: Sequence[Document]) -> set[tuple[str, Any]]:
    """(group, kind) of every policy document's paramKind, read before anything is compiled."""
    found = set()
    for doc in documents:
        spec = doc.obj.get("spec") if doc.obj.get("kind") == POLICY_KIND else None
        param_kind = spec.get("paramKind") if isinstance(spec, dict) else None
        if isinstance(param_kind, dict) and isinstance(param_kind.get("apiVersion"), str) \
                and isinstance(param_kind.get("kind"), str):  # anything else is validation's to report
            found.add((_group(param_kind["apiVersion"]), param_kind["kind"]))
    return found


def _param_identity(obj: dict[str, Any]) -> tuple[str, Any] | None:
    """(group, kind) of an object that could be a param: a named object that is no policy or binding."""
    api_version, kind, metadata = obj.get("apiVersion"), obj.get("kind"), obj.get("metadata")
    if not isinstance(kind, str) or kind in (POLICY_KIND, BINDING_KIND) or not isinstance(api_version, str):
        return None
    if not isinstance(metadata, dict) or not isinstance(metadata.get("name"), str) or not metadata["name"]:
        return None
    return (_group(api_version), kind)


def _group(api_version: str) -> str:
    return api_version.rpartition("/")[0]


def load_object(doc: Document) -> tuple[CompiledPolicy | Binding | None, list[LoadProblem]]:
    """One policy or binding on its own, validated and compiled exactly as in a set: what a
    cluster object contributes (a binding whose policy is absent is inert, as in the apiserver)."""
    policies: dict[str, CompiledPolicy] = {}
    bindings: dict[str, Binding] = {}
    problems = _load_document(doc, policies, bindings, {})
    loaded = next(iter(policies.values()), None) or next(iter(bindings.values()), None)
    return (None if problems else loaded), problems


def merged_policy_set(base: PolicySet, policies: Mapping[str, CompiledPolicy], bindings: Mapping[str, Binding],
                      source: str) -> PolicySet:
    """``base`` plus policies and bindings loaded one by one (names already checked for clashes)."""
    return PolicySet(
        _next_generation(), dict(sorted({**base.policies, **policies}.items())),
        dict(sorted({**base.bindings, **bindings}.items())), tuple(sorted({*base.sources, source})), base.params,
    )


def _policy_rejected(name: str, seen: Mapping[tuple[str, str], Origin]) -> bool:
    # A binding to a policy that failed to load is not a second problem.
    return (POLICY_KIND, name) in seen


def _load_document(
    doc: Document, policies: dict[str, CompiledPolicy], bindings: dict[str, Binding],
    seen: dict[tuple[str, str], Origin],
) -> list[LoadProblem]:
    obj: dict[str, Any] = copy.deepcopy(doc.obj)
    kind, api_version = obj.get("kind"), obj.get("apiVersion")
    metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    name = metadata.get("name") if isinstance(metadata.get("name"), str) else ""

    def problem(field_path: str, message: str) -> LoadProblem:
        return LoadProblem(doc.source, doc.index, kind if isinstance(kind, str) else "", name, field_path, message)

    if kind not in (POLICY_KIND, BINDING_KIND) or api_version not in API_VERSIONS:
        return [problem("", (
            "not a ValidatingAdmissionPolicy or ValidatingAdmissionPolicyBinding "
            f"(apiVersion {api_version!r}, kind {kind!r}; expected apiVersion {API_VERSIONS[0]})"
        ))]
    is_binding = kind == BINDING_KIND
    shape_problems = check_shape(obj, BINDING_SHAPE if is_binding else POLICY_SHAPE, "")
    if shape_problems:
        return [problem(path, message) for path, message in shape_problems]
    apply_defaults(obj, binding=is_binding)
    field_problems = validate_binding(obj) if is_binding else validate_policy(obj)
    origin = Origin(doc.source, doc.index)
    found: list[LoadProblem] = [problem(path, message) for path, message in field_problems]
    if name:
        previous = seen.get((kind, name))
        if previous is not None:
            found.append(problem("metadata.name", f'Duplicate value: "{name}": also defined at {previous}'))
            return found
        seen[(kind, name)] = origin
    if is_binding:
        if not found:
            bindings[name] = binding_from_dict(obj, origin)
        return found
    # Compile even when other fields are wrong, so one run reports every problem.
    compiled, compile_problems = compile_policy(policy_from_dict(obj, origin))
    found.extend(problem(p.field, p.message) for p in compile_problems)
    if compiled is not None and not found:
        policies[name] = compiled
    return found
