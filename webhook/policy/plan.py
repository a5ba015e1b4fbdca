"""A policy's evaluation plan: each filter of the policy as one cel-cpp program, compiled once.

kube-apiserver evaluates a filter (the matchConditions; the validations and then their
messageExpressions; the auditAnnotations) expression by expression, reading ``spec.variables``
lazily, each at most once (admission/plugin/cel/filter.go, composition.go). celgate compiles
the filter into one program instead — one cel-cpp call per filter over the request's shared
activation, no value crossing into Python until the results::

    [[dyn(A), dyn(B)]].map(__celgate_l0,          // variables that read no variable
     [[dyn(C)]].map(__celgate_l1,                 // variables that read layer 0
      [dyn(E1), dyn(E2), dyn(M1)]))               // the filter's expressions, in order

with ``variables.a`` read as ``__celgate_l0[0]``; the result, one list per layer around the
filter's, is unwrapped in Python (an index after each ``map`` would double the parser depth a
layer takes, and cel-cpp's parser stops at 32). Every variable the filter can read is
evaluated once, eagerly, as an iteration variable (never a ``cel.bind``: compat.py D30). Eager
and lazy evaluation give the same values exactly when nothing fails, so the plan's answer is
taken only when the program returns without an error, and only when its cost bound (cost.py,
an upper bound of everything it evaluates) proves that no limit can be reached: the bound is
charged for the validations filter and again for the messages filter, as upstream charges
variables once per filter. Otherwise the filter is evaluated by exact.py, which is lazy, exact
in cost and words each error as kube-apiserver does. The parts run under the same checks as the
expressions they come from (each was compiled and validated on its own first).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

from webhook.cel import CelCompileError, CelEnvironment, CompiledExpression
from webhook.cel.ast import Call, CelAstDecodeError
from webhook.policy import composition, guards

_LAYER = "__celgate_l"


@dataclass(frozen=True)
class Stage:
    """One program of a filter: it computes layers ``first`` to ``first + count - 1`` and, when
    it is the last, the filter's results. The variables of earlier stages it reads (``needs``)
    come in the ``variables`` map of its activation, by their own names; a stage that is not the
    last returns the values of those of its variables that later stages read, named by ``names``."""

    program: CompiledExpression
    first: int
    count: int
    final: bool
    needs: tuple[str, ...] = ()
    names: tuple[str, ...] = ()  # the variables a stage that is not the last hands on, in order


@dataclass(frozen=True)
class FilterPlan:
    """One filter: how many results, and the programs that compute them (usually one)."""

    size: int
    stages: tuple[Stage, ...] = ()  # empty: the filter cannot be planned (exact.py decides)

    @property
    def planned(self) -> bool:
        return bool(self.stages)


def unwrap(value: list, count: int) -> list:
    for _ in range(count):
        value = value[0]
    return value


def _layers(needed: Iterable[str], reads: Mapping[str, Sequence[str]], order: Sequence[str]) -> list[list[str]]:
    depth: dict[str, int] = {}

    def depth_of(name: str) -> int:
        if name not in depth:
            depth[name] = 1 + max((depth_of(r) for r in reads.get(name, ()) if r in reads), default=-1)
        return depth[name]

    wanted = set(needed)
    for name in wanted:
        depth_of(name)
    layers: list[list[str]] = [[] for _ in range(1 + max(depth.values(), default=-1))]
    for name in order:  # declaration order inside a layer
        if name in wanted:
            layers[depth[name]].append(name)
    return layers


def _closure(direct: Iterable[str], reads: Mapping[str, Sequence[str]]) -> set[str]:
    needed: set[str] = set()
    pending = list(direct)
    while pending:
        name = pending.pop()
        if name not in needed:
            needed.add(name)
            pending.extend(reads.get(name, ()))
    return needed


def _substitute(expression: str, slots: Mapping[str, str]) -> str:
    out: list[str] = []
    position = 0
    for ref in composition.references(expression):
        if ref.name not in slots:
            continue
        out.append(expression[position:ref.start])
        out.append("true" if ref.presence else slots[ref.name])
        position = ref.end
    out.append(expression[position:])
    return "".join(out)


def _element(expression: str) -> str:
    # own lines, so that a trailing ``// comment`` cannot swallow what follows
    return f"dyn(\n{expression}\n)"


def _stage_text(expressions: Sequence[str], layers: Sequence[Sequence[str]], definitions: Mapping[str, str],
                first: int, count: int, final: bool) -> str:
    """The program of layers ``first`` to ``first + count - 1``: the filter's results when
    ``final``, else the values of its variables that later layers or the results read
    (:func:`_handed_on`), in that order."""
    slots = {}
    for depth, layer in enumerate(layers):
        for index, name in enumerate(layer):
            # computed by an earlier stage: read from the activation's ``variables`` as written
            slots[name] = f"variables.{name}" if depth < first else f"{_LAYER}{depth}[{index}]"
    if final:
        text = "[" + ", ".join(_element(_substitute(e, slots)) for e in expressions) + "]"
    else:
        text = "[" + ", ".join(slots[name] for name in _handed_on(expressions, layers, definitions, first, count)) + "]"
    for depth in reversed(range(first, first + count)):
        values = ", ".join(_element(_substitute(definitions[name], slots)) for name in layers[depth])
        text = f"[[{values}]].map({_LAYER}{depth},\n{text}\n)"
    return text


def _compile(env: CelEnvironment, text: str) -> CompiledExpression | None:
    try:
        program = env.compile(text, internal=True)
    except (CelCompileError, CelAstDecodeError):
        return None  # deeper than cel-cpp's parser (32 levels) or the AST decoder (100) goes
    return program if program.runnable else None


def _crosses_safely(layer: Sequence[str], env: CelEnvironment, definitions: Mapping[str, str]) -> bool:
    """Whether the layer's values survive a trip through Python (no uint: it would come back an
    int; optionals and type values fail loudly at run time and send the request to exact.py)."""
    for name in layer:
        ast = env.compile(definitions[name]).ast
        if ast is None or any("uint" in str(getattr(node, "type", "")) or getattr(node, "kind", "") == "uint"
                              or (isinstance(node, Call) and node.function == "uint") for node in ast.walk()):
            return False
    return True


def _handed_on(expressions: Sequence[str], layers: Sequence[Sequence[str]], definitions: Mapping[str, str],
               first: int, count: int) -> tuple[str, ...]:
    """The variables of layers ``first`` to ``first + count - 1`` that later layers or the
    filter's expressions read, in layer order."""
    later = [definitions[name] for layer in layers[first + count:] for name in layer] + list(expressions)
    read = {ref.name for text in later for ref in composition.references(text)}
    return tuple(name for layer in layers[first:first + count] for name in layer if name in read)


def _needs(expressions: Sequence[str], layers: Sequence[Sequence[str]], definitions: Mapping[str, str],
           first: int, count: int, final: bool) -> tuple[str, ...]:
    earlier = {name for layer in layers[:first] for name in layer}
    texts = [definitions[name] for layer in layers[first:first + count] for name in layer]
    if final:
        texts.extend(expressions)
    return tuple(sorted({ref.name for text in texts for ref in composition.references(text) if ref.name in earlier}))


def build(env: CelEnvironment, expressions: Sequence[str], definitions: Mapping[str, str],
          reads: Mapping[str, Sequence[str]], order: Sequence[str]) -> FilterPlan:
    """The plan of one filter: ``expressions`` in order, reading ``definitions`` (name ->
    expression) of which ``reads`` gives the variables each reads directly. As few programs as
    cel-cpp's parser allows: when the whole filter nests too deeply, the layers are split into
    stages, each as long as compiles. Each variable is computed under its guard (guards.py)."""
    direct = {ref.name for e in expressions for ref in composition.references(e) if ref.name in definitions}
    needed = _closure(direct, reads)
    guarded, reads = _guarded(env, expressions, definitions, reads, order, needed)
    layers = _layers(needed, reads, order)
    stages: list[Stage] = []
    first = 0
    while True:
        remaining = len(layers) - first
        final = _compile(env, _stage_text(expressions, layers, guarded, first, remaining, True))
        if final is not None:
            stages.append(Stage(final, first, remaining, True, _needs(expressions, layers, guarded, first, remaining, True)))
            break
        count = _longest_stage(env, expressions, layers, guarded, first, remaining - 1)
        if count == 0:
            return FilterPlan(len(expressions))
        program = _compile(env, _stage_text(expressions, layers, guarded, first, count, False))
        assert program is not None
        names = _handed_on(expressions, layers, guarded, first, count)
        stages.append(Stage(program, first, count, False, _needs(expressions, layers, guarded, first, count, False), names))
        first += count
    crossing = [name for stage in stages for name in stage.needs]
    if not _crosses_safely(crossing, env, definitions):
        return FilterPlan(len(expressions))
    return FilterPlan(len(expressions), tuple(stages))


def _guarded(env: CelEnvironment, expressions: Sequence[str], definitions: Mapping[str, str],
             reads: Mapping[str, Sequence[str]], order: Sequence[str],
             needed: set[str]) -> tuple[dict[str, str], dict[str, tuple[str, ...]]]:
    """Each needed variable's definition under its guard, and what each then reads (its guard's
    variables too). A guard that would make variables read each other in a cycle is dropped."""
    def branch_reads(text: str) -> dict[str, list[guards.Conjunction]]:
        try:
            ast = env.compile(text, internal=True).ast
        except (CelCompileError, CelAstDecodeError):
            ast = None
        return guards.branch_reads(ast, needed)

    found = guards.guards([branch_reads(e) for e in expressions],
                          {name: branch_reads(definitions[name]) for name in needed},
                          [name for name in order if name in needed])
    conditions = {name: guards.text(guard) for name, guard in found.items()}
    while True:
        guarded = {name: definitions[name] for name in needed}
        widened = {name: tuple(reads.get(name, ())) for name in needed}
        for name, condition in conditions.items():
            if condition is None:
                continue
            guarded[name] = f"(\n{condition}\n) ? dyn(\n{definitions[name]}\n) : dyn(null)"
            extra = {ref.name for ref in composition.references(condition) if ref.name in needed}
            widened[name] = tuple(sorted(set(widened[name]) | extra))
        cycle = _cycle(widened)
        if not cycle:
            return guarded, widened
        for name in cycle:
            conditions[name] = None


def _cycle(reads: Mapping[str, Sequence[str]]) -> list[str]:
    """The variables of one cycle of ``reads``, or [] when there is none."""
    state: dict[str, int] = {}  # 1 visiting, 2 done
    path: list[str] = []

    def visit(name: str) -> list[str]:
        state[name] = 1
        path.append(name)
        for read in reads.get(name, ()):
            if read not in reads:
                continue
            if state.get(read) == 1:
                return path[path.index(read):]
            if read not in state:
                found = visit(read)
                if found:
                    return found
        path.pop()
        state[name] = 2
        return []

    for name in reads:
        if name not in state:
            found = visit(name)
            if found:
                return found
    return []


def _longest_stage(env: CelEnvironment, expressions: Sequence[str], layers: Sequence[Sequence[str]],
                   definitions: Mapping[str, str], first: int, most: int) -> int:
    """How many layers from ``first`` (at most ``most``) compile as one stage; 0 when none.

    Whether layers compile is monotone in their number (each more nests deeper), so this is a
    binary search; ``most`` is tried first, as a filter too deep by a layer is the usual case
    and each probe is a full compile."""
    if most > 0 and _compile(env, _stage_text(expressions, layers, definitions, first, most, False)) is not None:
        return most
    low, high = 0, most - 1  # invariant: ``low`` layers compile (0 trivially)
    while low < high:
        middle = (low + high + 1) // 2
        if _compile(env, _stage_text(expressions, layers, definitions, first, middle, False)) is not None:
            low = middle
        else:
            high = middle - 1
    return low
