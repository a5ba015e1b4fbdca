"""Go net/netip parsing and printing (go_netip.py), transcribed from Go's own tests.

Cases: go1.25.5 src/net/netip/netip_test.go (TestParseAddr's validIPs and invalidIPs,
TestParsePrefixError). The CEL-level behaviour is checked against kube-apiserver in
test_ip.py and test_cidr.py.
"""

from __future__ import annotations

import pytest

from webhook.cel.library.go_netip import AddrParseError, parse_addr, parse_prefix

# (input, String() when it differs from the input, error) from TestParseAddr validIPs.
VALID_IPS = [
    ("0.0.0.0", None, None),
    ("192.168.140.255", None, None),
    ("010.000.015.001", None, 'ParseAddr("010.000.015.001"): IPv4 field has octet with leading zero'),
    (
        "000001.00000002.00000003.000000004",
        None,
        'ParseAddr("000001.00000002.00000003.000000004"): IPv4 field has octet with leading zero',
    ),
    ("::ffff:1.2.03.4", None, 'ParseAddr("::ffff:1.2.03.4"): IPv4 field has octet with leading zero'),
    ("::ffff:1.2.3.z", None, 'ParseAddr("::ffff:1.2.3.z"): unexpected character (at "z")'),
    ("::", None, None),
    ("::1", None, None),
    ("fd7a:115c:a1e0:ab12:4843:cd96:626b:430b", None, None),
    ("fd7a:115c::626b:430b", None, None),
    ("fd7a:115c:a1e0:ab12:4843:cd96::", None, None),
    ("fd7a:115c:a1e0:ab12:4843:cd96:626b::", "fd7a:115c:a1e0:ab12:4843:cd96:626b:0", None),
    ("fd7a:115c:a1e0::4843:cd96:626b:430b", "fd7a:115c:a1e0:0:4843:cd96:626b:430b", None),
    ("::ffff:192.168.140.255", "::ffff:192.168.140.255", None),
    ("fd7a:115c:a1e0:ab12:4843:cd96:626b:430b%eth0", None, None),
    ("1:2::ffff:192.168.140.255%eth1", "1:2::ffff:c0a8:8cff%eth1", None),
    ("::ffff:192.168.140.255%eth1", "::ffff:192.168.140.255%eth1", None),
    ("FD9E:1A04:F01D::1", "fd9e:1a04:f01d::1", None),
]


@pytest.mark.parametrize(("text", "printed", "error"), VALID_IPS)
def test_parse_addr(text: str, printed: str | None, error: str | None) -> None:
    if error is not None:
        with pytest.raises(AddrParseError) as raised:
            parse_addr(text)
        assert str(raised.value) == error
    else:
        assert str(parse_addr(text)) == (printed or text)


INVALID_IPS = [
    "", "bad", "1234", "1.2.3.4%eth0", ".1.2.3", "1.2.3.", "1..2.3", "1.2.3.4.5", "0300.0250.0214.0377",
    "0xc0.0xa8.0x8c.0xff", "192.168.12345", "127.0.1", "192.1234567", "127.1", "192.168.300.1",
    "192.168.0.1.5.6", "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9", "1:2:3:4::5:6:7:8", "fe801::1",
    "fe80:tail:scal:e::", "fe80::1%", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:192.168.140.255",
    "ffff::ffff:ffff:ffff:ffff:ffff:ffff:192.168.140.255", "::ffff:192.168.140.bad", "fe80::1::1",
    "fe80:1?:1", "fe80:", "0:0:0:0:0:ffff:0:00000", "0:0:0:0:00000:ffff:127.1.2.3",
]


@pytest.mark.parametrize("text", INVALID_IPS)
def test_invalid_addr(text: str) -> None:
    with pytest.raises(AddrParseError, match=r"^ParseAddr\("):
        parse_addr(text)


@pytest.mark.parametrize(
    ("prefix", "fragment"),
    [
        ("192.168.0.0", "no '/'"),
        ("1.257.1.1/24", "value >255"),
        ("1.1.1.0/q", "bad bits"),
        ("1.1.1.0/-1", "bad bits"),
        ("1.1.1.0/33", "out of range"),
        ("2001::/129", "out of range"),
        ("1.1.1.0%a/24", "unexpected character"),
        ("2001:db8::%a/32", "zones cannot be present"),
        ("1.1.1.0/+32", "bad bits"),
        ("1.1.1.0/-32", "bad bits"),
        ("1.1.1.0/032", "bad bits"),
        ("1.1.1.0/0032", "bad bits"),
    ],
)
def test_parse_prefix_error(prefix: str, fragment: str) -> None:
    with pytest.raises(AddrParseError) as raised:
        parse_prefix(prefix)
    assert fragment in str(raised.value)
    assert str(raised.value).startswith(f'netip.ParsePrefix("{prefix}"): ')


def test_non_ascii_input_is_quoted_like_go() -> None:
    with pytest.raises(AddrParseError) as raised:
        parse_addr("::\u00e9")
    assert str(raised.value) == 'ParseAddr("::é"): each colon-separated field must have at least one digit (at "é")'
