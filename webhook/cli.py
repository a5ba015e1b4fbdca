"""The ``celgate`` command line: one subcommand per module in webhook/commands/.

Each command module exposes ``register(subparsers)``, which adds its parser and binds its
``run(args) -> int`` with ``set_defaults(run=run)``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

from webhook import __version__

# Modules of webhook/commands/, in the order `celgate --help` lists them. A run imports only its
# own command's: each imports what it needs (the cluster client, the server, ...), and that is
# start-up time the other commands should not pay.
COMMANDS = ("test", "eval", "serve", "certs", "scan", "canary", "verify")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole command line, or (``only``) the one command a run names."""
    parser = argparse.ArgumentParser(
        prog="celgate",
        description="ValidatingAdmissionPolicy semantics as a webhook and an offline CLI.",
    )
    parser.add_argument("--version", action="version", version=f"celgate {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        if only is None or name == only:
            importlib.import_module(f"webhook.commands.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(arguments[0] if arguments and arguments[0] in COMMANDS else None)
    args = parser.parse_args(arguments)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
