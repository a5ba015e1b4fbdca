"""``celgate scan``: judge what already exists against the policies (a background audit).

From a cluster (``--kubeconfig`` or ``--in-cluster``): every object of every resource the
policies match, listed page by page, evaluated by the webhook's own decision function with
CREATE semantics (as Kyverno's background scan and Gatekeeper's audit do). From files or
directories: the manifests given. ``--output`` text, json, junit, sarif or policyreport
(wgpolicyk8s.io/v1alpha2 PolicyReport/ClusterPolicyReport objects); ``--apply`` writes those
reports to the cluster, one ``celgate-scan`` report per namespace, its old results replaced.
``--serve`` scans every ``--interval`` seconds and exports compliance gauges on ``/metrics``.

Exit codes: 0 nothing fails a policy, 1 some object does, 2 usage or API error.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from typing import Any, Sequence, TextIO

import yaml

from webhook.commands.options import UsageError, parse_namespace_labels
from webhook.reporting import FORMATS, text

EXIT_CLEAN, EXIT_VIOLATIONS, EXIT_USAGE = 0, 1, 2
OUTPUTS = (*FORMATS, "policyreport")
log = logging.getLogger("celgate.scan")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("scan", help="evaluate existing objects (cluster or files) against the policies",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("inputs", nargs="*", metavar="PATH", help="manifest files or directories (instead of a cluster)")
    parser.add_argument("--policies", action="append", default=[], metavar="PATH",
                        help="policy files or directories (default: the shipped policies)")
    parser.add_argument("--kubeconfig", help="scan this cluster")
    parser.add_argument("--in-cluster", action="store_true", help="scan the cluster this Pod runs in")
    parser.add_argument("--namespace", "-n", action="append", default=None, metavar="NAME",
                        help="only these namespaces (repeatable; cluster-scoped objects are still scanned)")
    parser.add_argument("--namespace-labels", action="append", default=[], metavar="NAME=k1=v1,k2=v2",
                        help="files only: labels of a namespace (repeatable)")
    parser.add_argument("--output", "-o", choices=OUTPUTS, default="text", help="report format (default text)")
    parser.add_argument("--apply", action="store_true", help="write the PolicyReports to the cluster")
    parser.add_argument("--serve", action="store_true", help="scan periodically and export gauges on /metrics")
    parser.add_argument("--interval", type=float, default=3600.0, help="--serve: seconds between scans (default: %(default)s)")
    parser.add_argument("--metrics-port", type=int, default=8080, help="--serve: /metrics port (default: %(default)s)")
    parser.add_argument("--metrics-host", default="0.0.0.0", help="--serve: /metrics address (default: %(default)s)")
    parser.add_argument("--exit-zero", action="store_true", help="exit 0 even when objects fail policies (CronJobs)")
    parser.add_argument("--no-progress", action="store_true", help="no progress line on a terminal")
    parser.set_defaults(run=run)


def _policy_set(paths: Sequence[str]) -> Any:
    from webhook.policy.loader import load_policy_set
    from webhook.shipped import shipped_policies_dir

    return load_policy_set(list(paths) or [str(shipped_policies_dir())])


def _progress(stream: TextIO) -> Any:
    def show(resource: str, count: int) -> None:
        stream.write(f"\r\033[Kscanning {resource}: {count} objects")
        stream.flush()

    return show


def _scan(args: argparse.Namespace, policy_set: Any, rest: Any, err: TextIO, documents: Sequence[Any] = ()) -> Any:
    """Files when there is no API client, else the cluster (with a progress line on a terminal)."""
    from webhook.scan import scan_cluster, scan_documents

    if rest is None:
        return scan_documents(policy_set, documents, namespace_labels=parse_namespace_labels(args.namespace_labels))
    progress = _progress(err) if err.isatty() and not args.no_progress else None
    scan = scan_cluster(rest, policy_set, namespaces=args.namespace, progress=progress)
    if progress is not None:
        err.write("\r\033[K")
    return scan


def _render(args: argparse.Namespace, scan: Any, out: TextIO) -> None:
    from webhook.scan import has_findings, scan_reports, violations

    if args.output == "policyreport":
        out.write(yaml.safe_dump_all(scan_reports(scan), sort_keys=False))
    elif args.output == "text":
        findings = [r for r in scan.results if has_findings(r)]
        if findings:
            out.write(text.render(findings, colour=out.isatty()))
        failing = sum(violations(scan).values())
        out.write(f"scanned {len(scan.results)} objects in {scan.elapsed_seconds:.1f}s: "
                  f"{len(findings)} with findings, {failing} policy violations\n")
    else:
        out.write(FORMATS[args.output](scan.results))


def apply_reports(rest: Any, scan: Any, only: Sequence[str] | None = None) -> int:
    """Write one celgate-scan report per namespace; reports left from earlier scans of a
    namespace that now has none are emptied. Returns how many reports were written."""
    from webhook.policy_report_writer import write_report
    from webhook.scan import SCAN_REPORT_NAME, scan_reports

    reports = scan_reports(scan)
    written = {r["metadata"].get("namespace") for r in reports}
    for report in reports:
        write_report(rest, report["metadata"].get("namespace"), SCAN_REPORT_NAME, report["results"], replace=True,
                     max_results=max(1000, len(report["results"])), passes=report["summary"]["pass"])
    stale = rest.get("/apis/wgpolicyk8s.io/v1alpha2/policyreports?labelSelector=app.kubernetes.io/managed-by%3Dcelgate") or {}
    for item in stale.get("items") or []:
        meta = item["metadata"]
        if meta["name"] == SCAN_REPORT_NAME and meta["namespace"] not in written and (only is None or meta["namespace"] in only):
            write_report(rest, meta["namespace"], SCAN_REPORT_NAME, [], replace=True)
    return len(reports)


def export_gauges(scan: Any) -> None:
    from webhook import metrics
    from webhook.scan import violations

    metrics.SCAN_VIOLATIONS.clear()
    for (policy, namespace, action), count in violations(scan).items():
        metrics.SCAN_VIOLATIONS.labels(policy, namespace, action).set(count)
    metrics.SCAN_OBJECTS.clear()
    for resource, count in scan.objects_by_resource.items():
        metrics.SCAN_OBJECTS.labels(resource).set(count)
    metrics.SCAN_DURATION.set(scan.elapsed_seconds)
    metrics.SCAN_LAST_SUCCESS.set(time.time())


def _serve(args: argparse.Namespace, policy_set: Any, rest: Any, err: TextIO) -> int:
    from prometheus_client import start_http_server

    from webhook import metrics
    from webhook.decision_log import configure_logging
    from webhook.scan import violations

    configure_logging("info", decisions_to_stdout=False)
    start_http_server(args.metrics_port, addr=args.metrics_host)
    err.write(f"celgate scan: serving /metrics on {args.metrics_host}:{args.metrics_port}, scanning every {args.interval:g}s\n")
    err.flush()
    while True:
        try:
            scan = _scan(args, policy_set, rest, err)
            export_gauges(scan)
            if args.apply:
                apply_reports(rest, scan, args.namespace)
            log.info("scan done: %d objects, %d violations, %.1fs",
                     len(scan.results), sum(violations(scan).values()), scan.elapsed_seconds)
        except Exception as exc:  # noqa: BLE001 - a failed scan is counted and retried next interval
            metrics.SCAN_FAILURES.inc()
            log.error("scan failed: %s", exc)
        time.sleep(args.interval)


def run(args: argparse.Namespace, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    out, err = stdout or sys.stdout, stderr or sys.stderr
    from webhook.cluster import ClusterConfigError, load_api_client
    from webhook.documents import DocumentError
    from webhook.kube_rest import KubeREST, KubeRESTError
    from webhook.policy.loader import PolicyLoadError
    from webhook.scan import violations

    try:
        clustered = bool(args.kubeconfig or args.in_cluster)
        if clustered == bool(args.inputs):
            raise UsageError("scan a cluster (--kubeconfig or --in-cluster) or files (PATH...), one of the two")
        if (args.apply or args.serve) and not clustered:
            raise UsageError("--apply and --serve need a cluster")
        rest = KubeREST(load_api_client(args.kubeconfig)) if clustered else None
        documents: list[Any] = []
        if clustered:
            policy_set = _policy_set(args.policies)
        else:  # as `celgate test`: policies among the inputs are the set, else --policies, else the shipped ones
            from webhook.commands.test import _policy_set as policies_and_objects
            from webhook.commands.test import _read_all

            policy_set, documents = policies_and_objects(args, _read_all(args.inputs, "input"))
        if args.serve:
            return _serve(args, policy_set, rest, err)
        scan = _scan(args, policy_set, rest, err, documents)
        _render(args, scan, out)
        if args.apply:
            count = apply_reports(rest, scan, args.namespace)
            err.write(f"celgate scan: wrote {count} PolicyReport(s) named celgate-scan\n")
        for problem in scan.skipped:
            err.write(f"celgate scan: skipped {problem}\n")
        return EXIT_VIOLATIONS if violations(scan) and not args.exit_zero else EXIT_CLEAN
    except PolicyLoadError as error:
        err.write(f"celgate scan: policies did not load:\n{error}\n")
    except (UsageError, DocumentError, ClusterConfigError, KubeRESTError, ValueError) as error:
        err.write(f"celgate scan: {error}\n")
    return EXIT_USAGE
