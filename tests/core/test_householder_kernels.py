"""app/core/_householder.c: every copy of the compiled kernels gives the numpy products' bits.

The whole-QR golden hashes in test_linalg.py run under every kernel set too; here each
product is compared alone, on shapes that reach every tile remainder (rows, columns and
reflector counts that are not multiples of the tiles), on row-strided views like the QR's
trailing blocks, and on values whose sums are sensitive to the order of the additions.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from app.core import linalg
from app.core.linalg import CompiledProducts, NumpyProducts, products

F64 = NDArray[np.float64]
KERNEL_SETS = linalg.compiled_kernel_sets()


def test_extension_is_built_and_used_by_default() -> None:
    # `make install` (pip install -e .) compiles app/core/_householder.c; without a C
    # compiler the service still runs (numpy products, same bytes) but this suite insists.
    assert "baseline" in KERNEL_SETS, "app.core._householder was not built: is gcc installed?"
    assert isinstance(products(), CompiledProducts)
    assert linalg.kernel_name() == f"compiled ({KERNEL_SETS[0]})"


def order_sensitive(rng: np.random.Generator, shape: tuple[int, ...]) -> F64:
    """Values over ~40 binades with exact zeros and negative zeros: a sum in another order,
    or a product contracted into an FMA, gives other bits."""
    x = rng.standard_normal(shape) * np.exp(3.0 * rng.standard_normal(shape))
    x[rng.random(shape) < 0.05] = 0.0
    x[rng.random(shape) < 0.05] = -0.0
    return x


def strided_view(rng: np.random.Generator, rows: int, cols: int, pad: int) -> F64:
    """A (rows, cols) view with row stride cols + pad, inside a larger matrix."""
    base = order_sensitive(rng, (rows + 1, cols + pad + 1))
    return base[1:, 1 : cols + 1]


@pytest.mark.parametrize("kernel_set", KERNEL_SETS)
@settings(max_examples=60, deadline=None)
@given(
    rows=st.integers(1, 45),
    b=st.integers(1, 18),
    cols=st.integers(1, 40),
    pad=st.integers(0, 5),
    seed=st.integers(0, 2**32 - 1),
)
def test_vt_times_same_bits_as_numpy(
    kernel_set: str, rows: int, b: int, cols: int, pad: int, seed: int
) -> None:
    rng = np.random.Generator(np.random.PCG64(seed))
    v = order_sensitive(rng, (rows, b))
    x = strided_view(rng, rows, cols, pad)
    expected, got = np.empty((b, cols)), np.empty((b, cols))
    NumpyProducts().vt_times(v, x, expected)
    CompiledProducts(kernel_set).vt_times(v, x, got)
    assert got.tobytes() == expected.tobytes()


@pytest.mark.parametrize("kernel_set", KERNEL_SETS)
@settings(max_examples=60, deadline=None)
@given(
    rows=st.integers(1, 45),
    b=st.integers(1, 18),
    cols=st.integers(1, 40),
    pad=st.integers(0, 5),
    skip=st.integers(0, 45),
    seed=st.integers(0, 2**32 - 1),
)
def test_apply_wy_same_bits_as_numpy(
    kernel_set: str, rows: int, b: int, cols: int, pad: int, skip: int, seed: int
) -> None:
    rng = np.random.Generator(np.random.PCG64(seed))
    skip = min(skip, rows)
    v = order_sensitive(rng, (rows, b))
    m_transposed = order_sensitive(rng, (b, b))
    expected = strided_view(rng, rows, cols, pad)
    got_base = expected.base.copy()  # type: ignore[union-attr]
    got = got_base[1:, 1 : cols + 1]
    NumpyProducts().apply_wy(expected, v, m_transposed, skip_rows=skip)
    CompiledProducts(kernel_set).apply_wy(got, v, m_transposed, skip_rows=skip)
    assert got_base.tobytes() == expected.base.tobytes()  # type: ignore[union-attr]


@pytest.mark.parametrize("kernel_set", KERNEL_SETS)
def test_panel_sized_products_same_bits(kernel_set: str) -> None:
    # The QR's own sizes: 16 reflectors (the AVX-512 tiles), hundreds of rows and columns.
    rng = np.random.Generator(np.random.PCG64(7))
    for rows, cols in [(300, 283), (517, 128), (64, 1000), (1000, 17)]:
        v = order_sensitive(rng, (rows, 16))
        m_transposed = order_sensitive(rng, (16, 16))
        a = order_sensitive(rng, (rows, cols + 3))[:, 3:]
        expected, got = a.copy(), a.copy()
        NumpyProducts().apply_wy(expected, v, m_transposed, skip_rows=16)
        CompiledProducts(kernel_set).apply_wy(got, v, m_transposed, skip_rows=16)
        assert got.tobytes() == expected.tobytes(), (rows, cols)


BAD_CALLS = {
    "float32 matrix": lambda k: k.vt_times(
        np.ones((4, 2), np.float32), np.ones((4, 3)), np.empty((2, 3))
    ),
    "one-dimensional": lambda k: k.vt_times(np.ones(4), np.ones((4, 3)), np.empty((2, 3))),
    "strided columns": lambda k: k.vt_times(
        np.ones((4, 2)), np.ones((4, 6))[:, ::2], np.empty((2, 3))
    ),
    "rows differ": lambda k: k.vt_times(np.ones((5, 2)), np.ones((4, 3)), np.empty((2, 3))),
    "wrong out shape": lambda k: k.vt_times(np.ones((4, 2)), np.ones((4, 3)), np.empty((3, 3))),
    "read-only a2": lambda k: k.apply_wy(
        np.broadcast_to(np.ones(3), (4, 3)), np.ones((4, 2)), np.ones((2, 2)), 0
    ),
    "skip past the rows": lambda k: k.apply_wy(
        np.ones((4, 3)), np.ones((4, 2)), np.ones((2, 2)), 5
    ),
    "m not b x b": lambda k: k.apply_wy(np.ones((4, 3)), np.ones((4, 2)), np.ones((3, 3)), 0),
    "unknown kernel set": lambda k: k.apply_wy(
        np.ones((4, 3)), np.ones((4, 2)), np.ones((2, 2)), 0, "sse9"
    ),
}


@pytest.mark.parametrize("case", list(BAD_CALLS))
def test_bad_arguments_raise_instead_of_touching_memory(case: str) -> None:
    from app.core import _householder

    with pytest.raises((ValueError, BufferError, TypeError)):
        BAD_CALLS[case](_householder)


def test_no_reflectors_is_refused() -> None:
    from app.core import _householder

    with pytest.raises(ValueError):
        _householder.apply_wy(np.ones((4, 3)), np.ones((4, 0)), np.ones((0, 0)), 0)
    with pytest.raises(ValueError):
        _householder.vt_times(np.ones((4, 0)), np.ones((4, 3)), np.empty((0, 3)))
