"""Where celgate's CEL (cel-cpp via cel-expr-python 0.1.3) still differs from cel-go v0.26.0 as
kube-apiserver v1.35 runs it, and why. Tests marked ``xfail(strict=True)`` cite these by number.

Fixed elsewhere (no longer differences):
  * runtime error texts are rewritten into cel-go's words (runtime_errors.py);
  * the strings extension v2 is our own (ext_strings.py, string_format.py), because cel-cpp's
    errors on ``indexOf``/``lastIndexOf`` offsets past the end, drops the index from range
    errors and formats lists, maps, doubles and ``%e`` differently;
  * cross-type numeric comparisons (``1 < 1.5``) compile unchecked (environment.py);
  * ``has(x.f)`` and ``x.?f`` on null or a scalar are ``false`` / ``optional.none()`` as in
    cel-go (kube-apiserver leaves EnableErrorOnBadPresenceTest off), not cel-cpp's error:
    ``oldObject`` on CREATE, ``namespaceObject`` for cluster-scoped objects (presence.py).

Remaining differences:

D1. Sub-microsecond durations and timestamps lose their nanoseconds when they pass through a
    Python function implementation (cel-expr-python converts them to ``datetime``): e.g.
    ``'%s'.format([duration('2ns')])`` is ``0s`` (cel-go ``0.000000002s``). Comparisons and
    arithmetic inside cel-cpp keep nanoseconds.
D2. A map with both ``true`` and ``1`` (or ``1u``) keys collapses to one entry when it crosses
    into Python (Python's ``True == 1``): in ``format`` arguments and in results printed by
    ``celgate eval``. Only mixed-key maps built with ``dyn()`` keys reach it: Kubernetes'
    homogeneous-literal check rejects the plain literal.
D3. ``string.format`` literal checks that cel-go runs at compile time (too many arguments,
    clause/argument type mismatch on literal lists) happen at run time here, with cel-go's
    runtime wording; a format string with surplus arguments is accepted.
D4. ``uint`` values reach Python implementations as ``int``: ``format`` error texts say
    ``was given int`` where cel-go says ``uint``; hex/octal/binary of uints is unaffected.
D5. Field selection on a scalar or a list (``object.spec.replicas.x``) fails with
    ``no such key`` without the field name: cel-cpp's message (``Applying SELECT to
    non-message type``) does not carry it (cel-go: ``no such key: x``, or
    ``unsupported index type 'string' in list`` for a list).
D6. A duration or timestamp past cel-cpp's range fails as ``duration overflow``; cel-go has
    a narrower duration range (Go's int64 nanoseconds, about 292 years) and reports an
    out-of-range duration *string* as ``type conversion error from 'string' to
    'google.protobuf.Duration'``; durations between 292 and 10,000 years convert in cel-cpp.
D7. ``getHours('bad/zone')`` and friends fail with cel-cpp's ``Invalid timezone`` (cel-go:
    ``unknown time zone bad/zone``).
D8. Optional values cannot be returned to Python (cel-expr-python); ``celgate eval`` unwraps a
    top-level optional inside CEL, but an optional nested in a list or map result is reported
    as a runtime error by ``celgate eval`` (policies never return optionals: validation
    expressions are bool, messageExpressions string).
D9. ``duration.getMilliseconds()`` is the millisecond *component* in cel-cpp
    (``duration('1.5s').getMilliseconds() == 500``) and the *total* in cel-go (``1500``,
    Go's Duration.Milliseconds). cel-cpp registers the overload natively, so a Python
    replacement is refused (ALREADY_EXISTS); write ``duration.getSeconds() * 1000`` or
    compare durations directly.
D10. ``optional.unwrap(list)`` and ``list.unwrapOpt()`` (optional library version 2, which
    cel-go enables by default) are not declared by cel-cpp's optional extension, and a Python
    replacement cannot receive optional values (``Unimplemented type: 17``): such
    expressions fail to compile (``undeclared reference``). Use
    ``list.filter(o, o.hasValue()).map(o, o.value())``.
D11. cel-cpp's checker types an optional index on a ``dyn`` operand (``object.spec.list[?0]``,
    ``object.metadata.labels[?'k']``) as ``dyn`` where cel-go infers ``optional_type(dyn)``.
    Evaluation is the same, but such an index cannot be an optional element or entry:
    ``[?object.spec.list[?0]]`` fails to compile (``expected type 'optional_type(dyn)' but
    found 'dyn'``). Write ``object.?spec.?list[?0]`` style chains inside the literal, or
    ``.orValue(...)``.
"""

from __future__ import annotations

DOCUMENTED_DIFFERENCES = ("D1", "D2", "D3", "D4", "D5", "D6", "D7", "D8", "D9", "D10", "D11")


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
