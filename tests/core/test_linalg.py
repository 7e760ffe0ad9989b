"""orthogonal_q: orthonormal, LAPACK's sign-corrected Q, Haar for Gaussian input, and the
same bytes whatever the CPU features, BLAS kernel, chunk size or ufunc buffer size.

The checks themselves use plain numpy (BLAS is fine here: only the code under test must
avoid it)."""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.typing import NDArray
from scipy import stats  # type: ignore[import-untyped, unused-ignore]

from app.core import linalg
from app.core.errors import InvalidParameterError, ShapeError
from app.core.linalg import orthogonal_q

F64 = NDArray[np.float64]
REPO_ROOT = Path(__file__).resolve().parents[2]

SHAPES = [(1, 1), (7, 1), (2, 2), (5, 5), (16, 16), (17, 17), (33, 32), (64, 64), (100, 17)]
SHAPES += [(200, 150), (257, 256), (300, 47)]


def gaussian(m: int, n: int, seed: int = 0) -> F64:
    return np.random.Generator(np.random.PCG64(seed)).standard_normal((m, n))


def lapack_q(a: F64) -> F64:
    q, r = np.linalg.qr(a)
    return q * np.sign(np.diag(r))


def sha(x: F64) -> str:
    return hashlib.sha256(np.ascontiguousarray(x).tobytes()).hexdigest()


def orthonormality_error(q: F64) -> float:
    return float(np.abs(q.T @ q - np.eye(q.shape[1])).max())


# --- the factor ----------------------------------------------------------------------


@pytest.mark.parametrize(("m", "n"), SHAPES)
def test_orthonormal_columns(m: int, n: int) -> None:
    q = orthogonal_q(gaussian(m, n))
    assert q.shape == (m, n)
    assert q.dtype == np.float64
    assert q.flags.c_contiguous
    assert orthonormality_error(q) <= 1e-13


@pytest.mark.parametrize(("m", "n"), SHAPES)
def test_equals_lapack_with_sign_correction(m: int, n: int) -> None:
    a = gaussian(m, n, seed=1)
    assert float(np.abs(orthogonal_q(a) - lapack_q(a)).max()) <= 1e-10


@pytest.mark.parametrize(("m", "n"), SHAPES)
def test_implied_r_upper_triangular_with_positive_diagonal(m: int, n: int) -> None:
    a = gaussian(m, n, seed=2)
    r = orthogonal_q(a).T @ a
    assert float(np.abs(np.tril(r, -1)).max(initial=0.0)) <= 1e-12
    assert bool((np.diag(r) > 0).all())


def test_ill_conditioned_input_stays_orthonormal() -> None:
    # cond(A) ~ 1e13: Gram-Schmidt would lose orthogonality, Householder does not.
    a = gaussian(120, 80, seed=3) * np.logspace(0, -13, 80)
    q = orthogonal_q(a)
    assert orthonormality_error(q) <= 1e-13
    r = q.T @ a
    assert float(np.abs(np.tril(r, -1)).max()) <= 1e-12
    assert bool((np.diag(r) > 0).all())


def test_power_of_two_column_scaling_changes_no_bit() -> None:
    a = gaussian(90, 70, seed=4)
    scales = np.ldexp(1.0, np.arange(-35, 35))  # exact powers of two
    assert sha(orthogonal_q(a * scales)) == sha(orthogonal_q(a))


@pytest.mark.parametrize("scale", [1e-300, 1e-160, 1e150, 1e300])
def test_extreme_magnitudes(scale: float) -> None:
    a = gaussian(40, 30, seed=5)
    a[:, ::3] *= scale  # a third of the columns at an extreme scale
    q = orthogonal_q(a)
    assert orthonormality_error(q) <= 1e-13
    assert float(np.abs(q - orthogonal_q(gaussian(40, 30, seed=5))).max()) <= 1e-12


def test_subnormal_column() -> None:
    a = gaussian(20, 5, seed=6)
    a[:, 2] = np.ldexp(np.round(a[:, 2] * 8), -1074)  # small-integer multiples of 2**-1074
    q = orthogonal_q(a)
    assert orthonormality_error(q) <= 1e-13


def test_zero_diagonal_of_r_gets_sign_plus_one() -> None:
    # R[j, j] == 0 exactly: H_j = I and the column is kept (np.sign would zero it).
    assert orthogonal_q(np.zeros((3, 2))).tolist() == [[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]
    a = np.array([[1.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
    assert orthogonal_q(a).tolist() == [[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]
    # alpha < 0 with a zero tail: R[j, j] = alpha < 0, so the column flips.
    assert orthogonal_q(np.array([[-2.0], [0.0]])).tolist() == [[-1.0], [0.0]]
    assert orthogonal_q(np.array([[-0.0]])).tolist() == [[1.0]]
    assert orthogonal_q(np.array([[-3.0]])).tolist() == [[-1.0]]


def test_rank_deficient_inputs_stay_orthonormal() -> None:
    a = gaussian(50, 40, seed=7)
    a[:, 5] = a[:, 3]  # duplicate column
    a[:, 9] = 0.0  # zero column
    a[:, 20] = 2.0 * a[:, 0] - a[:, 1]  # dependent column
    q = orthogonal_q(a)
    assert orthonormality_error(q) <= 1e-13
    r = q.T @ a
    assert float(np.abs(np.tril(r, -1)).max()) <= 1e-12
    assert bool((np.diag(r) >= -1e-12).all())


@settings(max_examples=80, deadline=None)
@given(
    hnp.arrays(
        np.float64,
        st.tuples(st.integers(1, 12), st.integers(1, 12)).map(lambda s: (max(s), min(s))),
        elements=st.one_of(
            st.floats(-1e3, 1e3, allow_nan=False, width=64),
            st.floats(allow_nan=False, allow_infinity=False, width=64),  # subnormal to 1e308
        ),
    )
)
def test_property_orthonormal_and_triangular(a: F64) -> None:
    q = orthogonal_q(a)
    assert orthonormality_error(q) <= 1e-13
    # Check R = Q^T A column by column, each column scaled to a maximum of 1 (no overflow).
    col_max = np.abs(a).max(axis=0)
    scaled = a / np.where(col_max > 0, col_max, 1.0)
    r = q.T @ scaled
    col_norms = np.sqrt((scaled * scaled).sum(axis=0))
    assert bool((np.abs(np.tril(r, -1)) <= 1e-12 * col_norms).all())
    assert bool((np.diag(r) >= -1e-12 * col_norms).all())


# --- Haar measure ----------------------------------------------------------------------


def test_haar_distribution_of_3x3() -> None:
    # For Haar O(3) every entry is distributed like one coordinate of a uniform point on
    # the sphere S^2, i.e. uniformly on [-1, 1]; det(Q) is +1 or -1 with probability 1/2.
    rng = np.random.Generator(np.random.PCG64(20240501))
    samples = rng.standard_normal((3000, 3, 3))
    qs = np.stack([orthogonal_q(s) for s in samples])
    uniform = stats.uniform(loc=-1.0, scale=2.0).cdf
    for i, j in [(0, 0), (1, 2), (2, 1)]:
        assert stats.kstest(qs[:, i, j], uniform).pvalue > 0.01
    positive = int((np.linalg.det(qs) > 0).sum())
    assert stats.binomtest(positive, len(qs), 0.5).pvalue > 0.01
    # The test has power: LAPACK's Q without the sign correction has Q[0, 0] <= 0.
    raw = np.stack([np.linalg.qr(s)[0] for s in samples[:300]])
    assert stats.kstest(raw[:, 0, 0], uniform).pvalue < 1e-10


# --- input handling --------------------------------------------------------------------


def test_input_not_modified_and_layout_irrelevant() -> None:
    a = gaussian(70, 50, seed=8)
    before = a.copy()
    q = orthogonal_q(a)
    assert a.tobytes() == before.tobytes()
    fortran = np.asfortranarray(a)
    assert sha(orthogonal_q(fortran)) == sha(q)
    assert fortran.tobytes(order="A") == np.asfortranarray(before).tobytes(order="A")
    strided = np.zeros((140, 100))
    strided[::2, ::2] = a
    assert sha(orthogonal_q(strided[::2, ::2])) == sha(q)
    assert orthogonal_q(a) is not a


@pytest.mark.parametrize("shape", [(3,), (2, 3), (0, 0), (4, 0), (0, 3), (2, 2, 2), (1, 2), ()])
def test_bad_shapes(shape: tuple[int, ...]) -> None:
    with pytest.raises(ShapeError):
        orthogonal_q(np.ones(shape))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_input(bad: float) -> None:
    a = gaussian(6, 4)
    a[3, 1] = bad
    with pytest.raises(InvalidParameterError):
        orthogonal_q(a)


@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.complex128, np.float16])
def test_non_float64_dtype(dtype: type) -> None:
    with pytest.raises(InvalidParameterError):
        orthogonal_q(np.ones((3, 2), dtype=dtype))


# --- determinism -----------------------------------------------------------------------


def test_chunk_size_and_buffer_size_change_no_bit(monkeypatch: pytest.MonkeyPatch) -> None:
    a = gaussian(200, 150)
    reference = sha(orthogonal_q(a))
    assert sha(orthogonal_q(a)) == reference
    for bufsize in (16, 8192, 1 << 16):
        with np.errstate():
            np.setbufsize(bufsize)
            assert sha(orthogonal_q(a)) == reference
    for chunk in (1, 100, 3000):  # forces many chunks, single-row chunks included
        monkeypatch.setattr(linalg, "_CHUNK_ELEMENTS", chunk)
        assert sha(orthogonal_q(a)) == reference


def golden_input(m: int, n: int, seed: int) -> F64:
    """Uniform [-0.5, 0.5) matrix from PCG64's raw output: exact, numpy-version proof."""
    raw = np.random.PCG64(seed).random_raw(m * n)
    return ((raw >> np.uint64(11)).astype(np.float64) * 2.0**-53 - 0.5).reshape(m, n)


# The bytes are the service's contract: if one of these changes, the algorithm changed
# (a new version name is needed), or numpy stopped adding axis-0 reductions row by row.
GOLDEN = {
    (1, 1, 1): "6c3c396ed6b5c36dcae172271f462051b1266b851e92df3deea8ac65478fd712",
    (3, 3, 2): "719ca10ba0b4fe9eaa57069f26437bd854ffd47969fc2535015104d005b07b58",
    (40, 33, 3): "06f250f2f03fa9c7048c965a94750246e3954e3ec2692539f6fb1c52e8f63c38",
    (200, 150, 4): "8418d6a781b6f088cdc90b26b9890156329b27f82b8fce9e90ead65ad692f4df",
    (130, 129, 5): "3870d8016dbbac8e3cd569baa658bcc0c2527e79d999ce71dd11d7c97c51c9fe",
}


@pytest.mark.parametrize(("m", "n", "seed"), list(GOLDEN))
def test_golden_bytes(m: int, n: int, seed: int) -> None:
    assert sha(orthogonal_q(golden_input(m, n, seed))) == GOLDEN[m, n, seed]


def test_sum_rows_is_left_to_right() -> None:
    rng = np.random.Generator(np.random.PCG64(9))
    for shape in [(9, 1), (130, 1), (1000, 2), (300, 3, 5), (17, 1, 1), (1, 4)]:
        x = rng.standard_normal(shape) * np.exp(5 * rng.standard_normal(shape))
        out = np.empty(shape[1:])
        linalg._sum_rows(x, out)
        expected = x[0].copy()
        for row in x[1:]:
            expected = expected + row
        assert out.tobytes() == expected.tobytes()


_CHILD = textwrap.dedent(
    """
    import hashlib, json
    import numpy as np
    from numpy._core._multiarray_umath import __cpu_features__
    from app.core import linalg
    from app.core.linalg import orthogonal_q

    def sha(x):
        return hashlib.sha256(np.ascontiguousarray(x).tobytes()).hexdigest()

    g = np.random.Generator(np.random.PCG64(0))
    a, b = g.standard_normal((200, 150)), g.standard_normal((64, 64))
    c = g.standard_normal((600, 400))
    ours = [sha(orthogonal_q(a)), sha(orthogonal_q(b)), sha(orthogonal_q(c))]
    linalg._CHUNK_ELEMENTS = 1000  # many chunks: must not change a bit
    ours.append(sha(orthogonal_q(c)))
    q, r = np.linalg.qr(a)
    print(json.dumps({
        "x86_v3": bool(__cpu_features__.get("X86_V3", False)),
        "x86_v4": bool(__cpu_features__.get("X86_V4", False)),
        "ours": ours,
        "lapack": sha(q) + sha(r),
        "matmul": sha(a @ a.T),
    }))
    """
)

_MASK_VARS = ("NPY_DISABLE_CPU_FEATURES", "GLIBC_TUNABLES", "OPENBLAS_CORETYPE")

# (NPY_DISABLE_CPU_FEATURES, GLIBC_TUNABLES, OPENBLAS_CORETYPE); None: not set.
_NATIVE: tuple[str | None, str | None, str | None] = (None, None, None)
_SSE_ONLY = (
    "X86_V3 X86_V4 AVX512_ICL AVX512_SPR",
    "glibc.cpu.hwcaps=-AVX2,-FMA,-AVX512F",
    "Prescott",
)
_AVX2_ONLY = ("X86_V4 AVX512_ICL AVX512_SPR", "glibc.cpu.hwcaps=-AVX512F", "Haswell")


def _run_child(masks: tuple[str | None, str | None, str | None]) -> dict[str, object]:
    import json

    env = {k: v for k, v in os.environ.items() if k not in _MASK_VARS}
    for name, value in zip(_MASK_VARS, masks, strict=True):
        if value is not None:
            env[name] = value
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    )
    done = subprocess.run(
        [sys.executable, "-c", _CHILD],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.skipif(
    platform.machine().lower() not in {"x86_64", "amd64", "i386", "i686", "x86"},
    reason="the CPU-feature masks are x86 names",
)
def test_same_bytes_under_cpu_feature_masks() -> None:
    g = np.random.Generator(np.random.PCG64(0))
    a, b = g.standard_normal((200, 150)), g.standard_normal((64, 64))
    c = sha(orthogonal_q(g.standard_normal((600, 400))))
    in_process = [sha(orthogonal_q(a)), sha(orthogonal_q(b)), c, c]

    native = _run_child(_NATIVE)
    assert native["ours"] == in_process
    sse = _run_child(_SSE_ONLY)
    assert sse["ours"] == in_process
    # The masks took effect: numpy lost its AVX2 (X86_V3) dispatch target, and OpenBLAS'
    # Prescott kernels give other bytes for LAPACK's QR (or at least for a matmul).
    assert sse["x86_v3"] is False
    assert sse["lapack"] != native["lapack"] or sse["matmul"] != native["matmul"]
    avx2 = _run_child(_AVX2_ONLY)
    assert avx2["ours"] == in_process
    assert avx2["x86_v4"] is False
