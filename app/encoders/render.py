"""Spell :class:`~app.encoders.shortest.Decimals` as ASCII JSON numbers, vectorised.

Each number is spelt the way Python's ``repr(float)`` spells the double nearest to it:
positional for scientific exponents -4..15 (``0.0025146045``, ``12.5``, ``100.0``),
otherwise scientific with at least two exponent digits (``1e-05``, ``3.4028235e+38``), and a
leading ``-`` whenever the sign bit is set (``-0.0``). All of these are RFC 8259 section 6
numbers (``-? int frac? exp?``).

How: the layout of a number depends only on (sign, digit count, exponent), a few thousand
combinations per dtype. For each, a template row holds the fixed bytes (``-``, ``0.``,
padding zeros, ``.0``, ``e-05``...) and a mask of where the digits go. Rendering gathers one
template row per element into an ``(n, width)`` byte matrix, drops the digits into the
masked cells with one boolean assignment (row-major order keeps every digit in place),
appends each element's separator the same way, and keeps the used cells of every row.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from .shortest import Decimals, FloatSpec

_DIGIT = "D"  # placeholder for a significant digit in a template
_POW10: NDArray[np.uint64] = np.array([10**i for i in range(20)], dtype=np.uint64)


def layout(negative: bool, ndigits: int, exponent: int) -> str:
    """The template of a number, ``D`` standing for each significant digit (repr's rules)."""
    sign = "-" if negative else ""
    digits = _DIGIT * ndigits
    if -4 <= exponent < 16:
        if exponent < 0:
            return f"{sign}0.{'0' * (-exponent - 1)}{digits}"
        whole = exponent + 1
        if ndigits <= whole:
            return f"{sign}{digits}{'0' * (whole - ndigits)}.0"
        return f"{sign}{digits[:whole]}.{digits[whole:]}"
    mantissa = digits[0] + ("." + digits[1:] if ndigits > 1 else "")
    return f"{sign}{mantissa}e{'-' if exponent < 0 else '+'}{abs(exponent):02d}"


@dataclass(frozen=True)
class Templates:
    """Byte templates of every (sign, digit count, exponent) of one dtype."""

    chars: NDArray[np.uint8]  # (rows, width) fixed bytes, 0 in digit cells and padding
    digit_mask: NDArray[np.bool_]  # (rows, width) True where a digit goes
    length: NDArray[np.int64]  # (rows,) bytes used
    max_digits: int
    min_exponent: int
    exponents: int

    def index(self, decimals: Decimals) -> NDArray[np.int64]:
        """Each element's template row."""
        row = decimals.negative.astype(np.int64) * self.max_digits + (decimals.ndigits - 1)
        out: NDArray[np.int64] = row * self.exponents + (decimals.exponent - self.min_exponent)
        return out


@functools.cache
def templates(spec: FloatSpec) -> Templates:
    """The :class:`Templates` of a dtype (exponent 0 included, for zeros)."""
    lo, hi = min(spec.min_exponent, 0), max(spec.max_exponent, 0)
    texts = [
        layout(negative, ndigits, exponent)
        for negative in (False, True)
        for ndigits in range(1, spec.max_digits + 1)
        for exponent in range(lo, hi + 1)
    ]
    width = max(map(len, texts))
    raw = np.frombuffer("".join(t.ljust(width, "\0") for t in texts).encode("ascii"), np.uint8)
    cells = raw.reshape(len(texts), width).copy()
    digit_mask = cells == ord(_DIGIT)
    cells[digit_mask] = 0
    return Templates(
        chars=cells,
        digit_mask=digit_mask,
        length=np.array([len(t) for t in texts], np.int64),
        max_digits=spec.max_digits,
        min_exponent=lo,
        exponents=hi - lo + 1,
    )


def _digit_chars(decimals: Decimals, max_digits: int) -> NDArray[np.uint8]:
    """``(n, max_digits)`` ASCII digits of each element, left-aligned (zero-padded)."""
    word = np.dtype(np.uint32 if max_digits <= 9 else np.uint64)
    scale = _POW10[max_digits - decimals.ndigits].astype(word)
    rest = decimals.digits.astype(word) * scale
    out = np.empty((rest.size, max_digits), np.uint8)
    ten = word.type(10)
    for j in range(max_digits - 1, -1, -1):
        quotient = rest // ten
        out[:, j] = rest - quotient * ten
        rest = quotient
    out += ord("0")
    return out


def render(
    decimals: Decimals,
    spec: FloatSpec,
    separator_index: NDArray[np.int64],
    separators: tuple[bytes, ...],
) -> bytes:
    """The numbers, each followed by ``separators[separator_index[i]]``, as ASCII bytes."""
    table = templates(spec)
    rows = table.index(decimals)
    n = rows.size
    if n == 0:
        return b""
    token_length = table.length[rows]
    token_width = int(token_length.max())

    sep_cells = np.zeros((len(separators), max(map(len, separators), default=0)), np.uint8)
    for i, sep in enumerate(separators):
        sep_cells[i, : len(sep)] = np.frombuffer(sep, np.uint8)
    sep_length = np.array([len(s) for s in separators], np.int64)[separator_index]
    sep_width = int(sep_length.max())

    width = token_width + sep_width
    cells = np.empty((n, width), np.uint8)
    cells[:, :token_width] = table.chars[:, :token_width][rows]
    cells[:, token_width:] = sep_cells[:, :sep_width][separator_index]

    digit_cells = np.zeros((n, width), np.bool_)
    digit_cells[:, :token_width] = table.digit_mask[:, :token_width][rows]
    digits = _digit_chars(decimals, spec.max_digits)
    used_digits = np.arange(spec.max_digits) < decimals.ndigits[:, None]
    cells[digit_cells] = digits[used_digits]

    used = np.empty((n, width), np.bool_)
    np.less(np.arange(token_width), token_length[:, None], out=used[:, :token_width])
    np.less(np.arange(sep_width), sep_length[:, None], out=used[:, token_width:])
    return cells[used].tobytes()
