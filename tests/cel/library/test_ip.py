"""The Kubernetes IP address library, on Go net/netip semantics.

Upstream cases: apiserver v0.35.0 pkg/cel/library/ip_test.go (TestIP). Recorded cases:
ip_kube_apiserver.jsonl (see kube_apiserver_cases.py).
"""

from __future__ import annotations

import pytest

from kube_apiserver_cases import evaluate, mismatches
from webhook.cel import CelCompileError, CelEnvironment
from webhook.cel.values import OpaqueValue


@pytest.fixture(scope="module")
def env() -> CelEnvironment:
    return CelEnvironment({})


# (name, expression, expected result) from TestIP.
UPSTREAM_VALUES = [
    ("parse ipv4", 'ip("192.168.0.1")', OpaqueValue("net.IP", "192.168.0.1", "192.168.0.1")),
    ("isIP valid ipv4", 'isIP("192.168.0.1")', True),
    ("isIP invalid ipv4", 'isIP("192.168.0.1.0")', False),
    ("ip.isCanonical valid ipv4", 'ip.isCanonical("127.0.0.1")', True),
    ("ipv4 family", 'ip("192.168.0.1").family()', 4),
    ("ipv4 isUnspecified true", 'ip("0.0.0.0").isUnspecified()', True),
    ("ipv4 isUnspecified false", 'ip("127.0.0.1").isUnspecified()', False),
    ("ipv4 isLoopback true", 'ip("127.0.0.1").isLoopback()', True),
    ("ipv4 isLoopback false", 'ip("1.2.3.4").isLoopback()', False),
    ("ipv4 isLinkLocalMulticast true", 'ip("224.0.0.1").isLinkLocalMulticast()', True),
    ("ipv4 isLinkLocalMulticast false", 'ip("224.0.1.1").isLinkLocalMulticast()', False),
    ("ipv4 isLinkLocalUnicast true", 'ip("169.254.169.254").isLinkLocalUnicast()', True),
    ("ipv4 isLinkLocalUnicast false", 'ip("192.168.0.1").isLinkLocalUnicast()', False),
    ("ipv4 isGlobalUnicast true", 'ip("192.168.0.1").isGlobalUnicast()', True),
    ("ipv4 isGlobalUnicast false", 'ip("255.255.255.255").isGlobalUnicast()', False),
    ("parse ipv6", 'ip("2001:db8::68")', OpaqueValue("net.IP", "2001:db8::68", "2001:db8::68")),
    ("isIP valid ipv6", 'isIP("2001:db8::68")', True),
    ("isIP invalid ipv6", 'isIP("2001:db8:::68")', False),
    ("ip.isCanonical valid ipv6", 'ip.isCanonical("2001:db8::68")', True),
    ("ip.isCanonical non-canonical ipv6", 'ip.isCanonical("2001:DB8::68")', False),
    ("ipv6 family", 'ip("2001:db8::68").family()', 6),
    ("ipv6 isUnspecified true", 'ip("::").isUnspecified()', True),
    ("ipv6 isUnspecified false", 'ip("::1").isUnspecified()', False),
    ("ipv6 isLoopback true", 'ip("::1").isLoopback()', True),
    ("ipv6 isLoopback false", 'ip("2001:db8::abcd").isLoopback()', False),
    ("ipv6 isLinkLocalMulticast true", 'ip("ff02::1").isLinkLocalMulticast()', True),
    ("ipv6 isLinkLocalMulticast false", 'ip("fd00::1").isLinkLocalMulticast()', False),
    ("ipv6 isLinkLocalUnicast true", 'ip("fe80::1").isLinkLocalUnicast()', True),
    ("ipv6 isLinkLocalUnicast false", 'ip("fd80::1").isLinkLocalUnicast()', False),
    ("ipv6 isGlobalUnicast true", 'ip("2001:db8::abcd").isGlobalUnicast()', True),
    ("ipv6 isGlobalUnicast false", 'ip("ff00::1").isGlobalUnicast()', False),
    ("converting an IP address to a string", 'string(ip("192.168.0.1"))', "192.168.0.1"),
    ("type of IP is net.IP", 'type(ip("192.168.0.1")) == net.IP', True),
]


@pytest.mark.parametrize(("name", "expression", "expected"), UPSTREAM_VALUES, ids=[c[0] for c in UPSTREAM_VALUES])
def test_upstream_ip_case(env: CelEnvironment, name: str, expression: str, expected: object) -> None:
    result, error = evaluate(env, expression)
    assert error is None
    assert result == expected and type(result) is type(expected)


UPSTREAM_ERRORS = [
    (
        "parse invalid ipv4",
        'ip("192.168.0.1.0")',
        'IP Address "192.168.0.1.0" parse error during conversion from string: '
        'ParseAddr("192.168.0.1.0"): IPv4 address too long',
    ),
    (
        "ip.isCanonical invalid ipv4",
        'ip.isCanonical("127.0.0.1.0")',
        'IP Address "127.0.0.1.0" parse error during conversion from string: '
        'ParseAddr("127.0.0.1.0"): IPv4 address too long',
    ),
    (
        "parse invalid ipv6",
        'ip("2001:db8:::68")',
        'IP Address "2001:db8:::68" parse error during conversion from string: '
        'ParseAddr("2001:db8:::68"): each colon-separated field must have at least one digit (at ":68")',
    ),
    (
        "ip.isCanonical invalid ipv6",
        'ip.isCanonical("2001:db8:::68")',
        'IP Address "2001:db8:::68" parse error during conversion from string: '
        'ParseAddr("2001:db8:::68"): each colon-separated field must have at least one digit (at ":68")',
    ),
]


@pytest.mark.parametrize(("name", "expression", "message"), UPSTREAM_ERRORS, ids=[c[0] for c in UPSTREAM_ERRORS])
def test_upstream_ip_error(env: CelEnvironment, name: str, expression: str, message: str) -> None:
    assert evaluate(env, expression) == (None, message)


def test_passing_a_cidr_into_is_ip_does_not_compile(env: CelEnvironment) -> None:
    with pytest.raises(CelCompileError, match=r"found no matching overload for 'isIP' applied to '\(net.CIDR\)'"):
        env.compile('isIP(cidr("192.168.0.0/24"))')


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("::ffff:1.2.3.4", 'IPv4-mapped IPv6 address "::ffff:1.2.3.4" is not allowed'),
        ("fe80::1%eth0", 'IP address "fe80::1%eth0" with zone value is not allowed'),
        (
            "01.2.3.4",
            'IP Address "01.2.3.4" parse error during conversion from string: '
            'ParseAddr("01.2.3.4"): IPv4 field has octet with leading zero',
        ),
    ],
)
def test_go_netip_rejects_what_python_would_accept(env: CelEnvironment, address: str, message: str) -> None:
    assert evaluate(env, f'ip("{address}")') == (None, message)


def test_addresses_compare_by_value(env: CelEnvironment) -> None:
    assert env.compile('ip("2001:db8:0::68") == ip("2001:DB8::68")').evaluate({}) is True
    assert env.compile('ip("10.0.0.1") == ip("10.0.0.2")').evaluate({}) is False


def test_matches_kube_apiserver(env: CelEnvironment) -> None:
    assert mismatches(env, "ip") == []
