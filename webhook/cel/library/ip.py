"""Kubernetes IP address library: ``ip('10.0.0.1')``, ``isIP``, ``ip.isCanonical``, predicates.

Source: k8s.io/apiserver/pkg/cel/library/ip.go (v1.35), on Go net/netip semantics
(go_netip.py): IPv4 octets with leading zeros, IPv6 zones and IPv4-mapped IPv6 addresses are
rejected. A ``net.IP`` value holds the address's canonical string (netip.Addr.String()), so
CEL ``==`` compares addresses.

``string(ip)`` is declared here for both ``net.IP`` and ``net.CIDR``: cel-cpp's runtime picks
Python implementations by argument kind, every opaque type is the same kind, and ``string``
is a standard function, so only one message-typed overload can be registered (see cidr.py).
"""

from __future__ import annotations

from typing import Any

from cel_expr_python import cel

from webhook.cel.errors import CelFunctionError
from webhook.cel.library import CelLibrary
from webhook.cel.library.go_netip import Addr, AddrParseError, parse_addr
from webhook.cel.string_format import go_quote
from webhook.cel.types import OpaqueType, lookup_opaque, opaque_type

T = cel.Type

IP = opaque_type("net.IP")


def parse_ip(text: str) -> Addr:
    """ip.go parseIPAddr: netip.ParseAddr without zones or IPv4-mapped IPv6 addresses."""
    try:
        addr = parse_addr(text)
    except AddrParseError as exc:
        raise CelFunctionError(f"IP Address {go_quote(text)} parse error during conversion from string: {exc}") from None
    if addr.zone:
        raise CelFunctionError(f"IP address {go_quote(text)} with zone value is not allowed")
    if addr.is_4in6():
        raise CelFunctionError(f"IPv4-mapped IPv6 address {go_quote(text)} is not allowed")
    return addr


def to_cel(addr: Addr) -> Any:
    return IP.wrap(str(addr))


def from_message(message: Any) -> Addr:
    return parse_addr(OpaqueType.unwrap(message))


def _is_ip(text: str) -> bool:
    try:
        parse_ip(text)
    except CelFunctionError:
        return False
    return True


def _opaque_to_string(message: Any) -> str:
    # Serves string(net.IP) and string(net.CIDR): both hold their canonical string.
    opaque = lookup_opaque(message)
    if opaque is None or opaque.name not in ("net.IP", "net.CIDR"):
        raise CelFunctionError("no such overload")
    return OpaqueType.unwrap(message)


def _predicate(overload_id: str, test: Any) -> cel.Overload:
    return cel.Overload(overload_id, T.BOOL, [IP.cel_type], is_member=True, impl=lambda m: test(from_message(m)))


LIBRARY = CelLibrary(
    name="kubernetes.net.ip",
    functions=(
        cel.FunctionDecl("ip", [cel.Overload("string_to_ip", IP.cel_type, [T.STRING], impl=lambda s: to_cel(parse_ip(s)))]),
        cel.FunctionDecl(
            "family",
            [cel.Overload("ip_family", T.INT, [IP.cel_type], is_member=True, impl=lambda m: 4 if from_message(m).is4 else 6)],
        ),
        cel.FunctionDecl(
            "ip.isCanonical",
            [cel.Overload("ip_is_canonical", T.BOOL, [T.STRING], impl=lambda s: str(parse_ip(s)) == s)],
        ),
        cel.FunctionDecl("isUnspecified", [_predicate("ip_is_unspecified", Addr.is_unspecified)]),
        cel.FunctionDecl("isLoopback", [_predicate("ip_is_loopback", Addr.is_loopback)]),
        cel.FunctionDecl("isLinkLocalMulticast", [_predicate("ip_is_link_local_multicast", Addr.is_link_local_multicast)]),
        cel.FunctionDecl("isLinkLocalUnicast", [_predicate("ip_is_link_local_unicast", Addr.is_link_local_unicast)]),
        cel.FunctionDecl("isGlobalUnicast", [_predicate("ip_is_global_unicast", Addr.is_global_unicast)]),
        cel.FunctionDecl("isIP", [cel.Overload("is_ip", T.BOOL, [T.STRING], impl=_is_ip)]),
        cel.FunctionDecl("string", [cel.Overload("ip_to_string", T.STRING, [IP.cel_type], impl=_opaque_to_string)]),
    ),
)
