"""Leader election with a coordination.k8s.io/v1 Lease, as client-go's leaderelection does.

One replica at a time holds the Lease and runs the work that must not race (certificate
rotation, policy status writes); the others keep trying. The holder renews every
``renew_seconds``; a holder that stops renewing loses the Lease after ``lease_seconds``. Updates
carry the resourceVersion they read, so two candidates cannot both win (the loser gets a 409).
"""

from __future__ import annotations

import datetime
import logging
import threading
from typing import Any

from kubernetes import client as k8s_client

log = logging.getLogger("celgate.leader")


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _micro(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaseElector:
    def __init__(self, api_client: k8s_client.ApiClient, namespace: str, name: str, identity: str,
                 *, lease_seconds: int = 15, renew_seconds: float = 5.0) -> None:
        self._api = k8s_client.CoordinationV1Api(api_client)
        self.namespace, self.name, self.identity = namespace, name, identity
        self.lease_seconds, self.renew_seconds = lease_seconds, renew_seconds
        self._leading = threading.Event()
        self._renewed_at: datetime.datetime | None = None

    @property
    def leading(self) -> bool:
        # A renewal that has not succeeded for a whole lease period means another may lead.
        if not self._leading.is_set() or self._renewed_at is None:
            return False
        return (_now() - self._renewed_at).total_seconds() < self.lease_seconds

    def _body(self, previous: Any | None) -> dict[str, Any]:
        now = _micro(_now())
        held = previous is not None and previous.spec.holder_identity == self.identity
        transitions = (previous.spec.lease_transitions or 0) if previous is not None else 0
        return {
            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": self.name, "namespace": self.namespace,
                         **({"resourceVersion": previous.metadata.resource_version} if previous is not None else {})},
            "spec": {
                "holderIdentity": self.identity, "leaseDurationSeconds": self.lease_seconds,
                "acquireTime": _micro(previous.spec.acquire_time) if held and previous.spec.acquire_time else now,
                "renewTime": now, "leaseTransitions": transitions if held else transitions + (previous is not None),
            },
        }

    def try_acquire_or_renew(self) -> bool:
        try:
            lease = self._api.read_namespaced_lease(self.name, self.namespace)
        except k8s_client.ApiException as exc:
            if exc.status != 404:
                log.warning("lease %s/%s: %s", self.namespace, self.name, exc.reason)
                return self._lost()
            try:
                self._api.create_namespaced_lease(self.namespace, self._body(None))
            except k8s_client.ApiException as create_exc:
                return self._lost() if create_exc.status == 409 else self._failed(create_exc)
            return self._won()
        spec = lease.spec
        if spec.holder_identity and spec.holder_identity != self.identity and spec.renew_time is not None:
            expires = spec.renew_time + datetime.timedelta(seconds=spec.lease_duration_seconds or self.lease_seconds)
            if expires > _now():
                return self._lost()
        try:
            self._api.replace_namespaced_lease(self.name, self.namespace, self._body(lease))
        except k8s_client.ApiException as exc:
            return self._lost() if exc.status == 409 else self._failed(exc)
        return self._won()

    def _won(self) -> bool:
        if not self._leading.is_set():
            log.info("lease %s/%s acquired by %s", self.namespace, self.name, self.identity)
        self._renewed_at = _now()
        self._leading.set()
        return True

    def _lost(self) -> bool:
        if self._leading.is_set():
            log.info("lease %s/%s lost by %s", self.namespace, self.name, self.identity)
        self._leading.clear()
        return False

    def _failed(self, exc: k8s_client.ApiException) -> bool:
        log.warning("lease %s/%s: %s %s", self.namespace, self.name, exc.status, exc.reason)
        return self.leading

    def release(self) -> None:
        """Give the Lease up on shutdown so another replica takes over at once."""
        if not self._leading.is_set():
            return
        self._leading.clear()
        try:
            lease = self._api.read_namespaced_lease(self.name, self.namespace)
            if lease.spec.holder_identity == self.identity:
                lease.spec.holder_identity = None
                lease.spec.lease_duration_seconds = 1
                self._api.replace_namespaced_lease(self.name, self.namespace, lease)
        except k8s_client.ApiException as exc:
            log.warning("lease %s/%s: release failed: %s", self.namespace, self.name, exc.reason)
