"""``celgate certs``: a CA and a serving certificate for the webhook, plus its caBundle."""

from __future__ import annotations

import argparse
import base64
import sys
from pathlib import Path

import yaml

from webhook.certs import DEFAULT_NAMESPACE, DEFAULT_SERVICE, CertificateError, generate_bundle, write_bundle


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "certs",
        help="generate a CA and a serving certificate; print the caBundle",
        description=(
            "Generate a CA and a serving certificate with SANs for <service>.<namespace>.svc "
            "(and .svc.cluster.local), write ca.crt, ca.key, tls.crt and tls.key (keys 0600) "
            "and print the base64 caBundle for the ValidatingWebhookConfiguration."
        ),
    )
    parser.add_argument("--out", type=Path, default=Path("certs"),
                        help="directory to write the files into (default: %(default)s/, whose generated files git ignores)")
    parser.add_argument("--service", default=DEFAULT_SERVICE, help="Service name (default: %(default)s)")
    parser.add_argument("--namespace", default=DEFAULT_NAMESPACE, help="Service namespace (default: %(default)s)")
    parser.add_argument("--dns", action="append", default=[], help="extra DNS SAN (repeatable)")
    parser.add_argument("--ip", action="append", default=[], help="extra IP SAN, e.g. 127.0.0.1 (repeatable)")
    parser.add_argument("--days", type=int, default=365, help="serving certificate lifetime (default: %(default)s)")
    parser.add_argument(
        "--secret-manifest", action="store_true",
        help="also print a kubernetes.io/tls Secret named <service>-tls for kubectl apply -f -",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.days < 1:
        print("celgate certs: --days must be at least 1", file=sys.stderr)
        return 2
    try:
        bundle = generate_bundle(
            service=args.service, namespace=args.namespace, dns_names=args.dns,
            ip_addresses=args.ip, days=args.days,
        )
        written = write_bundle(bundle, args.out)
    except CertificateError as exc:
        print(f"celgate certs: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"celgate certs: cannot write to {args.out}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    print(f"# wrote {written.ca_cert}, {written.ca_key}, {written.cert}, {written.key}", file=sys.stderr)
    if args.secret_manifest:
        secret = {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "kubernetes.io/tls",
            "metadata": {"name": f"{args.service}-tls", "namespace": args.namespace},
            "data": {
                "tls.crt": base64.b64encode(bundle.cert_pem).decode("ascii"),
                "tls.key": base64.b64encode(bundle.key_pem).decode("ascii"),
                "ca.crt": bundle.ca_bundle,
            },
        }
        sys.stdout.write(yaml.safe_dump(secret, sort_keys=False))
        print("---")
        print(f"# caBundle: {bundle.ca_bundle}")
    else:
        print(bundle.ca_bundle)
    return 0
