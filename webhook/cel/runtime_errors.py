"""cel-cpp runtime error text -> the text cel-go (kube-apiserver) produces for the same failure.

Users compare celgate's messages with the API server's (``no such key: image``), and policy
tests assert on them, so every runtime error leaves the CEL layer in cel-go's words. The table
below is ordered: the first pattern that matches the whole message wins. Messages raised by our
own Python implementations arrive as ``UNKNOWN: <text>``; they already carry cel-go's text and
pass through unchanged. cel-cpp uses that status for two of its own messages (no matching
overload, index errors), which are recognised by their text.

Sources: cel-go v0.26.0 ``common/types/err.go``, ``common/types/*.go`` (conversions),
``common/decls/decls.go`` (MaybeNoSuchOverload), ``interpreter/attributes.go`` (resolution
errors), Go's ``regexp/syntax`` error codes.
"""

from __future__ import annotations

import re
from typing import Callable

from webhook.cel.go_regexp import go_regexp_error

_STATUS_PREFIX = re.compile(r"^[A-Z_]+: ")
_STATUS_SUFFIX = re.compile(r"\s*\[[A-Z_]+\]$")

# cel-cpp's runtime type names -> cel-go's TypeName().
_TYPE_NAMES = {
    "int64": "int",
    "int": "int",
    "uint64": "uint",
    "uint": "uint",
    "double": "double",
    "string": "string",
    "bytes": "bytes",
    "bool": "bool",
    "null_type": "null_type",
    "list": "list",
    "map": "map",
    "type": "type",
    "duration": "google.protobuf.Duration",
    "timestamp": "google.protobuf.Timestamp",
    "google.protobuf.Duration": "google.protobuf.Duration",
    "google.protobuf.Timestamp": "google.protobuf.Timestamp",
    "optional_type": "optional_type",
}

# Operators cel-go binds with one trait-dispatched implementation (common/stdlib/standard.go):
# when the left operand has the trait the type's own method answers a bare "no such overload";
# otherwise the interpreter says "no such overload: <fn>" (interpreter/interpretable.go).
_TRAIT_HOLDERS: dict[str, frozenset[str]] = {
    "_+_": frozenset({"int", "uint", "double", "string", "bytes", "list",
                      "google.protobuf.Duration", "google.protobuf.Timestamp"}),
    "_-_": frozenset({"int", "uint", "double", "google.protobuf.Duration", "google.protobuf.Timestamp"}),
    "_*_": frozenset({"int", "uint", "double"}),
    "_/_": frozenset({"int", "uint", "double"}),
    "_%_": frozenset({"int", "uint"}),
    "-_": frozenset({"int", "double", "google.protobuf.Duration"}),
    "_<_": frozenset({"int", "uint", "double", "string", "bytes", "bool",
                      "google.protobuf.Duration", "google.protobuf.Timestamp"}),
    "size": frozenset({"string", "bytes", "list", "map"}),
}
for _op in ("_<=_", "_>_", "_>=_"):
    _TRAIT_HOLDERS[_op] = _TRAIT_HOLDERS["_<_"]
# Bound without a type guard: the receiver's method answers a bare "no such overload".
# ``<jump_condition>`` is cel-cpp's name for a ternary's condition; cel-go's evalConditional
# answers a non-bool condition with MaybeNoSuchOverloadErr, a bare "no such overload" too, and
# so do its evalAnd/evalOr and logical_not for a non-bool operand (checked against cel-go).
_UNGUARDED = frozenset({"@in", "contains", "startsWith", "endsWith", "matches", "find", "findAll", "<jump_condition>",
                        "_&&_", "_||_", "!_"})
# ext/lists.go: sort's dispatcher names only the function; flatten's the receiver's type first.
_NAME_ONLY = frozenset({"sort"})
_MEMBER_FORM = frozenset({"flatten"})


_CONVERSION_TARGETS = {
    "int": "int",
    "uint": "uint",
    "double": "double",
    "bool": "bool",
    "Duration": "google.protobuf.Duration",
    "Timestamp": "google.protobuf.Timestamp",
}


# cel-cpp names every Kubernetes opaque value "struct" in overload errors; where the function
# has one receiver type, cel-go's message names that type (isLessThan/compareTo, shared by
# Quantity and Semver, cannot be told apart: compat.py D29).
_OPAQUE_RECEIVERS = {
    **dict.fromkeys(("add", "sub", "asInteger", "isInteger", "asApproximateFloat", "sign"), "kubernetes.Quantity"),
    **dict.fromkeys(("major", "minor", "patch"), "kubernetes.Semver"),
    **dict.fromkeys(("containsIP", "containsCIDR", "masked", "prefixLength"), "net.CIDR"),
    **dict.fromkeys(("family", "isUnspecified", "isLoopback", "isLinkLocalMulticast", "isLinkLocalUnicast",
                     "isGlobalUnicast"), "net.IP"),
    **dict.fromkeys(("getScheme", "getHost", "getHostname", "getPort", "getEscapedPath", "getQuery"), "kubernetes.URL"),
    "validate": "kubernetes.NamedFormat",
}


def go_type_name(cpp_name: str) -> str:
    """cel-go's name for a type as cel-cpp prints it in runtime errors."""
    return _TYPE_NAMES.get(cpp_name.strip(), cpp_name.strip())


def _unquote_key(key: str) -> str:
    # cel-cpp quotes string keys (C escapes); cel-go prints the key with %v, i.e. bare.
    if len(key) >= 2 and key[0] == key[-1] == '"':
        return re.sub(r'\\(["\\])', r"\1", key[1:-1])
    return key


def _no_such_overload(match: re.Match[str]) -> str:
    function = match.group("fn")
    receiver = match.group("recv")
    args = [go_type_name(a) for a in (match.group("args") or "").split(",") if a.strip()]
    if receiver is not None:
        args.insert(0, go_type_name(receiver))
    if args and args[0] == "struct" and function in _OPAQUE_RECEIVERS:
        args[0] = _OPAQUE_RECEIVERS[function]
    if function in ("_?._", "_[?_]") and len(args) == 2 and args[0] == "list" and args[1] not in ("double", "int", "uint"):
        # an optional field or key of a list: cel-go's list qualifier (interpreter/attributes.go)
        return f"unsupported index type '{args[1]}' in list"
    if function in _UNGUARDED:
        return "no such overload"
    if function in _NAME_ONLY:
        return f"no such overload: {function}"
    if function in _MEMBER_FORM and args:
        receiver = "map(dyn, dyn)" if args[0] == "map" else args[0]  # a map's runtime type there
        return f"no such overload: {receiver}.{function}({', '.join(args[1:])})"
    holders = _TRAIT_HOLDERS.get(function)
    if holders is not None:
        if args and args[0] in holders:
            return "no such overload"
        return f"no such overload: {function}"
    if match.group("args") is None:
        return f"no such overload: {function}"
    return f"no such overload: {function}({', '.join(args)})"


def _regex_error(match: re.Match[str]) -> str:
    return go_regexp_error(match.group("detail"))


def _conversion(match: re.Match[str]) -> str:
    target = _CONVERSION_TARGETS.get(match.group("to"), match.group("to"))
    return f"type conversion error from '{go_type_name(match.group('from'))}' to '{target}'"


_Rewrite = Callable[[re.Match[str]], str]

_TABLE: tuple[tuple[re.Pattern[str], _Rewrite], ...] = (
    (re.compile(r"Key not found in map : (?P<key>.*)", re.S),
     lambda m: f"no such key: {_unquote_key(m.group('key'))}"),
    (re.compile(r"No matching overloads found : (?:\((?P<recv>[^)]*)\)\.)?(?P<fn>[^(]+)(?:\((?P<args>[^)]*)\))?"),
     _no_such_overload),
    (re.compile(r"Index error: index=(?P<index>-?\d+) size=\d+"),
     lambda m: f"index out of bounds: {m.group('index')}"),
    (re.compile(r"Index error: expected integer type, got (?P<type>\S+)"),
     lambda m: f"unsupported index type '{go_type_name(m.group('type'))}' in list"),
    (re.compile(r"divide by zero"), lambda m: "division by zero"),
    (re.compile(r"modulus by zero"), lambda m: "modulus by zero"),
    (re.compile(r"(?:double|uint64) out of int64 range"), lambda m: "integer overflow"),
    (re.compile(r"(?:double|int64) out of uint64 range"), lambda m: "unsigned integer overflow"),
    # Not quantity.asInteger()'s own "cannot convert value to integer" (library/quantity.go).
    (re.compile(r"cannot convert (?P<from>(?!value )\S+) to (?P<to>\S+)"), _conversion),
    (re.compile(r"Type conversion error from '(?P<from>[^']*)' to '(?P<to>[^']*)'"), _conversion),
    (re.compile(r"String to (?P<to>Duration|Timestamp) conversion failed"),
     lambda m: _conversion_from_string(m.group("to"))),
    (re.compile(r"malformed UTF-8 bytes"), lambda m: "invalid UTF-8 in bytes, cannot convert to string"),
    (re.compile(r'Duration ".*" (?:above|below) (?:maximum|minimum) allowed duration ".*"'),
     lambda m: "duration overflow"),
    (re.compile(r"invalid regular expression: (?P<detail>.*)", re.S), _regex_error),
    # A declared variable the activation does not bind (authorizer in auditAnnotations, whose
    # stage upstream evaluates without an authorizer): interpreter/attributes.go missingAttribute.
    (re.compile(r'No value with name "(?P<name>[^"]*)" found in Activation'),
     lambda m: f"no such attribute(s): {m.group('name')}"),
    # cel-go resolves these through attributes.go's missingKey; cel-cpp's text lacks the key.
    (re.compile(r"Applying SELECT to non-message type"), lambda m: "no such key"),
    (re.compile(r"Invalid (?:map key|container) type: '(?P<type>[^']*)'"), lambda m: "no such key"),
)


_UNBOUND_VARIABLE = re.compile(r'No value with name "[^"]*" found in Activation')


def is_unbound_variable(message: str) -> bool:
    """cel-cpp raises (rather than returns an error value) for a declared variable left unbound."""
    return _UNBOUND_VARIABLE.fullmatch(strip_status(message)) is not None


def _conversion_from_string(target: str) -> str:
    return f"type conversion error from 'string' to '{_CONVERSION_TARGETS[target]}'"


# The only cel-cpp errors with the UNKNOWN status (no matching overload, index errors, an
# unbound variable), which errors raised by our Python
# implementations (CelFunctionError) carry too: other rewrites never touch such a text.
_UNKNOWN_STATUS_PREFIXES = ("No matching overloads found : ", "Index error: ", "No value with name ")


def strip_status(message: str) -> str:
    """cel-cpp wraps messages as ``CODE: text [CODE]``; cel-go prints only the text."""
    return _STATUS_SUFFIX.sub("", _STATUS_PREFIX.sub("", message, count=1))


def translate(message: str) -> str:
    """cel-go's wording of a cel-cpp runtime error message (status decoration removed)."""
    text = strip_status(message)
    if message.startswith("UNKNOWN: ") and not text.startswith(_UNKNOWN_STATUS_PREFIXES):
        return text
    for pattern, rewrite in _TABLE:
        match = pattern.fullmatch(text)
        if match is not None:
            return rewrite(match)
    return text
