"""Go net/url parsing (go_url.py), transcribed from Go's own tests.

Cases: go1.25.5 src/net/url/url_test.go (parseRequestURLTests, TestParseErrors). The
CEL-level behaviour is checked against kube-apiserver in test_urls.py.
"""

from __future__ import annotations

import pytest

from webhook.cel.library.go_url import URLError, parse_request_uri, parse_url

# (url, expectedValid) from parseRequestURLTests.
PARSE_REQUEST_URL_TESTS = [
    ("http://foo.com", True),
    ("http://foo.com/", True),
    ("http://foo.com/path", True),
    ("/", True),
    ("//not.a.user@not.a.host/just/a/path", True),
    ("//not.a.user@%66%6f%6f.com/just/a/path/also", True),
    ("*", True),
    ("http://192.168.0.1/", True),
    ("http://192.168.0.1:8080/", True),
    ("http://[fe80::1]/", True),
    ("http://[fe80::1]:8080/", True),
    ("http://[fe80::1%25en0]/", True),
    ("http://[fe80::1%25en0]:8080/", True),
    ("http://[fe80::1%25%65%6e%301-._~]/", True),
    ("http://[fe80::1%25%65%6e%301-._~]:8080/", True),
    ("foo.html", False),
    ("../dir/", False),
    (" http://foo.com", False),
    ("http://192.168.0.%31/", False),
    ("http://192.168.0.%31:8080/", False),
    ("http://[fe80::%31]/", False),
    ("http://[fe80::%31]:8080/", False),
    ("http://[fe80::%31%25en0]/", False),
    ("http://[fe80::%31%25en0]:8080/", False),
    ("http://[fe80::1%en0]/", False),
    ("http://[fe80::1%en0]:8080/", False),
    ("https://[1:2:3:4:5:6:7:8]", True),
    ("https://[2001:db8::a:b:c:d]", True),
    ("https://[fe80::1%25eth0]", True),
    ("https://[fe80::abc:def%254]", True),
    ("https://[2001:db8::1]/path", True),
    ("https://[fe80::1%25eth0]/path?query=1", True),
    ("https://[::ffff:192.0.2.1]", True),
    ("https://[:1] ", False),
    ("https://[1:2:3:4:5:6:7:8:9]", False),
    ("https://[1::1::1]", False),
    ("https://[1:2:3:]", False),
    ("https://[ffff::127.0.0.4000]", False),
    ("https://[0:0::test.com]:80", False),
    ("https://[2001:db8::test.com]", False),
    ("https://[test.com]", False),
]


@pytest.mark.parametrize(("url", "valid"), PARSE_REQUEST_URL_TESTS)
def test_parse_request_uri(url: str, valid: bool) -> None:
    if valid:
        parse_request_uri(url)
    else:
        with pytest.raises(URLError, match=r"^parse "):
            parse_request_uri(url)


# (in, wantErr) from TestParseErrors.
PARSE_ERRORS = [
    ("http://[::1]", False),
    ("http://[::1]:80", False),
    ("http://[::1]:namedport", True),
    ("http://x:namedport", True),
    ("http://[::1]/", False),
    ("http://[::1]a", True),
    ("http://[::1]%23", True),
    ("http://[::1%25en0]", False),
    ("http://[::1]:", False),
    ("http://x:", False),
    ("http://[::1]:%38%30", True),
    ("http://[::1%25%41]", False),
    ("http://[%10::1]", True),
    ("http://[::1]/%48", False),
    ("http://%41:8080/", True),
    ("mysql://x@y(z:123)/foo", True),
    ("mysql://x@y(1.2.3.4:123)/foo", True),
    (" http://foo.com", True),
    ("ht tp://foo.com", True),
    ("ahttp://foo.com", False),
    ("1http://foo.com", True),
    ("http://[]%20%48%54%54%50%2f%31%2e%31%0a%4d%79%48%65%61%64%65%72%3a%20%31%32%33%0a%0a/", True),
    ("http://a b.com/", True),
    ("cache_object://foo", True),
    ("cache_object:foo", True),
    ("cache_object:foo/bar", True),
    ("cache_object/:foo/bar", False),
    ("http://[192.168.0.1]/", True),
    ("http://[192.168.0.1]:8080/", True),
    ("http://[::ffff:192.168.0.1]/", False),
    ("http://[::ffff:192.168.0.1000]/", True),
    ("http://[::ffff:192.168.0.1]:8080/", False),
    ("http://[::ffff:c0a8:1]/", False),
    ("http://[not-an-ip]/", True),
    ("http://[fe80::1%foo]/", True),
    ("http://[fe80::1", True),
    ("http://fe80::1]/", True),
    ("http://[test.com]/", True),
]


@pytest.mark.parametrize(("url", "want_error"), PARSE_ERRORS)
def test_parse_errors(url: str, want_error: bool) -> None:
    if want_error:
        with pytest.raises(URLError, match=r"^parse "):
            parse_url(url)
    else:
        parse_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://user:pa%20ss@[fe80::1%25en0]:8080/a%2Fb/c%20d?x=1&y#frag%20ment",
        "https://example.com/with space/",
        "mailto:someone@example.com",
        "/path?",
        "HTTP://Example.com/",
    ],
)
def test_string_of_a_parsed_url_parses_to_the_same_string(url: str) -> None:
    printed = parse_url(url).to_bytes().decode()
    assert parse_url(printed).to_bytes().decode() == printed
