"""The Kubernetes URL library, on Go net/url semantics.

Upstream cases: apiextensions-apiserver v0.35.0 validation_test.go ("URL parsing" and the
cost case for ``url('https:://kubernetes.io/')``; apiserver has no urls_test.go) and the
examples in apiserver pkg/cel/library/urls.go's documentation. Recorded cases:
urls_kube_apiserver.jsonl (see kube_apiserver_cases.py).
"""

from __future__ import annotations

import pytest
from cel_expr_python import cel

from kube_apiserver_cases import evaluate, mismatches
from webhook.cel import CelEnvironment
from webhook.cel.values import CelTypeValue, OpaqueValue

SELF = {"url": "https://user:pass@kubernetes.io:80/docs/home?k1=a&k2=b&k2=c#anchor"}

# validation_test.go "URL parsing": every rule holds for SELF.
APIEXTENSIONS_VALID = [
    "url('/path').getScheme() == ''",
    "url('https://example.com/').getScheme() == 'https'",
    "url('https://example.com:80/').getHost() == 'example.com:80'",
    "url('https://example.com/').getHost() == 'example.com'",
    "url('https://[::1]:80/').getHost() == '[::1]:80'",
    "url('https://[::1]/').getHost() == '[::1]'",
    "url('/path').getHost() == ''",
    "url('https://example.com:80/').getHostname() == 'example.com'",
    "url('https://127.0.0.1/').getHostname() == '127.0.0.1'",
    "url('https://[::1]/').getHostname() == '::1'",
    "url('/path').getHostname() == ''",
    "url('https://example.com:80/').getPort() == '80'",
    "url('https://example.com/').getPort() == ''",
    "url('/path').getPort() == ''",
    "url('https://example.com/path').getEscapedPath() == '/path'",
    "url('https://example.com/with space/').getEscapedPath() == '/with%20space/'",
    "url('https://example.com').getEscapedPath() == ''",
    "url('https://example.com/path?k1=a&k2=b&k2=c').getQuery() == { 'k1': ['a'], 'k2': ['b', 'c']}",
    "url('https://example.com/path?key with spaces=value with spaces').getQuery() == { 'key with spaces': ['value with spaces']}",
    "url('https://example.com/path?').getQuery() == {}",
    "url('https://example.com/path').getQuery() == {}",
    "url(self.url).getScheme() == 'https'",
    "url(self.url).getHost() == 'kubernetes.io:80'",
    "url(self.url).getHostname() == 'kubernetes.io'",
    "url(self.url).getPort() == '80'",
    "url(self.url).getEscapedPath() == '/docs/home'",
    "url(self.url).getQuery() == {'k1': ['a'], 'k2': ['b', 'c']}",
    "isURL('https://user:pass@example.com:80/path?query=val#fragment')",
    "isURL('/path') == true",
    "isURL('https://a:b:c/') == false",
    "isURL('../relative-path') == false",
    # "cost for extended lib calculated correctly: url": an opaque URL is accepted.
    "url('https:://kubernetes.io/').getHostname() != 'test'",
]


@pytest.fixture(scope="module")
def env() -> CelEnvironment:
    return CelEnvironment({"self": cel.Type.DYN})


@pytest.mark.parametrize("expression", APIEXTENSIONS_VALID)
def test_apiextensions_url_rule_holds(env: CelEnvironment, expression: str) -> None:
    assert env.compile(expression).evaluate({"self": SELF}) is True


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("url('https://user:pass@example.com:80/path?query=val#fragment')",
         OpaqueValue("kubernetes.URL", "https://user:pass@example.com:80/path?query=val#fragment",
                     "https://user:pass@example.com:80/path?query=val#fragment")),
        ("url('/absolute-path')", OpaqueValue("kubernetes.URL", "/absolute-path", "/absolute-path")),
        ("isURL('/absolute-path')", True),
        ("url('https://[::1]:80/').getHostname()", "::1"),
        ("url('https://example.com/path with spaces/').getEscapedPath()", "/path%20with%20spaces/"),
        ("type(url('/a')) == kubernetes.URL", True),
        ("type(url('/a'))", CelTypeValue("kubernetes.URL")),
    ],
)
def test_documented_example(env: CelEnvironment, expression: str, expected: object) -> None:
    assert env.compile(expression).evaluate({"self": SELF}) == expected


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("url('https://a:b:c/')",
         'URL parse error during conversion from string: parse "https://a:b:c/": invalid port ":c" after host'),
        ("url('../relative-path')",
         'URL parse error during conversion from string: parse "../relative-path": invalid URI for request'),
        # Go slices the escape by bytes, cutting "é" in half; strconv.Quote shows the lone byte.
        ("url('/%a\u00e9')",
         'URL parse error during conversion from string: parse "/%a\u00e9": invalid URL escape "%a\\xc3"'),
    ],
)
def test_documented_error(env: CelEnvironment, expression: str, message: str) -> None:
    assert evaluate(env, expression) == (None, message)


def test_urls_compare_by_their_go_string_form(env: CelEnvironment) -> None:
    # url.go URL.Equal compares URL.String(); the scheme is lower-cased by url.Parse.
    assert env.compile("url('HTTPS://example.com/a') == url('https://example.com/a')").evaluate({}) is True
    assert env.compile("url('https://example.com/A') == url('https://example.com/a')").evaluate({}) is False


def test_invalid_utf8_in_a_component_becomes_the_replacement_character(env: CelEnvironment) -> None:
    assert env.compile("url('/?k=%ff').getQuery()").evaluate({}) == {"k": ["\ufffd"]}


def test_matches_kube_apiserver() -> None:
    assert mismatches(CelEnvironment({}), "urls") == []
