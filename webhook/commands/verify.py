"""``celgate verify``: the checklist to run after installing celgate.

Webhook configuration present, pointing at a Service with ready endpoints (or at a URL);
caBundle validates the serving certificate, which is not about to expire; failurePolicy,
timeoutSeconds, namespace exclusions and sideEffects sane; policies loaded with one
generation across replicas; namespaces without any Pod Security label listed; the canary
passes; the policy bindings celgate enforces listed. One ✓/✗ line per check; exit 1 on any ✗,
2 when the cluster cannot be reached.
"""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from webhook.commands.canary import add_arguments, canary_from_args


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("verify", help="the post-install checklist: configuration, certificate, replicas, canary",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    parser.add_argument("--webhook-config", default="celgate", help="ValidatingWebhookConfiguration name (default: %(default)s)")
    parser.add_argument("--tls-secret", default="celgate-tls",
                        help="Secret with the serving certificate, in the Service's namespace (default: %(default)s)")
    parser.add_argument("--allow-fail-open", action="store_true", help="accept failurePolicy Ignore")
    parser.add_argument("--min-certificate-days", type=float, default=14.0,
                        help="✗ when the serving certificate expires sooner (default: %(default)s)")
    parser.add_argument("--no-canary", action="store_true", help="skip the canary")
    parser.add_argument("--quiet", "-q", action="store_true", help="no detail lines under the checks")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    out, err = stdout or sys.stdout, stderr or sys.stderr
    from webhook.cluster import ClusterConfigError, load_api_client
    from webhook.kube_rest import KubeREST, KubeRESTError
    from webhook.verification import VerifyOptions, verify

    try:
        rest = KubeREST(load_api_client(args.kubeconfig))
        options = VerifyOptions(webhook_config=args.webhook_config, tls_secret=args.tls_secret,
                                allow_fail_open=args.allow_fail_open, min_certificate_days=args.min_certificate_days,
                                canary=None if args.no_canary else (lambda: canary_from_args(args)))
        checks = verify(rest, options)
    except (ClusterConfigError, KubeRESTError, OSError) as error:
        err.write(f"celgate verify: {error}\n")
        return 2
    for check in checks:
        out.write(f"{'✓' if check.ok else '✗'} {check.line}\n")
        if not args.quiet:
            for detail in check.details:
                out.write(f"    {detail}\n")
    failed = sum(1 for c in checks if not c.ok)
    out.write(f"{len(checks) - failed} passed, {failed} failed\n")
    return 1 if failed else 0
