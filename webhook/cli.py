"""The ``celgate`` command line: one subcommand per module in webhook/commands/.

Each command module exposes ``register(subparsers)`` (adding its parser) and ``run(args) -> int``.
Modules are optional so the CLI keeps working while commands are added; a command whose module
exists but fails to import is still listed, and running it reports the import error instead of
breaking every other command.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from types import ModuleType
from typing import Sequence

from webhook import __version__

# In the order `celgate --help` lists them.
COMMAND_MODULES = ("test", "eval", "serve", "certs")


class _BrokenCommand:
    """Stands in for a command module that exists but cannot be imported."""

    def __init__(self, name: str, error: ImportError) -> None:
        self.name = name
        self.error = error

    def register(self, subparsers: argparse._SubParsersAction) -> None:
        parser = subparsers.add_parser(self.name, help=f"(unavailable: {self.error})", add_help=False)
        parser.add_argument("ignored", nargs=argparse.REMAINDER)

    def run(self, args: argparse.Namespace) -> int:
        print(f"celgate {self.name}: unavailable in this installation: {self.error}", file=sys.stderr)
        return 1


def _load_commands() -> list[ModuleType | _BrokenCommand]:
    modules: list[ModuleType | _BrokenCommand] = []
    for name in COMMAND_MODULES:
        qualified = f"webhook.commands.{name}"
        try:
            modules.append(importlib.import_module(qualified))
        except ModuleNotFoundError as exc:
            if exc.name != qualified:
                modules.append(_BrokenCommand(name, exc))
        except ImportError as exc:
            modules.append(_BrokenCommand(name, exc))
    return modules


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, ModuleType | _BrokenCommand]]:
    """The top-level parser and, for each subcommand name, the module that runs it."""
    parser = argparse.ArgumentParser(
        prog="celgate",
        description="ValidatingAdmissionPolicy semantics as a webhook and an offline CLI.",
    )
    parser.add_argument("--version", action="version", version=f"celgate {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    owners: dict[str, ModuleType | _BrokenCommand] = {}
    for module in _load_commands():
        before = set(subparsers.choices)
        module.register(subparsers)
        for name in set(subparsers.choices) - before:
            owners[name] = module
    return parser, owners


def main(argv: Sequence[str] | None = None) -> int:
    parser, owners = build_parser()
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    # Some modules bind their handler with set_defaults(run=...); the module's run is the default.
    handler = getattr(args, "run", None) or owners[args.command].run
    return int(handler(args))


if __name__ == "__main__":
    sys.exit(main())
