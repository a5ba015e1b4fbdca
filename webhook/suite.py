"""``celgate test --suite``: a YAML file of cases, each a request and the verdict expected for it.

A suite names its policies, namespaces and params once; each case names one resource (inline
or from a file), the operation, user and old object, and what should happen: allowed or
denied, a substring of the denial message, substrings of the warnings. Cases run on the same
path ``celgate test`` and the webhook use (webhook.admission.dry_run). The format is documented
in docs/celgate-test.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence, cast


from webhook.admission.dry_run import (
    DryRunError,
    DryRunRequest,
    ObjectResult,
    admit_documents,
    cluster_for,
)
from webhook.admission.manifest import OPERATIONS, user_info
from webhook.documents import Document, DocumentError, parse_documents, read_documents, read_manifest_text
from webhook.policy.attributes import Operation
from webhook.policy.loader import load_policy_set

SUITE_KEYS = frozenset({"name", "policies", "namespaces", "params", "cases"})
CASE_KEYS = frozenset(
    {"name", "resource", "file", "document", "operation", "oldResource", "oldFile", "user", "groups",
     "expect", "message", "warnings"}
)
EXPECTATIONS = ("allowed", "denied")


class SuiteError(ValueError):
    """A suite file is malformed; the message names the file and the case."""


@dataclass(frozen=True)
class SuiteCase:
    name: str
    document: Document
    request: DryRunRequest
    expect_allowed: bool
    # A substring the denial message must contain (denied cases only).
    message: str | None
    # Substrings each of which some warning must contain; () demands no warnings; None: unchecked.
    warnings: tuple[str, ...] | None


@dataclass(frozen=True)
class Suite:
    path: Path
    name: str
    policy_paths: tuple[Path, ...]
    namespace_labels: dict[str, dict[str, str]]
    params: tuple[dict[str, Any], ...]
    cases: tuple[SuiteCase, ...]


@dataclass(frozen=True)
class CaseOutcome:
    case: SuiteCase
    result: ObjectResult
    # Why the case failed, one line per broken expectation; empty when it passed.
    problems: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return not self.problems


def _mapping(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise SuiteError(f"{what} must be a mapping, not {type(value).__name__}")
    return value


def _string_list(value: Any, what: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise SuiteError(f"{what} must be a list of strings")
    return value


def _unknown_keys(mapping: Mapping[str, Any], allowed: frozenset[str], what: str) -> None:
    unknown = sorted(set(mapping) - allowed)
    if unknown:
        raise SuiteError(f"{what}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}")


def _read(path: Path, what: str) -> list[Document]:
    try:
        return read_documents(str(path))
    except DocumentError as error:
        raise SuiteError(f"{what}: {error}") from error


def _single_document(
    base: Path, spec: Mapping[str, Any], inline_key: str, file_key: str, what: str, index_key: str | None = None
) -> Document | None:
    """The one document a case names inline or by file (``index_key`` picks from a multi-document file)."""
    if inline_key in spec and file_key in spec:
        raise SuiteError(f"{what}: give {inline_key} or {file_key}, not both")
    if inline_key in spec:
        obj = _mapping(spec[inline_key], f"{what}: {inline_key}")
        return Document(source=f"{base.name}:{what}", index=0, line=1, obj=dict(obj))
    if file_key not in spec:
        return None
    documents = _read(base.parent / str(spec[file_key]), f"{what}: {file_key}")
    index = spec.get(index_key, 0) if index_key else 0
    if len(documents) > 1 and (index_key is None or index_key not in spec):
        pick = f"pick one with {index_key}: N" if index_key else "give a file with one document"
        raise SuiteError(f"{what}: {spec[file_key]} holds {len(documents)} documents; {pick}")
    if not isinstance(index, int) or not 0 <= index < len(documents):
        raise SuiteError(f"{what}: document {index!r} is not in {spec[file_key]} ({len(documents)} documents)")
    return documents[index]


def _case(base: Path, raw: Any, position: int) -> SuiteCase:
    spec = _mapping(raw, f"case {position}")
    name = str(spec.get("name") or f"case {position}")
    what = f"case {name!r}"
    _unknown_keys(spec, CASE_KEYS, what)
    document = _single_document(base, spec, "resource", "file", what, index_key="document")
    if document is None:
        raise SuiteError(f"{what}: needs resource (inline) or file")
    old = _single_document(base, spec, "oldResource", "oldFile", what)
    operation = spec.get("operation", "CREATE")
    if operation not in OPERATIONS:
        raise SuiteError(f"{what}: operation must be one of {', '.join(OPERATIONS)}, not {operation!r}")
    expect = spec.get("expect")
    if expect not in EXPECTATIONS:
        raise SuiteError(f"{what}: expect must be allowed or denied, not {expect!r}")
    message = spec.get("message")
    if message is not None and expect != "denied":
        raise SuiteError(f"{what}: message is checked against a denial; it needs expect: denied")
    warnings = spec.get("warnings")
    groups = _string_list(spec.get("groups", []), f"{what}: groups")
    request = DryRunRequest(
        operation=cast(Operation, operation),
        user=user_info(str(spec.get("user") or ""), tuple(groups)),
        old_objects=(old,) if old is not None else (),
    )
    return SuiteCase(
        name=name,
        document=document,
        request=request,
        expect_allowed=expect == "allowed",
        message=None if message is None else str(message),
        warnings=None if warnings is None else tuple(_string_list(warnings, f"{what}: warnings")),
    )


def _namespaces(raw: Any) -> dict[str, dict[str, str]]:
    namespaces: dict[str, dict[str, str]] = {}
    for position, entry in enumerate(raw or []):
        spec = _mapping(entry, f"namespaces[{position}]")
        _unknown_keys(spec, frozenset({"name", "labels"}), f"namespaces[{position}]")
        if not spec.get("name"):
            raise SuiteError(f"namespaces[{position}] needs a name")
        labels = _mapping(spec.get("labels") or {}, f"namespaces[{position}].labels")
        namespaces[str(spec["name"])] = {str(key): str(value) for key, value in labels.items()}
    return namespaces


def _params(base: Path, raw: Any) -> tuple[dict[str, Any], ...]:
    params: list[dict[str, Any]] = []
    for position, entry in enumerate(raw or []):
        if isinstance(entry, str):
            params.extend(document.obj for document in _read(base.parent / entry, f"params[{position}]"))
        else:
            params.append(dict(_mapping(entry, f"params[{position}]")))
    return tuple(params)


def load_suite(path: str | Path) -> Suite:
    """Parse a suite file; relative paths in it are relative to the file."""
    suite_path = Path(path)
    try:
        documents = parse_documents(read_manifest_text(suite_path), str(suite_path))
    except DocumentError as error:
        if error.index == 0 and error.line == 0:  # the file itself: missing, unreadable, too large
            raise SuiteError(f"{suite_path}: cannot read: {error.message}") from error
        raise SuiteError(f"{error}") from error
    if len(documents) > 1:
        raise SuiteError(f"{suite_path}: a suite is one YAML document, found {len(documents)}")
    raw = documents[0].obj if documents else None
    try:
        spec = _mapping(raw, "a suite")
        _unknown_keys(spec, SUITE_KEYS, "suite")
        policies = _string_list(spec.get("policies"), "policies")
        cases = spec.get("cases")
        if not isinstance(cases, list) or not cases:
            raise SuiteError("cases must be a non-empty list")
        return Suite(
            path=suite_path,
            name=str(spec.get("name") or suite_path.stem),
            policy_paths=tuple(suite_path.parent / policy for policy in policies),
            namespace_labels=_namespaces(spec.get("namespaces")),
            params=_params(suite_path, spec.get("params")),
            cases=tuple(_case(suite_path, case, position) for position, case in enumerate(cases)),
        )
    except SuiteError as error:
        raise SuiteError(f"{suite_path}: {error}") from error


def _problems(case: SuiteCase, result: ObjectResult) -> tuple[str, ...]:
    decision = result.decision
    status_message = result.status.message if result.status else ""
    problems: list[str] = []
    if decision.allowed != case.expect_allowed:
        got = "allowed" if decision.allowed else f"denied: {status_message}"
        problems.append(f"expected {'allowed' if case.expect_allowed else 'denied'}, got {got}")
    elif case.message is not None and case.message not in status_message:
        problems.append(f"denial message {status_message!r} does not contain {case.message!r}")
    if case.warnings is not None:
        if not case.warnings and decision.warnings:
            problems.append(f"expected no warnings, got {list(decision.warnings)}")
        for expected in case.warnings:
            if not any(expected in warning for warning in decision.warnings):
                problems.append(f"no warning contains {expected!r}; warnings: {list(decision.warnings)}")
    return tuple(problems)


def run_suite(suite: Suite) -> list[CaseOutcome]:
    """Load the suite's policies (PolicyLoadError propagates) and evaluate every case."""
    policies = load_policy_set([str(path) for path in suite.policy_paths])
    outcomes: list[CaseOutcome] = []
    for case in suite.cases:
        documents = [case.document]
        try:
            cluster = cluster_for(
                documents, namespace_labels=suite.namespace_labels, params=suite.params, param_kinds=policies.param_kinds()
            )
            [result] = admit_documents(policies, documents, cluster, case.request)
        except DryRunError as error:
            raise SuiteError(f"{suite.path}: case {case.name!r}: {error}") from error
        outcomes.append(CaseOutcome(case, result, _problems(case, result)))
    return outcomes


def render_table(suite: Suite, outcomes: Sequence[CaseOutcome]) -> str:
    """The pass/fail table: one row per case, the reasons under each failed one."""
    width = max(len(outcome.case.name) for outcome in outcomes)
    lines = [f"{suite.name} ({suite.path})", f"  {'RESULT':<6}  {'CASE':<{width}}  GOT"]
    for outcome in outcomes:
        got = "allowed" if outcome.result.decision.allowed else "denied"
        lines.append(f"  {'PASS' if outcome.passed else 'FAIL':<6}  {outcome.case.name:<{width}}  {got}")
        lines.extend(f"          {problem}" for problem in outcome.problems)
    passed = sum(1 for outcome in outcomes if outcome.passed)
    lines.append(f"  {len(outcomes)} cases: {passed} passed, {len(outcomes) - passed} failed")
    return "\n".join(lines) + "\n"
