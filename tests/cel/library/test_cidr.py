"""The Kubernetes CIDR library, on Go net/netip semantics.

Upstream cases: apiserver v0.35.0 pkg/cel/library/cidr_test.go (TestCIDR). Recorded cases:
cidr_kube_apiserver.jsonl (see kube_apiserver_cases.py).
"""

from __future__ import annotations

import pytest

from kube_apiserver_cases import evaluate, mismatches
from webhook.cel import CelEnvironment
from webhook.cel.values import OpaqueValue


@pytest.fixture(scope="module")
def env() -> CelEnvironment:
    return CelEnvironment({})


def _cidr(text: str) -> OpaqueValue:
    return OpaqueValue("net.CIDR", text, text)


def _ip(text: str) -> OpaqueValue:
    return OpaqueValue("net.IP", text, text)


# (name, expression, expected result) from TestCIDR.
UPSTREAM_VALUES = [
    ("parse ipv4", 'cidr("192.168.0.0/24")', _cidr("192.168.0.0/24")),
    ("contains IP ipv4 (IP)", 'cidr("192.168.0.0/24").containsIP(ip("192.168.0.1"))', True),
    ("does not contain IP ipv4 (IP)", 'cidr("192.168.0.0/24").containsIP(ip("192.168.1.1"))', False),
    ("contains IP ipv4 (string)", 'cidr("192.168.0.0/24").containsIP("192.168.0.1")', True),
    ("does not contain IP ipv4 (string)", 'cidr("192.168.0.0/24").containsIP("192.168.1.1")', False),
    ("contains CIDR ipv4 (CIDR)", 'cidr("192.168.0.0/24").containsCIDR(cidr("192.168.0.0/25"))', True),
    ("contains CIDR ipv4 (CIDR) (/32)", 'cidr("192.168.0.0/24").containsCIDR(cidr("192.168.0.1/32"))', True),
    ("does not contain IP ipv4 (CIDR)", 'cidr("192.168.0.0/24").containsCIDR(cidr("192.168.0.0/23"))', False),
    ("does not contain IP ipv4 (CIDR) (/32)", 'cidr("192.168.0.0/24").containsCIDR(cidr("192.169.0.1/32"))', False),
    ("contains CIDR ipv4 (string)", 'cidr("192.168.0.0/24").containsCIDR("192.168.0.0/25")', True),
    ("does not contain CIDR ipv4 (string)", 'cidr("192.168.0.0/24").containsCIDR("192.168.0.0/23")', False),
    ("returns IP ipv4", 'cidr("192.168.0.0/24").ip()', _ip("192.168.0.0")),
    ("masks masked ipv4", 'cidr("192.168.0.0/24").masked()', _cidr("192.168.0.0/24")),
    ("masks unmasked ipv4", 'cidr("192.168.0.1/24").masked()', _cidr("192.168.0.0/24")),
    ("returns prefix length ipv4", 'cidr("192.168.0.0/24").prefixLength()', 24),
    ("parse ipv6", 'cidr("2001:db8::/32")', _cidr("2001:db8::/32")),
    ("contains IP ipv6 (IP)", 'cidr("2001:db8::/32").containsIP(ip("2001:db8::1"))', True),
    ("does not contain IP ipv6 (IP)", 'cidr("2001:db8::/32").containsIP(ip("2001:dc8::1"))', False),
    ("contains IP ipv6 (string)", 'cidr("2001:db8::/32").containsIP("2001:db8::1")', True),
    ("does not contain IP ipv6 (string)", 'cidr("2001:db8::/32").containsIP("2001:dc8::1")', False),
    ("contains CIDR ipv6 (CIDR)", 'cidr("2001:db8::/32").containsCIDR(cidr("2001:db8::/33"))', True),
    ("does not contain IP ipv6 (CIDR)", 'cidr("2001:db8::/32").containsCIDR(cidr("2001:db8::/31"))', False),
    ("contains CIDR ipv6 (string)", 'cidr("2001:db8::/32").containsCIDR("2001:db8::/33")', True),
    ("does not contain CIDR ipv6 (string)", 'cidr("2001:db8::/32").containsCIDR("2001:db8::/31")', False),
    ("returns IP ipv6", 'cidr("2001:db8::/32").ip()', _ip("2001:db8::")),
    ("masks masked ipv6", 'cidr("2001:db8::/32").masked()', _cidr("2001:db8::/32")),
    ("masks unmasked ipv6", 'cidr("2001:db8:1::/32").masked()', _cidr("2001:db8::/32")),
    ("returns prefix length ipv6", 'cidr("2001:db8::/32").prefixLength()', 32),
    ("converting a CIDR to a string", 'string(cidr("192.168.0.0/24"))', "192.168.0.0/24"),
    ("type of CIDR is net.CIDR", 'type(cidr("192.168.0.0/24")) == net.CIDR', True),
]


@pytest.mark.parametrize(("name", "expression", "expected"), UPSTREAM_VALUES, ids=[c[0] for c in UPSTREAM_VALUES])
def test_upstream_cidr_case(env: CelEnvironment, name: str, expression: str, expected: object) -> None:
    result, error = evaluate(env, expression)
    assert error is None
    assert result == expected and type(result) is type(expected)


@pytest.mark.parametrize(
    ("name", "expression", "message"),
    [
        (
            "parse invalid ipv4",
            'cidr("192.168.0.0/")',
            "network address parse error during conversion from string: network address parse error during "
            'conversion from string: netip.ParsePrefix("192.168.0.0/"): bad bits after slash: ""',
        ),
        (
            "parse invalid ipv6",
            'cidr("2001:db8::/")',
            "network address parse error during conversion from string: network address parse error during "
            'conversion from string: netip.ParsePrefix("2001:db8::/"): bad bits after slash: ""',
        ),
    ],
)
def test_upstream_cidr_error(env: CelEnvironment, name: str, expression: str, message: str) -> None:
    assert evaluate(env, expression) == (None, message)


def test_host_bits_are_kept_until_masked(env: CelEnvironment) -> None:
    assert env.compile('cidr("10.0.0.1/8") == cidr("10.0.0.0/8")').evaluate({}) is False
    assert env.compile('cidr("10.0.0.1/8").masked() == cidr("10.0.0.0/8")').evaluate({}) is True


def test_contains_ip_of_an_unparsable_string_is_no_such_overload(env: CelEnvironment) -> None:
    # cidr.go cidrContainsIP answers a failed operand with MaybeNoSuchOverloadErr(receiver).
    assert evaluate(env, 'cidr("10.0.0.0/8").containsIP("bad")') == (None, "no such overload")


def test_ipv4_mapped_prefix_is_rejected(env: CelEnvironment) -> None:
    assert evaluate(env, 'cidr("::ffff:1.2.3.4/120")') == (
        None,
        'network address parse error during conversion from string: '
        'IPv4-mapped IPv6 address "::ffff:1.2.3.4/120" is not allowed',
    )


def test_matches_kube_apiserver(env: CelEnvironment) -> None:
    assert mismatches(env, "cidr") == []
