"""The string formats behind ``format.<name>()``, with the messages kube-apiserver returns.

Source: k8s.io/apiserver/pkg/cel/library/format.go ConstantFormats (v1.35). The Kubernetes
name formats come from apimachinery_validation; the CRD formats reproduce kube-openapi's
strfmt (uuid, byte via govalidator.IsBase64, date, datetime) and Go's
``net/url.ParseRequestURI`` (uri), whose error text is returned verbatim.
"""

from __future__ import annotations

import datetime
import re
from typing import Callable, Mapping

from webhook.cel.library import apimachinery_validation as names
from webhook.cel.string_format import go_quote

Validator = Callable[[str], list[str]]

_UUID = re.compile(r"^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$", re.IGNORECASE)
_BASE64 = re.compile(r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{4})$")
_FULL_DATE = re.compile(r"^([0-9]{4})-([0-9]{2})-([0-9]{2})$")
_TIME_PART = re.compile(r"^([0-9]{2}):([0-9]{2}):([0-9]{2})(.[0-9]+)?(z|([+-][0-9]{2}:[0-9]{2}))$")


def _single_line(pattern: re.Pattern[str], value: str) -> re.Match[str] | None:
    # Go's `$` does not match before a trailing newline.
    return None if value.endswith("\n") else pattern.match(value)


def is_uuid(value: str) -> bool:
    return _single_line(_UUID, value) is not None


def is_base64(value: str) -> bool:
    return _single_line(_BASE64, value) is not None


def is_date(value: str) -> bool:
    """Go's time.Parse("2006-01-02", value) succeeds."""
    match = _single_line(_FULL_DATE, value)
    if match is None:
        return False
    try:
        datetime.date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return False
    return True


def is_datetime(value: str) -> bool:
    """strfmt.IsDateTime: a date, a ``t``, then hh:mm:ss[.frac](z|±hh:mm), compared as text."""
    if len(value) < 4:
        return False
    parts = value.lower().split("t")
    if len(parts) < 2 or not is_date(parts[0]):
        return False
    match = _single_line(_TIME_PART, parts[1])
    if match is None:
        return False
    return match[1] <= "23" and match[2] <= "59" and match[3] <= "59"


class _URLError(ValueError):
    pass


_HEX = set("0123456789abcdefABCDEF")
_HOST_ALLOWED = set("!$&'()*+,;=:[]<>\"-_.~")
_USERINFO_ALLOWED = set("-._:~!$&'()*+,;=%@")


def _check_escapes(text: str, host: bool) -> None:
    """net/url unescape(): bad %-escapes and, in a host, characters that must be escaped."""
    i = 0
    while i < len(text):
        char = text[i]
        if char == "%":
            if i + 2 >= len(text) or text[i + 1] not in _HEX or text[i + 2] not in _HEX:
                raise _URLError(f"invalid URL escape {go_quote(text[i:i + 3])}")
            if host and int(text[i + 1], 16) < 8 and text[i : i + 3] != "%25":
                raise _URLError(f"invalid URL escape {go_quote(text[i:i + 3])}")
            i += 3
            continue
        if host and ord(char) < 0x80 and not (char.isalnum() or char in _HOST_ALLOWED):
            raise _URLError(f"invalid character {go_quote(char)} in host name")
        i += 1


def _valid_optional_port(port: str) -> bool:
    return port == "" or (port.startswith(":") and port[1:].isdigit() and port[1:].isascii()) or port == ":"


def _parse_host(host: str) -> None:
    if host.startswith("["):
        end = host.rfind("]")
        if end < 0:
            raise _URLError("missing ']' in host")
        port = host[end + 1 :]
        if not _valid_optional_port(port):
            raise _URLError(f"invalid port {go_quote(port)} after host")
    else:
        colon = host.rfind(":")
        if colon != -1 and not _valid_optional_port(host[colon:]):
            raise _URLError(f"invalid port {go_quote(host[colon:])} after host")
    _check_escapes(host, host=True)


def _scheme(raw: str) -> tuple[str, str]:
    for i, char in enumerate(raw):
        if char.isascii() and char.isalpha():
            continue
        if char.isascii() and (char.isdigit() or char in "+-."):
            if i == 0:
                return "", raw
            continue
        if char == ":":
            if i == 0:
                raise _URLError("missing protocol scheme")
            return raw[:i], raw[i + 1 :]
        return "", raw
    return "", raw


def parse_request_uri(raw: str) -> None:
    """Raise _URLError with net/url's message if ``url.ParseRequestURI(raw)`` fails."""
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in raw):
        raise _URLError("net/url: invalid control character in URL")
    if raw == "":
        raise _URLError("empty url")
    if raw == "*":
        return
    scheme, rest = _scheme(raw)
    if rest.endswith("?") and rest.count("?") == 1:
        rest = rest[:-1]
    else:
        rest = rest.split("?", 1)[0]
    if not rest.startswith("/"):
        if scheme:
            return  # opaque URL, e.g. mailto:x
        raise _URLError("invalid URI for request")
    if scheme and rest.startswith("//"):
        authority, slash, path = rest[2:].partition("/")
        rest = slash + path
        userinfo, at, host = authority.rpartition("@")
        if at and not all(c.isalnum() and c.isascii() or c in _USERINFO_ALLOWED for c in userinfo):
            raise _URLError("net/url: invalid userinfo")
        if at:
            _check_escapes(userinfo, host=False)
        _parse_host(host)
    _check_escapes(rest, host=False)


def validate_uri(value: str) -> list[str]:
    try:
        parse_request_uri(value)
    except _URLError as exc:
        return [f"parse {go_quote(value)}: {exc}"]
    return []


def _check(predicate: Callable[[str], bool], message: str) -> Validator:
    return lambda value: [] if predicate(value) else [message]


# format.go ConstantFormats: CEL name -> validator.
NAMED_FORMATS: Mapping[str, Validator] = {
    "dns1123Label": lambda s: names.name_is_dns_label(s, False),
    "dns1123Subdomain": lambda s: names.name_is_dns_subdomain(s, False),
    "dns1035Label": lambda s: names.name_is_dns1035_label(s, False),
    "qualifiedName": names.is_qualified_name,
    "dns1123LabelPrefix": lambda s: names.name_is_dns_label(s, True),
    "dns1123SubdomainPrefix": lambda s: names.name_is_dns_subdomain(s, True),
    "dns1035LabelPrefix": lambda s: names.name_is_dns1035_label(s, True),
    "labelValue": names.is_label_value,
    "uri": validate_uri,
    "uuid": _check(is_uuid, "does not match the UUID format"),
    "byte": _check(is_base64, "invalid base64"),
    "date": _check(is_date, "invalid date"),
    "datetime": _check(is_datetime, "invalid datetime"),
}
