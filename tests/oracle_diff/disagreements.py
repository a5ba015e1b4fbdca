"""Naming a disagreement between celgate and the oracle: a documented difference
(webhook/cel/compat.py), a class known and being fixed elsewhere, or unexplained.

A documented difference is recognised by rewriting the oracle's text the way the difference
changes it (D4: cel-go names the missing key, celgate cannot); when the rewritten answers agree,
the disagreement is that difference and nothing else.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, Callable

from agreement import Disagreement, same_value

# (code, pattern in cel-go's text, what celgate says instead)
_DOCUMENTED_REWRITES: tuple[tuple[str, re.Pattern[str], str | Callable[[re.Match[str]], str]], ...] = (
    ("D4", re.compile(r"no such key: [^\"'\],]*"), "no such key"),
    ("D4", re.compile(r"(?<=index out of bounds: )-?\d[\d.]*e[+-]\d+"), lambda m: str(int(float(m.group(0))))),
    ("D4", re.compile(r"unsupported index value \S+ in list"), "unsupported index type 'double' in list"),
    ("D4", re.compile(r"unsupported index type 'string' in list"), "no such key"),  # list.field
    ("D21", re.compile(r"got 'types\.\w+', expected iterable type"), "no such overload: <iter_range>"),
    ("D21", re.compile(r"unsupported comprehension range type: types\.\w+"), "no such overload: <iter_range>"),
    ("D12", re.compile(r"(?<=\W)\+Inf\b"), "inf"),
    ("D12", re.compile(r"(?<=\W)-Inf\b"), "-inf"),
    ("D12", re.compile(r"(?<=\W)NaN\b"), "nan"),
    ("D12", re.compile(r"(?<=\W)\+INF\b"), "INF"),
    ("D12", re.compile(r"(?<=\W)-INF\b"), "-INF"),
    ("D29", re.compile(r"(?<=no such overload: )(\w+)\((kubernetes\.\w+|net\.\w+)"), r"\1(struct"),
)



def _texts(case: dict[str, Any]) -> list[str]:
    if "expr" in case:
        return [case["expr"]]
    spec = case["policy"]["spec"]
    texts = [v["expression"] for v in spec.get("variables", [])]
    texts += [m["expression"] for m in spec.get("matchConditions", [])]
    for validation in spec.get("validations", []):
        texts += [validation["expression"], validation.get("messageExpression", "")]
    texts += [a["valueExpression"] for a in spec.get("auditAnnotations", [])]
    return texts


def _rewritten(answer: Any, codes: list[str]) -> Any:
    text = json.dumps(answer, sort_keys=True)
    for code, pattern, replacement in _DOCUMENTED_REWRITES:
        text, count = pattern.subn(replacement, text)
        if count:
            codes.append(code)
    return json.loads(text)


def _mentions(answer: Any, *needles: str) -> bool:
    text = json.dumps(answer)
    return any(needle in text for needle in needles)


def _optional_on_null(d: Disagreement) -> bool:
    if _mentions(d.celgate, "no such overload: _[?_]", "no such overload: _?._"):
        return True
    # A messageExpression that failed this way is invisible: celgate fell back to the message.
    if "policy" not in d.case or not isinstance(d.celgate.get("decisions"), list):
        return False
    if not same_value(d.celgate.get("auditAnnotations"), d.oracle.get("auditAnnotations")):
        return False
    validations = d.case["policy"]["spec"]["validations"]
    differing = [(v, ours, theirs) for v, ours, theirs in zip(validations, d.celgate["decisions"], d.oracle.get("decisions", []))
                 if ours != theirs]
    if not differing or len(d.celgate["decisions"]) != len(d.oracle.get("decisions", [])):
        return False
    for validation, ours, theirs in differing:
        optional = re.search(r"\.\?|\[\?", validation.get("messageExpression", ""))
        fallback = ours["message"] in (validation.get("message", "").strip(),
                                       "failed expression: " + validation["expression"].strip())
        if not (ours["evaluation"] == theirs["evaluation"] == "deny" and optional and fallback):
            return False
    return True


# The disagreement classes known and being fixed in other workstreams: (class, reason, test),
# tried in order (stale-bind, the loosest, last). Whoever fixes one removes it here; the bounded
# fuzz test then holds celgate to it.
KNOWN_AND_BEING_FIXED: tuple[tuple[str, str, Callable[[Disagreement], bool]], ...] = (
    ("optional-on-null",
     "x[?k] and x.?f on a null x are optional.none() in cel-go; celgate says 'no such overload: "
     "_[?_]' / '_?._' where presence.py's rewrite does not reach "
     "(object.metadata.?labels[?'app'] with labels: null)",
     _optional_on_null),
)


# Differences recognised by cel-go's text alone (the celgate side says something else entirely).
_ORACLE_SIGNATURES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("D17", re.compile(r"internal error: interface conversion: [\w.*]+ is not traits\.Lister")),
    ("D26", re.compile(r"NaN values cannot be ordered")),
    ("D27", re.compile(r"invalid qualifier type: ")),
)


# ... and by celgate's text alone.
_CELGATE_SIGNATURES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("D15", re.compile(r"transformMap and transformMapEntry are not supported")),
)


def _format_optional(d: Disagreement) -> bool:
    # D28: the format library's optionals are plain values here; eval prints [] for none.
    if "format." not in d.case.get("expr", "") or "optional" not in d.oracle:
        return False
    if d.oracle["optional"] == "none":
        return d.celgate == {"value": []}
    return "value" in d.celgate and "optional" not in d.celgate


_QUANTITY_RESULT = re.compile(r"^(quantity|semver)\(.*\)$", re.S)


def _quantity_display(d: Disagreement) -> bool:
    # D16: a Quantity or Semver result prints in celgate's chosen form, not Go's String().
    return bool(_QUANTITY_RESULT.match(d.case.get("expr", ""))) and all(
        isinstance(answer.get("value"), str) and "optional" not in answer for answer in (d.celgate, d.oracle))


def _approximate_float(d: Disagreement) -> bool:
    # D19: asApproximateFloat() of a value apimachinery keeps as inf.Dec may differ in the last bit.
    ours, theirs = d.celgate.get("value"), d.oracle.get("value")
    return ("asApproximateFloat" in d.case.get("expr", "") and isinstance(ours, float) and isinstance(theirs, float)
            and abs(ours - theirs) <= 4 * math.ulp(max(abs(ours), abs(theirs))))


# Where the oracle, not celgate, is off: it is built with the local Go (tests/oracle/build.sh),
# kube-apiserver v1.35 releases with Go 1.25, and net/url's host parsing changed in between.
ORACLE_LIMITS: tuple[tuple[str, str, Callable[[Disagreement], bool]], ...] = (
    ("go-toolchain-url",
     "Go 1.26's net/url rejects a host with a bracketed IP after other characters "
     "(http://a[::1]/: invalid IP-literal); Go 1.25, which kube-apiserver v1.35 is built with, "
     "accepts it (tests/fixtures/cel/library/urls_kube_apiserver.jsonl was recorded with it)",
     lambda d: "invalid IP-literal" in json.dumps(d.oracle)
     or (d.case.get("expr") == 'isURL("http://a[::1]/")' and d.oracle == {"value": False})),
)


def classify(d: Disagreement) -> tuple[str, str] | None:
    """(class, why) for an explained disagreement, None for one nobody has explained."""
    oracle_text, celgate_text = json.dumps(d.oracle), json.dumps(d.celgate)
    for code, signature in _ORACLE_SIGNATURES:
        if signature.search(oracle_text):
            return code, "documented in webhook/cel/compat.py"
    for code, signature in _CELGATE_SIGNATURES:
        if signature.search(celgate_text):
            return code, "documented in webhook/cel/compat.py"
    if _format_optional(d):
        return "D28", "documented in webhook/cel/compat.py"
    if _quantity_display(d):
        return "D16", "documented in webhook/cel/compat.py"
    if _approximate_float(d):
        return "D19", "documented in webhook/cel/compat.py"
    for name, reason, test in ORACLE_LIMITS:
        if test(d):
            return name, reason
    codes: list[str] = []
    if same_value(d.celgate, _rewritten(d.oracle, codes)) and codes:
        return "+".join(sorted(set(codes))), "documented in webhook/cel/compat.py"
    for name, reason, test in KNOWN_AND_BEING_FIXED:
        if test(d):
            return name, reason
    return None
