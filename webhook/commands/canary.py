"""``celgate canary``: a Kuberhealthy-style enforcement check (manifests/canary/).

Submits a known-bad (privileged) and a known-good (restricted) Pod with dryRun=All in a
labelled namespace and checks that celgate's webhook denies the first with the expected
message and the API server admits the second. Exit 0 when both hold, 1 otherwise, 2 on a usage
or connection error. The result is exported as ``celgate_canary_success`` (1/0) and
``celgate_canary_last_success_timestamp_seconds``: pushed to a Pushgateway (``--pushgateway``),
written for node-exporter's textfile collector (``--textfile``), and reported to Kuberhealthy
when ``KH_REPORTING_URL`` is set (as a KuberhealthyCheck runs it).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any, TextIO

from webhook.canary import DEFAULT_EXPECTED, DEFAULT_NAMESPACE, DEFAULT_WEBHOOK, CanaryResult


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("canary", help="prove celgate enforces: a bad Pod denied, a good one admitted (dryRun)",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    parser.add_argument("--pushgateway", metavar="URL", help="push the result to this Prometheus Pushgateway")
    parser.add_argument("--textfile", type=Path, metavar="FILE", help="write the result in the Prometheus text format")
    parser.set_defaults(run=run)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kubeconfig", help="the cluster (default: in-cluster service account)")
    parser.add_argument("--in-cluster", action="store_true", help="use the in-cluster service account")
    parser.add_argument("--canary-namespace", default=DEFAULT_NAMESPACE, help="namespace (default: %(default)s)")
    parser.add_argument("--canary-namespace-label", action="append", default=[], metavar="KEY=VALUE",
                        help="extra label for the canary namespace (repeatable), e.g. what the webhook's namespaceSelector needs")
    parser.add_argument("--no-create-namespace", action="store_true", help="the namespace exists; do not create or label it")
    parser.add_argument("--webhook", default=DEFAULT_WEBHOOK, help="the webhook name that must deny (default: %(default)s)")
    parser.add_argument("--expect-message", default=DEFAULT_EXPECTED, help="text the denial must contain (default: %(default)s)")


def _labels(values: list[str]) -> dict[str, str]:
    labels = {}
    for value in values:
        key, equals, label = value.partition("=")
        if not key or not equals:
            raise ValueError(f"--canary-namespace-label {value!r}: expected KEY=VALUE")
        labels[key] = label
    return labels


def canary_from_args(args: argparse.Namespace) -> CanaryResult:
    from webhook.canary import run_canary
    from webhook.cluster import load_api_client
    from webhook.kube_rest import KubeREST

    rest = KubeREST(load_api_client(args.kubeconfig))
    return run_canary(rest, namespace=args.canary_namespace, webhook=args.webhook, expected=args.expect_message,
                      labels=_labels(args.canary_namespace_label), create_namespace=not args.no_create_namespace)


def _export(result: CanaryResult, args: argparse.Namespace) -> None:
    from prometheus_client import CollectorRegistry, Gauge, pushadd_to_gateway, write_to_textfile

    registry = CollectorRegistry()
    now = time.time()
    Gauge("celgate_canary_success", "1 if the last canary run passed, else 0.", registry=registry).set(1 if result.ok else 0)
    Gauge("celgate_canary_last_run_timestamp_seconds", "When the canary last ran.", registry=registry).set(now)
    if result.ok:  # pushadd keeps the previous last-success time when this run failed
        Gauge("celgate_canary_last_success_timestamp_seconds", "When the canary last passed.", registry=registry).set(now)
    if args.pushgateway:
        pushadd_to_gateway(args.pushgateway, job="celgate-canary", registry=registry)
    if args.textfile:
        write_to_textfile(str(args.textfile), registry)
    kuberhealthy = os.environ.get("KH_REPORTING_URL")
    if kuberhealthy:
        body = json.dumps({"OK": result.ok, "Errors": result.errors}).encode()
        request = urllib.request.Request(kuberhealthy, data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10):
            pass


def print_lines(result: CanaryResult, out: TextIO) -> None:
    for ok, line in result.lines:
        out.write(f"{'✓' if ok else '✗'} {line}\n")


def run(args: argparse.Namespace, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    out, err = stdout or sys.stdout, stderr or sys.stderr
    from webhook.cluster import ClusterConfigError
    from webhook.kube_rest import KubeRESTError

    try:
        result = canary_from_args(args)
    except (ClusterConfigError, KubeRESTError, ValueError, OSError) as error:
        err.write(f"celgate canary: {error}\n")
        result = CanaryResult(ok=False, lines=[(False, str(error))])
        _safe_export(result, args, err)
        return 2
    print_lines(result, out)
    _safe_export(result, args, err)
    return 0 if result.ok else 1


def _safe_export(result: CanaryResult, args: Any, err: TextIO) -> None:
    try:
        _export(result, args)
    except OSError as error:
        err.write(f"celgate canary: could not export the result: {error}\n")
