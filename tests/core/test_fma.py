"""Multiply-adds rounded once (app/core/fma.py), against exact rationals: the ties a float64
sum creates on a float32 halfway point are broken toward the exact sum."""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from app.core.fma import fma32, fma64


def test_fma32_rounds_once() -> None:
    a = np.array([1 + 2**-12], dtype=np.float32)
    # (1 + 2^-12)^2 - 1 = 2^-11 + 2^-24: a separate float32 multiply rounds the 2^-24 away
    got = fma32(a, a, -1.0)
    assert float(got[0]) == 2**-11 + 2**-24
    assert float((a * a - np.float32(1))[0]) == 2**-11


def _fma32_reference(a: float, b: float, c: float) -> float:
    """``a * b + c`` rounded once to float32, from exact rationals (ties to even)."""
    exact = Fraction(a) * Fraction(b) + Fraction(c)
    near = np.float32(float(exact))  # within one float32 step of the answer
    candidates = [
        np.nextafter(near, np.float32(-np.inf)),
        near,
        np.nextafter(near, np.float32(np.inf)),
    ]
    best = min(
        candidates, key=lambda v: (abs(Fraction(float(v)) - exact), int(v.view(np.uint32)) & 1)
    )
    return float(best)


def test_fma32_breaks_float32_ties_that_a_float64_sum_creates() -> None:
    # (2^23 - 1)(1 + 2^-23) + (2^47 + 2^24) = 2^47 + 2^24 + 2^23 - 2^-23: in float64 the
    # -2^-23 is lost and the sum sits on a float32 halfway point, which ties to even (2^47 +
    # 2^25); the exact sum is below it, so one rounding gives 2^47 + 2^24.
    a = np.array([2**23 - 1, -(2**23 - 1), 3.0], dtype=np.float32)
    b = np.float32(1 + 2**-23)
    c = np.array([2**47 + 2**24, -(2**47 + 2**24), 0.5], dtype=np.float32)
    got = [float(x) for x in fma32(a, b, c)]
    assert got[:2] == [2**47 + 2**24, -(2**47 + 2**24)]
    assert got == [
        _fma32_reference(float(x), float(b), float(y)) for x, y in zip(a, c, strict=True)
    ]
    rng = np.random.default_rng(5)  # and ordinary operands, against exact rationals
    a = (rng.standard_normal(2000) * 2.0 ** rng.integers(-30, 30, 2000)).astype(np.float32)
    c = (rng.standard_normal(2000) * 2.0 ** rng.integers(-30, 30, 2000)).astype(np.float32)
    b = np.float32(0.3)
    want = [_fma32_reference(float(x), float(b), float(y)) for x, y in zip(a, c, strict=True)]
    assert [float(x) for x in fma32(a, b, c)] == [float(np.float32(w)) for w in want]


def test_fma64_rounds_once_against_exact_rationals() -> None:
    rng = np.random.default_rng(6)
    a = rng.standard_normal(3000) * 2.0 ** rng.integers(-40, 40, 3000)
    b, c = 0.1 + 2**-40, -0.7
    got = fma64(a, b, c)
    want = [float(Fraction(float(x)) * Fraction(b) + Fraction(c)) for x in a]  # round once
    assert [float(x) for x in got] == want
