"""The orjson path finds every element whose orjson text is not the reference's.

The equality of the whole text is tested in ``test_json_numbers.py``; these tests pin the
part that makes it hold: the suspects cover every difference, the suspects left on orjson's
digits only differ in spelling, and the lattice bounds behind the float32 tables.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pytest
from numpy.typing import NDArray

from app.encoders import json_fast
from app.encoders.json_reference import reference_json

from .helpers import finite_bit_patterns, mixed_json_input

FLOAT32 = np.dtype(np.float32)
FLOAT64 = np.dtype(np.float64)

# Decimals of 9 digits whose float64 is exactly a midpoint between two float32 values, so
# that a float32 parse and a float64 parse plus cast can round them apart: all there are in
# the decades 1e-14..1e-5 (found by _double_rounding_decimals; the decades 1e-4..1e5 have
# none, as the grid binades' bounds say).
DOUBLE_ROUNDING_DECIMALS = [
    "2.48237791e-12",
    "4.96475582e-12",
    "7.02990899e-12",
    "9.92951164e-12",
    "9.67498269e-11",
    "5.44286477e-10",
    "9.39430711e-09",
    "6.82972221e-08",
    "4.77805429e-06",
    "9.55610858e-06",
    "2.65092267e-05",
    "5.30184534e-05",
]


def _texts(values: NDArray[Any]) -> tuple[list[bytes], list[bytes]]:
    """orjson's and the reference's text of each element."""
    raw = orjson.dumps(values, option=json_fast.OPTIONS)[1:-1].split(b",")
    reference = reference_json(values, "flat")[1:-1].encode().split(b",")
    return raw, reference


def _dense_runs(dtype: np.dtype[Any], binades: range, run: int) -> NDArray[Any]:
    """``run`` consecutive values at the start and at the end of each binade."""
    width = dtype.itemsize * 8
    bias, mantissa = (127, 23) if width == 32 else (1023, 52)
    starts = [(b + bias) << mantissa for b in binades]
    starts += [s + (1 << mantissa) - run for s in starts]
    bits = [np.arange(s, s + run, dtype=np.uint64) for s in starts]
    return np.concatenate(bits).astype(f"<u{dtype.itemsize}").view(dtype)


def _float32_values(seed: int) -> NDArray[np.float32]:
    return np.concatenate(
        [
            mixed_json_input(FLOAT32, seed),
            finite_bit_patterns(FLOAT32, 1 << 16, seed),
            _dense_runs(FLOAT32, range(-60, 30), 512),
        ]
    )


@pytest.mark.parametrize("seed", range(3))
def test_float32_suspects_cover_every_difference(seed: int) -> None:
    values = _float32_values(seed)
    raw, reference = _texts(values)
    differ = {i for i, (r, f) in enumerate(zip(raw, reference, strict=True)) if r != f}
    index, needs_reference = json_fast.float32_suspects(values)
    assert len(differ) > 1000  # ties, spelling: the test has something to find
    assert not differ - set(index.tolist())
    # Suspects left on orjson's digits only need repr's spelling of them.
    for i in index[~needs_reference].tolist():
        assert repr(float(raw[i])).encode() == reference[i]


@pytest.mark.parametrize("seed", range(3))
def test_float64_suspects_cover_every_difference(seed: int) -> None:
    values = np.concatenate(
        [
            mixed_json_input(FLOAT64, seed),
            finite_bit_patterns(FLOAT64, 1 << 16, seed),
            _dense_runs(FLOAT64, range(-40, 60), 256),
            # Ties and interval ends that are short decimals: multiples of 2**-25.
            np.random.default_rng(seed).integers(1, 1 << 40, 1 << 12) * 2.0**-25,
        ]
    )
    raw, reference = _texts(values)
    differ = {i for i, (r, f) in enumerate(zip(raw, reference, strict=True)) if r != f}
    assert len(differ) > 1000
    assert not differ - set(json_fast.float64_suspects(values).tolist())


def test_float32_neighbours_of_double_rounding_midpoints_need_the_reference() -> None:
    for decimal in DOUBLE_ROUNDING_DECIMALS:
        midpoint = float(decimal)
        nearest = np.float32(midpoint)  # (compare as float64: numpy would compare in float32)
        below = nearest if float(nearest) < midpoint else np.nextafter(nearest, np.float32(0))
        above = np.nextafter(below, np.float32(1))
        assert float(below) < midpoint < float(above)
        assert midpoint == (float(below) + float(above)) / 2
        values = np.array([below, above, -below, -above], np.float32)
        index, needs_reference = json_fast.float32_suspects(values)
        assert index.tolist() == [0, 1, 2, 3], decimal
        assert needs_reference.all(), decimal


def test_float32_grid_elements_need_the_reference() -> None:
    """Few significant bits: exact ties (382.171875 is halfway between 382.17187 and
    382.17188), or possible ones."""
    grid = np.array([1.0, 0.5, -0.75, 0.015625, 382.171875, 2.0**-9, 3.0 * 2**17], np.float32)
    index, needs_reference = json_fast.float32_suspects(grid)
    assert index.tolist() == list(range(grid.size))
    assert needs_reference.all()
    weights = np.array([0.1, -0.0883, 0.0173, 1.5e-3 + 2**-30, 7.25 + 2**-20], np.float32)
    assert json_fast.float32_suspects(weights)[0].size == 0


def test_float64_tie_points_and_short_interval_ends_are_suspects() -> None:
    """repr and zmij agree on them (ties to even, even ends kept); suspects all the same.

    ``1 + 2**-17`` is halfway between two 17-digit decimals; the interval of ``2**53 + 2``
    ends at the 16-digit integer ``2**53 + 1``.
    """
    ties = np.array([1 + 2.0**-17, -(1 + 2.0**-17), 2.0**50 + 0.75, 2.0**53 + 2, 2.0**-25])
    assert json_fast.float64_suspects(ties).tolist() == list(range(ties.size))
    assert json_fast.float64_suspects(np.array([0.1, 1 + 2.0**-26, 2.0**-40])).size == 0


def test_zeros_are_never_suspects() -> None:
    zeros = np.array([0.0, -0.0, 0.0], np.float32)
    assert json_fast.float32_suspects(zeros)[0].size == 0
    assert json_fast.float64_suspects(zeros.astype(np.float64)).size == 0


def _double_rounding_decimals(decade: int) -> list[str]:
    """9-digit decimals of a decade whose float64 has the bit pattern of a float32 midpoint."""
    found = []
    divisor = 10.0 ** (8 - decade)  # exact: the quotient is correctly rounded
    for start in range(10**8, 10**9, 10**7):
        digits = np.arange(start, start + 10**7, dtype=np.float64)
        low_bits = (digits / divisor).view(np.uint64) & np.uint64((1 << 29) - 1)
        found += [f"{int(d)}e{decade - 8}" for d in digits[low_bits == np.uint64(1 << 28)]]
    return found


@pytest.mark.slow
@pytest.mark.parametrize("decade", [-5, -2])
def test_double_rounding_decimals_of_a_decade(decade: int) -> None:
    """Regenerates the list for 1e-5 and shows 1e-2, in the grid binades, has none."""
    found = [float(d) for d in _double_rounding_decimals(decade)]
    listed = [float(d) for d in DOUBLE_ROUNDING_DECIMALS]
    assert found == [d for d in listed if 10.0**decade <= d < 10.0 ** (decade + 1)]
