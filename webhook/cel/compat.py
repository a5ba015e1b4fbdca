"""Where celgate's CEL (cel-cpp via cel-expr-python 0.1.3) still differs from cel-go v0.26.0 as
kube-apiserver v1.35 runs it, and why. Tests marked ``xfail(strict=True)`` cite these by code.
Checked against cel-go itself: a Go program on kube-apiserver's own base environment
(k8s.io/apiserver v0.35.8 pkg/cel/environment) evaluated every expression of tests/cel/.

Fixed elsewhere (no longer differences):
  * runtime error texts are rewritten into cel-go's words (runtime_errors.py);
  * the strings extension v2 is our own (ext_strings.py, string_format.py), because cel-cpp
    errors on ``indexOf``/``lastIndexOf`` offsets past the end, drops the index from range
    errors and formats lists, maps, doubles, ``%f`` (en_US digit grouping) and ``%e``
    differently; literal ``format()`` calls are checked when compiling (format_validation.py);
  * cross-type numeric comparisons (``1 < 1.5``) compile unchecked (environment.py);
  * ``has(x.f)`` and ``x.?f`` on null or a scalar are ``false`` / ``optional.none()`` as in
    cel-go (kube-apiserver leaves EnableErrorOnBadPresenceTest off), not cel-cpp's error:
    ``oldObject`` on CREATE, ``namespaceObject`` for cluster-scoped objects (presence.py);
  * a type conversion of constants that fails (``int('abc')``) is a compile error, as cel-go's
    constant folding (OptOptimize) makes it: ``program instantiation failed: ...`` (below).

Remaining differences:

D1. Durations and timestamps lose their nanoseconds when they cross into Python (a function
    implementation, or a result printed by ``celgate eval``): ``'%s'.format([duration('2ns')])``
    is ``0s`` (cel-go ``0.000000002s``). Comparisons and arithmetic inside cel-cpp keep them.
D2. A map with both ``true`` and ``1`` (or ``1u``) keys collapses to one entry when it crosses
    into Python (Python's ``True == 1``): in ``format`` arguments and in ``celgate eval`` output.
    Only maps built with ``dyn()`` keys get there: the homogeneous-literal check rejects the rest.
D3. ``uint`` values reach Python implementations as ``int``: a run-time ``format`` error says
    ``was given int`` where cel-go says ``uint`` (literal arguments are checked at compile time
    by their checked type, which says ``uint``).
D4. Some cel-cpp errors lack the detail cel-go prints: selecting a field of null, a scalar or
    a list (``params.spec`` without params, ``oldObject.metadata`` on CREATE,
    ``object.spec.replicas.x``, ``has(list.x)``) fails with ``no such key`` (cel-go
    ``no such key: x`` / ``unsupported index type 'string' in list``); indexing a list with a
    non-integral double says ``unsupported index type 'double' in list`` (cel-go
    ``unsupported index value 1.5 in list``), and an integral double out of range prints as an
    integer (``index out of bounds: 1000000``; cel-go ``1e+06``).
D5. cel-cpp's durations reach 10,000 years, Go's about 292: ``duration('3000000h')`` from data
    converts here and is ``type conversion error from 'string' to 'google.protobuf.Duration'``
    in cel-go; an overflowing duration computation says ``duration overflow`` in both.
D6. ``getHours('bad/zone')`` and the other time zone accessors fail with cel-cpp's
    ``Invalid timezone`` (cel-go: ``unknown time zone bad/zone``).
D7. Optional values cannot be returned to Python (cel-expr-python): ``celgate eval`` unwraps a
    top-level optional inside CEL, but an optional nested in a list or map result is a runtime
    error there. Policies never return optionals (validations are bool, messages string).
D8. ``duration.getMilliseconds()`` is the millisecond *component* in cel-cpp
    (``duration('1.5s').getMilliseconds() == 500``) and the *total* in cel-go (``1500``).
    cel-cpp registers the overload natively, so a Python replacement is refused
    (ALREADY_EXISTS); write ``duration.getSeconds() * 1000`` or compare durations directly.
D9. ``optional.unwrap(list)`` and ``list.unwrapOpt()`` (optional library version 2) are not
    declared by cel-cpp's optional extension, and a Python replacement cannot receive optional
    values (``Unimplemented type: 17``): they fail to compile (``undeclared reference``). Use
    ``list.filter(o, o.hasValue()).map(o, o.value())``.
D10. cel-cpp types an optional index on a ``dyn`` operand (``object.spec.list[?0]``) as ``dyn``
    where cel-go infers ``optional_type(dyn)``. Evaluation is the same; such an index used as an
    optional literal element (``[?object.spec.list[?0]]``) is a compile error here, and makes
    cel-go v0.26.0 panic in its homogeneous-literal validator, so neither accepts it.
D11. cel-cpp converts strings more leniently in some places and more strictly in others:
    ``int(' 1')``, ``uint('+1')``, ``double(' 1.5')``, ``timestamp('...T00:00:00z')`` and
    ``int(true)`` succeed here and fail in cel-go; ``double('1_000.5')`` and
    ``duration('1µs')`` succeed in cel-go and fail here. The conversions are native to cel-cpp
    and cannot be replaced (ALREADY_EXISTS).
D12. ``string()`` prints some values differently: non-finite doubles as ``nan``/``inf``/``-nan``
    (cel-go ``NaN``/``+Inf``), durations with 3, 6 or 9 fraction digits (``3661.500s``,
    cel-go ``3661.5s``), and timestamps in UTC (cel-go keeps the offset they were parsed with).
D13. ``int(duration)`` (nanoseconds in cel-go) type-checks but has no implementation in
    cel-cpp's runtime: ``no such overload: int(google.protobuf.Duration)``.
D14. The lists extension (``ext.Lists(ext.ListsVersion(3))``, kube-apiserver 1.34+) is celgate's
    own (library/ext_lists.py) and lacks ``sortBy``: a parser macro in cel-go, which a Python
    library cannot add, so ``list.sortBy(e, key)`` fails to compile (``undeclared reference``).
    Its functions return ``uint`` elements as ``int`` (``==`` still holds, but
    ``[2u, 1u].sort()[0] + 1u`` is ``no such overload``), ``sort`` takes a list mixing ``int`` and
    ``uint`` (cel-go: ``list elements must have the same type``). cel-cpp's own lists extension
    (``sortBy`` included) is what cel-expr-python enables for an extension named ``lists``.
D15. Two-variable comprehensions (cel-go ext.TwoVarComprehensions, kube-apiserver 1.32+) are
    cel-cpp's (enabled through an extension named ``cel.lib.ext.comprev2``): ``all(i, v, ...)``,
    ``exists(i, v, ...)``, ``existsOne`` and ``transformList`` work, but ``transformMap`` and
    ``transformMapEntry`` are rejected at compile time (``program instantiation failed: ...``):
    their expansion calls ``cel.@mapInsert``, which cel-expr-python's runtime lacks.

Found by the cel-go oracle (tests/oracle, tests/oracle_diff):

D16. ``celgate eval`` prints a Quantity result in the shorter of its BinarySI and DecimalSI
    forms (``quantity('1e3')`` prints ``1k``); apimachinery's ``String()`` keeps the form it
    was written in when that is canonical (``1e3``, ``100e-3``, ``1E3``, ``+1``, ``01``). It
    prints a Semver without its build metadata (``1.2.3``; Go ``1.2.3+build``). Neither type
    has a string form inside CEL, so only eval's output differs.
D17. cel-go's ``distinct()`` (ext lists) panics on an error or non-list receiver:
    ``[1].map(x, object.missing).distinct()`` is ``internal error: interface conversion:
    *types.Err is not traits.Lister: missing method Add`` there, the receiver's own error
    (``no such key: missing``) here. And ``distinct()``/``slice()`` of a list from data yield
    elements a conversion refuses with ``no such overload: int(string)`` in cel-go, where it
    says ``type conversion error from 'string' to 'int'`` here (and for other lists there).
D18. kube-apiserver declares ``sign`` only as a global function (``sign(quantity('-1'))``),
    though its docs show ``<Quantity>.sign()``; the member call fails to compile in both, with
    ``undeclared reference to 'sign'`` here and ``found no matching overload for 'sign' applied
    to 'kubernetes.Quantity.()'`` in cel-go.
D19. A Quantity here is its exact value; cel-go answers by apimachinery's internal
    representation: ``isInteger()``/``asInteger()`` refuse integral values stored with a
    fraction or as inf.Dec (``1000m``, ``1.5Gi``, ``1Ei``: ``false`` / ``cannot convert value to
    integer`` there, ``true`` / the integer here), ``asApproximateFloat()`` of such values may
    differ in the last bit, and ``q.sub(-9223372036854775808)`` negates an int64 (wrapping)
    where the amount fits one, so it adds there.
D20. ``request`` and ``namespaceObject`` are ``dyn`` here; kube-apiserver declares them as
    object types (``kubernetes.AdmissionRequest``, ``kubernetes.Namespace``, compile.go). Unknown
    fields are still compile errors (policy/declarations.py), but type errors through their
    fields are not: ``request.namespace + 1`` fails at run time here, ``[request.name,
    object.kind]`` is a mixed-type literal there, and a messageExpression
    ``request.userInfo.groups[0]`` "must evaluate to string" there. Convert (``string(...)``).
D21. A comprehension over a value that is not a list or map at run time names its Go type in
    cel-go (``got 'types.Null', expected iterable type``; two-variable forms ``unsupported
    comprehension range type: types.Null``); cel-cpp says ``no such overload: <iter_range>``.
D22. The lists extension's ``slice``, ``flatten``, ``distinct`` and ``reverse`` are typed
    ``list(dyn)`` here (cel-expr-python declarations have no type parameters) and ``list(T)``
    in cel-go: ``[[1].distinct(), [2]]`` fails the homogeneous-literal check here, and
    ``[1, 2].distinct().isSorted()`` is ``dyn`` here, so a validation of it "must evaluate to
    bool". Retype with ``.map(e, int(e))`` where it matters.
D23. cel-go's checker binds a free type parameter to the first overload or operand it meets:
    ``[].sort()`` and ``{}.map(k, k).sort()`` are ``list(int)`` there (so
    ``[].sort().indexOf('a')`` does not compile), and in ``object.name in [?optional.none(),
    'a']`` the optional's parameter becomes ``dyn`` and the literal is mixed. celgate leaves
    them open and accepts.
D24. cel-go's planner (OptOptimize) folds ``x in []`` to ``false`` without evaluating ``x``;
    celgate evaluates ``x``, so ``object.missing in []`` is ``no such key: missing`` here.
D25. An expression with a cross-type numeric comparison (``1 < 1.5``) or ``string(cidr)``
    compiles unchecked (environment.py): cel-go's other compile-time type errors in it (a
    mixed list literal, a result type) are not reported, and it evaluates or fails at run time.
    Unchecked, the qualified name ``authorizer.requestResource`` is not resolved either:
    ``[authorizer.requestResource.check('get').allowed(), 1 < 1.5]`` fails with
    ``no_such_field : requestResource`` (cel-go ``[false, true]``).
D26. Ordering a NaN (``0.0/0.0 < 1.0``) is ``false`` here (IEEE) and the error ``NaN values
    cannot be ordered`` in cel-go v0.26; cel-cpp's comparison operators are native.
D27. A list or map index that is null, a list or a map fails with cel-go's ``invalid qualifier
    type: <nil>`` / ``types.Null`` / ``[]interface {}`` (the Go type of the value, which depends
    on where it came from); celgate says ``unsupported index type 'null_type' in list`` or
    ``no such key``.
D28. The format library's optionals (``format.named(name)``, ``<Format>.validate(s)``) are
    plain values here (library/format.py): the format or the error list for
    ``optional.of(...)``, ``[]`` for ``optional.none()``. ``hasValue()`` and ``value()`` work;
    ``or``/``orValue`` fail (no matching overloads), comparing with ``optional.none()`` is
    false, and ``celgate eval`` prints the list (``[]``) where cel-go has an optional.
D29. cel-cpp names a Kubernetes opaque value ``struct`` in a run-time overload error. Where
    the function has one receiver type celgate puts the name back (runtime_errors.py); for
    ``isLessThan``/``isGreaterThan``/``compareTo`` (Quantity and Semver) and for opaque
    arguments it stays: ``no such overload: isLessThan(struct, null_type)``, cel-go
    ``isLessThan(kubernetes.Quantity, null_type)``.

Found by a third-party policy library (kubescape/cel-admission-library) and the e2e differential:

D30. cel-cpp initialises a ``cel.bind``-shaped comprehension lazily (an empty range, a constant
    false loop condition: ``cel.bind`` and cel-cpp's ``optMap``/``optFlatMap`` expansions), and
    after a comprehension that short-circuits (``all`` meeting false, ``exists`` meeting true)
    a later such slot at the same depth reads the stale value the loop left behind. Raw
    cel-expr-python 0.1.3, no celgate code::
        [1,2].all(k, k == 2) || cel.bind(p, 'x', p) == 'x'           -> false (cel-go: true)
        [1,2].exists(k, k == 1) && cel.bind(p, 'x', p) == 'x'        -> false (cel-go: true)
        [1,2].all(k, k == 2) ? 0 : optional.of('x').optMap(p, p).value()   -> 2 (cel-go: 'x')
    Comprehensions that run to the end (``exists_one``, ``map``, ``filter``), the iteration
    variables of any comprehension (one- or two-variable) and nested comprehensions at other
    depths are not affected; optionals (``?.``, ``[?``, ``orValue``) hold no slot. celgate runs
    no such comprehension: presence tests bind their operand with a one-element ``all``/``map``
    (presence.py), policy variables are inlined (policy/composition.py), ``optMap`` and
    ``optFlatMap`` are rewritten (optional_macros.py), and an expression that would still run
    one is refused at compile time (LAZY_BIND_REFUSAL). tests/cel/test_compat_lazy_bind.py fails
    when a cel-expr-python release changes this behaviour in either direction.
"""

from __future__ import annotations

import json
import re
from typing import Callable

from webhook.cel.ast import Call, CheckedAst, Comprehension, Const, CreateList, Expr

DOCUMENTED_DIFFERENCES = tuple(f"D{number}" for number in range(1, 31))

LAZY_BIND_REFUSAL = (
    "celgate cannot evaluate this expression: it would run a lazily bound cel.bind-shaped "
    "comprehension, which cel-cpp can evaluate wrongly (webhook/cel/compat.py D30)"
)


def lazily_bound(ast: CheckedAst) -> bool:
    """Whether a program of ``ast`` runs a comprehension cel-cpp initialises lazily (D30): an
    empty literal range and a constant false loop condition, the shape of ``cel.bind``."""
    return any(
        isinstance(node, Comprehension) and isinstance(node.iter_range, CreateList)
        and not node.iter_range.elements and isinstance(node.loop_condition, Const)
        and node.loop_condition.value is False
        for node in ast.walk()
    )

# cel-go interpreter/decorators.go decOptimize folds these (overloads.IsTypeConversionFunction).
CONVERSIONS = frozenset({"bool", "bytes", "double", "duration", "dyn", "int", "string", "timestamp", "type", "uint"})


def difference(code: str) -> str:
    """The docstring paragraph for one difference (used as xfail reasons)."""
    if code not in DOCUMENTED_DIFFERENCES:
        raise KeyError(f"{code} is not a documented cel-cpp/cel-go difference (see webhook/cel/compat.py)")
    lines = __doc__.splitlines() if __doc__ else []
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{code}. "))
    paragraph = [lines[start]]
    for line in lines[start + 1:]:
        if not line.startswith("    "):
            break
        paragraph.append(line.strip())
    return " ".join(paragraph)


def _literal(node: Const) -> str | None:
    """CEL source for a constant, or None when it has no literal form (non-finite doubles)."""
    value = node.value
    if node.kind == "string" and isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if node.kind == "bytes" and isinstance(value, (bytes, bytearray)):
        return 'b"' + "".join(f"\\x{byte:02x}" for byte in bytes(value)) + '"'
    if node.kind == "int":
        return str(value)
    if node.kind == "uint":
        return f"{value}u"
    if node.kind == "double" and isinstance(value, float) and value == value and abs(value) != float("inf"):
        return repr(value)
    if node.kind == "bool":
        return "true" if value else "false"
    if node.kind == "null":
        return "null"
    return None


def _constant_conversion(node: Expr) -> str | None:
    """Source of ``node`` if it is a conversion of a constant (possibly nested), else None."""
    if isinstance(node, Const):
        return _literal(node)
    if isinstance(node, Call) and node.target is None and node.function in CONVERSIONS and len(node.args) == 1:
        inner = _constant_conversion(node.args[0])
        return None if inner is None else f"{node.function}({inner})"
    return None


def failing_constant_conversion(ast: CheckedAst, evaluate: Callable[[str], str | None]) -> str | None:
    """cel-go's error for the first constant conversion that always fails, else None.

    kube-apiserver builds programs with OptOptimize, which evaluates conversions of constants
    while planning, so ``int('abc')`` fails when the expression is compiled. ``evaluate`` runs
    a constant expression and returns its error text (None when it succeeds).
    """
    for node in ast.walk():
        if isinstance(node, Call) and node.function in CONVERSIONS:
            source = _constant_conversion(node)
            if source is not None:
                error = evaluate(source)
                if error is not None:
                    return error
    return None


_OVERLOAD_ERROR = re.compile(
    r"^(ERROR: <input>:(\d+):(\d+): found no matching overload for '([^']+)' applied to ')\(([^']*)\)'", re.M
)


# checker.go: "expression of type '%s' cannot be range of a comprehension (must be list, map, or dynamic)".
_RANGE_ERROR = re.compile(r"expression of type '([^']*)' cannot be the range of a comprehension")


def cel_go_compile_message(message: str, expression: str) -> str:
    """cel-cpp's overload and comprehension-range errors in cel-go's words: ``null`` rather
    than ``null_type``, a member call's receiver before the dot (``'string.()'``, cel-cpp
    ``'(string)'``), "cannot be range of" (cel-cpp "cannot be the range of")."""
    lines = expression.split("\n")
    message = _RANGE_ERROR.sub(
        lambda m: f"expression of type '{'null' if m.group(1) == 'null_type' else m.group(1)}' cannot be range of a comprehension",
        message,
    )

    def rewrite(match: re.Match[str]) -> str:
        head, line, column, function, arguments = match.groups()
        types = [t.strip() for t in _split_types(arguments)]
        types = ["null" if t == "null_type" else t for t in types]
        if types and _is_member_call(lines, int(line), int(column), function):
            return f"{head}{types[0]}.({', '.join(types[1:])})'"
        return f"{head}({', '.join(types)})'"

    return _OVERLOAD_ERROR.sub(rewrite, message)


def _split_types(arguments: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in arguments:
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
            continue
        depth += char in "(<"
        depth -= char in ")>"
        current += char
    if current.strip():
        parts.append(current)
    return parts


def _is_member_call(lines: list[str], line: int, column: int, function: str) -> bool:
    if not 0 < line <= len(lines) or function.startswith("_"):
        return False
    before = lines[line - 1][: max(0, column - 1)].rstrip()
    return before.endswith(function) and before[: len(before) - len(function)].rstrip().endswith(".")
