"""torch-cpu's core without torch: generator facts, exactness registry, README table."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from app.core.errors import InvalidParameterError
from app.core.laws import OrthogonalLaw, SparseLaw, TruncatedNormalLaw
from app.core.torch_cpu import (
    TORCH_MAX_SEED,
    TorchGenerator,
    normal_,
    randperm_columns,
    uniform_,
)
from app.core.torch_init import Exactness, draw, law_exactness, refusal
from app.core.torch_mathfun import fma32, fma64
from app.core.torch_table import BLOCK, render_table
from app.core.types import DType

README = Path(__file__).resolve().parents[2] / "README.md"


def test_seed_uses_the_low_32_bits_like_torch() -> None:
    a = uniform_(TorchGenerator(7), 5, 0.0, 1.0, False)
    b = uniform_(TorchGenerator(7 + (1 << 32)), 5, 0.0, 1.0, False)
    assert (a == b).all()


def test_torch_rand_of_seed_0() -> None:
    """torch.manual_seed(0); torch.rand(3) (torch 2.13, measured)."""
    got = uniform_(TorchGenerator(0), 3, 0.0, 1.0, False)
    assert got.tolist() == [0.49625658988952637, 0.7682217955589294, 0.08847743272781372]


@pytest.mark.parametrize("seed", [-1, TORCH_MAX_SEED + 1])
def test_seeds_outside_torch_range_are_refused(seed: int) -> None:
    with pytest.raises(InvalidParameterError, match="torch-cpu"):
        TorchGenerator(seed)


def test_small_normal_caches_its_second_value_until_the_next_small_call() -> None:
    gen = TorchGenerator(4)
    first = normal_(gen, 1, 0.0, 1.0, True)
    assert gen.cached_normal is not None
    words = gen.words_used
    second = normal_(gen, 1, 0.0, 1.0, True)
    assert gen.words_used == words and gen.cached_normal is None  # no new words drawn
    assert first[0] != second[0]


def test_normal_fill_consumes_the_tail_twice() -> None:
    gen = TorchGenerator(1)
    normal_(gen, 17, 0.0, 1.0, False)
    assert gen.words_used == 17 + 16
    gen = TorchGenerator(1)
    normal_(gen, 32, 0.0, 1.0, True)
    assert gen.words_used == 2 * 32


def test_half_precision_normal_fill_draws_whole_blocks() -> None:
    """float16/bfloat16 (torch 2.13, measured): 16 fresh words per block, one more block for
    a tail, so 24 elements take 32 words (float32 takes 24 + 16)."""
    for n, words in ((16, 16), (24, 32), (32, 32), (40, 48)):
        gen = TorchGenerator(1)
        normal_(gen, n, 0.0, 1.0, False, reduced=True)
        assert gen.words_used == words


def test_orthogonal_in_half_precision_is_refused() -> None:
    law = OrthogonalLaw(gain=1.0, rows=4, cols=3)
    assert refusal(law, (4, 3), DType.FLOAT32) is None
    for dtype in (DType.FLOAT16, DType.BFLOAT16):
        assert "geqrf_cpu" in (refusal(law, (4, 3), dtype) or "")


def test_randperm_is_fisher_yates_on_words_modulo_the_remaining_count() -> None:
    """torch's randperm_cpu rule (verified against torch 2.13 by the sparse_ cases of
    tests/frameworks and the fixtures): n - 1 words per permutation."""
    gen = TorchGenerator(0)
    perms = randperm_columns(gen, 5, 3)
    assert gen.words_used == 3 * 4
    words = TorchGenerator(0).words(12).astype(np.int64).reshape(3, 4)
    for perm, w in zip(perms, words, strict=True):
        expected = list(range(5))
        for i in range(4):
            j = i + int(w[i]) % (5 - i)
            expected[i], expected[j] = expected[j], expected[i]
        assert perm.tolist() == expected
    assert sorted(perms[0].tolist()) == list(range(5))


def test_sparse_and_narrow_trunc_normal_are_drawn_with_their_exactness() -> None:
    sparse = SparseLaw(0.01, 3, 10)
    assert refusal(sparse, (10, 4)) is None
    assert law_exactness(sparse, 40, DType.FLOAT32).exact
    assert law_exactness(sparse, 40, DType.FLOAT64) == Exactness(False, 1)
    narrow = TruncatedNormalLaw(0.0, 1.0, 2.0, 3.0)
    assert refusal(narrow, (6, 7)) is None
    assert law_exactness(narrow, 42, DType.FLOAT32) == Exactness(False, None)
    values = draw(TorchGenerator(3), (6, 7), DType.FLOAT32, narrow)
    assert values.min() >= 2.0 and values.max() <= 3.0
    zeros = draw(TorchGenerator(3), (10, 4), DType.FLOAT32, sparse) == 0
    assert zeros.sum(axis=0).tolist() == [3, 3, 3, 3]


def test_fma32_rounds_once() -> None:
    a = np.array([1 + 2**-12], dtype=np.float32)
    # (1 + 2^-12)^2 - 1 = 2^-11 + 2^-24: a separate float32 multiply rounds the 2^-24 away
    got = fma32(a, a, -1.0)
    assert float(got[0]) == 2**-11 + 2**-24
    assert float((a * a - np.float32(1))[0]) == 2**-11


def test_readme_exactness_table_is_rendered_from_the_registry() -> None:
    text = README.read_text()
    assert BLOCK.replace(text) == text, "run `make readme` and commit README.md"
    assert "| exact |" in render_table()


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
