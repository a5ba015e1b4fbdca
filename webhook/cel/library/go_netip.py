"""IP addresses and prefixes with Go's net/netip semantics (what Kubernetes' ip/cidr use).

Go is stricter than Python's ``ipaddress`` in places that matter to policies (IPv4 octets
with leading zeros, ``::ffff:1.2.3.4`` kept distinct from ``1.2.3.4``) and its error texts
are part of the CEL error messages, so ParseAddr and ParsePrefix are ported here (Go's
src/net/netip/netip.go). Parsing works on UTF-8 bytes, as Go does, so error positions and
quoting match for any input.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from webhook.cel.string_format import go_quote

_HEX = b"0123456789abcdefABCDEF"


class AddrParseError(ValueError):
    """The text of a netip parse error (``ParseAddr("x"): unable to parse IP``)."""


def quote_bytes(data: bytes) -> str:
    """strconv.Quote of a Go string that may hold invalid UTF-8 (bytes print as ``\\xNN``)."""
    quoted = go_quote(data.decode("utf-8", errors="surrogateescape"))
    return re.sub(r"\\udc([89a-f][0-9a-f])", r"\\x\1", quoted)


@dataclass(frozen=True)
class Addr:
    """An IPv4 (32-bit) or IPv6 (128-bit) address, with its IPv6 zone if any."""

    value: int
    is4: bool
    zone: str = ""

    @property
    def bit_len(self) -> int:
        return 32 if self.is4 else 128

    def is_4in6(self) -> bool:
        return not self.is4 and self.value >> 32 == 0xFFFF

    def _u16(self, index: int) -> int:
        return self.value >> (112 - 16 * index) & 0xFFFF

    def is_unspecified(self) -> bool:
        return self.value == 0 and not self.zone

    def is_loopback(self) -> bool:
        return self.value >> 24 == 127 if self.is4 else self.value == 1

    def is_multicast(self) -> bool:
        return self.value >> 28 == 0xE if self.is4 else self.value >> 120 == 0xFF

    def is_link_local_multicast(self) -> bool:
        return self.value >> 8 == 0xE00000 if self.is4 else self._u16(0) & 0xFF0F == 0xFF02

    def is_link_local_unicast(self) -> bool:
        return self.value >> 16 == 0xA9FE if self.is4 else self._u16(0) & 0xFFC0 == 0xFE80

    def is_global_unicast(self) -> bool:
        if self.is4 and self.value in (0, 0xFFFFFFFF):
            return False
        return not (
            (not self.is4 and self.is_unspecified())
            or self.is_loopback()
            or self.is_multicast()
            or self.is_link_local_unicast()
        )

    def masked(self, bits: int) -> "Addr":
        host_bits = self.bit_len - bits
        return Addr(self.value >> host_bits << host_bits, self.is4)

    def __str__(self) -> str:
        if self.is4:
            return ".".join(str(self.value >> shift & 0xFF) for shift in (24, 16, 8, 0))
        if self.is_4in6():
            text = "::ffff:" + str(Addr(self.value & 0xFFFFFFFF, True))
        else:
            text = _format6([self._u16(i) for i in range(8)])
        return f"{text}%{self.zone}" if self.zone else text


def _format6(groups: list[int]) -> str:
    # The longest run of two or more zero groups (the first, on a tie) becomes "::".
    start, end = -1, -1
    i = 0
    while i < 8:
        j = i
        while j < 8 and groups[j] == 0:
            j += 1
        if j - i >= 2 and j - i > end - start:
            start, end = i, j
        i = j + 1 if j > i else i + 1
    if start < 0:
        return ":".join(f"{g:x}" for g in groups)
    head = ":".join(f"{g:x}" for g in groups[:start])
    tail = ":".join(f"{g:x}" for g in groups[end:])
    return f"{head}::{tail}"


def _addr_error(raw: bytes, message: str, at: bytes = b"") -> AddrParseError:
    text = f"ParseAddr({quote_bytes(raw)}): {message}"
    return AddrParseError(f"{text} (at {quote_bytes(at)})" if at else text)


def parse_addr(text: str) -> Addr:
    """netip.ParseAddr; raises AddrParseError with Go's message."""
    raw = text.encode("utf-8", errors="surrogateescape")
    for byte in raw:
        if byte == ord("."):
            return Addr(_parse_ipv4_fields(raw, 0, len(raw)), True)
        if byte == ord(":"):
            return _parse_ipv6(raw)
        if byte == ord("%"):
            raise _addr_error(raw, "missing IPv6 address")
    raise _addr_error(raw, "unable to parse IP")


def _parse_ipv4_fields(raw: bytes, start: int, end: int) -> int:
    part = raw[start:end]
    fields: list[int] = []
    value, digits = 0, 0
    for i, byte in enumerate(part):
        if 0x30 <= byte <= 0x39:
            if digits == 1 and value == 0:
                raise _addr_error(raw, "IPv4 field has octet with leading zero")
            value = value * 10 + byte - 0x30
            digits += 1
            if value > 255:
                raise _addr_error(raw, "IPv4 field has value >255")
        elif byte == ord("."):
            if i == 0 or i == len(part) - 1 or part[i - 1] == ord("."):
                raise _addr_error(raw, "IPv4 field must have at least one digit", part[i:])
            if len(fields) == 3:
                raise _addr_error(raw, "IPv4 address too long")
            fields.append(value)
            value, digits = 0, 0
        else:
            raise _addr_error(raw, "unexpected character", part[i:])
    if len(fields) < 3:
        raise _addr_error(raw, "IPv4 address too short")
    fields.append(value)
    return int.from_bytes(bytes(fields), "big")


def _parse_ipv6(raw: bytes) -> Addr:
    rest, zone = raw, b""
    percent = raw.find(b"%")
    if percent != -1:
        rest, zone = raw[:percent], raw[percent + 1:]
        if not zone:
            raise _addr_error(raw, "zone must be a non-empty string")
    zone_text = zone.decode("utf-8", errors="surrogateescape")
    ip = bytearray(16)
    ellipsis = -1
    if rest[:2] == b"::":
        ellipsis, rest = 0, rest[2:]
        if not rest:
            return Addr(0, False, zone_text)
    i = 0
    while i < 16:
        off, acc = 0, 0
        while off < len(rest) and rest[off] in _HEX:
            acc = (acc << 4) + int(chr(rest[off]), 16)
            if off > 3:
                raise _addr_error(raw, "each group must have 4 or less digits", rest)
            if acc > 0xFFFF:
                raise _addr_error(raw, "IPv6 field has value >=2^16", rest)
            off += 1
        if off == 0:
            raise _addr_error(raw, "each colon-separated field must have at least one digit", rest)
        if off < len(rest) and rest[off] == ord("."):
            if ellipsis < 0 and i != 12:
                raise _addr_error(raw, "embedded IPv4 address must replace the final 2 fields of the address", rest)
            if i + 4 > 16:
                raise _addr_error(raw, "too many hex fields to fit an embedded IPv4 at the end of the address", rest)
            end = len(raw) - (len(zone) + 1 if zone else 0)
            ip[i:i + 4] = _parse_ipv4_fields(raw, end - len(rest), end).to_bytes(4, "big")
            rest = b""
            i += 4
            break
        ip[i], ip[i + 1] = acc >> 8, acc & 0xFF
        i += 2
        rest = rest[off:]
        if not rest:
            break
        if rest[0] != ord(":"):
            raise _addr_error(raw, "unexpected character, want colon", rest)
        if len(rest) == 1:
            raise _addr_error(raw, "colon must be followed by more characters", rest)
        rest = rest[1:]
        if rest[0] == ord(":"):
            if ellipsis >= 0:
                raise _addr_error(raw, "multiple :: in address", rest)
            ellipsis, rest = i, rest[1:]
            if not rest:
                break
    if rest:
        raise _addr_error(raw, "trailing garbage after address", rest)
    if i < 16:
        if ellipsis < 0:
            raise _addr_error(raw, "address string too short")
        gap = 16 - i
        ip[ellipsis + gap:16] = ip[ellipsis:i]
        ip[ellipsis:ellipsis + gap] = bytes(gap)
    elif ellipsis >= 0:
        raise _addr_error(raw, "the :: must expand to at least one field of zeros")
    return Addr(int.from_bytes(bytes(ip), "big"), False, zone_text)


@dataclass(frozen=True)
class Prefix:
    """An address and a prefix length (host bits are kept: ``10.0.0.1/8`` != ``10.0.0.0/8``)."""

    addr: Addr
    bits: int

    def masked(self) -> "Prefix":
        return Prefix(self.addr.masked(self.bits), self.bits)

    def contains(self, ip: Addr) -> bool:
        if ip.zone or ip.is4 != self.addr.is4:
            return False
        return ip.masked(self.bits).value == self.addr.masked(self.bits).value

    def overlaps(self, other: "Prefix") -> bool:
        if self.addr.is4 != other.addr.is4:
            return False
        bits = min(self.bits, other.bits)
        return self.addr.masked(bits).value == other.addr.masked(bits).value

    def __str__(self) -> str:
        return f"{self.addr}/{self.bits}"


def parse_prefix(text: str) -> Prefix:
    """netip.ParsePrefix; raises AddrParseError with Go's message."""
    raw = text.encode("utf-8", errors="surrogateescape")

    def error(message: str) -> AddrParseError:
        return AddrParseError(f"netip.ParsePrefix({quote_bytes(raw)}): {message}")

    slash = raw.rfind(b"/")
    if slash < 0:
        raise error("no '/'")
    try:
        addr = parse_addr(raw[:slash].decode("utf-8", errors="surrogateescape"))
    except AddrParseError as exc:
        raise error(str(exc)) from None
    if addr.zone:
        raise error("IPv6 zones cannot be present in a prefix")
    bits_text = raw[slash + 1:]
    bad_bits = error("bad bits after slash: " + quote_bytes(bits_text))
    if len(bits_text) > 1 and not 0x31 <= bits_text[0] <= 0x39:
        raise bad_bits
    if not re.fullmatch(rb"[+-]?[0-9]+", bits_text):
        raise bad_bits
    bits = int(bits_text)
    if not -(2**63) <= bits < 2**63:
        raise bad_bits  # strconv.Atoi: value out of range
    if not 0 <= bits <= addr.bit_len:
        raise error("prefix length out of range")
    return Prefix(addr, bits)
