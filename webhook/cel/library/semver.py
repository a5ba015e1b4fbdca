"""Kubernetes semver library (version 1): ``semver('1.2.3')``, ``isSemver``, parts, ordering.

Source: k8s.io/apiserver/pkg/cel/library/semverlib.go with github.com/blang/semver/v4's
Parse (strict SemVer 2.0: no ``v`` prefix, no leading zeros, three parts); version 1 adds the
``normalize`` flag. ``isGreaterThan``/``isLessThan``/``compareTo`` live in ordering.py.

cel-go's ``Semver.Equal`` ignores build metadata (``Version.EQ``), so a value holds the
version without it and celgate prints ``1.2.3+build`` as ``1.2.3``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cel_expr_python import cel

from webhook.cel.errors import CelFunctionError
from webhook.cel.library import CelLibrary
from webhook.cel.string_format import go_quote
from webhook.cel.types import OpaqueType, opaque_type

T = cel.Type

_NUMBERS = frozenset("0123456789")
_ALPHANUM = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-0123456789")
_UINT64_MAX = 2**64 - 1


class SemverError(ValueError):
    """Not a semantic version; the text is blang/semver's error."""


@dataclass(frozen=True)
class Version:
    major: int
    minor: int
    patch: int
    # Each pre-release identifier is an int (numeric) or a str (alphanumeric).
    pre: tuple[int | str, ...] = ()
    build: tuple[str, ...] = ()

    def compare(self, other: "Version") -> int:
        """blang/semver Version.Compare (build metadata does not count)."""
        mine, theirs = (self.major, self.minor, self.patch), (other.major, other.minor, other.patch)
        if mine != theirs:
            return 1 if mine > theirs else -1
        if not self.pre or not other.pre:
            return (not self.pre) - (not other.pre)
        for a, b in zip(self.pre, other.pre):
            result = _compare_identifier(a, b)
            if result:
                return result
        return (len(self.pre) > len(other.pre)) - (len(self.pre) < len(other.pre))

    def without_build(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        return text + ("-" + ".".join(str(p) for p in self.pre) if self.pre else "")


def _compare_identifier(a: int | str, b: int | str) -> int:
    if isinstance(a, int) != isinstance(b, int):
        return -1 if isinstance(a, int) else 1  # numeric identifiers sort first
    return (a > b) - (a < b)  # type: ignore[operator]


def _only(text: str, allowed: frozenset[str]) -> bool:
    return all(char in allowed for char in text)


def _parse_uint(text: str) -> int:
    """strconv.ParseUint(text, 10, 64) for a string of ASCII digits."""
    if not text:
        raise SemverError(f"strconv.ParseUint: parsing {go_quote(text)}: invalid syntax")
    value = int(text)
    if value > _UINT64_MAX:
        raise SemverError(f"strconv.ParseUint: parsing {go_quote(text)}: value out of range")
    return value


def _number(text: str, role: str) -> int:
    if not _only(text, _NUMBERS):
        raise SemverError(f"Invalid character(s) found in {role} number {go_quote(text)}")
    if len(text) > 1 and text[0] == "0":
        raise SemverError(f"{role.capitalize()} number must not contain leading zeroes {go_quote(text)}")
    return _parse_uint(text)


def _prerelease(text: str) -> int | str:
    if not text:
        raise SemverError("Prerelease is empty")
    if _only(text, _NUMBERS):
        if len(text) > 1 and text[0] == "0":
            raise SemverError(f"Numeric PreRelease version must not contain leading zeroes {go_quote(text)}")
        return _parse_uint(text)
    if _only(text, _ALPHANUM):
        return text
    raise SemverError(f"Invalid character(s) found in prerelease {go_quote(text)}")


def parse_semver(text: str) -> Version:
    """blang/semver v4 Parse."""
    if not text:
        raise SemverError("Version string empty")
    parts = text.split(".", 2)
    if len(parts) != 3:
        raise SemverError("No Major.Minor.Patch elements found")
    major = _number(parts[0], "major")
    minor = _number(parts[1], "minor")
    patch_text, build_text, pre_text = parts[2], None, None
    if "+" in patch_text:
        patch_text, build_text = patch_text.split("+", 1)
    if "-" in patch_text:
        patch_text, pre_text = patch_text.split("-", 1)
    patch = _number(patch_text, "patch")
    pre = tuple(_prerelease(p) for p in pre_text.split(".")) if pre_text is not None else ()
    build: list[str] = []
    for identifier in build_text.split(".") if build_text is not None else ():
        if not identifier:
            raise SemverError("Build meta data is empty")
        if not _only(identifier, _ALPHANUM):
            raise SemverError(f"Invalid character(s) found in build meta data {go_quote(identifier)}")
        build.append(identifier)
    return Version(major, minor, patch, pre, tuple(build))


def normalize_and_parse(text: str) -> Version:
    """semverlib.go normalizeAndParse: drop a ``v``, leading zeros, pad ``1.2`` to ``1.2.0``."""
    text = text[1:] if text.startswith("v") else text
    parts = text.split(".", 2)
    for index, part in enumerate(parts):
        if len(part.encode()) > 1:  # Go's len() counts bytes
            part = part.lstrip("0")
            if not part or part[0] not in _NUMBERS:
                part = "0" + part
            parts[index] = part
    if len(parts) < 3:
        if any(char in parts[-1] for char in "+-"):
            raise SemverError("short version cannot contain PreRelease/Build meta data")
        parts += ["0"] * (3 - len(parts))
    return parse_semver(".".join(parts))


SEMVER = opaque_type("kubernetes.Semver")


def _parse(text: str, normalize: bool) -> Version:
    return normalize_and_parse(text) if normalize else parse_semver(text)


def _semver(text: str, normalize: bool = False) -> Any:
    try:
        return SEMVER.wrap(_parse(text, normalize).without_build())
    except SemverError as exc:
        raise CelFunctionError(str(exc)) from None


def _is_semver(text: str, normalize: bool = False) -> bool:
    try:
        _parse(text, normalize)
    except SemverError:
        return False
    return True


def from_message(message: Any) -> Version:
    return parse_semver(OpaqueType.unwrap(message))


def compare(left: Any, right: Any) -> int:
    """Version.Compare of two semver messages (used by ordering.py)."""
    return from_message(left).compare(from_message(right))


def _as_int64(value: int) -> int:
    # semverlib.go returns types.Int(v.Major): a uint64 above int64 wraps around.
    return value - 2**64 if value >= 2**63 else value


def _part(overload_id: str, attribute: str) -> cel.Overload:
    return cel.Overload(
        overload_id, T.INT, [SEMVER.cel_type], is_member=True,
        impl=lambda message: _as_int64(getattr(from_message(message), attribute)),
    )


LIBRARY = CelLibrary(
    name="kubernetes.Semver",
    functions=(
        cel.FunctionDecl(
            "semver",
            [
                cel.Overload("string_to_semver", SEMVER.cel_type, [T.STRING], impl=_semver),
                cel.Overload("string_bool_to_semver", SEMVER.cel_type, [T.STRING, T.BOOL], impl=_semver),
            ],
        ),
        cel.FunctionDecl(
            "isSemver",
            [
                cel.Overload("is_semver_string", T.BOOL, [T.STRING], impl=_is_semver),
                cel.Overload("is_semver_string_bool", T.BOOL, [T.STRING, T.BOOL], impl=_is_semver),
            ],
        ),
        cel.FunctionDecl("major", [_part("semver_major", "major")]),
        cel.FunctionDecl("minor", [_part("semver_minor", "minor")]),
        cel.FunctionDecl("patch", [_part("semver_patch", "patch")]),
    ),
)
