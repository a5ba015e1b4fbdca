"""Kubernetes CIDR library: ``cidr('10.0.0.0/8')``, ``containsIP``, ``containsCIDR``, ``masked``.

Source: k8s.io/apiserver/pkg/cel/library/cidr.go (v1.35), on Go net/netip semantics
(go_netip.py). A ``net.CIDR`` value holds netip.Prefix.String(): the address is kept as
written, so ``cidr('10.0.0.1/8') != cidr('10.0.0.0/8')`` until ``masked()``.

``string(cidr)`` has no declaration of its own: cel-cpp accepts only one message-typed
``string`` overload (ip.py's, whose implementation serves both types), so the checker does
not know ``string(net.CIDR)`` and the environment compiles such expressions unchecked.
"""

from __future__ import annotations

from typing import Any

from cel_expr_python import cel

from webhook.cel.errors import CelFunctionError
from webhook.cel.library import CelLibrary, ip
from webhook.cel.library.go_netip import AddrParseError, Prefix, parse_prefix
from webhook.cel.string_format import go_quote
from webhook.cel.types import OpaqueType, opaque_type

T = cel.Type

CIDR = opaque_type("net.CIDR")
_PARSE_ERROR = "network address parse error during conversion from string: "


def parse_cidr(text: str) -> Prefix:
    """cidr.go stringToCIDR(parseCIDR), with its doubled error prefix."""
    try:
        prefix = parse_prefix(text)
    except AddrParseError as exc:
        raise CelFunctionError(f"{_PARSE_ERROR}{_PARSE_ERROR}{exc}") from None
    if prefix.addr.is_4in6():
        raise CelFunctionError(f"{_PARSE_ERROR}IPv4-mapped IPv6 address {go_quote(text)} is not allowed")
    return prefix


def to_cel(prefix: Prefix) -> Any:
    return CIDR.wrap(str(prefix))


def from_message(message: Any) -> Prefix:
    return parse_prefix(OpaqueType.unwrap(message))


def _contains_ip_string(message: Any, text: str) -> bool:
    try:
        addr = ip.parse_ip(text)
    except CelFunctionError:
        # cidrContainsIP reports a bad operand as MaybeNoSuchOverloadErr(receiver).
        raise CelFunctionError("no such overload") from None
    return from_message(message).contains(addr)


def contains_cidr(outer: Prefix, inner: Prefix) -> bool:
    return outer.overlaps(inner) and outer.bits <= inner.bits


def _is_cidr(text: str) -> bool:
    try:
        parse_cidr(text)
    except CelFunctionError:
        return False
    return True


def _member(overload_id: str, params: list[cel.Type], result: cel.Type, impl: Any) -> cel.Overload:
    return cel.Overload(overload_id, result, params, is_member=True, impl=impl)


_C, _IP = CIDR.cel_type, ip.IP.cel_type

LIBRARY = CelLibrary(
    name="kubernetes.net.cidr",
    functions=(
        cel.FunctionDecl("cidr", [cel.Overload("string_to_cidr", _C, [T.STRING], impl=lambda s: to_cel(parse_cidr(s)))]),
        cel.FunctionDecl(
            "containsIP",
            [
                _member("cidr_contains_ip_string", [_C, T.STRING], T.BOOL, _contains_ip_string),
                _member(
                    "cidr_contains_ip_ip", [_C, _IP], T.BOOL,
                    lambda c, a: from_message(c).contains(ip.from_message(a)),
                ),
            ],
        ),
        cel.FunctionDecl(
            "containsCIDR",
            [
                _member(
                    "cidr_contains_cidr_string", [_C, T.STRING], T.BOOL,
                    lambda c, s: contains_cidr(from_message(c), parse_cidr(s)),
                ),
                _member(
                    "cidr_contains_cidr", [_C, _C], T.BOOL,
                    lambda c, o: contains_cidr(from_message(c), from_message(o)),
                ),
            ],
        ),
        cel.FunctionDecl("ip", [_member("cidr_ip", [_C], _IP, lambda c: ip.to_cel(from_message(c).addr))]),
        cel.FunctionDecl("prefixLength", [_member("cidr_prefix_length", [_C], T.INT, lambda c: from_message(c).bits)]),
        cel.FunctionDecl("masked", [_member("cidr_masked", [_C], _C, lambda c: to_cel(from_message(c).masked()))]),
        cel.FunctionDecl("isCIDR", [cel.Overload("is_cidr", T.BOOL, [T.STRING], impl=_is_cidr)]),
    ),
)
