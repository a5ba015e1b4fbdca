"""Errors of the policy layer: a policy set that cannot be loaded, and why."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence


@dataclass(frozen=True)
class LoadProblem:
    """One reason a document was rejected, as ``<file>#<doc> <Kind>/<name>: <field>: <message>``."""

    source: str
    index: int
    kind: str
    name: str
    field: str
    message: str

    def __str__(self) -> str:
        subject = f"{self.kind}/{self.name}" if self.kind else (self.name or "<document>")
        where = f"{self.field}: " if self.field else ""
        return f"{self.source}#{self.index} {subject}: {where}{self.message}"


class PolicyLoadError(Exception):
    """Policies or bindings that kube-apiserver would refuse to create; lists every problem."""

    def __init__(self, problems: Sequence[LoadProblem]) -> None:
        self.problems = tuple(problems)
        count = len(self.problems)
        header = f"{count} problem{'s' if count != 1 else ''} loading policies:"
        super().__init__("\n".join([header, *("  " + _indent(str(p)) for p in self.problems)]))


def _indent(text: str) -> str:
    # Multi-line CEL compiler messages (the caret lines) stay under their problem.
    return text.replace("\n", "\n    ")
