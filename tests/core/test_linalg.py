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
from app.core.linalg import orthogonal_q, orthogonal_q_with, products

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


def numpy_q(a: F64) -> F64:
    return orthogonal_q_with(a, products("numpy"))


def test_chunk_size_and_buffer_size_change_no_bit(monkeypatch: pytest.MonkeyPatch) -> None:
    a = gaussian(200, 150)
    reference = sha(orthogonal_q(a))
    assert sha(numpy_q(a)) == reference
    for bufsize in (16, 8192, 1 << 16):
        with np.errstate():
            np.setbufsize(bufsize)
            assert sha(orthogonal_q(a)) == reference
            assert sha(numpy_q(a)) == reference
    for chunk in (1, 100, 3000):  # forces many chunks, single-row chunks included
        monkeypatch.setattr(linalg, "_CHUNK_ELEMENTS", chunk)
        assert sha(numpy_q(a)) == reference


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


# "numpy" and every copy of the compiled kernels this CPU runs: each must give every byte.
EVERY_PRODUCTS = ["numpy", *linalg.compiled_kernel_sets()]


@pytest.mark.parametrize("kernels", EVERY_PRODUCTS)
@pytest.mark.parametrize(("m", "n", "seed"), list(GOLDEN))
def test_golden_bytes(m: int, n: int, seed: int, kernels: str) -> None:
    q = orthogonal_q_with(golden_input(m, n, seed), products(kernels))
    assert sha(q) == GOLDEN[m, n, seed]


# Bytes of orthogonal_q as of commit 7ae0839, recorded before any speed work on linalg.py
# (and, when recorded, the same with the _SSE_ONLY and _AVX2_ONLY masks set): a change made
# for speed must reproduce every one of them.
# (kind, rows, cols, seed): "square"/"tall" factor golden_input(rows, cols, seed) as is,
# "wide" factors its transpose (what generate.py does for rows < cols), so (1, n) is the
# (n, 1) case. Sizes sit around multiples of PANEL_WIDTH (16).
FROZEN_BEFORE_SPEEDUP = {
    ("square", 1, 1, 11): "e77817b649821c634355a917817c1224a360514b1244fe09e832bac4e8ea4440",
    ("square", 2, 2, 12): "e96fe8a68b5e3d2eea755af43fccd54dfe5d8a46515faa42da7fe93d54d476ad",
    ("square", 15, 15, 13): "c90e3d9719b410ae42cd48ab9c643ab175a700d9d373ad8ba9bc201f8321b452",
    ("square", 16, 16, 14): "6bbb55b9ab976ac5e5544a7748b8ebf016dcbded76d09d406ee42b735a3f3d63",
    ("square", 17, 17, 15): "4ce1563440cbf2ec22da5a0686c4f7f35245b77508063a847275e204e5633c62",
    ("square", 31, 31, 16): "4940d50f24980b57a3265327d1cbe5d238302a1266c0f2101a3abb5ed5844a2e",
    ("square", 32, 32, 17): "27cb9b853b8c398b3c8a783e1a38a52af1ddbc9d99c04798a0ce0aa66396ec43",
    ("square", 33, 33, 18): "245516065de653f73588328e6468a78b4b8d33b3a7392eafe85b29ef0c59d171",
    ("square", 48, 48, 19): "4ec74a5d2d67b36c2f6060a4e42e900fb37a5907dbde411b4f7526ea9fa5b471",
    ("square", 100, 100, 20): "08dc2337255ff2ddb5f812317828fd26abe91ef6f3d13fbfe1be6cd76c3c6001",
    ("square", 256, 256, 21): "480e15256387d99895fc785807f3717ed92683a221b2a5788540d2434d72caec",
    ("square", 257, 257, 22): "17b09f18441161c99d624e8a861199fadd000cc9b4636d35b63e5009c9cf8f7d",
    ("square", 1024, 1024, 23): "40b92a4750c127667bb1b247e47db712f2030ff54db6b166f4e128265b3dabf5",
    ("tall", 2, 1, 30): "8320549da6e982a24643459d584fffc5f9ad10546229583d2e1aa0eaefda3a77",
    ("tall", 1000, 1, 31): "a94f43aad853e7c696553a144ac9fe8a802d7fcc6d35f6a9785d0458d437eb1a",
    ("tall", 16, 15, 32): "8ec0ed8c82078a1315d4c3acb6c518f4b4286d7a850482e77f4fd89d987f8e26",
    ("tall", 17, 16, 33): "95ae1bbab2d9b6995f7cebc744b701ac5d7d7f5da37fe625cd0c452c37205aaf",
    ("tall", 33, 17, 34): "e40005155e158cf3648d73f51ef7c43eb017104ddbc16e65ffaa41c2b00271cb",
    ("tall", 300, 47, 35): "a84155430fb5e640974e5ed2a78a2f128b9e7c37e8b2886e0f67d19209f55ae8",
    ("tall", 1000, 100, 36): "affd5125676dab59af5b2635e754f0a5e939ebc19389083e62e74f868e4f2f32",
    ("tall", 4096, 16, 37): "58a0f04455bc2b5fa5fc990eeffadc1579d592cdc50efbcfc88af6f7420ac389",
    ("tall", 2000, 257, 38): "4514e927b4fe07f277a8a61f29cc9649abcebb23bc4e086b875cb07e4e791ad1",
    ("wide", 1, 1000, 40): "3aba51f96393a20398ff39b94debb787c7253fa00c0b064b946f7aef7a76ad29",
    ("wide", 1, 2, 41): "7364de2921cf7c9535ea1205b872b3a15a4a6968637e5ee93e387d5ad1accc7f",
    ("wide", 15, 16, 42): "d0bbd6154411a6228717252f014aaa38c77ccfb88201e9ed94a01127331b2638",
    ("wide", 16, 33, 43): "61272b986616de382944549401f9b46daca0376ee85dca35ed8748dd327e929f",
    ("wide", 47, 300, 44): "80e9b51afe6bbaa60aff7479e19a713aa95267eef6ea06d12ca72f7a5a0bb2f6",
    ("wide", 128, 1000, 45): "61cbad013405675d71a5c26856c97f708a384e0abe0376996285db7b425e55e6",
}


def frozen_input(kind: str, rows: int, cols: int, seed: int) -> F64:
    a = golden_input(rows, cols, seed)
    return np.ascontiguousarray(a.T) if kind == "wide" else a


@pytest.mark.parametrize("kernels", EVERY_PRODUCTS)
@pytest.mark.parametrize(("kind", "rows", "cols", "seed"), list(FROZEN_BEFORE_SPEEDUP))
def test_bytes_unchanged_by_speed_work(
    kind: str, rows: int, cols: int, seed: int, kernels: str
) -> None:
    q = orthogonal_q_with(frozen_input(kind, rows, cols, seed), products(kernels))
    assert sha(q) == FROZEN_BEFORE_SPEEDUP[kind, rows, cols, seed]


def _rank_deficient() -> F64:
    a = golden_input(90, 70, 50)
    a[:, 5] = a[:, 3]  # duplicate column
    a[:, 9] = 0.0  # zero columns: H_j = I, sign +1
    a[:, 16:18] = 0.0  # the first two columns of the second panel
    a[:, 20] = 2.0 * a[:, 0] - a[:, 1]  # dependent column
    a[40:, 33] = 0.0  # zero tail
    return a


def _extreme() -> F64:
    a = golden_input(70, 50, 51)
    a[:, ::3] *= 1e-300
    a[:, 1::5] *= 1e300
    a[:, 7] = np.ldexp(np.round(a[:, 7] * 8), -1074)  # subnormal column
    return a


def _ill_conditioned() -> F64:
    base = golden_input(120, 80, 52)
    return base[:, :1] + base * 2.0**-40  # nearly parallel columns, cond ~ 1e14


FROZEN_SPECIAL = {
    "rank_deficient": (
        _rank_deficient,
        "09d4506be9f33d57e13a3a8350957fe7c0a3451568b94c3adffc09242e07a5a8",
    ),
    "extreme": (_extreme, "c77fe8681a0eaa429dc660d2b467928b9955bba45a143a4fe17e9c1aa3f2628a"),
    "ill_conditioned": (
        _ill_conditioned,
        "4ba1f54b5f1f79e6bf1e45db6588721649d7a6db798d918b0eb4a4148181d7b8",
    ),
}


@pytest.mark.parametrize("kernels", EVERY_PRODUCTS)
@pytest.mark.parametrize("name", list(FROZEN_SPECIAL))
def test_special_bytes_unchanged_by_speed_work(name: str, kernels: str) -> None:
    make, expected = FROZEN_SPECIAL[name]
    assert sha(orthogonal_q_with(make(), products(kernels))) == expected


@pytest.mark.slow
@pytest.mark.parametrize("kernels", EVERY_PRODUCTS)
@pytest.mark.parametrize(
    ("rows", "cols", "seed", "expected"),
    [
        (2048, 2048, 24, "c7d2ad03f4537f80d67205c48d7dfcd146d6954e472bb59b2d32f084a1234e72"),
        (4096, 1024, 25, "981aaffd009f47225ffa749811c6adb13eb6cc0564fadcfd89536727455d9b54"),
    ],
)
def test_large_bytes_unchanged_by_speed_work(
    rows: int, cols: int, seed: int, expected: str, kernels: str
) -> None:
    # The benchmark's sizes (1-5 s each): chunking, buffers and passes differ most here.
    q = orthogonal_q_with(golden_input(rows, cols, seed), products(kernels))
    assert sha(q) == expected


def test_sum_rows_is_left_to_right_from_positive_zero() -> None:
    rng = np.random.Generator(np.random.PCG64(9))
    for shape in [(9, 1), (130, 1), (1000, 2), (300, 3, 5), (17, 1, 1), (1, 4), (1, 1)]:
        x = rng.standard_normal(shape) * np.exp(5 * rng.standard_normal(shape))
        x[rng.random(shape) < 0.3] = -0.0
        x[..., 0] = -0.0  # a column of negative zeros sums to +0.0, whatever its length
        out = np.empty(shape[1:])
        linalg._sum_rows(x, out)
        expected = np.zeros(shape[1:])
        for row in x:
            expected = expected + row
        assert out.tobytes() == expected.tobytes()
        assert not np.signbit(out.reshape(-1)[0])


_CHILD = textwrap.dedent(
    """
    import hashlib, json
    import numpy as np
    from numpy._core._multiarray_umath import __cpu_features__
    from app.core import linalg
    from app.core.linalg import orthogonal_q, orthogonal_q_with, products

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
