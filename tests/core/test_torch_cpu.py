"""torch-cpu's core without torch: generator facts, exactness registry, README table."""

from __future__ import annotations

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


def test_readme_exactness_table_is_rendered_from_the_registry() -> None:
    text = README.read_text()
    assert BLOCK.replace(text) == text, "run `make readme` and commit README.md"
    assert "| exact |" in render_table()
