"""The work a celgate replica does for the cluster besides answering reviews.

Every replica: copies the serving certificate from its Secret to the local files the workers
serve (``ServingTLS`` reloads them), so a rotation reaches every replica within seconds and
needs no kubelet volume refresh.

The Lease holder only (``webhook/leader.py``): applies ``cert_rotation.plan`` to the Secret,
keeps the ValidatingWebhookConfiguration's ``caBundle`` equal to the Secret's trust bundle, and
writes the status of the cluster's polyfill policies (``webhook/cluster_policies.py``).
"""

from __future__ import annotations

import base64
import datetime
import logging
import os
import socket
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubernetes import client as k8s_client

from webhook.cert_rotation import CertPolicy, plan

log = logging.getLogger("celgate.controller")

SERVICEACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


def own_namespace(default: str) -> str:
    """The namespace celgate runs in: $POD_NAMESPACE, the ServiceAccount's, else ``default``."""
    if os.environ.get("POD_NAMESPACE"):
        return os.environ["POD_NAMESPACE"]
    try:
        return SERVICEACCOUNT_NAMESPACE.read_text().strip() or default
    except OSError:
        return default


@dataclass
class ControllerOptions:
    namespace: str
    secret: str | None = None  # self-managed certificates in this Secret
    webhook_configuration: str | None = None  # whose caBundle to keep
    tls_cert: Path | None = None  # where this replica serves from
    tls_key: Path | None = None
    cert_policy: CertPolicy | None = None
    lease: str = "celgate-controller"
    interval: float = 2.0
    cluster_policies: bool = False


def write_serving_files(data: dict[str, str], cert: Path, key: Path) -> bool:
    """Write tls.crt/tls.key from Secret data if they differ; True if anything changed."""
    changed = False
    for path, name, mode in ((key, "tls.key", 0o600), (cert, "tls.crt", 0o644)):
        content = base64.b64decode(data.get(name, ""))
        try:
            if path.read_bytes() == content:
                continue
        except OSError:
            pass
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        try:
            os.write(fd, content)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        changed = True
    return changed


class CertificateSecret:
    """Reads and updates the Secret; applies plans (optimistic concurrency on resourceVersion)."""

    def __init__(self, api_client: k8s_client.ApiClient, namespace: str, name: str, policy: CertPolicy) -> None:
        self._core = k8s_client.CoreV1Api(api_client)
        self._admission = k8s_client.AdmissionregistrationV1Api(api_client)
        self.namespace, self.name, self.policy = namespace, name, policy

    def read(self) -> Any | None:
        try:
            return self._core.read_namespaced_secret(self.name, self.namespace)
        except k8s_client.ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def reconcile(self, now: datetime.datetime | None = None) -> Any:
        """Create or advance the Secret by one step of the plan; returns the Secret after it."""
        now = now or datetime.datetime.now(datetime.timezone.utc)
        secret = self.read()
        data = dict(secret.data or {}) if secret is not None else None
        annotations = dict((secret.metadata.annotations or {}) if secret is not None else {})
        step = plan(data, annotations, self.policy, now)
        if step.action == "none":
            return secret
        for key, value in step.annotations.items():
            if value is None:
                annotations.pop(key, None)
            else:
                annotations[key] = value
        body = {
            "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
            "metadata": {"name": self.name, "namespace": self.namespace, "annotations": annotations,
                         "labels": {"app.kubernetes.io/name": "celgate", "app.kubernetes.io/component": "certificates"}},
            "data": step.data,
        }
        try:
            if secret is None:
                created = self._core.create_namespaced_secret(self.namespace, body)
            else:
                body["metadata"]["resourceVersion"] = secret.metadata.resource_version
                body["metadata"]["labels"] = {**(secret.metadata.labels or {}), **body["metadata"]["labels"]}
                created = self._core.replace_namespaced_secret(self.name, self.namespace, body)
        except k8s_client.ApiException as exc:
            if exc.status == 409:  # another replica (or a user) changed it first: read it next time
                log.info("certificates: secret %s/%s changed concurrently; retrying", self.namespace, self.name)
                return self.read()
            raise
        log.info("certificates: %s (%s)", step.action, step.reason)
        return created

    def sync_ca_bundle(self, webhook_configuration: str, secret: Any) -> bool:
        """Set every webhook's caBundle in the configuration to the Secret's ca.crt."""
        bundle = (secret.data or {}).get("ca.crt") if secret is not None else None
        if not bundle:
            return False
        try:
            config = self._admission.read_validating_webhook_configuration(webhook_configuration)
        except k8s_client.ApiException as exc:
            if exc.status == 404:
                return False
            raise
        patch = [{"op": "add", "path": f"/webhooks/{i}/clientConfig/caBundle", "value": bundle}
                 for i, hook in enumerate(config.webhooks or []) if hook.client_config.ca_bundle != bundle]
        if not patch:
            return False
        try:
            self._admission.patch_validating_webhook_configuration(webhook_configuration, patch)
        except k8s_client.ApiException as exc:
            if exc.status == 409:
                return False
            raise
        log.info("certificates: caBundle of ValidatingWebhookConfiguration %s updated", webhook_configuration)
        return True


def bootstrap_certificates(api_client: k8s_client.ApiClient, options: ControllerOptions) -> None:
    """Before serving: make sure the Secret exists (any replica may create it; create is atomic)
    and write this replica's serving files from it."""
    assert options.secret and options.cert_policy and options.tls_cert and options.tls_key
    secrets = CertificateSecret(api_client, options.namespace, options.secret, options.cert_policy)
    secret = secrets.read()
    if secret is None:
        secret = secrets.reconcile()
    if options.webhook_configuration:
        secrets.sync_ca_bundle(options.webhook_configuration, secret)
    write_serving_files(dict(secret.data or {}), options.tls_cert, options.tls_key)


def _policy_status_writer(api_client: k8s_client.ApiClient, files: Any) -> Any:
    from kubernetes.dynamic import DynamicClient

    from webhook.cluster import Informer
    from webhook.cluster_policies import POLICY_KIND, ClusterPolicies, KINDS, policy_status, status_differs
    from webhook.policy.loader import POLYFILL_API_VERSION, POLYFILL_GROUP

    dynamic = DynamicClient(api_client)
    informers = {kind: Informer(dynamic, POLYFILL_API_VERSION, kind).start() for kind in KINDS}
    policies = ClusterPolicies(lambda kind: informers[kind].list(None))
    path = f"/apis/{POLYFILL_GROUP}/v1alpha1/validatingadmissionpolicies/{{}}/status"

    def write() -> None:
        if not all(i.synced for i in informers.values()):
            return
        files.reload_if_changed()
        policies.refresh(files.current)
        now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        for (kind, name), result in policies.results.items():
            if kind != POLICY_KIND:
                continue
            obj = informers[kind].get("", name) or {}
            current = obj.get("status")
            wanted = policy_status(result, current, now)
            if not status_differs(current, wanted):
                continue
            try:
                dynamic.request("PATCH", path.format(name), body={"status": wanted},
                                content_type="application/merge-patch+json")
                # The watch delivers the new status; until then, do not write it again.
                informers[kind].put({**obj, "status": wanted})
            except k8s_client.ApiException as exc:
                if exc.status not in (404, 409):
                    log.warning("policy status %s: %s %s", name, exc.status, exc.reason)

    return write


def run_controller(api_client: k8s_client.ApiClient, options: ControllerOptions, files: Any,
                   stop: threading.Event) -> None:
    """The loop; returns when ``stop`` is set (the Lease is released on the way out)."""
    from webhook.leader import LeaseElector

    identity = f"{socket.gethostname()}_{os.getpid()}"
    elector = LeaseElector(api_client, options.namespace, options.lease, identity)
    secrets = (CertificateSecret(api_client, options.namespace, options.secret, options.cert_policy)
               if options.secret and options.cert_policy else None)
    write_statuses = _policy_status_writer(api_client, files) if options.cluster_policies else None
    last_renew = 0.0
    try:
        while not stop.is_set():
            try:
                now = datetime.datetime.now(datetime.timezone.utc).timestamp()
                if now - last_renew >= elector.renew_seconds or not elector.leading:
                    elector.try_acquire_or_renew()
                    last_renew = now
                secret = None
                if secrets is not None:
                    secret = secrets.reconcile() if elector.leading else secrets.read()
                    if secret is not None and options.tls_cert and options.tls_key:
                        if write_serving_files(dict(secret.data or {}), options.tls_cert, options.tls_key):
                            log.info("certificates: serving files updated from secret %s/%s",
                                     options.namespace, options.secret)
                    if elector.leading and options.webhook_configuration:
                        secrets.sync_ca_bundle(options.webhook_configuration, secret)
                if write_statuses is not None and elector.leading:
                    write_statuses()
            except Exception:  # noqa: BLE001 - the controller must outlive any single failure
                log.exception("controller step failed")
            stop.wait(options.interval)
    finally:
        elector.release()
