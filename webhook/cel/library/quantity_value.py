"""Kubernetes ``resource.Quantity`` in pure Python: parsing, canonical printing, arithmetic.

A quantity is an exact decimal ``mantissa * 10**exponent`` plus the format it was written in
(DecimalSI ``12M``, BinarySI ``12Mi``, DecimalExponent ``12e6``), which only decides how it
prints. Parsing follows k8s.io/apimachinery/pkg/api/resource/quantity.go (ParseQuantity):
the same accepted forms, error texts, rounding up to the nano unit, the BinarySI cap at
2^63-1, and the remembered input string that String() reuses when it is already canonical.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

Format = Literal["DecimalExponent", "BinarySI", "DecimalSI"]

# resource/quantity.go: ErrFormatWrong, ErrNumeric, ErrSuffix.
SPLIT_RE = "^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"
ERR_FORMAT_WRONG = f"quantities must match the regular expression '{SPLIT_RE}'"
ERR_NUMERIC = "unable to parse numeric part of quantity"
ERR_SUFFIX = "unable to parse quantity's suffix"

INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)
_NANO = -9
_MAX_INT64_FACTORS = 18
_SUFFIX_CHARS = frozenset("eEinumkKMGTP")
_DIGITS = frozenset("0123456789")

# suffix -> (base, exponent, format); resource/suffix.go
_SUFFIXES: dict[str, tuple[int, int, Format]] = {
    "": (10, 0, "DecimalSI"),
    "n": (10, -9, "DecimalSI"),
    "u": (10, -6, "DecimalSI"),
    "m": (10, -3, "DecimalSI"),
    "k": (10, 3, "DecimalSI"),
    "M": (10, 6, "DecimalSI"),
    "G": (10, 9, "DecimalSI"),
    "T": (10, 12, "DecimalSI"),
    "P": (10, 15, "DecimalSI"),
    "E": (10, 18, "DecimalSI"),
    "Ki": (2, 10, "BinarySI"),
    "Mi": (2, 20, "BinarySI"),
    "Gi": (2, 30, "BinarySI"),
    "Ti": (2, 40, "BinarySI"),
    "Pi": (2, 50, "BinarySI"),
    "Ei": (2, 60, "BinarySI"),
}
_DECIMAL_SUFFIX = {exp: name for name, (base, exp, _) in _SUFFIXES.items() if base == 10}
_BINARY_SUFFIX = {exp // 10: name for name, (base, exp, _) in _SUFFIXES.items() if base == 2}


class QuantityError(ValueError):
    """A string is not a Kubernetes quantity; the text is apimachinery's error."""


@dataclass(frozen=True)
class Quantity:
    """An exact quantity: ``mantissa * 10**exponent`` (mantissa has no trailing zeros)."""

    mantissa: int
    exponent: int
    format: Format = "DecimalSI"
    # The input string, when ParseQuantity found it already canonical (String() reuses it).
    remembered: str | None = None

    @staticmethod
    def of(mantissa: int, exponent: int, format: Format, remembered: str | None = None) -> "Quantity":
        if mantissa == 0:
            return Quantity(0, 0, format, remembered)
        step = 1  # strip trailing zeros a growing number at a time: 10**5000 takes 13 steps
        while mantissa % 10 == 0:
            if mantissa % 10**step == 0:
                mantissa //= 10**step
                exponent += step
                step *= 2
            else:
                step = max(1, step // 2)
        return Quantity(mantissa, exponent, format, remembered)

    def sign(self) -> int:
        return (self.mantissa > 0) - (self.mantissa < 0)

    def compare(self, other: "Quantity") -> int:
        """Quantity.Cmp: -1, 0 or 1."""
        if self.sign() != other.sign() or self.sign() == 0:
            return (self.sign() > other.sign()) - (self.sign() < other.sign())
        # Different orders of magnitude decide without building 10**exponent.
        left, right = _magnitude(self), _magnitude(other)
        if left != right:
            return self.sign() * ((left > right) - (left < right))
        a, b = _aligned(self, other)
        return (a > b) - (a < b)

    def add(self, other: "Quantity") -> "Quantity":
        # Quantity.Add/Sub: a zero receiver takes the operand's format.
        fmt = other.format if self.mantissa == 0 else self.format
        a, b = _aligned(self, other)
        exponent = min((q.exponent for q in (self, other) if q.mantissa), default=0)
        return Quantity.of(a + b, exponent, fmt)

    def sub(self, other: "Quantity") -> "Quantity":
        return self.add(Quantity(-other.mantissa, other.exponent, other.format))

    def as_integer(self) -> int | None:
        """The exact integer value, or None when it is fractional (or absurdly large)."""
        if self.exponent < 0 or self.exponent > MAX_EXPONENT_GAP:
            return None
        return self.mantissa * 10**self.exponent

    def as_int64(self) -> int | None:
        """The value as an int64, or None when it is fractional or out of range."""
        if self.mantissa == 0:
            return 0
        if not 0 <= self.exponent <= _MAX_INT64_FACTORS:
            return None
        value = self.mantissa * 10**self.exponent
        return value if INT64_MIN <= value <= INT64_MAX else None

    def as_approximate_float(self) -> float:
        # Quantity.AsApproximateFloat64: float64(unscaled) * math.Pow10(exponent).
        try:
            base = float(self.mantissa)
        except OverflowError:
            base = math.copysign(math.inf, self.mantissa)
        if self.exponent == 0:
            return base
        return base * go_pow10(self.exponent)

    def __str__(self) -> str:
        return self.remembered if self.remembered is not None else canonical_string(self, self.format)


# Sums, differences and comparisons align exponents by building 10**gap; a gap this large
# (quantity("1e1000000").add(1)) is refused rather than computed for minutes.
MAX_EXPONENT_GAP = 100_000


def _magnitude(quantity: Quantity) -> int:
    return len(_digits(abs(quantity.mantissa))) + quantity.exponent


def _aligned(left: Quantity, right: Quantity) -> tuple[int, int]:
    """Both mantissas at the smaller exponent of the two (a zero has no exponent to align)."""
    exponents = [q.exponent for q in (left, right) if q.mantissa]
    low = min(exponents, default=0)
    if exponents and max(exponents) - low > MAX_EXPONENT_GAP:
        raise QuantityError("quantity exponents too far apart to combine exactly")
    return tuple(q.mantissa * 10 ** (q.exponent - low) if q.mantissa else 0 for q in (left, right))  # type: ignore[return-value]


def _digits(number: int) -> str:
    # Python refuses str() of ints over 4300 digits; Decimal has no such limit.
    return str(number) if number.bit_length() < 13_000 else str(Decimal(number))


def _int(digits: str) -> int:
    return int(digits) if len(digits) < 4000 else int(Decimal(digits))


_ONE = Quantity(1, 0)
_INT64_MAX_QUANTITY = Quantity(INT64_MAX, 0)


def from_int(value: int) -> Quantity:
    """resource.NewQuantity(value, DecimalExponent), as quantity.add(int) builds its operand."""
    return Quantity.of(value, 0, "DecimalExponent")


def canonical_string(quantity: Quantity, fmt: Format) -> str:
    """Quantity.String() for ``fmt`` (CanonicalizeBytes), ignoring any remembered input."""
    if quantity.mantissa == 0:
        return "0"
    if fmt == "BinarySI":
        number = quantity.as_integer()
        if number is None or -1024 < number < 1024:
            fmt = "DecimalSI"  # avoids rounding; fractions show as DecimalSI
        else:
            times = 0
            while abs(number) >= 1024 and number % 1024 == 0:
                number //= 1024
                times += 1
            # An exponent past Ei has no suffix; apimachinery then prints the bare mantissa.
            return f"{_digits(number)}{_BINARY_SUFFIX.get(times, '')}"
    mantissa, exponent = quantity.mantissa, quantity.exponent
    shift = exponent % 3  # round the exponent down to a multiple of 3
    mantissa, exponent = mantissa * 10**shift, exponent - shift
    if fmt == "DecimalExponent":
        return f"{_digits(mantissa)}e{exponent}" if exponent else _digits(mantissa)
    # Past E or below n there is no suffix; apimachinery then prints the bare mantissa.
    return f"{_digits(mantissa)}{_DECIMAL_SUFFIX.get(exponent, '')}"


def go_pow10(exponent: int) -> float:
    """Go's math.Pow10: a product of two table entries, not a correctly rounded power."""
    if 0 <= exponent <= 308:
        return float(f"1e{exponent // 32 * 32}") * float(f"1e{exponent % 32}")
    if -323 <= exponent < 0:
        return float(f"1e-{-exponent // 32 * 32}") / float(f"1e{-exponent % 32}")
    return math.inf if exponent > 0 else 0.0


@dataclass(frozen=True)
class _Scanned:
    positive: bool
    value: str
    num: str
    denom: str
    suffix: str


def _scan(text: str) -> _Scanned:
    """parseQuantityString: split sign, integer digits, fraction digits and suffix."""
    positive, pos, end = True, 0, len(text)
    if pos < end and text[0] in "+-":
        positive = text[0] != "-"
        pos += 1
    while pos < end and text[pos] == "0":
        pos += 1
    if pos >= end:
        return _Scanned(positive, "0", "0", "", "")
    start = pos
    while pos < end and text[pos] in _DIGITS:
        pos += 1
    num = text[start:pos] or "0"
    if pos >= end:
        return _Scanned(positive, text, num, "", "")
    denom = ""
    if text[pos] == ".":
        pos += 1
        start = pos
        while pos < end and text[pos] in _DIGITS:
            pos += 1
        denom = text[start:pos]
        if pos >= end:
            return _Scanned(positive, text, num, denom, "")
    value = text[:pos]
    suffix_start = pos
    while pos < end and text[pos] in _SUFFIX_CHARS:
        pos += 1
    if pos < end and text[pos] in "+-":
        pos += 1
    while pos < end and text[pos] in _DIGITS:
        pos += 1
    if pos < end:
        raise QuantityError(ERR_FORMAT_WRONG)
    return _Scanned(positive, value, num, denom, text[suffix_start:])


def _interpret(suffix: str) -> tuple[int, int, Format]:
    known = _SUFFIXES.get(suffix)
    if known is not None:
        return known
    if len(suffix) > 1 and suffix[0] in "eE":
        exponent = _go_parse_int64(suffix[1:])
        if exponent is not None:
            # Go truncates the parsed int64 to int32.
            return 10, (exponent + 2**31) % 2**32 - 2**31, "DecimalExponent"
    raise QuantityError(ERR_SUFFIX)


def _go_parse_int64(text: str) -> int | None:
    body = text[1:] if text[:1] in ("+", "-") else text
    if not body or not body.isdigit() or not body.isascii():
        return None
    value = int(text)
    return value if INT64_MIN <= value <= INT64_MAX else None


def parse_quantity(text: str) -> Quantity:
    """resource.ParseQuantity; raises QuantityError with apimachinery's message."""
    if not text:
        raise QuantityError(ERR_FORMAT_WRONG)
    if text == "0":
        return Quantity(0, 0, "DecimalSI", "0")
    scanned = _scan(text)
    base, exponent, fmt = _interpret(scanned.suffix)
    num, denom = scanned.num, scanned.denom

    if fmt == "BinarySI":
        precision = 15 - len(num) - int(exponent * 3 / 10) - 1 if not denom else -1
        scale = 0
    else:
        precision = _MAX_INT64_FACTORS - len(num + denom)
        scale = exponent - len(denom)
    if precision >= 0 and scale >= _NANO:
        shifted = num + denom
        digits = int(shifted)
        mantissa = digits << exponent if fmt == "BinarySI" else digits
        if mantissa <= INT64_MAX:
            signed = mantissa if scanned.positive else -mantissa
            if fmt == "BinarySI":
                canonical = exponent % 10 == 0 and digits & 0x07 != 0
            else:
                canonical = scale % 3 == 0 and not shifted.endswith("000") and shifted[0] != "0"
            return Quantity.of(signed, scale if fmt != "BinarySI" else 0, fmt, text if canonical else None)

    unscaled, decimal_exponent = _parse_decimal(scanned.value)
    if base == 10:
        decimal_exponent += exponent
    else:
        unscaled <<= exponent
    magnitude = abs(unscaled)
    if decimal_exponent < _NANO:
        # Round non-zero values up (away from zero) to 1n rather than to zero.
        gap = _NANO - decimal_exponent
        if gap > len(_digits(magnitude)):
            magnitude = 1 if magnitude else 0  # below 1n: avoid building 10**gap
        else:
            magnitude = -(-magnitude // 10**gap)
        decimal_exponent = _NANO
    amount = Quantity.of(magnitude, decimal_exponent, fmt)
    if fmt == "BinarySI" and amount.compare(_INT64_MAX_QUANTITY) > 0:
        magnitude, decimal_exponent = INT64_MAX, 0
    elif fmt == "BinarySI" and amount.sign() > 0 and amount.compare(_ONE) < 0:
        fmt = "DecimalSI"
    return Quantity.of(magnitude if unscaled >= 0 else -magnitude, decimal_exponent, fmt)


def _parse_decimal(value: str) -> tuple[int, int]:
    """inf.Dec.SetString for the scanner's number: (unscaled, base-10 exponent)."""
    sign = -1 if value.startswith("-") else 1
    body = value.lstrip("+-")
    whole, dot, fraction = body.partition(".")
    digits = whole + fraction
    if not digits:
        raise QuantityError(ERR_NUMERIC)
    return sign * _int(digits), -len(fraction) if dot else 0


def is_quantity(text: str) -> bool:
    try:
        parse_quantity(text)
    except QuantityError:
        return False
    return True
