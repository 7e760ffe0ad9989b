"""app/core/_uniform.c: the compiled float32 uniform blocks give the numpy path's bits.

``sampling.sample_blocks`` with the extension (the default) against the same call with
``sampling._uniform`` set to None (numpy's ``Generator.random`` and ``sample_uniform``'s
ufuncs): symmetric and shifted laws, ranges that round, block lengths around the kernel's
corners, and every stream's state afterwards (a later draw must continue where numpy's would).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core import sampling
from app.core.laws import NormalLaw, UniformLaw
from app.core.sampling import sample_blocks
from app.core.streams import block_bitgen

LAWS = [
    UniformLaw(-0.05, 0.05),
    UniformLaw(-1.0, 1.0),
    UniformLaw(0.0, 1.0),
    UniformLaw(-3.0, 7.25),
    UniformLaw(1e-3, 1e-3 + 1e-9),  # a range narrower than float32's spacing: the clamp
    UniformLaw(-1e30, 1e30),
    UniformLaw(0.1, 0.7),
]


def test_extension_is_built_here() -> None:
    assert sampling._uniform is not None, "app.core._uniform was not built: is gcc installed?"


def both(law: UniformLaw, lengths: list[int], seed: int) -> None:
    got_gens = [block_bitgen(seed, "w", i) for i in range(len(lengths))]
    got = sample_blocks(law, got_gens, lengths, np.float32)
    saved, sampling._uniform = sampling._uniform, None
    try:
        want_gens = [block_bitgen(seed, "w", i) for i in range(len(lengths))]
        want = sample_blocks(law, want_gens, lengths, np.float32)
    finally:
        sampling._uniform = saved
    assert got.tobytes() == want.tobytes()
    assert [g.state for g in got_gens] == [g.state for g in want_gens]


@pytest.mark.parametrize("law", LAWS, ids=str)
@pytest.mark.parametrize("lengths", [[65536] * 3, [1], [0, 5, 0], [7, 65535, 2, 4001]], ids=str)
def test_same_bits_and_states_as_numpy(law: UniformLaw, lengths: list[int]) -> None:
    both(law, lengths, seed=3)


@settings(max_examples=40, deadline=None)
@given(
    low=st.floats(-1e6, 1e6),
    width=st.floats(1e-6, 1e6),
    symmetric=st.booleans(),
    lengths=st.lists(st.integers(0, 3000), min_size=1, max_size=5),
    seed=st.integers(0, 2**32 - 1),
)
def test_any_law(low: float, width: float, symmetric: bool, lengths: list[int], seed: int) -> None:
    law = UniformLaw(-width, width) if symmetric else UniformLaw(low, low + width)
    both(law, lengths, seed)


def test_a_generator_used_twice_continues_in_order() -> None:
    g, h = np.random.PCG64(9), np.random.PCG64(9)
    got = sample_blocks(UniformLaw(-1.0, 1.0), [g, g], [3, 4], np.float32)
    want = np.random.Generator(h).random(7, dtype=np.float32) * np.float32(2) - np.float32(1)
    assert got.tobytes() == want.tobytes()
    assert g.state == h.state  # including the spare 32-bit half numpy keeps


def test_normal_scale_and_shift_folded_into_the_kernel() -> None:
    # sample_normal hands std and mean to the compiled sampler: the same bits as z*std+mean.
    for law in (NormalLaw(0.0, 0.02), NormalLaw(1.5, 3.0), NormalLaw(-0.0, 1.0)):
        got = sample_blocks(law, [block_bitgen(5, "n", i) for i in range(3)], [9, 8, 1], np.float32)
        z = sample_blocks(
            NormalLaw(0.0, 1.0), [block_bitgen(5, "n", i) for i in range(3)], [9, 8, 1], np.float32
        )
        want = z * np.float32(law.std)
        if law.mean != 0.0:
            want = want + np.float32(law.mean)
        assert got.tobytes() == want.tobytes(), law


@pytest.mark.parametrize("count", [0, 1, 2, 3, 8, 9])
@pytest.mark.parametrize("make", [np.random.PCG64, np.random.Philox, np.random.MT19937], ids=str)
def test_a_kept_half_and_other_generators(make: type, count: int) -> None:
    # A PCG64 whose next 32-bit draw is the half it kept (has_uint32), and generators whose
    # next_uint32 is not a half of next_uint64: the same values and states as numpy's.
    def fresh() -> np.random.BitGenerator:
        g = make(21)
        np.random.Generator(g).random(1, dtype=np.float32)  # leaves a kept half on a PCG64
        return g

    g, h = fresh(), fresh()
    got = sample_blocks(UniformLaw(0.0, 1.0), [g], [count], np.float32)
    want = np.random.Generator(h).random(count, dtype=np.float32)
    want = np.minimum(want, np.nextafter(np.float32(1), np.float32(0)))
    assert got.tobytes() == want.tobytes()
    # the streams continue alike (32- and 64-bit draws: the kept half included)
    after = [np.random.Generator(x).random(3, dtype=np.float32).tobytes() for x in (g, h)]
    assert after[0] == after[1]
    assert g.random_raw(2).tobytes() == h.random_raw(2).tobytes()


@pytest.mark.parametrize(
    "law",
    [
        UniformLaw(-1e-50, 0.0),
        UniformLaw(-1e-50, 2e-50),
        UniformLaw(0.0, 1e-50),
        UniformLaw(-0.0, 0.0),
    ],
    ids=str,
)
def test_bounds_that_round_to_zeros_clamp_as_numpy(law: UniformLaw) -> None:
    # float32(low) -0 and float32(high) +-0: the clamp meets u = +0 and c = -0 (np.minimum
    # gives c on that tie).
    both(law, [9, 4], seed=1)


def test_bad_arguments_raise() -> None:
    from app.core import _uniform

    capsule = np.random.PCG64(1).capsule
    out = np.empty(4, np.float32)
    with pytest.raises(TypeError):
        _uniform.uniform32_streams([capsule], ["x"], [4], out, 0, 0.0, 0.0, 0.0)
    with pytest.raises(ValueError):
        _uniform.uniform32_streams([capsule], [0], [5], out, 0, 0.0, 0.0, 0.0)
    with pytest.raises(ValueError):
        _uniform.uniform32_streams([capsule], [0], [4], out, 0, 0.1, 0.0, 0.0)  # not float32
    with pytest.raises(ValueError):
        _uniform.uniform32_streams([capsule], [0], [-1], out, 0, 0.0, 0.0, 0.0)
