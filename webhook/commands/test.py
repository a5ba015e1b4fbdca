"""``celgate test``: admit manifests offline, with the webhook's own evaluation path.

Exit codes: 0 every object allowed (or every suite case passed); 1 an object denied (or a case
failed); 2 a usage error, unreadable or malformed input, or a policy set that does not load.

Which documents are policies: with ``--policies``, the policy set is exactly what it names and
every input document, ValidatingAdmissionPolicies included, is an object to admit. Without it,
ValidatingAdmissionPolicy and ValidatingAdmissionPolicyBinding documents among the inputs are
the policy set (and are not admitted themselves); when the inputs hold none, the shipped
``policies/`` directory is used.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, Sequence, TextIO, cast

from webhook.admission.dry_run import (
    DryRunError,
    DryRunRequest,
    admit_documents,
    cluster_for,
    split_policy_documents,
)
from webhook.admission.manifest import OPERATIONS, user_info
from webhook.commands.options import UsageError, parse_namespace_labels
from webhook.documents import Document, DocumentError, read_documents
from webhook.policy.attributes import Operation
from webhook.policy.loader import PolicyLoadError, PolicySet, load_policy_documents, load_policy_set
from webhook.reporting import FORMATS, text
from webhook.shipped import ENV_VAR as SHIPPED_POLICIES_ENV
from webhook.shipped import shipped_policies_dir
from webhook.suite import SuiteError, load_suite, render_table, run_suite

EXIT_ALLOWED = 0
EXIT_DENIED = 1
EXIT_USAGE = 2

def default_policies_dir() -> Path | None:
    """$CELGATE_POLICIES as given, else the shipped ``policies/`` beside the package, else ./policies."""
    shipped = shipped_policies_dir()
    if os.environ.get(SHIPPED_POLICIES_ENV) or shipped.is_dir():
        return shipped
    cwd = Path.cwd() / "policies"
    return cwd if cwd.is_dir() else None


def register(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "test",
        help="admit manifests offline against ValidatingAdmissionPolicies",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("inputs", nargs="*", metavar="PATH", help="manifest files or directories (recursive); - reads stdin")
    parser.add_argument(
        "--policies", action="append", default=[], metavar="PATH", help="policy and binding files or directories (repeatable)"
    )
    parser.add_argument(
        "--namespace-labels",
        action="append",
        default=[],
        metavar="NAME=k1=v1,k2=v2",
        help="labels of a namespace, for namespaceSelector and namespaceObject (repeatable)",
    )
    parser.add_argument("--params", action="append", default=[], metavar="PATH", help="param objects (repeatable)")
    parser.add_argument("--operation", choices=OPERATIONS, default="CREATE", help="the admission operation (default CREATE)")
    parser.add_argument(
        "--old", action="append", default=[], metavar="PATH", help="old objects for UPDATE, paired by apiVersion/kind/namespace/name"
    )
    parser.add_argument("--user", default="", help="request.userInfo.username")
    parser.add_argument("--group", action="append", default=[], help="request.userInfo.groups (repeatable)")
    parser.add_argument("--output", "-o", choices=tuple(FORMATS), default="text", help="report format (default text)")
    parser.add_argument("--suite", action="append", default=[], metavar="FILE", help="run a test-suite file (repeatable)")
    parser.add_argument("--jobs", "-j", type=_jobs, default=0, metavar="N",
                        help="processes deciding in parallel (default 0: one per core for large inputs; 1: this process only)")
    parser.set_defaults(run=run)
    return parser


def _jobs(text: str) -> int:
    try:
        jobs = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--jobs takes a whole number, not {text!r}") from None
    if jobs < 0:
        raise argparse.ArgumentTypeError("--jobs cannot be negative (0 means one process per core)")
    return jobs


def _read_all(paths: Sequence[str], what: str) -> list[Document]:
    documents: list[Document] = []
    for path in paths:
        try:
            documents.extend(read_documents(path))
        except DocumentError as error:
            raise UsageError(f"{what}: {error}") from error
    return documents


def _policy_set(args: argparse.Namespace, documents: list[Document]) -> tuple[PolicySet, list[Document]]:
    """(the policy set, the documents to admit), by the rule in this module's docstring."""
    if args.policies:
        return load_policy_set(args.policies), documents
    policies, objects = split_policy_documents(documents)
    if policies:
        return load_policy_documents(policies), objects
    shipped = default_policies_dir()
    if shipped is None:
        raise UsageError("no policies: the inputs hold none and no policies/ directory was found; pass --policies PATH")
    return load_policy_set([str(shipped)]), documents


def _run_suites(paths: Sequence[str], stdout: TextIO) -> int:
    failed = False
    for path in paths:
        suite = load_suite(path)
        outcomes = run_suite(suite)
        stdout.write(render_table(suite, outcomes))
        failed = failed or not all(outcome.passed for outcome in outcomes)
    return EXIT_DENIED if failed else EXIT_ALLOWED


def _run_inputs(args: argparse.Namespace, stdout: TextIO) -> int:
    if not args.inputs:
        raise UsageError("give manifest paths (or - for stdin), or --suite FILE")
    namespace_labels = parse_namespace_labels(args.namespace_labels)
    documents = _read_all(args.inputs, "input")
    policy_set, objects = _policy_set(args, documents)
    if not objects:
        raise UsageError(f"no objects to admit in {', '.join(args.inputs)}")
    params = [document.obj for document in _read_all(args.params, "--params")]
    request = DryRunRequest(
        operation=cast(Operation, args.operation),
        user=user_info(args.user, tuple(args.group)),
        old_objects=tuple(_read_all(args.old, "--old")),
    )
    cluster = cluster_for(objects, namespace_labels=namespace_labels, params=params, param_kinds=policy_set.param_kinds())
    results = admit_documents(policy_set, objects, cluster, request, jobs=args.jobs)
    if args.output == "text":
        colour = stdout.isatty() and not os.environ.get("NO_COLOR")
        stdout.write(text.render(results, colour=colour))
    else:
        stdout.write(FORMATS[args.output](results))
    return EXIT_ALLOWED if all(result.decision.allowed for result in results) else EXIT_DENIED


def run(args: argparse.Namespace, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    try:
        if args.suite:
            if args.inputs or args.output != "text":
                raise UsageError("--suite takes no manifest paths and prints a text table only")
            return _run_suites(args.suite, out)
        return _run_inputs(args, out)
    except PolicyLoadError as error:
        err.write(f"celgate test: policies did not load; nothing was evaluated:\n{error}\n")
    except (UsageError, DryRunError, SuiteError) as error:
        err.write(f"celgate test: {error}\n")
    return EXIT_USAGE
