"""The Kubernetes CEL environment: compile once, evaluate many, on cel-cpp.

An environment is built from a set of declared variables (for VAP: ``object``,
``oldObject``, ``request``, ``params``, ``namespaceObject``, ``authorizer``, ...) and every
library kube-apiserver enables for ValidatingAdmissionPolicy. Compiled expressions are cached
per environment, so a policy reload or a second binding does not compile twice, and, in an
environment given a store (compile_cache.py), kept on disk, so a second start compiles nothing.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Any, Mapping

from cel_expr_python import cel
from cel_expr_python.ext import ext_bindings, ext_optional

from webhook.cel import cost as cost_model
from webhook.cel import compat, ext_strings, optional_macros, presence, runtime_cost, runtime_errors
from webhook.cel.ast import CheckedAst, decode_checked
from webhook.cel.compile_cache import CompileCache
from webhook.cel.errors import CelCompileError, CelCostError, CelEvaluationError
from webhook.cel.library import all_libraries
from webhook.cel.limits import OUT_OF_BUDGET, PER_CALL_LIMIT, RUNTIME_CEL_COST_BUDGET
from webhook.cel.runtime_errors import strip_status
from webhook.cel.types import POOL
from webhook.cel.validators import validate_ast
from webhook.cel.values import from_cel

_CEL_BIND = re.compile(r"\bcel\s*\.\s*bind\s*\(")
_CROSS_NUMERIC = re.compile(
    r"found no matching overload for '_(<|<=|>|>=)_' applied to '\((int|uint|double), (int|uint|double)\)'"
)
# string(net.CIDR) cannot be declared next to string(net.IP) (see library/cidr.py); ip.py's
# implementation serves both, so such expressions compile unchecked too.
_CIDR_TO_STRING = re.compile(r"found no matching overload for 'string' applied to '\(net\.CIDR\)'")


_ERROR_BLOCK = re.compile(r"^ERROR: <input>:(\d+):(\d+): ", re.M)


def sort_errors(message: str) -> str:
    """cel-go lists compile errors by position (common/errors.go); cel-cpp by check order."""
    starts = [m.start() for m in _ERROR_BLOCK.finditer(message)]
    if len(starts) < 2 or starts[0] != 0:
        return message
    blocks = [message[a:b].rstrip("\n") for a, b in zip(starts, starts[1:] + [len(message)])]

    def position(block: str) -> tuple[int, int]:
        match = _ERROR_BLOCK.match(block)
        return (int(match.group(1)), int(match.group(2))) if match else (0, 0)

    return "\n".join(sorted(blocks, key=position))


def _only_cross_type_numeric_errors(message: str) -> bool:
    # cel-go enables CrossTypeNumericComparisons (base.go, 1.28); cel-cpp's runtime supports
    # them but its checker has no declarations, so such expressions compile unchecked.
    errors = [line for line in message.splitlines() if line.startswith("ERROR: ")]
    return bool(errors) and all(_CROSS_NUMERIC.search(line) or _CIDR_TO_STRING.search(line) for line in errors)


class CostBudget:
    """The runtime cost budget shared by the expressions of one evaluation (one binding).

    Expressions are charged upper bounds of their cost. A cheap bound (the cached uniform
    bound, see CompiledExpression.charge) is charged *provisionally*: should the budget run
    short, every provisional charge is first replaced by the tighter estimate of its own data,
    so exhaustion is declared on the same figures whichever bound was charged first.
    """

    def __init__(self, limit: int = RUNTIME_CEL_COST_BUDGET) -> None:
        self.limit = limit
        self.remaining = limit
        self._provisional: list[tuple[int, "CompiledExpression", Mapping[str, Any]]] = []

    def charge_provisionally(self, bound: int, expression: "CompiledExpression", sizes: Mapping[str, Any]) -> bool:
        if bound > self.remaining:
            self._settle()
            if bound > self.remaining:
                return False
        self.remaining -= bound
        self._provisional.append((bound, expression, sizes))
        return True

    def charge(self, amount: int) -> None:
        if amount > self.remaining:
            self._settle()
        self.remaining -= amount
        if self.remaining < 0:
            raise CelCostError(OUT_OF_BUDGET, per_call=False)

    def _settle(self) -> None:
        for bound, expression, sizes in self._provisional:
            self.remaining += bound - expression.estimate_cost(sizes)
        self._provisional.clear()


@dataclass
class CompiledExpression:
    """A checked expression ready to evaluate, with the AST the cost model walks."""

    source: str
    program: cel.Expression
    ast: CheckedAst | None
    output_type: str
    checked: bool = True
    env: "CelEnvironment" = field(repr=False, default=None)  # type: ignore[assignment]
    # False for a program that only type-checks: it holds a lazily bound slot (compat.py D30).
    runnable: bool = True

    _uniform: dict[tuple[int, int | None], int] = field(init=False, repr=False, default_factory=dict)

    def estimate_cost(self, activation: Mapping[str, Any]) -> int:
        if self.ast is None:
            return 0
        return cost_model.estimate(self.ast, activation)

    def uniform_cost(self, size_hint: int, count_hint: int | None = None) -> int:
        """The cost bound for any data no larger than ``size_hint`` (and, with ``count_hint``,
        no list or map longer than it), cached per power of two of each."""
        if self.ast is None:
            return 0
        size_class = 1 << max(0, size_hint - 1).bit_length()
        count_class = None if count_hint is None else min(size_class, 1 << max(0, count_hint - 1).bit_length())
        bound = self._uniform.get((size_class, count_class))
        if bound is None:
            bound = self._uniform[(size_class, count_class)] = cost_model.estimate_uniform(self.ast, size_class, count_class)
        return bound

    def charge(
        self, sizes: Mapping[str, Any], budget: CostBudget | None = None, size_hint: int | None = None
    ) -> None:
        """Enforce the per-call limit and charge the budget before evaluating.

        With ``size_hint`` (cost.largest_size of ``sizes``, computed once per request) the cached
        uniform bound is used when it already proves both limits hold; only otherwise is the
        data walked for the tighter estimate. Either is an upper bound of cel-go's cost.
        """
        if size_hint is not None:
            bound = self.uniform_cost(size_hint)
            if bound <= PER_CALL_LIMIT and (budget is None or budget.charge_provisionally(bound, self, sizes)):
                return
        estimated = self.estimate_cost(sizes)
        if estimated > PER_CALL_LIMIT:
            raise CelCostError("operation cancelled: actual cost limit exceeded", per_call=True)
        if budget is not None:
            budget.charge(estimated)

    def evaluate_raw(
        self, activation: Mapping[str, Any] | cel.Activation, budget: CostBudget | None = None,
        sizes: Mapping[str, Any] | None = None, size_hint: int | None = None,
    ) -> cel.Value:
        """Evaluate and return cel-expr-python's Value; errors raise CelEvaluationError."""
        self.charge(sizes if sizes is not None else activation, budget, size_hint)  # type: ignore[arg-type]
        return self.run(activation)

    def run(self, activation: Mapping[str, Any] | cel.Activation) -> cel.Value:
        """Evaluate without any cost check: only for callers that charged the cost themselves."""
        if not self.runnable:
            raise CelEvaluationError(f"internal error: {self.source!r} was compiled for type-checking only")
        try:
            if isinstance(activation, cel.Activation):
                result = self.program.eval(activation)
            else:
                result = self.program.eval(data=activation)
        except RuntimeError as exc:
            # A declared variable left unbound is an evaluation error in cel-go, not a limit.
            if runtime_errors.is_unbound_variable(str(exc)):
                raise CelEvaluationError(runtime_errors.translate(str(exc))) from None
            raise
        if result.type() == cel.Type.ERROR:
            raise CelEvaluationError(runtime_errors.translate(_error_text(result)))
        return result

    def evaluate(
        self, activation: Mapping[str, Any] | cel.Activation, budget: CostBudget | None = None,
        sizes: Mapping[str, Any] | None = None, size_hint: int | None = None,
    ) -> Any:
        """Evaluate and return a plain Python value (see values.from_cel)."""
        return from_cel(self.evaluate_raw(activation, budget, sizes, size_hint))


def _error_text(result: cel.Value) -> str:
    try:
        return str(result.value())
    except Exception:  # noqa: BLE001 - an error value that cannot be rendered
        return "evaluation error"


@dataclass(frozen=True)
class TypeCheck:
    """What checking a text tells without a program to run (CelEnvironment.type_check)."""

    output_type: str  # cel-cpp's name of the checked type; "DYN" when it compiled unchecked
    checked: bool


class CelEnvironment:
    """Variables + libraries; compiles and caches expressions (in memory, and in ``store``,
    compile_cache.py's outcomes on disk, when one is given)."""

    def __init__(self, variables: Mapping[str, cel.Type], store: CompileCache | None = None) -> None:
        self.variables = dict(variables)
        libraries = all_libraries()
        extensions: list[cel.CelExtensionBase] = [
            ext_strings.extension(),  # cel-go's strings v2 semantics; see compat.py
            ext_optional.ExtOptional(),
            ext_bindings.ExtBindings(),
            # cel-expr-python turns on cel-cpp's two-variable comprehension macros (cel-go's
            # ext.TwoVarComprehensions, in kube-apiserver's base env since 1.32) for an
            # extension of this name.
            cel.CelExtension("cel.lib.ext.comprev2", []),
        ]
        extensions.extend(cel.CelExtension(lib.name, list(lib.functions)) for lib in libraries)
        self._declarations = [decl for lib in libraries for decl in lib.declarations]
        self._implementations = {k: v for lib in libraries for k, v in lib.implementations.items()}
        self._env = cel.NewEnv(
            POOL,
            variables=self.variables,
            extensions=extensions,
            functions=self._declarations,
            function_impls=self._implementations,
        )
        self._extensions = extensions
        self._extensions_without_bindings = [e for e in extensions if not isinstance(e, ext_bindings.ExtBindings)]
        self._calls: runtime_cost.Calls | None = None
        self._strict_env: Any = None
        self._bind_checked: set[str] = set()
        self._cache: dict[str, CompiledExpression] = {}
        self._type_checks: dict[str, TypeCheck] = {}
        self._lock = threading.Lock()
        self._store = store if store is not None else CompileCache(None)
        # what, besides the code (compile_cache.code_fingerprint), a stored outcome depends on
        self._identity = "\0".join(f"{name}:{kind.name()}" for name, kind in sorted(self.variables.items()))

    def calls(self) -> runtime_cost.Calls:
        """Single-call programs for the exact cost evaluator (runtime_cost.py)."""
        with self._lock:
            if self._calls is None:
                arguments = {f"a{i}": cel.Type.DYN for i in range(8)}
                env = cel.NewEnv(
                    POOL, variables={**self.variables, **arguments}, extensions=self._extensions,
                    functions=self._declarations, function_impls=self._implementations,
                )
                self._calls = runtime_cost.Calls(env)
            return self._calls

    def activation(self, data: Mapping[str, Any]) -> cel.Activation:
        """A reusable activation: converting a large object once serves many expressions."""
        return self._env.Activation(dict(data))

    def _constant_error(self, source: str) -> str | None:
        """The cel-go error text of a constant expression, or None if it evaluates."""
        try:
            result = self._env.compile(source).eval()
        except RuntimeError:
            return None
        return runtime_errors.translate(_error_text(result)) if result.type() == cel.Type.ERROR else None

    def _runnable(self, program: cel.Expression, ast: CheckedAst, checked: bool) -> tuple[cel.Expression, bool]:
        """The program that evaluates ``ast`` as cel-go would, and whether it may run.

        Rewrites (the AST, costs and messages stay the original's): optMap/optFlatMap without
        cel-cpp's lazily bound slot (optional_macros.py), and has()/.? on null or a scalar as
        false/none, which cel-cpp makes an error (presence.py). A program that still holds a
        lazily bound slot is not run (compat.py D30)."""
        runnable_ast = ast
        lazy = compat.lazily_bound(ast)
        macros = optional_macros.rewrite(ast.expression) if lazy else None
        if macros is not None:
            try:
                program = self._env.compile(macros, disable_check=not checked)
                runnable_ast = decode_checked(program.serialize(), macros)
                lazy = compat.lazily_bound(runnable_ast)
            except RuntimeError:
                pass
        rewritten = presence.rewrite(runnable_ast)
        if rewritten is not None:
            try:
                # the guard binds with a one-element comprehension: it adds no lazy slot
                program = self._env.compile(rewritten, disable_check=not checked)
            except RuntimeError:
                pass
        return program, not lazy

    def _reject_cel_bind(self, expression: str) -> None:
        # kube-apiserver's VAP environment has no ext.Bindings (environment/base.go): cel.bind
        # in a user's expression is an undeclared reference there. celgate needs the macro for
        # its own rewrites (variables, presence tests), so user expressions are checked against
        # an environment without it, which reports cel-go's errors.
        if expression in self._bind_checked or not _CEL_BIND.search(expression):
            return
        if self._strict_env is None:
            self._strict_env = cel.NewEnv(
                POOL, variables=self.variables, extensions=self._extensions_without_bindings,
                functions=self._declarations, function_impls=self._implementations,
            )
        try:
            self._strict_env.compile(expression)
        except RuntimeError as exc:
            message = sort_errors(strip_status(str(exc)))
            if "undeclared reference to 'cel'" in message:
                raise CelCompileError(expression, message) from None
        self._bind_checked.add(expression)

    def compile(self, expression: str, *, internal: bool = False, checks: bool | None = None) -> CompiledExpression:
        """Compile (or fetch from cache); raises CelCompileError in cel-go's wording.

        ``internal`` is for celgate's own rewrites, which may use ``cel.bind`` to type-check
        (such a program is not ``runnable``); they skip cel-go's compile-time checks (``checks``
        says otherwise), having passed them part by part. A user's expression that would run with a lazily
        bound slot is refused with a compile error rather than evaluated wrongly."""
        if not internal:
            self._reject_cel_bind(expression)
        cached = self._cache.get(expression)
        if cached is not None:
            return cached
        validate = (not internal) if checks is None else checks
        mode = f"compile internal={internal} checks={validate}"
        compiled = self._from_store(mode, expression)
        if compiled is None:
            try:
                compiled = self._compile_fresh(expression, internal, validate)
            except CelCompileError as exc:
                self._store_outcome(mode, expression, ("error", expression, exc.message))
                raise
            self._store_outcome(mode, expression, (
                "compiled", expression, compiled.output_type, compiled.checked, compiled.runnable,
                compiled.program.serialize(), compiled.ast,
            ))
        with self._lock:
            self._cache[expression] = compiled
        return compiled

    def type_check(self, expression: str) -> TypeCheck:
        """Check one of celgate's own texts that is never run (composition.py's composed
        expressions) as :meth:`compile` with ``internal=True, checks=True`` would, without
        making a program to run; raises CelCompileError."""
        cached = self._cache.get(expression) or self._type_checks.get(expression)
        if cached is not None:
            return TypeCheck(cached.output_type, cached.checked)
        mode = "type-check"
        key = self._key(mode, expression)
        entry = self._store.get(key) if key else None
        if entry is not None and entry[:2] == ("typed", expression):
            outcome = TypeCheck(entry[2], entry[3])
        elif entry is not None and entry[:2] == ("error", expression):
            raise CelCompileError(expression, entry[2])
        else:
            try:
                program, _, checked = self._checked(expression, validate=True)
            except CelCompileError as exc:
                self._store_outcome(mode, expression, ("error", expression, exc.message))
                raise
            outcome = TypeCheck(program.return_type().name() if checked else "DYN", checked)
            self._store_outcome(mode, expression, ("typed", expression, outcome.output_type, outcome.checked))
        with self._lock:
            self._type_checks[expression] = outcome
        return outcome

    def _checked(self, expression: str, *, validate: bool) -> tuple[cel.Expression, CheckedAst, bool]:
        """cel-cpp's program for the text as written, its AST, and whether it type-checked;
        with ``validate``, cel-go's compile-time checks too."""
        checked = True
        try:
            program = self._env.compile(expression)
        except RuntimeError as exc:
            message = sort_errors(strip_status(str(exc)))
            if not _only_cross_type_numeric_errors(message):
                raise CelCompileError(expression, compat.cel_go_compile_message(message, expression)) from None
            program = self._env.compile(expression, disable_check=True)
            checked = False
        ast = decode_checked(program.serialize(), expression)
        if validate:
            validate_ast(ast, expression)
            folding_error = compat.failing_constant_conversion(ast, self._constant_error)
            if folding_error is not None:
                # k8s admission/plugin/cel/compile.go wraps env.Program errors this way.
                raise CelCompileError(expression, f"program instantiation failed: {folding_error}")
        return program, ast, checked

    def _compile_fresh(self, expression: str, internal: bool, validate: bool) -> CompiledExpression:
        program, ast, checked = self._checked(expression, validate=validate)
        output_type = program.return_type().name() if checked else "DYN"
        program, runnable = self._runnable(program, ast, checked)
        if not runnable and not internal:
            raise CelCompileError(expression, compat.LAZY_BIND_REFUSAL)
        return CompiledExpression(expression, program, ast, output_type, checked, self, runnable)

    def _key(self, mode: str, expression: str) -> str:
        return self._store.key(self._identity, mode, expression) if self._store.enabled else ""

    def _from_store(self, mode: str, expression: str) -> CompiledExpression | None:
        """The stored outcome of compiling ``expression`` so: None when there is none (or it
        cannot be used), and the stored CelCompileError raised again."""
        key = self._key(mode, expression)
        entry = self._store.get(key) if key else None
        if entry is None or entry[1:2] != (expression,):
            return None
        if entry[0] == "error" and len(entry) == 3:
            raise CelCompileError(expression, entry[2])
        if entry[0] != "compiled" or len(entry) != 7:
            return None
        _, _, output_type, checked, runnable, serialized, ast = entry
        try:
            program = self._env.deserialize(serialized)
        except RuntimeError:
            return None
        return CompiledExpression(expression, program, ast, output_type, checked, self, runnable)

    def _store_outcome(self, mode: str, expression: str, entry: tuple[Any, ...]) -> None:
        key = self._key(mode, expression)
        if key:
            self._store.put(key, entry)
