"""Tests for app/core/sampling.py: the batched sampler ``sample_blocks`` is bit for bit the
concatenation of per-block ``sample_block`` results, for every element-wise law, working
dtype and grouping of blocks, leaves every stream where the per-block calls leave it, and
gives the same bytes on any number of threads."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core import sampling
from app.core.errors import InvalidParameterError
from app.core.laws import ConstantLaw, NormalLaw, TruncatedNormalLaw, UniformLaw, truncated_law
from app.core.normal import standard_normal_from_raw
from app.core.sampling import (
    BLOCKS_PER_TASK,
    ElementwiseLaw,
    Working,
    magnitude_bound,
    sample_block,
    sample_blocks,
)
from app.core.streams import BLOCK_SIZE, block_bitgen

WORKING: tuple[Working, ...] = (np.float32, np.float64)

# Every element-wise law kind; truncated normals in each sampler regime (checked below).
LAWS: dict[str, tuple[ElementwiseLaw, str | None]] = {
    "uniform_symmetric": (UniformLaw(-0.3, 0.3), None),
    "uniform_asymmetric": (UniformLaw(-0.1, 0.7), None),
    "normal": (NormalLaw(0.0, 0.02), None),
    "normal_mean": (NormalLaw(0.5, 1.7), None),
    "truncated_rejection": (truncated_law(0.0, 0.02, -0.04, 0.04), "rejection"),
    "truncated_rejection_mean": (truncated_law(0.3, 0.5, -0.5, 1.2), "rejection"),
    "truncated_exponential": (truncated_law(0.0, 1.0, 3.0, 6.0), "exponential"),
    "truncated_exponential_lower": (truncated_law(1.0, 2.0, -17.0, -4.0), "exponential"),
    "truncated_uniform_tail": (truncated_law(0.0, 1.0, 1.0, 1.5), "uniform"),
    "truncated_uniform_centre": (truncated_law(0.25, 1.0, 0.15, 0.35), "uniform"),
    "constant": (ConstantLaw(-0.125), None),
}

# Block lengths: full blocks, a last partial block, odd lengths, empty blocks, 1..8 blocks.
LENGTHS: dict[str, list[int]] = {
    "one": [1],
    "odd_small": [3],
    "full": [BLOCK_SIZE],
    "full_and_partial": [BLOCK_SIZE, BLOCK_SIZE, 1001],
    "odd_mix": [7, 65535, 1, 2, 4097],
    "with_empty": [0, 5, 0, 6],
    "eight": [BLOCK_SIZE] * 7 + [12345],
}

PATHS = {
    "rejection": "_truncated_by_rejection",
    "exponential": "_truncated_one_sided_exponential",
    "uniform": "_truncated_uniform_proposal",
}


def _bitgens(key: int, count: int) -> list[np.random.PCG64]:
    return [np.random.PCG64([key, i]) for i in range(count)]


def _per_block(law: ElementwiseLaw, key: int, lengths: Sequence[int], working: Working) -> Any:
    bitgens = _bitgens(key, len(lengths))
    parts = [sample_block(law, g, n, working) for g, n in zip(bitgens, lengths, strict=True)]
    return np.concatenate(parts), [g.state for g in bitgens]


@pytest.fixture
def paths_used(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Names of the truncated-normal sampler paths called (wraps the module functions)."""
    used: list[str] = []
    for path, attr in PATHS.items():
        original: Callable[..., Any] = getattr(sampling, attr)

        def spy(*args: Any, _o: Callable[..., Any] = original, _p: str = path) -> Any:
            used.append(_p)
            return _o(*args)

        monkeypatch.setattr(sampling, attr, spy)
    yield used


@pytest.mark.parametrize("lengths_id", list(LENGTHS))
@pytest.mark.parametrize("working", WORKING, ids=lambda w: w.__name__)
@pytest.mark.parametrize("law_id", list(LAWS))
def test_batched_equals_concatenated_blocks(
    law_id: str, working: Working, lengths_id: str, paths_used: list[str]
) -> None:
    law, path = LAWS[law_id]
    lengths = LENGTHS[lengths_id]
    expected, states = _per_block(law, 7, lengths, working)
    bitgens = _bitgens(7, len(lengths))
    got = sample_blocks(law, bitgens, lengths, working)
    assert got.dtype == working and got.shape == (sum(lengths),)
    assert got.tobytes() == expected.tobytes()
    # Every stream advanced exactly as the per-block calls advanced it.
    assert [g.state for g in bitgens] == states
    # Each truncated case really runs the regime it is named after.
    assert set(paths_used) == ({path} if path else set())


@pytest.mark.parametrize("working", WORKING, ids=lambda w: w.__name__)
@pytest.mark.parametrize("law_id", list(LAWS))
def test_out_is_written_in_place_and_returned(law_id: str, working: Working) -> None:
    law, _ = LAWS[law_id]
    lengths = [BLOCK_SIZE, 999]
    expected, _ = _per_block(law, 3, lengths, working)
    buffer = np.full(sum(lengths) + 10, np.nan, dtype=working)
    out = buffer[5:-5]
    got = sample_blocks(law, _bitgens(3, 2), lengths, working, out)
    assert got is out
    assert out.tobytes() == expected.tobytes()
    assert np.isnan(buffer[:5]).all() and np.isnan(buffer[-5:]).all()


@given(
    lengths=st.lists(st.integers(0, 5000), min_size=1, max_size=8),
    law_id=st.sampled_from(list(LAWS)),
    working=st.sampled_from(WORKING),
    key=st.integers(0, 2**32 - 1),
)
def test_any_lengths_match_per_block(
    lengths: list[int], law_id: str, working: Working, key: int
) -> None:
    law, _ = LAWS[law_id]
    expected, states = _per_block(law, key, lengths, working)
    bitgens = _bitgens(key, len(lengths))
    assert sample_blocks(law, bitgens, lengths, working).tobytes() == expected.tobytes()
    assert [g.state for g in bitgens] == states


def _tensor(law: ElementwiseLaw, working: Working, numel: int, per_task: int, threads: int) -> str:
    """sha256 of a tensor's blocks made in groups of ``per_task`` on ``threads`` threads."""
    blocks = -(-numel // BLOCK_SIZE)
    out = np.empty(numel, dtype=working)

    def run(first: int) -> None:
        group = range(first, min(first + per_task, blocks))
        lengths = [min(BLOCK_SIZE, numel - i * BLOCK_SIZE) for i in group]
        bitgens = [block_bitgen(11, "layer.weight", i) for i in group]
        start = first * BLOCK_SIZE
        sample_blocks(law, bitgens, lengths, working, out[start : start + sum(lengths)])

    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(run, range(0, blocks, per_task)))
    return hashlib.sha256(out.tobytes()).hexdigest()


@pytest.mark.parametrize("working", WORKING, ids=lambda w: w.__name__)
@pytest.mark.parametrize(
    "law_id", ["uniform_symmetric", "normal", "truncated_rejection", "truncated_exponential"]
)
def test_bytes_do_not_depend_on_threads_or_grouping(law_id: str, working: Working) -> None:
    law, _ = LAWS[law_id]
    numel = 9 * BLOCK_SIZE + 4321
    blocks = -(-numel // BLOCK_SIZE)
    reference = np.concatenate(
        [
            sample_block(
                law,
                block_bitgen(11, "layer.weight", i),
                min(BLOCK_SIZE, numel - i * BLOCK_SIZE),
                working,
            )
            for i in range(blocks)
        ]
    )
    expected = hashlib.sha256(reference.tobytes()).hexdigest()
    for per_task, threads in [(1, 1), (1, 4), (3, 2), (BLOCKS_PER_TASK, 2), (blocks, 1)]:
        assert _tensor(law, working, numel, per_task, threads) == expected, (per_task, threads)


def test_no_blocks_gives_an_empty_array() -> None:
    for law, _ in LAWS.values():
        got = sample_blocks(law, [], [], np.float32)
        assert got.dtype == np.float32 and got.shape == (0,)


def test_bad_arguments_raise() -> None:
    law = NormalLaw(0.0, 1.0)
    with pytest.raises(InvalidParameterError):
        sample_blocks(law, _bitgens(0, 2), [3], np.float32)
    with pytest.raises(InvalidParameterError):
        sample_blocks(law, _bitgens(0, 1), [-1], np.float32)
    bad_outs: list[Any] = [
        np.empty(4, dtype=np.float64),  # wrong dtype
        np.empty(5, dtype=np.float32),  # wrong length
        np.empty((2, 2), dtype=np.float32),  # not 1-D
        np.empty(8, dtype=np.float32)[::2],  # not contiguous
        [0.0] * 4,  # not an array
    ]
    readonly = np.empty(4, dtype=np.float32)
    readonly.flags.writeable = False
    bad_outs.append(readonly)
    for out in bad_outs:
        with pytest.raises(InvalidParameterError):
            sample_blocks(law, _bitgens(0, 1), [4], np.float32, out)


@settings(max_examples=60, deadline=None)
@given(
    kind=st.sampled_from(["uniform", "normal", "truncated"]),
    scale=st.floats(1e-30, 1e30),
    offset=st.floats(-10.0, 10.0),
    working=st.sampled_from([np.float32, np.float64]),
    seed=st.integers(0, 2**32 - 1),
)
def test_magnitude_bound_covers_every_value(
    kind: str, scale: float, offset: float, working: Any, seed: int
) -> None:
    # cast_output skips its overflow scan under this bound: it must hold for every sample.
    shift = offset * scale
    law: Any
    if kind == "uniform":
        law = UniformLaw(shift, shift + scale)
    elif kind == "normal":
        law = NormalLaw(shift, scale)
    else:
        law = TruncatedNormalLaw(shift, scale, shift - 2 * scale, shift + scale)
    gens = [np.random.PCG64(seed), np.random.PCG64(seed + 1)]
    values = sample_blocks(law, gens, [4000, 4000], working).astype(np.float64)
    assert np.abs(values).max() <= magnitude_bound(law, working)


def test_magnitude_bound_reaches_the_samplers_largest_normal() -> None:
    # The word with u1 = 2**-W gives the largest |z|: sqrt(2 W ln 2).
    for working, words in ((np.float32, 1), (np.float64, 2)):
        z = standard_normal_from_raw(np.zeros(words, dtype=np.uint64), 2, working)
        assert abs(float(z[0])) <= magnitude_bound(NormalLaw(0.0, 1.0), working)
        assert magnitude_bound(NormalLaw(0.0, 1.0), working) < abs(float(z[0])) * 1.01
