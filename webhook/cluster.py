"""Cluster data from a real API server: Namespaces and param objects, list+watch cached.

Each watched kind runs an informer thread: list, then watch from the list's resourceVersion,
reconnecting with capped exponential backoff and re-listing when the watch expires (410).
The webhook answers from these caches; a namespace not yet in the cache is fetched once with
a GET rather than guessed, since a just-created namespace can race its first Pod.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from typing import Any, Iterable

from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import ApiException, ResourceNotFoundError

log = logging.getLogger("celgate.cluster")

_MAX_BACKOFF_SECONDS = 30.0
_WATCH_TIMEOUT_SECONDS = 300


class ClusterConfigError(Exception):
    """No usable kubeconfig or in-cluster configuration."""


def load_api_client(kubeconfig: str | None) -> k8s_client.ApiClient:
    try:
        if kubeconfig:
            return k8s_config.new_client_from_config(config_file=kubeconfig)
        k8s_config.load_incluster_config()
        return k8s_client.ApiClient()
    except (k8s_config.ConfigException, OSError) as exc:
        raise ClusterConfigError(f"cannot configure a Kubernetes client: {exc}") from None


def _key(obj: dict[str, Any]) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return meta.get("namespace") or "", meta.get("name") or ""


class Informer:
    """A list+watch cache of one kind."""

    def __init__(self, dynamic: DynamicClient, api_version: str, kind: str) -> None:
        self.api_version, self.kind = api_version, kind
        self._dynamic = dynamic
        self._objects: dict[tuple[str, str], dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._synced = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"informer-{kind}", daemon=True)

    def start(self) -> "Informer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    @property
    def synced(self) -> bool:
        return self._synced.is_set()

    def wait_synced(self, timeout: float) -> bool:
        return self._synced.wait(timeout)

    def get(self, namespace: str, name: str) -> dict[str, Any] | None:
        with self._lock:
            return self._objects.get((namespace, name))

    def put(self, obj: dict[str, Any]) -> None:
        with self._lock:
            self._objects[_key(obj)] = obj

    def list(self, namespace: str | None) -> list[dict[str, Any]]:
        with self._lock:
            return [o for (ns, _), o in sorted(self._objects.items()) if namespace is None or ns == namespace]

    def _resource(self) -> Any:
        return self._dynamic.resources.get(api_version=self.api_version, kind=self.kind)

    def _run(self) -> None:
        backoff = 0.5
        while not self._stop.is_set():
            try:
                resource = self._resource()
                listed = resource.get().to_dict()
                version = (listed.get("metadata") or {}).get("resourceVersion")
                with self._lock:
                    self._objects = {_key(item): item for item in listed.get("items") or []}
                self._synced.set()
                backoff = 0.5
                self._watch(resource, version)
            except (ApiException, ResourceNotFoundError, OSError, ValueError) as exc:
                status = getattr(exc, "status", None)
                if status != 410:
                    log.warning("informer %s/%s: %s; retrying in %.1fs", self.api_version, self.kind,
                                str(exc).splitlines()[0] if str(exc) else type(exc).__name__, backoff)
                    self._stop.wait(backoff + random.uniform(0, backoff / 2))
                    backoff = min(backoff * 2, _MAX_BACKOFF_SECONDS)
            except Exception:  # noqa: BLE001 - an informer must never die silently
                log.exception("informer %s/%s crashed; restarting", self.api_version, self.kind)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, _MAX_BACKOFF_SECONDS)

    def _watch(self, resource: Any, version: str | None) -> None:
        while not self._stop.is_set():
            for event in self._dynamic.watch(resource, resource_version=version, timeout=_WATCH_TIMEOUT_SECONDS):
                if self._stop.is_set():
                    return
                kind, raw = event.get("type"), event.get("raw_object") or {}
                if kind == "ERROR":
                    if raw.get("code") == 410:
                        return  # expired: re-list
                    raise ValueError(f"watch error: {raw.get('message')}")
                version = (raw.get("metadata") or {}).get("resourceVersion") or version
                if kind in ("ADDED", "MODIFIED"):
                    self.put(raw)
                elif kind == "DELETED":
                    with self._lock:
                        self._objects.pop(_key(raw), None)


class WatchedClusterData:
    """ClusterData served from informers on a live cluster."""

    def __init__(self, api_client: k8s_client.ApiClient, param_kinds: Iterable[tuple[str, str]] = ()) -> None:
        self.api_client = api_client
        self._dynamic = DynamicClient(api_client)
        self._core = k8s_client.CoreV1Api(api_client)
        self._namespaces = Informer(self._dynamic, "v1", "Namespace").start()
        self._params: dict[tuple[str, str], Informer] = {}
        self._watched: list[Informer] = []
        self._lock = threading.Lock()
        self.ensure_param_kinds(param_kinds)

    def watch(self, api_version: str, kind: str) -> Informer:
        """Another list+watch cache (the cluster's policies); part of ``synced()``."""
        informer = Informer(self._dynamic, api_version, kind).start()
        with self._lock:
            self._watched.append(informer)
        return informer

    def ensure_param_kinds(self, param_kinds: Iterable[tuple[str, str]]) -> None:
        """Start informers for param kinds a (re)loaded policy set introduced."""
        with self._lock:
            for api_version, kind in param_kinds:
                if (api_version, kind) not in self._params:
                    self._params[(api_version, kind)] = Informer(self._dynamic, api_version, kind).start()

    def synced(self) -> bool:
        with self._lock:
            informers = [self._namespaces, *self._params.values(), *self._watched]
        return all(i.synced for i in informers)

    def wait_synced(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.synced():
                return True
            time.sleep(0.05)
        return self.synced()

    def get_namespace(self, name: str) -> dict[str, Any] | None:
        cached = self._namespaces.get("", name)
        if cached is not None:
            return cached
        try:
            obj = self._core.api_client.sanitize_for_serialization(self._core.read_namespace(name))
        except k8s_client.ApiException as exc:
            if exc.status == 404:
                return None
            raise
        self._namespaces.put(obj)
        return obj

    def list_params(self, api_version: str, kind: str, namespace: str | None) -> list[dict[str, Any]]:
        self.ensure_param_kinds([(api_version, kind)])
        with self._lock:
            informer = self._params[(api_version, kind)]
        if not informer.synced:
            informer.wait_synced(2.0)
        return informer.list(namespace)

    def stop(self) -> None:
        self._namespaces.stop()
        for informer in [*self._params.values(), *self._watched]:
            informer.stop()
