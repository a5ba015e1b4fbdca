"""``celgate eval``: evaluate one CEL expression (or a batch) in the ValidatingAdmissionPolicy environment.

    celgate eval 'object.spec.replicas > 1' --object deploy.yaml
    celgate eval 'variables.limit * 2' --var limit=5
    celgate eval --batch cases.jsonl        # {"expr": "...", "vars": {"object": {...}}} per line

The result prints as JSON. Values JSON cannot hold print as their CEL string form: Quantity
``"1Gi"``, IP/CIDR/URL text, a type as its name, a duration as cel-go's ``string()`` gives it
(``"5400s"``), a timestamp in RFC 3339, bytes base64, non-finite doubles as ``"+Inf"``,
``"-Inf"``, ``"NaN"``. An optional
result prints its inner value, or ``optional.none()``; in batch mode as
``{"value": ..., "optional": "some"}`` / ``{"optional": "none"}``.

``authorizer`` (when the authz library is installed) answers every check with NoOpinion, as
RBAC does for a user without bindings; the user is ``request.userInfo`` (else anonymous), and
``authorizer.requestResource`` is bound when ``request.resource`` is given.

Exit codes: 0 result printed; 2 compile error or unusable input; 3 runtime or cost error.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, TextIO

from webhook.cel import PER_CALL_LIMIT, CelCompileError, CelCostError, CelEnvironment, CelEvaluationError, CostBudget
from webhook.cel import runtime_cost
from webhook.cel.runtime_cost import ITERATION_CAP
from webhook.cel.library import authz
from webhook.cel.library.authorization import RequestResource, RuleAuthorizer, UserInfo
from webhook.cel.string_format import go_float_g, to_cel_string
from webhook.cel.values import from_cel, to_cel, to_json
from webhook.documents import DocumentError, DocumentLimitError, read_documents
from webhook.policy.compiler import environment as vap_environment

EXIT_OK = 0
EXIT_INPUT = 2
EXIT_RUNTIME = 3

# The variables kube-apiserver declares for ValidatingAdmissionPolicy validations (all dyn).
OBJECT_VARIABLES = ("object", "oldObject", "request", "params", "namespaceObject")
_FILE_OPTIONS = {
    "object": "object",
    "old_object": "oldObject",
    "params": "params",
    "namespace_object": "namespaceObject",
    "request": "request",
}
_OPTIONAL_RESULT = "__celgate_result"
# What the core reports for a result value it cannot render (an optional typed dyn).
_UNRENDERABLE = "evaluation error"


def authorizer_bindings(request: Any) -> dict[str, Any]:
    """``authorizer`` (and ``authorizer.requestResource``) for an offline evaluation: no permissions."""
    request = request if isinstance(request, dict) else {}
    user_info = request.get("userInfo")
    if isinstance(user_info, dict) and isinstance(user_info.get("username"), str):
        user = UserInfo.from_json(user_info)
    else:
        user = UserInfo("system:anonymous", ("system:unauthenticated",))
    resource = None
    gvr = request.get("resource")
    if isinstance(gvr, dict) and isinstance(gvr.get("resource"), str):
        resource = RequestResource(
            group=str(gvr.get("group", "")), version=str(gvr.get("version", "")),
            resource=gvr["resource"], subresource=str(request.get("subResource", "")),
            namespace=str(request.get("namespace", "")), name=str(request.get("name", "")),
        )
    return authz.authorizer_activation(_no_permissions(RuleAuthorizer), user, resource)


@lru_cache(maxsize=1)
def _no_permissions(factory: Any) -> Any:
    # authz keeps authorizers by weak reference: this one must outlive each evaluation.
    return factory()


def environment() -> CelEnvironment:
    """The environment policies compile in (with ``params``), so eval answers as a policy would."""
    return vap_environment(with_params=True)


class InputError(Exception):
    """A file, ``--var`` or batch line that cannot be used; exit code 2 / kind ``input``."""


@dataclass(frozen=True)
class Outcome:
    """What one evaluation produced: a JSON value, or an error of some kind."""

    value: Any = None
    error: str | None = None
    kind: str | None = None  # compile | runtime | cost | input
    optional: str | None = None  # some | none, when the expression's type is optional

    def as_batch_line(self) -> dict[str, Any]:
        if self.error is not None:
            return {"error": self.error, "kind": self.kind}
        if self.optional == "none":
            return {"optional": "none"}
        if self.optional == "some":
            return {"value": self.value, "optional": "some"}
        return {"value": self.value}


def json_value(value: Any) -> Any:
    """A plain CEL result as JSON data (see the module docstring for the string forms)."""
    if isinstance(value, float) and not math.isfinite(value):
        return go_float_g(value)
    if isinstance(value, (datetime.timedelta, datetime.datetime)):
        return to_cel_string(value)  # what string(x) gives in cel-go: "3660s", RFC 3339
    if isinstance(value, list):
        return [json_value(item) for item in value]
    if isinstance(value, dict):
        return {_json_key(key): json_value(item) for key, item in value.items()}
    return to_json(value)


def _json_key(key: Any) -> str:
    # JSON keys are strings: CEL's int, uint and bool keys print as their JSON text (1, true).
    if isinstance(key, str):
        return key
    plain = to_json(key)
    return plain if isinstance(plain, str) else json.dumps(plain)


def evaluate(env: CelEnvironment, expression: str, bindings: dict[str, Any]) -> Outcome:
    """Compile and evaluate ``expression`` with JSON ``bindings`` (missing variables are null)."""
    try:
        compiled = env.compile(expression)
    except CelCompileError as exc:
        return Outcome(error=exc.message, kind="compile")
    activation: dict[str, Any] = {name: None for name in OBJECT_VARIABLES}
    activation["variables"] = {}
    activation.update({name: to_cel(value) for name, value in bindings.items()})
    activation.update(authorizer_bindings(bindings.get("request")))
    if compiled.output_type.startswith("optional_type"):
        return _evaluate_optional(env, expression, activation)
    try:
        return Outcome(value=json_value(compiled.evaluate(activation, budget=CostBudget())))
    except CelCostError as exc:
        # an upper bound exceeded the limit: cel-go charges as the program actually runs
        return _exactly(env, compiled, activation) or Outcome(error=exc.message, kind="cost")
    except CelEvaluationError as exc:
        if compiled.output_type == "DYN" and exc.message == _UNRENDERABLE:
            # An optional typed dyn (compat.py D11, e.g. `object.list[?0]`) reads as an error.
            retried = _evaluate_optional(env, expression, activation)
            if retried.error is None:
                return retried
        return Outcome(error=exc.message, kind="runtime")
    except (TypeError, RuntimeError) as exc:
        if ITERATION_CAP in str(exc):  # cel-cpp's own cap, which cel-go does not have
            exact = _exactly(env, compiled, activation)
            if exact is not None:
                return exact
        return _unrepresentable(exc)


def _exactly(env: CelEnvironment, compiled: Any, activation: dict[str, Any]) -> Outcome | None:
    """The outcome by cel-go's exact runtime cost (webhook/cel/runtime_cost.py), or None where
    that evaluator cannot decide."""
    if compiled.ast is None:
        return None
    try:
        value, _ = runtime_cost.evaluate(compiled.ast, env.calls(), activation, PER_CALL_LIMIT)
    except runtime_cost.CostLimitExceeded:
        return Outcome(error=runtime_cost.COST_LIMIT_EXCEEDED, kind="cost")
    except runtime_cost.Unsupported:
        return None
    if isinstance(value, runtime_cost.Error):
        return Outcome(error=value.message, kind="runtime")
    if isinstance(value, runtime_cost.Optional):
        return Outcome(value=json_value(value.value), optional="some") if value.present else Outcome(optional="none")
    if isinstance(value, runtime_cost.TypeValue):
        return Outcome(value=value.name)
    return Outcome(value=json_value(value))


def _evaluate_optional(env: CelEnvironment, expression: str, activation: dict[str, Any]) -> Outcome:
    # cel-expr-python cannot hand an optional back to Python: unwrap it inside CEL (bound by a
    # one-element map, not cel.bind: compat.py D30). The newlines keep a trailing
    # `// comment` in the expression from swallowing the wrapper.
    try:
        wrapped = env.compile(
            f"[(\n{expression}\n)].map({_OPTIONAL_RESULT}, {_OPTIONAL_RESULT}.hasValue()"
            f" ? [{_OPTIONAL_RESULT}.value()] : [])[0]",
            internal=True,
        )
        result = wrapped.evaluate(activation, budget=CostBudget())
    except CelCompileError as exc:
        return Outcome(error=exc.message, kind="compile")
    except CelCostError as exc:
        return Outcome(error=exc.message, kind="cost")
    except CelEvaluationError as exc:
        return Outcome(error=exc.message, kind="runtime")
    except (TypeError, RuntimeError) as exc:
        return _unrepresentable(exc)
    if not result:
        return Outcome(optional="none")
    return Outcome(value=json_value(from_cel(result[0])), optional="some")


def _unrepresentable(exc: Exception) -> Outcome:
    detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return Outcome(error=f"the result cannot be represented outside CEL: {detail}", kind="runtime")


def _load_object(option: str, path: str) -> Any:
    try:
        documents = read_documents(path)
    except DocumentError as exc:
        where = f" (document {exc.index}, line {exc.line})" if isinstance(exc, DocumentLimitError) and exc.line else ""
        raise InputError(f"{option} {path}: {exc.message}{where}") from None
    if len(documents) != 1:
        raise InputError(f"{option} {path}: expected exactly one object, found {len(documents)}")
    return documents[0].obj


def _parse_var(spec: str) -> tuple[str, Any]:
    name, sep, text = spec.partition("=")
    if not sep or not name.isidentifier():
        raise InputError(f"--var {spec!r}: expected NAME=JSON, e.g. --var limit=5")
    try:
        return name, json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"--var {name}: value is not JSON ({exc.msg}); quote strings: --var {name}='\"text\"'") from None


def bindings_from_args(args: argparse.Namespace) -> dict[str, Any]:
    bindings: dict[str, Any] = {}
    for option, variable in _FILE_OPTIONS.items():
        path = getattr(args, option)
        if path is not None:
            bindings[variable] = _load_object("--" + option.replace("_", "-"), path)
    if args.var:
        bindings["variables"] = dict(_parse_var(spec) for spec in args.var)
    return bindings


def _batch_bindings(line: str) -> tuple[str, dict[str, Any]]:
    try:
        case = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InputError(f"line is not JSON: {exc.msg} at column {exc.colno}") from None
    if not isinstance(case, dict) or not isinstance(case.get("expr"), str):
        raise InputError('expected an object with a string "expr"')
    bindings = case.get("vars", {})
    if not isinstance(bindings, dict):
        raise InputError('"vars" must be an object')
    unknown = sorted(set(bindings) - set(OBJECT_VARIABLES) - {"variables"})
    if unknown:
        raise InputError(f"unknown variable(s) {', '.join(unknown)}; declared: "
                         f"{', '.join(OBJECT_VARIABLES)}, variables")
    if "variables" in bindings and not isinstance(bindings["variables"], dict):
        raise InputError('"vars.variables" must be an object')
    return case["expr"], bindings


def run_batch(env: CelEnvironment, lines: Iterable[str], out: TextIO) -> None:
    """One output line per non-blank input line, in order; bad lines become ``input`` errors."""
    for line in lines:
        if not line.strip():
            continue
        try:
            expression, bindings = _batch_bindings(line)
            outcome = evaluate(env, expression, bindings)
        except InputError as exc:
            outcome = Outcome(error=str(exc), kind="input")
        out.write(json.dumps(outcome.as_batch_line(), ensure_ascii=False) + "\n")
        out.flush()


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "eval",
        help="evaluate a CEL expression in the ValidatingAdmissionPolicy environment",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("expression", nargs="?", help="the CEL expression (omit with --batch)")
    parser.add_argument("--object", metavar="FILE", help="YAML/JSON bound to `object`")
    parser.add_argument("--old-object", metavar="FILE", help="YAML/JSON bound to `oldObject`")
    parser.add_argument("--params", metavar="FILE", help="YAML/JSON bound to `params`")
    parser.add_argument("--namespace-object", metavar="FILE", help="YAML/JSON bound to `namespaceObject`")
    parser.add_argument("--request", metavar="FILE", help="YAML/JSON bound to `request`")
    parser.add_argument("--var", action="append", metavar="NAME=JSON",
                        help="bind variables.NAME to a JSON value (repeatable)")
    parser.add_argument("--batch", metavar="FILE",
                        help='JSON lines {"expr": ..., "vars": {...}} from FILE ("-" for stdin)')
    parser.set_defaults(run=run)


def _fail(message: str, code: int) -> int:
    print(f"celgate eval: {message}", file=sys.stderr)
    return code


def run(args: argparse.Namespace) -> int:
    if args.batch is not None:
        if args.expression is not None:
            return _fail("give either an expression or --batch, not both", EXIT_INPUT)
        try:
            if args.batch == "-":
                run_batch(environment(), sys.stdin, sys.stdout)
            else:
                with Path(args.batch).open(encoding="utf-8") as lines:
                    run_batch(environment(), lines, sys.stdout)
        except (OSError, UnicodeDecodeError) as exc:
            return _fail(f"--batch {args.batch}: cannot read: {exc}", EXIT_INPUT)
        return EXIT_OK
    if args.expression is None:
        return _fail("missing EXPRESSION (or --batch FILE)", EXIT_INPUT)
    try:
        bindings = bindings_from_args(args)
    except InputError as exc:
        return _fail(str(exc), EXIT_INPUT)
    outcome = evaluate(environment(), args.expression, bindings)
    if outcome.kind == "compile":
        return _fail(_compile_summary(outcome.error or ""), EXIT_INPUT)
    if outcome.error is not None:
        return _fail(f"{outcome.kind} error: {outcome.error}", EXIT_RUNTIME)
    if outcome.optional == "none":
        print("optional.none()")
    else:
        print(json.dumps(outcome.value, ensure_ascii=False))
    return EXIT_OK


def _compile_summary(message: str) -> str:
    """The first compile error, on one line (cel-go's ``ERROR: <input>:1:5: ...``)."""
    first = message.splitlines()[0] if message else "compile error"
    return f"compile error: {first}"
