"""The report for people: one line per object, then what each policy said about it."""

from __future__ import annotations

from typing import Sequence

from webhook.admission.dry_run import ObjectResult, Summary
from webhook.policy.decision import PolicyEvaluation

_RED, _GREEN, _YELLOW, _BOLD, _RESET = "\033[31m", "\033[32m", "\033[33m", "\033[1m", "\033[0m"

# Admitted evaluations, skipped bindings and audit-only results are not news to a reader.
_SHOWN_RESULTS = ("deny", "warn", "error")


def _paint(text: str, colour: str, enabled: bool) -> str:
    return f"{colour}{text}{_RESET}" if enabled else text


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _is_shown(evaluation: PolicyEvaluation) -> bool:
    return evaluation.result in _SHOWN_RESULTS or evaluation.ignored_error


def _evaluation_line(evaluation: PolicyEvaluation) -> str:
    param = f" param={evaluation.param}" if evaluation.param else ""
    # An error failurePolicy Ignore swallowed is recorded as admit; a reader wants to know of it.
    label, ignored = ("error", " (admitted: failurePolicy Ignore)") if evaluation.ignored_error else (evaluation.result, "")
    return f"    {label:<5} policy={evaluation.policy} binding={evaluation.binding}{param}{ignored}: {evaluation.message}"


def _object_lines(result: ObjectResult, colour: bool) -> list[str]:
    verdict = _paint("ALLOWED", _GREEN, colour) if result.decision.allowed else _paint("DENIED ", _RED, colour)
    location = f"{result.document.source}:{result.document.line}"
    lines = [f"{verdict} {_paint(result.display_name, _BOLD, colour)}  ({location}, document {result.document.index})"]
    status = result.status
    if not result.decision.allowed and status is not None:
        lines.append(f"  Error from server ({status.reason}): {status.message}")
    for warning in result.decision.warnings:
        lines.append(_paint(f"  Warning: {warning}", _YELLOW, colour))
    lines.extend(_evaluation_line(e) for e in result.decision.evaluations if _is_shown(e))
    return lines


def summary_line(summary: Summary) -> str:
    return (
        f"{_plural(summary.objects, 'object')}: {summary.allowed} allowed, {summary.denied} denied, "
        f"{_plural(summary.warnings, 'warning')}, {_plural(summary.errors, 'error')}"
    )


def render(results: Sequence[ObjectResult], *, colour: bool = False) -> str:
    lines = [line for result in results for line in _object_lines(result, colour)]
    lines.append(summary_line(Summary.of(results)))
    return "\n".join(lines) + "\n"
