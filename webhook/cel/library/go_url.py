"""URLs with Go's net/url semantics (Parse, ParseRequestURI, String, Query), on bytes.

Kubernetes' url() accepts exactly what Go 1.25's ``url.ParseRequestURI`` accepts, prints
its errors, and compares URLs by ``URL.String()``; Python's urllib differs on all three, so
the parts of Go's src/net/url/url.go (go1.25, which kube-apiserver v1.35 is built with)
that these functions reach are ported here. Go strings are bytes, so this works on bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from webhook.cel.library.go_netip import AddrParseError, parse_addr, quote_bytes

# Escaping modes (net/url encoding).
PATH, PATH_SEGMENT, HOST, ZONE, USER_PASSWORD, QUERY_COMPONENT, FRAGMENT = range(1, 8)

_ALNUM = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_HEX = frozenset(b"0123456789abcdefABCDEF")
_HOST_EXTRA = frozenset(b"!$&'()*+,;=:[]<>\"")
_RESERVED = frozenset(b"$&+,/:;=?@")
_USERINFO = _ALNUM | frozenset(b"-._:~!$&'()*+,;=%@")


class URLError(ValueError):
    """A net/url error; the text is Go's (``parse "x": invalid URI for request``)."""


def should_escape(byte: int, mode: int) -> bool:
    if byte in _ALNUM:
        return False
    if mode in (HOST, ZONE) and byte in _HOST_EXTRA:
        return False
    if byte in b"-_.~":
        return False
    if byte in _RESERVED:
        if mode == PATH:
            return byte == ord("?")
        if mode == PATH_SEGMENT:
            return byte in b"/;,?"
        if mode == USER_PASSWORD:
            return byte in b"@/?:"
        if mode == QUERY_COMPONENT:
            return True
        if mode == FRAGMENT:
            return False
    if mode == FRAGMENT and byte in b"!()*":
        return False
    return True


def _unhex(byte: int) -> int:
    return int(chr(byte), 16)


def unescape(text: bytes, mode: int) -> bytes:
    i, n, has_plus = 0, 0, False
    while i < len(text):
        byte = text[i]
        if byte == ord("%"):
            n += 1
            if i + 2 >= len(text) or text[i + 1] not in _HEX or text[i + 2] not in _HEX:
                raise URLError(f"invalid URL escape {quote_bytes(text[i:i + 3])}")
            if mode == HOST and _unhex(text[i + 1]) < 8 and text[i:i + 3] != b"%25":
                raise URLError(f"invalid URL escape {quote_bytes(text[i:i + 3])}")
            if mode == ZONE:
                value = _unhex(text[i + 1]) << 4 | _unhex(text[i + 2])
                if text[i:i + 3] != b"%25" and value != 0x20 and should_escape(value, HOST):
                    raise URLError(f"invalid URL escape {quote_bytes(text[i:i + 3])}")
            i += 3
        elif byte == ord("+"):
            has_plus = mode == QUERY_COMPONENT
            i += 1
        else:
            if mode in (HOST, ZONE) and byte < 0x80 and should_escape(byte, mode):
                raise URLError(f"invalid character {quote_bytes(text[i:i + 1])} in host name")
            i += 1
    if n == 0 and not has_plus:
        return text
    out = bytearray()
    i = 0
    while i < len(text):
        byte = text[i]
        if byte == ord("%"):
            out.append(_unhex(text[i + 1]) << 4 | _unhex(text[i + 2]))
            i += 3
            continue
        out.append((0x20 if mode == QUERY_COMPONENT else ord("+")) if byte == ord("+") else byte)
        i += 1
    return bytes(out)


def escape(text: bytes, mode: int) -> bytes:
    out = bytearray()
    for byte in text:
        if byte == 0x20 and mode == QUERY_COMPONENT:
            out.append(ord("+"))
        elif should_escape(byte, mode):
            out += b"%%%02X" % byte
        else:
            out.append(byte)
    return bytes(out)


def _valid_encoded(text: bytes, mode: int) -> bool:
    return all(byte in b"!$&'()*+,;=:@[]%" or not should_escape(byte, mode) for byte in text)


def _valid_optional_port(port: bytes) -> bool:
    return not port or (port[:1] == b":" and all(0x30 <= b <= 0x39 for b in port[1:]))


@dataclass
class URL:
    scheme: bytes = b""
    opaque: bytes = b""
    user: tuple[bytes, bytes | None] | None = None  # (username, password or None)
    host: bytes = b""
    path: bytes = b""
    raw_path: bytes = b""
    omit_host: bool = False
    force_query: bool = False
    raw_query: bytes = b""
    fragment: bytes = b""
    raw_fragment: bytes = field(default=b"")

    def escaped_path(self) -> bytes:
        if self.raw_path and _valid_encoded(self.raw_path, PATH):
            try:
                if unescape(self.raw_path, PATH) == self.path:
                    return self.raw_path
            except URLError:
                pass
        if self.path == b"*":
            return b"*"
        return escape(self.path, PATH)

    def escaped_fragment(self) -> bytes:
        if self.raw_fragment and _valid_encoded(self.raw_fragment, FRAGMENT):
            try:
                if unescape(self.raw_fragment, FRAGMENT) == self.fragment:
                    return self.raw_fragment
            except URLError:
                pass
        return escape(self.fragment, FRAGMENT)

    def hostname(self) -> bytes:
        return _split_host_port(self.host)[0]

    def port(self) -> bytes:
        return _split_host_port(self.host)[1]

    def query(self) -> dict[bytes, list[bytes]]:
        """URL.Query(): ParseQuery, silently dropping malformed pairs."""
        values: dict[bytes, list[bytes]] = {}
        for pair in self.raw_query.split(b"&") if self.raw_query else ():
            if b";" in pair or not pair:
                continue
            key, _, value = pair.partition(b"=")
            try:
                key, value = unescape(key, QUERY_COMPONENT), unescape(value, QUERY_COMPONENT)
            except URLError:
                continue
            values.setdefault(key, []).append(value)
        return values

    def to_bytes(self) -> bytes:
        """URL.String()."""
        out = bytearray()
        if self.scheme:
            out += self.scheme + b":"
        if self.opaque:
            out += self.opaque
        else:
            if (self.scheme or self.host or self.user is not None) and not (
                self.omit_host and not self.host and self.user is None
            ):
                if self.host or self.path or self.user is not None:
                    out += b"//"
                if self.user is not None:
                    username, password = self.user
                    out += escape(username, USER_PASSWORD)
                    if password is not None:
                        out += b":" + escape(password, USER_PASSWORD)
                    out += b"@"
                if self.host:
                    out += escape(self.host, HOST)
            path = self.escaped_path()
            if path and path[:1] != b"/" and self.host:
                out += b"/"
            if not out and b":" in path.partition(b"/")[0]:
                out += b"./"
            out += path
        if self.force_query or self.raw_query:
            out += b"?" + self.raw_query
        if self.fragment:
            out += b"#" + self.escaped_fragment()
        return bytes(out)


def _split_host_port(host_port: bytes) -> tuple[bytes, bytes]:
    host, port = host_port, b""
    colon = host.rfind(b":")
    if colon != -1 and _valid_optional_port(host[colon:]):
        host, port = host[:colon], host[colon + 1:]
    if host.startswith(b"[") and host.endswith(b"]"):
        host = host[1:-1]
    return host, port


def _scheme(raw: bytes) -> tuple[bytes, bytes]:
    for i, byte in enumerate(raw):
        if 0x61 <= byte <= 0x7A or 0x41 <= byte <= 0x5A:
            continue
        if 0x30 <= byte <= 0x39 or byte in b"+-.":
            if i == 0:
                return b"", raw
            continue
        if byte == ord(":"):
            if i == 0:
                raise URLError("missing protocol scheme")
            return raw[:i], raw[i + 1:]
        return b"", raw
    return b"", raw


def _parse_host(host: bytes) -> bytes:
    open_bracket = host.rfind(b"[")
    if open_bracket != -1:
        close_bracket = host.rfind(b"]")
        if close_bracket < 0:
            raise URLError("missing ']' in host")
        colon_port = host[close_bracket + 1:]
        if not _valid_optional_port(colon_port):
            raise URLError(f"invalid port {quote_bytes(colon_port)} after host")
        unescaped_port = unescape(colon_port, HOST)
        hostname = host[open_bracket + 1:close_bracket]
        zone = hostname.find(b"%25")
        if zone >= 0:
            unescaped = unescape(hostname[:zone], HOST) + unescape(hostname[zone:], ZONE)
        else:
            unescaped = unescape(hostname, HOST)
        try:
            addr = parse_addr(unescaped.decode("utf-8", errors="surrogateescape"))
        except AddrParseError as exc:
            raise URLError(f"invalid host: {exc}") from None
        if addr.is4:
            raise URLError("invalid IP-literal")
        return b"[" + unescaped + b"]" + unescaped_port
    colon = host.rfind(b":")
    if colon != -1 and not _valid_optional_port(host[colon:]):
        raise URLError(f"invalid port {quote_bytes(host[colon:])} after host")
    return unescape(host, HOST)


def _parse_authority(authority: bytes) -> tuple[tuple[bytes, bytes | None] | None, bytes]:
    at = authority.rfind(b"@")
    host = _parse_host(authority[at + 1:] if at >= 0 else authority)
    if at < 0:
        return None, host
    userinfo = authority[:at]
    if not all(byte in _USERINFO for byte in userinfo):
        raise URLError("net/url: invalid userinfo")
    if b":" not in userinfo:
        return (unescape(userinfo, USER_PASSWORD), None), host
    username, _, password = userinfo.partition(b":")
    return (unescape(username, USER_PASSWORD), unescape(password, USER_PASSWORD)), host


def _parse(raw: bytes, via_request: bool) -> URL:
    if any(byte < 0x20 or byte == 0x7F for byte in raw):
        raise URLError("net/url: invalid control character in URL")
    if not raw and via_request:
        raise URLError("empty url")
    url = URL()
    if raw == b"*":
        url.path = b"*"
        return url
    scheme, rest = _scheme(raw)
    url.scheme = scheme.lower()
    if rest.endswith(b"?") and rest.count(b"?") == 1:
        url.force_query, rest = True, rest[:-1]
    else:
        rest, _, url.raw_query = rest.partition(b"?")
    if not rest.startswith(b"/"):
        if url.scheme:
            url.opaque = rest
            return url
        if via_request:
            raise URLError("invalid URI for request")
        if b":" in rest.partition(b"/")[0]:
            raise URLError("first path segment in URL cannot contain colon")
    if (url.scheme or not via_request and not rest.startswith(b"///")) and rest.startswith(b"//"):
        authority, slash, tail = rest[2:].partition(b"/")
        rest = slash + tail
        url.user, url.host = _parse_authority(authority)
    elif url.scheme and rest.startswith(b"/"):
        url.omit_host = True
    url.path = unescape(rest, PATH)
    url.raw_path = b"" if escape(url.path, PATH) == rest else rest
    return url


def _wrap(raw: bytes, error: URLError) -> URLError:
    return URLError(f"parse {quote_bytes(raw)}: {error}")


def parse_request_uri(text: str) -> URL:
    """url.ParseRequestURI: an absolute URI or an absolute path, no fragment."""
    raw = text.encode("utf-8", errors="surrogateescape")
    try:
        return _parse(raw, via_request=True)
    except URLError as exc:
        raise _wrap(raw, exc) from None


def parse_url(text: str) -> URL:
    """url.Parse: any URL reference, with a ``#fragment``."""
    raw = text.encode("utf-8", errors="surrogateescape")
    head, hash_sign, fragment = raw.partition(b"#")
    try:
        url = _parse(head, via_request=False)
    except URLError as exc:
        raise _wrap(head, exc) from None
    if hash_sign and fragment:
        try:
            url.fragment = unescape(fragment, FRAGMENT)
        except URLError as exc:
            raise _wrap(raw, exc) from None
        url.raw_fragment = b"" if escape(url.fragment, FRAGMENT) == fragment else fragment
    return url
