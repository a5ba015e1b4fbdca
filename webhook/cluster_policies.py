"""Policies from the cluster: ValidatingAdmissionPolicy and Binding objects of the polyfill group
admissionregistration.x-k8s.io (manifests/crds/), enforced beside the files and ConfigMaps.

The built-in group admissionregistration.k8s.io is never read: kube-apiserver enforces those
objects itself, and enforcing them here too would apply every policy twice. Moving a policy
between the two is a change of ``apiVersion``.

Each object is validated and compiled on its own by the loader files use (``load_object``), so
verdicts are identical. As in kube-apiserver's policy source, one broken object does not take
the others down — and, unlike a file set, it does not take itself down either: an invalid new
generation leaves the object's last good generation serving. A cluster object whose name is
already used by a file policy or binding is not enforced (files win; the status says so).

:func:`policy_status` is what the status writer records (``webhook/cluster_controller.py``),
mirroring the apiserver's status controller (observedGeneration, typeChecking) plus a condition
``Enforced`` that says whether this generation is in force, or why not with the field path.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any, Callable

from webhook.documents import Document
from webhook.policy.compiler import CompiledPolicy
from webhook.policy.errors import LoadProblem
from webhook.policy.loader import (
    BINDING_KIND, POLICY_KIND, POLYFILL_API_VERSION, PolicySet, load_object, merged_policy_set,
)
from webhook.policy.model import Binding

log = logging.getLogger("celgate.cluster_policies")

CONDITION_TYPE = "Enforced"
SOURCE = "cluster"
KINDS = (POLICY_KIND, BINDING_KIND)

Key = tuple[str, str]  # (kind, name)


@dataclass(frozen=True)
class ObjectResult:
    """What became of one generation of one cluster object."""

    kind: str
    name: str
    generation: int
    problems: tuple[LoadProblem, ...] = ()
    conflict: bool = False
    # The generation in force: this one, an earlier good one, or None.
    serving_generation: int | None = None

    @property
    def in_force(self) -> bool:
        return self.serving_generation == self.generation


@dataclass(frozen=True)
class _Accepted:
    generation: int
    loaded: CompiledPolicy | Binding


def _generation(obj: dict[str, Any]) -> int:
    return int((obj.get("metadata") or {}).get("generation") or 0)


def _name(obj: dict[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name") or "")


class ClusterPolicies:
    """The cluster's polyfill objects compiled one by one; ``policy_set(base)`` merges them in.

    ``list_objects(kind)`` returns the current objects of a kind (an informer's cache)."""

    def __init__(self, list_objects: Callable[[str], list[dict[str, Any]]]) -> None:
        self._list = list_objects
        self._lock = threading.Lock()
        self._accepted: dict[Key, _Accepted] = {}
        self._seen: dict[Key, tuple[int, tuple[LoadProblem, ...]]] = {}
        self._fingerprint: tuple[Any, ...] | None = None
        self.results: dict[Key, ObjectResult] = {}

    def refresh(self, base: PolicySet) -> bool:
        """Recompile what changed since the last call; True if the merged set may differ."""
        with self._lock:
            objects = {(kind, _name(o)): o for kind in KINDS for o in self._list(kind) if _name(o)}
            fingerprint = (tuple(sorted((k, _generation(o)) for k, o in objects.items())),
                           tuple(base.policies), tuple(base.bindings))
            if fingerprint == self._fingerprint:
                return False
            self._fingerprint = fingerprint
            for key in set(self._accepted) - set(objects):
                del self._accepted[key]
            for key in set(self._seen) - set(objects):
                del self._seen[key]
            results: dict[Key, ObjectResult] = {}
            for key, obj in sorted(objects.items()):
                results[key] = self._load(key, obj, base)
            self.results = results
            return True

    def _load(self, key: Key, obj: dict[str, Any], base: PolicySet) -> ObjectResult:
        kind, name = key
        generation = _generation(obj)
        seen = self._seen.get(key)
        if seen is None or seen[0] != generation:
            document = Document(f"{SOURCE}:{kind}/{name}@{generation}", 0, 0, {**obj, "apiVersion": POLYFILL_API_VERSION})
            loaded, problems = load_object(document)
            if loaded is not None:
                self._accepted[key] = _Accepted(generation, loaded)
                log.info("cluster policies: %s/%s generation %d loaded", kind, name, generation)
            else:
                log.warning("cluster policies: %s/%s generation %d rejected: %s", kind, name, generation,
                            "; ".join(str(p) for p in problems))
            self._seen[key] = (generation, tuple(problems))
        problems = self._seen[key][1]
        taken = base.policies if kind == POLICY_KIND else base.bindings
        if name in taken:
            return ObjectResult(kind, name, generation, problems, conflict=True)
        accepted = self._accepted.get(key)
        return ObjectResult(kind, name, generation, problems,
                            serving_generation=accepted.generation if accepted else None)

    def policy_set(self, base: PolicySet) -> PolicySet:
        """``base`` plus every cluster object in force (its last good generation)."""
        with self._lock:
            policies: dict[str, CompiledPolicy] = {}
            bindings: dict[str, Binding] = {}
            for (kind, name), result in self.results.items():
                accepted = self._accepted.get((kind, name))
                if result.conflict or accepted is None:
                    continue
                if isinstance(accepted.loaded, Binding):
                    bindings[name] = accepted.loaded
                else:
                    policies[name] = accepted.loaded
        return merged_policy_set(base, policies, bindings, SOURCE)


def _message(result: ObjectResult) -> tuple[str, str, str]:
    """(status, reason, message) of the Enforced condition."""
    if result.conflict:
        return "False", "NameConflict", (
            f"not enforced: celgate already loads a {result.kind} named {result.name!r} from its policy files")
    if result.in_force:
        return "True", "Enforced", f"generation {result.generation} is in force in celgate"
    problems = "; ".join(f"{p.field}: {p.message}" if p.field else p.message for p in result.problems)
    serving = (f"generation {result.serving_generation} keeps serving" if result.serving_generation is not None
               else "nothing from this object is enforced")
    return "False", "Invalid", f"generation {result.generation} is not enforced ({serving}): {problems}"


def policy_status(result: ObjectResult, previous: dict[str, Any] | None, now: str) -> dict[str, Any]:
    """The ``status`` celgate writes for a policy (bindings have no status in the v1 schema)."""
    status, reason, message = _message(result)
    old = next((c for c in (previous or {}).get("conditions") or [] if c.get("type") == CONDITION_TYPE), None)
    transition = old["lastTransitionTime"] if old and old.get("status") == status and old.get("lastTransitionTime") else now
    return {
        "observedGeneration": result.generation,
        # celgate compiles against dynamic types (no OpenAPI schemas), so it has no
        # schema-based type-checking warnings to report; the list is kept for the shape.
        "typeChecking": {"expressionWarnings": []},
        "conditions": [{
            "type": CONDITION_TYPE, "status": status, "reason": reason, "message": message[:32768],
            "observedGeneration": result.generation, "lastTransitionTime": transition,
        }],
    }


def status_differs(current: dict[str, Any] | None, wanted: dict[str, Any]) -> bool:
    def strip(status: dict[str, Any] | None) -> Any:
        status = dict(status or {})
        status["conditions"] = [{k: v for k, v in c.items() if k != "lastTransitionTime"}
                                for c in status.get("conditions") or []]
        return status
    return strip(current) != strip(wanted)


class ClusterBackedStore:
    """A PolicyStore's file set with the cluster's objects merged in; the same interface
    (``current``, ``status``, ``reload_if_changed``) so the server and reload loop need no change."""

    def __init__(self, files: Any, cluster: ClusterPolicies, synced: Callable[[], bool]) -> None:
        from webhook.policy_store import ReloadStatus

        self._status_type = ReloadStatus
        self.files = files
        self.cluster = cluster
        self._synced = synced
        self._refreshed_synced = False
        self._generation = files.status.generation
        self._current = files.current
        self.paths = files.paths
        self._merge()

    def _merge(self) -> None:
        synced = self._synced()
        self.cluster.refresh(self.files.current)
        self._current = self.cluster.policy_set(self.files.current)
        self._refreshed_synced = synced

    @property
    def current(self) -> PolicySet:
        return self._current

    @property
    def status(self) -> Any:
        files = self.files.status
        return self._status_type(self._generation, files.loaded_at, files.last_attempt_at, files.last_error)

    def ready(self) -> bool:
        """The cluster objects were listed, and merged in after that."""
        return self._refreshed_synced

    def reload_if_changed(self) -> str:
        result = self.files.reload_if_changed()
        synced = self._synced()
        changed = self.cluster.refresh(self.files.current)
        if result == "reloaded" or changed or synced != self._refreshed_synced:
            self._current = self.cluster.policy_set(self.files.current)
            self._refreshed_synced = synced
            self._generation += 1
            log.info("policies: generation %d in force (%d policies, %d from the cluster)", self._generation,
                     len(self._current.names()), sum(1 for r in self.cluster.results.values()
                                                     if r.kind == POLICY_KIND and r.in_force))
            return "failed" if result == "failed" else "reloaded"
        return result


def watch_cluster_policies(cluster_data: Any, files: Any) -> ClusterBackedStore:
    """Informers for the polyfill kinds on ``cluster_data`` (WatchedClusterData), merged into ``files``."""
    informers = {kind: cluster_data.watch(POLYFILL_API_VERSION, kind) for kind in KINDS}
    policies = ClusterPolicies(lambda kind: informers[kind].list(None))
    return ClusterBackedStore(files, policies, lambda: all(i.synced for i in informers.values()))
