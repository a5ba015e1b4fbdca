"""``celgate serve``: the TLS validating webhook.

With no arguments it runs the embedded default: a throwaway CA and serving certificate for
127.0.0.1/localhost, the shipped policies, namespace ``default`` labelled
``pod-security.kubernetes.io/enforce=restricted``, on https://127.0.0.1:8443 — and prints a
curl command that sends a sample privileged Pod and gets it denied.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any


from webhook.commands.options import UsageError, parse_namespace_labels
from webhook.limits import MAX_REVIEW_BODY_BYTES
from webhook.policy.cluster_data import namespace_object
from webhook.shipped import shipped_policies_dir

DEMO_NAMESPACE_LABELS = {"pod-security.kubernetes.io/enforce": "restricted"}


# cel-expr-python 0.1.3 never frees what a Python-implemented CEL function returns (the Kubernetes
# libraries' functions, string extensions): ~1-3 KB a request for policies that call them. A
# fresh worker every 50,000 requests or so keeps a long-running webhook's memory flat.
DEFAULT_MAX_REQUESTS_PER_WORKER = 50_000


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="run the TLS validating webhook (no arguments: embedded default with throwaway certs)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    parser.add_argument("--port", type=int, default=8443, help="TLS port (default: %(default)s; 0 picks one)")
    parser.add_argument("--policies", action="append", type=Path,
                        help="policy file or directory, hot-reloaded (repeatable; default: the shipped policies)")
    parser.add_argument("--tls-cert", type=Path, help="serving certificate (PEM); reloaded when it changes")
    parser.add_argument("--tls-key", type=Path, help="serving key (PEM)")
    parser.add_argument("--client-ca-file", "--client-ca", dest="client_ca", type=Path, metavar="PATH",
                        help="require every TLS client (the API server) to present a certificate signed by a CA "
                             "in this PEM bundle; reloaded when it changes (see docs/deploy.md)")
    parser.add_argument("--kubeconfig", help="watch Namespaces and params in this cluster")
    parser.add_argument("--in-cluster", action="store_true", help="use the in-cluster service account")
    parser.add_argument("--cluster-policies", action="store_true",
                        help="with a cluster: also enforce ValidatingAdmissionPolicies and bindings of "
                             "admissionregistration.x-k8s.io (manifests/crds/) and write their status")
    certs = parser.add_argument_group(
        "self-managed certificates (with a cluster)",
        "celgate keeps its CA and serving certificate in a Secret, writes the caBundle into its "
        "ValidatingWebhookConfiguration and rotates both before expiry; one replica at a time "
        "(a coordination.k8s.io Lease) does the writing. --tls-cert/--tls-key are then where this "
        "replica writes the certificate it serves (default: a temporary directory).")
    certs.add_argument("--tls-secret", metavar="NAME", help="the kubernetes.io/tls Secret to manage (e.g. celgate-tls)")
    certs.add_argument("--webhook-configuration", metavar="NAME", default="celgate",
                       help="ValidatingWebhookConfiguration whose caBundle to keep (default: %(default)s)")
    certs.add_argument("--service", default="celgate", help="Service the certificate is for (default: %(default)s)")
    certs.add_argument("--namespace", help="celgate's namespace (default: $POD_NAMESPACE, the ServiceAccount's, "
                                           "else celgate-system)")
    certs.add_argument("--ca-days", type=float, default=730, help="CA lifetime (default: %(default)s)")
    certs.add_argument("--cert-days", type=float, default=90, help="serving certificate lifetime (default: %(default)s)")
    certs.add_argument("--ca-rotation-grace", type=float, default=20, metavar="SECONDS",
                       help="between trusting a new CA and serving from it (default: %(default)s)")
    certs.add_argument("--lease", default="celgate-controller",
                       help="coordination.k8s.io Lease for leader election (default: %(default)s)")
    parser.add_argument("--namespace-labels", action="append", default=[], metavar="NAME=k1=v1,k2=v2",
                        help="without a cluster: labels of a namespace (repeatable)")
    parser.add_argument("--namespaces", type=Path, help="without a cluster: a file of Namespace objects")
    parser.add_argument("--params", action="append", type=Path, default=[],
                        help="without a cluster: param objects (file or directory; repeatable)")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1),
                        help="worker processes (default: %(default)s)")
    parser.add_argument("--metrics-port", type=int, help="plain-HTTP port for /healthz, /readyz and /metrics only")
    parser.add_argument("--metrics-host", default="127.0.0.1", help="address of the metrics port (default: %(default)s)")
    parser.add_argument("--evaluation-timeout", type=float, default=8.0,
                        help="per-request deadline in seconds, below the webhook timeoutSeconds (default: %(default)s)")
    parser.add_argument("--max-body-bytes", type=int, default=MAX_REVIEW_BODY_BYTES,
                        help="largest accepted request body (default: %(default)s, the apiserver's limit)")
    parser.add_argument("--body-timeout", type=float, default=5.0,
                        help="seconds a client may take to send its request body (default: %(default)s)")
    parser.add_argument("--max-in-flight", type=int, metavar="N",
                        help="requests in flight across all workers before new ones are shed with "
                             "429 Too Many Requests and Retry-After (default: 256 per worker; 0: no limit)")
    parser.add_argument("--max-requests-per-worker", type=int, default=DEFAULT_MAX_REQUESTS_PER_WORKER, metavar="N",
                        help="a worker is replaced by a fresh one after about N requests (cel-expr-python 0.1.3 "
                             "keeps every value a Python-implemented CEL function returns; default: %(default)s; 0: never)")
    parser.add_argument("--graceful-timeout", type=float, default=25.0, metavar="SECONDS",
                        help="on SIGTERM, how long in-flight requests may take to finish before the "
                             "workers exit; keep it below terminationGracePeriodSeconds (default: %(default)s)")
    parser.add_argument("--reload-interval", type=float, default=2.0,
                        help="seconds between checks of policy and certificate files (default: %(default)s)")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    parser.add_argument("--decision-log-file", type=Path,
                        help="also append decision lines (JSON) to this file, size-rotated (stdout always has them)")
    parser.add_argument("--decision-log-max-bytes", type=int, default=100 * 1024 * 1024,
                        help="rotate the decision log file at this size (default: %(default)s)")
    parser.add_argument("--decision-log-backups", type=int, default=5,
                        help="rotated decision log files kept (default: %(default)s)")
    parser.add_argument("--log-allowed-sample-rate", type=float, default=1.0, metavar="RATE",
                        help="share (0-1) of plain allowed decisions logged; denials, warnings, audit results "
                             "and errors are always logged (default: %(default)s)")
    parser.add_argument("--policy-reports", action=argparse.BooleanOptionalAction, default=True,
                        help="with a cluster: record Deny/Warn/Audit results as wgpolicyk8s.io PolicyReports "
                             "(default: on)")
    parser.add_argument("--policy-report-interval", type=float, default=10.0,
                        help="seconds between PolicyReport writes (default: %(default)s)")
    parser.add_argument("--policy-report-max-results", type=int, default=1000,
                        help="results kept per report, newest first (default: %(default)s)")
    parser.set_defaults(run=run)


def _objects(paths: list[Path]) -> list[dict[str, Any]]:
    from webhook.documents import DocumentError, read_documents

    objects: list[dict[str, Any]] = []
    for path in paths:
        try:
            objects.extend(doc.obj for doc in read_documents(path))
        except (DocumentError, OSError) as exc:
            raise UsageError(str(exc)) from None
    return objects


SAMPLE_POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "privileged-demo", "namespace": "default"},
    "spec": {"containers": [{"name": "app", "image": "nginx:1.27", "securityContext": {"privileged": True}}]},
}


def sample_review() -> dict[str, Any]:
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "00000000-0000-0000-0000-000000000001",
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "name": "privileged-demo",
            "namespace": "default",
            "operation": "CREATE",
            "userInfo": {"username": "demo-user", "groups": ["system:authenticated"]},
            "object": SAMPLE_POD,
            "dryRun": False,
        },
    }


def _embedded_certs(directory: Path) -> tuple[Path, Path, Path]:
    from webhook.certs import generate_bundle, write_bundle

    written = write_bundle(
        generate_bundle(service="celgate", namespace="default", dns_names=["localhost"],
                        ip_addresses=["127.0.0.1", "::1"], days=7),
        directory,
    )
    return written.cert, written.key, written.ca_cert


def _controller_options(args: argparse.Namespace) -> Any:
    from webhook.cert_rotation import CertPolicy
    from webhook.cluster_controller import ControllerOptions, own_namespace

    namespace = args.namespace or own_namespace("celgate-system")
    if args.tls_secret and args.tls_cert is None:
        directory = Path(tempfile.mkdtemp(prefix="celgate-tls-"))
        args.tls_cert, args.tls_key = directory / "tls.crt", directory / "tls.key"
    return ControllerOptions(
        namespace=namespace, secret=args.tls_secret,
        webhook_configuration=args.webhook_configuration if args.tls_secret else None,
        tls_cert=args.tls_cert, tls_key=args.tls_key,
        cert_policy=CertPolicy(args.service, namespace, ca_days=args.ca_days, cert_days=args.cert_days,
                               grace_seconds=args.ca_rotation_grace),
        lease=args.lease, interval=min(args.reload_interval, 2.0), cluster_policies=args.cluster_policies,
    )


def _bootstrap_certificates(args: argparse.Namespace, controller: Any) -> None:
    from kubernetes.client import ApiException

    from webhook.cluster import ClusterConfigError, load_api_client
    from webhook.cluster_controller import bootstrap_certificates

    try:
        api_client = load_api_client(args.kubeconfig)
    except ClusterConfigError as exc:
        raise UsageError(str(exc)) from None
    try:
        bootstrap_certificates(api_client, controller)
    except (ApiException, OSError) as exc:
        raise UsageError(f"cannot set up certificates in secret {controller.namespace}/{controller.secret}: "
                         f"{getattr(exc, 'reason', None) or exc}") from None
    finally:
        api_client.close()


def run(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except UsageError as exc:
        print(f"celgate serve: {exc}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    if (args.tls_cert is None) != (args.tls_key is None):
        raise UsageError("--tls-cert and --tls-key go together")
    if args.workers < 1:
        raise UsageError("--workers must be at least 1")
    if args.max_in_flight is not None and args.max_in_flight < 0:
        raise UsageError("--max-in-flight must be 0 (no limit) or more")
    if args.graceful_timeout < 0:
        raise UsageError("--graceful-timeout must not be negative")
    if args.max_requests_per_worker < 0:
        raise UsageError("--max-requests-per-worker must not be negative (0: workers are never replaced)")
    if not 0.0 <= args.log_allowed_sample_rate <= 1.0:
        raise UsageError("--log-allowed-sample-rate must be between 0 and 1")
    embedded = args.tls_cert is None
    clustered = bool(args.kubeconfig or args.in_cluster)
    if args.cluster_policies and not clustered:
        raise UsageError("--cluster-policies needs a cluster (--kubeconfig or --in-cluster)")
    if args.tls_secret and not clustered:
        raise UsageError("--tls-secret needs a cluster (--kubeconfig or --in-cluster)")
    controller = _controller_options(args) if (args.tls_secret or args.cluster_policies) else None
    if controller is not None and controller.secret:
        _bootstrap_certificates(args, controller)
        embedded = False
    namespaces = [namespace_object(name, labels) for name, labels in parse_namespace_labels(args.namespace_labels).items()]
    if args.namespaces:
        namespaces += _objects([args.namespaces])
    params = _objects(args.params)
    demo_dir: Path | None = None
    if embedded:
        demo_dir = Path(tempfile.mkdtemp(prefix="celgate-"))
        cert, key, ca = _embedded_certs(demo_dir)
        args.tls_cert, args.tls_key = cert, key
        if not clustered and not namespaces:
            namespaces = [namespace_object("default", DEMO_NAMESPACE_LABELS)]
        (demo_dir / "privileged-pod-review.json").write_text(json.dumps(sample_review(), indent=2))

    from webhook.serving import ServeOptions, default_max_in_flight, prepare_multiprocess_metrics, serve

    if args.workers > 1:
        prepare_multiprocess_metrics()
    from webhook.policy.loader import PolicyLoadError
    from webhook.policy_store import PolicyStore
    from webhook.tls import ServingTLS, TLSConfigError

    policies = args.policies or [shipped_policies_dir()]
    try:
        store = PolicyStore(policies)  # fail fast, before forking, on a set that does not load
        ServingTLS(args.tls_cert, args.tls_key, args.client_ca)
    except PolicyLoadError as exc:
        print(f"celgate serve: policies do not load:\n{exc}", file=sys.stderr)
        return 2
    except TLSConfigError as exc:
        print(f"celgate serve: {exc}", file=sys.stderr)
        return 2

    def announce(port: int) -> None:
        host = f"[{args.host}]" if ":" in args.host else args.host
        print(f"celgate: serving {len(store.current.names())} policies on https://{host}:{port}/validate "
              f"({args.workers} worker{'s' if args.workers > 1 else ''})", file=sys.stderr, flush=True)
        if demo_dir is not None:
            print(f"celgate: throwaway CA and certificate in {demo_dir}", file=sys.stderr)
            if not clustered and not args.namespace_labels and not args.namespaces:
                print("celgate: namespace 'default' is labelled pod-security.kubernetes.io/enforce=restricted",
                      file=sys.stderr)
            print("celgate: try it (a privileged Pod, denied):", file=sys.stderr)
            print(f"  curl --cacert {demo_dir / 'ca.crt'} -H 'Content-Type: application/json' "
                  f"--data @{demo_dir / 'privileged-pod-review.json'} https://{host}:{port}/validate",
                  file=sys.stderr, flush=True)

    options = ServeOptions(
        host=args.host, port=args.port, policies=list(policies), tls_cert=args.tls_cert,
        tls_key=args.tls_key, client_ca=args.client_ca, workers=args.workers,
        metrics_port=args.metrics_port, metrics_host=args.metrics_host, kubeconfig=args.kubeconfig,
        in_cluster=args.in_cluster, cluster_policies=args.cluster_policies, static_namespaces=namespaces, static_params=params,
        reload_interval=args.reload_interval, evaluation_timeout=args.evaluation_timeout,
        max_body_bytes=args.max_body_bytes, body_timeout=args.body_timeout, log_level=args.log_level, on_ready=announce,
        store=store, controller=controller, decision_log_file=args.decision_log_file, decision_log_max_bytes=args.decision_log_max_bytes,
        decision_log_backups=args.decision_log_backups, log_allowed_sample_rate=args.log_allowed_sample_rate,
        policy_reports=args.policy_reports, policy_report_interval=args.policy_report_interval,
        policy_report_max_results=args.policy_report_max_results,
        max_in_flight=default_max_in_flight(args.workers) if args.max_in_flight is None else args.max_in_flight,
        graceful_timeout=args.graceful_timeout,
        max_requests_per_worker=args.max_requests_per_worker,
    )
    try:
        return serve(options)
    except OSError as exc:
        print(f"celgate serve: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 2
