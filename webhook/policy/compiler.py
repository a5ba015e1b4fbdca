"""Compiling a policy's CEL: every expression checked as kube-apiserver checks it on create.

Two environments, as upstream: ``params`` is declared only for policies with a paramKind
(k8s.io/apiserver/pkg/admission/plugin/cel/compile.go, OptionalVariableDeclarations), so
``params.x`` in a policy without one is a compile error. Expressions that read
``variables.<name>`` are composed with their variables (see composition.py). Both keep their
compile outcomes on disk (webhook/cel/compile_cache.py), so a restart recompiles nothing.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import re
import threading
from dataclasses import dataclass, field
from typing import Iterable, Iterator

from cel_expr_python import cel

from webhook.cel import CelCompileError, CelEnvironment, CompiledExpression
from webhook.cel.environment import TypeCheck
from webhook.cel.ast import Comprehension
from webhook.cel.compile_cache import CompileCache, default_directory
from webhook.cel.library.authz import AUTHORIZER_VARIABLES
from webhook.cel.string_format import go_quote  # field.Invalid prints values with Go's %q
from webhook.policy import composition, plan
from webhook.policy.declarations import undefined_fields
from webhook.policy.model import Policy

_BASE_VARIABLES = ("object", "oldObject", "request", "namespaceObject", "variables")
_envs: dict[bool, CelEnvironment] = {}
_envs_lock = threading.Lock()


_stores: list[CompileCache] = []


def _store() -> CompileCache:
    """The on-disk store of compile outcomes (compile_cache.py), one per process."""
    if not _stores:
        _stores.append(CompileCache(default_directory()))
    return _stores[0]


def environment(with_params: bool) -> CelEnvironment:
    """The (shared) VAP environment, with or without ``params``."""
    with _envs_lock:
        env = _envs.get(with_params)
        if env is None:
            names = _BASE_VARIABLES + (("params",) if with_params else ())
            variables: dict[str, cel.Type] = {name: cel.Type.DYN for name in names}
            variables.update(AUTHORIZER_VARIABLES)
            env = _envs[with_params] = CelEnvironment(variables, store=_store())
        return env


@dataclass(frozen=True)
class PolicyExpression:
    """An expression as written (``source``), checked and compiled on its own (``direct``, with
    ``variables`` a map), and the variables it reads, transitively, in declaration order.

    ``program`` runs the expression by itself with its variables inlined (composition.inline),
    compiled on first use: only the last of validator.py's paths needs it (plan.py runs whole
    filters, exact.py evaluates the AST). It is ``direct`` for an expression without variables,
    and None where inlining is not possible (cel-cpp's parser depth, or a comprehension variable
    of the expression that would capture a name an inlined definition reads).
    """

    source: str
    direct: CompiledExpression
    dependencies: tuple[str, ...] = ()
    name: str = ""  # the variable's name, for spec.variables
    inlined: str | None = field(default=None, compare=False, repr=False)  # the text to compile for ``program``

    @functools.cached_property
    def program(self) -> CompiledExpression | None:
        if not self.dependencies:
            return self.direct
        if self.inlined is None:
            return None
        try:
            return self.direct.env.compile(self.inlined, internal=True)
        except CelCompileError:
            return None


_AUTHORIZER_WORD = re.compile(r"\bauthorizer\b")


@dataclass(frozen=True)
class CompiledPolicy:
    policy: Policy
    validations: tuple[PolicyExpression, ...]
    message_expressions: tuple[PolicyExpression | None, ...]
    audit_annotations: tuple[PolicyExpression, ...]
    match_conditions: tuple[PolicyExpression, ...]
    variables: tuple[PolicyExpression, ...] = field(default=())
    # plan.py: the match, validate (validations then messageExpressions) and audit filters
    plans: "Plans | None" = field(default=None, compare=False, repr=False)

    @functools.cached_property
    def _variables_by_name(self) -> dict[str, PolicyExpression]:
        return {v.name: v for v in self.variables}

    def variable(self, name: str) -> PolicyExpression:
        return self._variables_by_name[name]

    @functools.cached_property
    def reads_authorizer(self) -> bool:
        """Whether any expression may read ``authorizer`` (a word of its text: comments and
        strings included), so that a request builds the authorizer's values only when one does."""
        expressions = (*self.validations, *self.message_expressions, *self.audit_annotations,
                       *self.match_conditions, *self.variables)
        return any(e is not None and _AUTHORIZER_WORD.search(e.source) for e in expressions)

    @property
    def name(self) -> str:
        return self.policy.name


@dataclass(frozen=True)
class Plans:
    match: plan.FilterPlan
    validate: plan.FilterPlan  # validations, then the messageExpressions that exist
    audit: plan.FilterPlan


@dataclass(frozen=True)
class ExpressionProblem:
    field: str
    message: str


# Output types kube-apiserver requires (ExpressionAccessor.ReturnTypes); None = any.
_BOOL = ("BOOL",)
_STRING = ("STRING",)
_STRING_OR_NULL = ("STRING", "NULL")
_TYPE_TEXT = {"BOOL": "bool", "STRING": "string", "NULL": "null_type"}


_CEL_GO_NAMES = {
    "INT": "int", "UINT": "uint", "DOUBLE": "double", "BOOL": "bool", "STRING": "string", "BYTES": "bytes",
    "NULL": "null_type", "DYN": "dyn", "DURATION": "google.protobuf.Duration",
    "TIMESTAMP": "google.protobuf.Timestamp", "LIST": "list", "MAP": "map", "TYPE": "type",
}


def cel_go_type_name(cel_cpp_name: str) -> str:
    """cel-cpp's ``LIST<MAP<STRING, DYN>>`` as cel-go prints it: ``list(map(string, dyn))``."""
    text = cel_cpp_name.replace("<", "(").replace(">", ")")
    return re.sub(r"[A-Za-z_][A-Za-z0-9_.]*", lambda m: _CEL_GO_NAMES.get(m.group(0), m.group(0)), text)


class _PolicyCompiler:
    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.env = environment(policy.param_kind is not None)
        self.definitions = {v.name: v.expression for v in policy.variables}
        self.order = [v.name for v in policy.variables]
        self.problems: list[ExpressionProblem] = []
        self.failed_variables: set[str] = set()
        # name -> names it reads directly (only earlier, declared ones)
        self.reads: dict[str, list[str]] = {}
        self.bound_names: dict[str, frozenset[str]] = {}  # variable -> its comprehension variables

    def invalid(self, path: str, expression: str, message: str) -> None:
        self.problems.append(ExpressionProblem(path, f"Invalid value: {go_quote(expression)}: {message}"))

    def compile(
        self, path: str, expression: str, visible: Iterable[str], returns: tuple[str, ...] | None,
        *, variable: str = "", undeclared: tuple[str, ...] = (),
    ) -> PolicyExpression | None:
        visible = list(visible)
        try:
            direct = self.env.compile(expression)
        except CelCompileError as exc:
            self.invalid(path, expression, f"compilation failed: {_cel_go_undeclared(exc.message, expression)}")
            if variable:
                self.failed_variables.add(variable)
            return None
        missing = _undeclared_references(expression, undeclared) or undefined_fields(expression)
        if missing:
            self.invalid(path, expression, f"compilation failed: {missing}")
            return None
        refs = composition.references(expression)
        undefined = [ref for ref in refs if ref.name not in visible]
        if undefined:
            if not self.definitions:
                # A policy without variables declares no `variables` at all in kube-apiserver.
                errors = "\n".join(dict.fromkeys(
                    composition.error_text(expression, *composition.position_of(expression, ref.start),
                                           "undeclared reference to 'variables' (in container '')")
                    for ref in undefined
                ))
            else:
                errors = "\n".join(
                    composition.error_text(expression, *composition.position_of(expression, ref.dot), f"undefined field '{ref.name}'")
                    for ref in undefined
                )
            self.invalid(path, expression, f"compilation failed: {errors}")
            if variable:
                self.failed_variables.add(variable)
            return None
        reads = list(dict.fromkeys(ref.name for ref in refs))
        if variable:
            self.reads[variable] = reads
        dependencies = self._closure(reads)
        if any(name in self.failed_variables for name in dependencies):
            if variable:
                self.failed_variables.add(variable)
            return None  # the variable's own problem is reported
        typed: CompiledExpression | TypeCheck = direct
        if dependencies and len(dependencies) <= _MAX_COMPOSED_VARIABLES:
            # Type-checked with the variables' own types, as upstream declares them; the
            # composed text is never run (composition.py).
            composed = composition.compose(expression, dependencies, self.definitions, set(visible))
            try:
                # with cel-go's compile-time checks: they see the variables' types (format())
                typed = self.env.type_check(composed.text)
            except CelCompileError as exc:
                remapped = composition.remap_errors(exc.message, composed, expression)
                if remapped:
                    self.invalid(path, expression, f"compilation failed: {remapped}")
                    if variable:
                        self.failed_variables.add(variable)
                    return None
                # only the composition failed (cel-cpp's parser stops at nesting depth 32): dyn
        if returns is not None and typed.checked and typed.output_type not in returns:
            # named, as ever, after the program that would run it: a rewrite for cel-go's
            # semantics can widen a type (``[1, 2][?1].value()`` then reads dyn, not int)
            runs = direct if typed is direct else self.env.compile(composed.text, internal=True, checks=True)
            actual = cel_go_type_name(runs.program.return_type().name())
            if len(returns) == 1:
                reason = f"must evaluate to {_TYPE_TEXT[returns[0]]} but got {actual}"
            else:
                reason = "must evaluate to one of [" + " ".join(_TYPE_TEXT[r] for r in returns) + f"] but got {actual}"
            self.invalid(path, expression, reason)
            return None
        return PolicyExpression(expression, direct, tuple(dependencies), variable,
                                self._inline_text(expression, dependencies, set(visible), direct))

    def _inline_text(self, expression: str, dependencies: list[str], visible: set[str], direct: CompiledExpression) -> str | None:
        """The expression with its variables inlined, or None where a comprehension variable
        would capture a name an inlined definition reads."""
        if not dependencies:
            return None
        try:
            captured = _bound_names(direct).union(*(self._bound_names_of(name) for name in dependencies))
        except CelCompileError:  # a variable without a valid expression: validation reports it
            return None
        if captured & _INLINED_FREE_NAMES:
            return None
        try:
            return composition.inline(expression, self.definitions, visible)
        except ValueError:
            return None

    def _bound_names_of(self, variable: str) -> frozenset[str]:
        # each variable's, once per policy: every expression reading it asks again
        names = self.bound_names.get(variable)
        if names is None:
            names = self.bound_names[variable] = frozenset(_bound_names(self.env.compile(self.definitions[variable])))
        return names

    def _closure(self, direct: list[str]) -> list[str]:
        needed: set[str] = set()
        pending = list(direct)
        while pending:
            name = pending.pop()
            if name in needed:
                continue
            needed.add(name)
            pending.extend(self.reads.get(name, ()))
        return [name for name in self.order if name in needed]


# Names a variable's definition may read from the activation; a comprehension variable of the
# same name in the reading expression would capture them once the definition is inlined.
_INLINED_FREE_NAMES = frozenset({*_BASE_VARIABLES, "params", *AUTHORIZER_VARIABLES})


def _bound_names(compiled: CompiledExpression) -> set[str]:
    if compiled.ast is None:
        return set()
    return {
        name for node in compiled.ast.walk() if isinstance(node, Comprehension)
        for name in (node.iter_var, node.iter_var2) if name
    }


# cel-cpp's parser stops at nesting depth 32; each composed variable is one level.
_MAX_COMPOSED_VARIABLES = 24


_UNDECLARED = re.compile(r"^ERROR: <input>:(\d+):(\d+): undeclared reference to '([^']+)' \(in container '([^']*)'\)$")


def _cel_go_undeclared(message: str, expression: str) -> str:
    """cel-cpp reports ``params.x`` undeclared at the last dot; cel-go reports the root
    identifier ``params`` at its own position."""
    blocks = message.split("\n")
    out: list[str] = []
    skip = 0
    for line in blocks:
        if skip:
            skip -= 1
            continue
        found = _UNDECLARED.match(line)
        if not found or "." not in found.group(3):
            out.append(line)
            continue
        root = found.group(3).split(".")[0]
        row, column = int(found.group(1)), int(found.group(2))
        offset = _offset_of(expression, row, column)
        starts = [t.start for t in composition.tokens(expression) if t.kind == "ident" and t.text == root and t.start <= offset]
        if not starts:
            out.append(line)
            continue
        position = composition.position_of(expression, starts[-1])
        out.append(composition.error_text(expression, *position, f"undeclared reference to '{root}' (in container '{found.group(4)}')"))
        skip = 2  # the caret lines of the replaced error
    return "\n".join(out)


def _offset_of(expression: str, row: int, column: int) -> int:
    lines = expression.split("\n")
    return sum(len(line) + 1 for line in lines[: row - 1]) + column - 1


def _undeclared_references(expression: str, names: tuple[str, ...]) -> str:
    """cel-go's error for variables this kind of expression does not declare (upstream
    compiles matchConditions without ``variables`` and messageExpressions without
    ``authorizer``)."""
    if not names:
        return ""
    errors = []
    previous = None
    for token in composition.tokens(expression):
        if token.kind == "ident" and token.text in names and (previous is None or previous.text != "."):
            line, column = composition.position_of(expression, token.start)
            errors.append(composition.error_text(expression, line, column, f"undeclared reference to '{token.text}' (in container '')"))
        previous = token
    return "\n".join(errors)


@contextlib.contextmanager
def _collection_paused() -> Iterator[None]:
    """Compiling builds a few hundred thousand AST nodes and none of them is garbage, so the
    cyclic collector's passes over them (a fifth of a policy's compile) find nothing."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def compile_policy(policy: Policy) -> tuple[CompiledPolicy | None, list[ExpressionProblem]]:
    """The compiled policy, or None and every compile problem (field paths under ``spec``)."""
    with _collection_paused():
        return _compile_policy(policy)


def _compile_policy(policy: Policy) -> tuple[CompiledPolicy | None, list[ExpressionProblem]]:
    compiler = _PolicyCompiler(policy)
    variables = []
    for i, variable in enumerate(policy.variables):
        if not variable.expression.strip() or not variable.name:
            continue  # reported by validation
        compiled = compiler.compile(
            f"spec.variables[{i}].expression", variable.expression, compiler.order[:i], None, variable=variable.name
        )
        if compiled is not None:
            variables.append(compiled)
    everything = compiler.order
    validations, messages = [], []
    for i, validation in enumerate(policy.validations):
        if validation.expression.strip():
            validations.append(compiler.compile(f"spec.validations[{i}].expression", validation.expression, everything, _BOOL))
        message = None
        if validation.message_expression.strip():
            message = compiler.compile(
                f"spec.validations[{i}].messageExpression", validation.message_expression, everything, _STRING,
                undeclared=("authorizer",),
            )
        messages.append(message)
    # Upstream validation compiles these two trimmed, so positions count from the first non-blank.
    audits = [
        compiler.compile(f"spec.auditAnnotations[{i}].valueExpression", a.value_expression.strip(), everything, _STRING_OR_NULL)
        for i, a in enumerate(policy.audit_annotations)
        if a.value_expression.strip()
    ]
    conditions = [
        compiler.compile(f"spec.matchConditions[{i}].expression", c.expression.strip(), (), _BOOL, undeclared=("variables",))
        for i, c in enumerate(policy.match_conditions)
        if c.expression.strip()
    ]
    if compiler.problems:
        return None, compiler.problems
    if any(x is None for x in [*validations, *audits, *conditions]):
        return None, [ExpressionProblem("spec", "an expression failed to compile")]
    definitions = {v.name: v.source for v in variables}
    order = [v.name for v in variables]

    def filter_plan(expressions: list[PolicyExpression | None]) -> plan.FilterPlan:
        return plan.build(compiler.env, [e.source for e in expressions if e is not None], definitions, compiler.reads, order)

    plans = Plans(filter_plan(conditions), filter_plan([*validations, *messages]), filter_plan(audits))  # type: ignore[list-item]
    return (
        CompiledPolicy(policy, tuple(validations), tuple(messages), tuple(audits), tuple(conditions), tuple(variables), plans),  # type: ignore[arg-type]
        [],
    )
