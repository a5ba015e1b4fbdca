"""The ``celgate`` command line: one subcommand per module in webhook/commands/.

Each command module exposes ``register(subparsers)``, which adds its parser and binds its
``run(args) -> int`` with ``set_defaults(run=run)``.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from webhook import __version__
from webhook.commands import canary, certs, eval, scan, serve, test, verify

# In the order `celgate --help` lists them.
COMMANDS = (test, eval, serve, certs, scan, canary, verify)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="celgate",
        description="ValidatingAdmissionPolicy semantics as a webhook and an offline CLI.",
    )
    parser.add_argument("--version", action="version", version=f"celgate {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
