"""JAX's Threefry and samplers in numpy (app/core/threefry.py, app/core/jax_random.py)
against values taken from jax 0.10.2 (partitionable Threefry, x64 off)."""

from __future__ import annotations

import hashlib
import typing
from pathlib import Path

import numpy as np
import pytest

from app.core import jax_random, jax_table, threefry
from app.core.fma import fma32
from app.core.jax_threefry import EXACTNESS, DrawKind, flax_hash

# sha256 of jax 0.10.2's float32 outputs for every one of the 2**23 possible uniform inputs
# (mantissa patterns 0..2**23-1, in order): sqrt(2) * erf_inv(u) of jax.random.normal, and
# jax.random.truncated_normal(key, -2, 2)'s clipped values (computed with JAX once).
ALL_NORMAL_SHA256 = "9ffa4612027d27822ae3dddd2a30a923607e79184747632c3aa9e72ff0c27bc4"
ALL_TRUNCATED_SHA256 = "42243b5b1cac193a50777adf18dbb71f86c1e01baf103b3cdfbc801224ae30b0"
F32 = np.float32


def test_key_words_follow_jax_random_key_with_x64_off() -> None:
    assert threefry.key(0) == (0, 0)
    assert threefry.key((1 << 32) + 5) == (0, 5)
    assert threefry.key((1 << 63) - 1) == (0, 0xFFFFFFFF)
    assert threefry.key(-1) == (0, 0xFFFFFFFF)
    with pytest.raises(ValueError):
        threefry.key(1 << 63)


def test_bits_split_and_fold_in_equal_jax() -> None:
    k = threefry.key(3)
    assert threefry.random_bits32(k, 0, 5).tolist() == [
        318053758,
        4029299397,
        2787249374,
        4190260272,
        1195623854,
    ]
    assert threefry.random_bits32(k, 2, 4).tolist() == [2787249374, 4190260272]
    assert threefry.split(k, 3) == [
        (3716834203, 3481239269),
        (1946498123, 2217676430),
        (1024511538, 2603795180),
    ]
    assert threefry.fold_in(k, 123456) == (2305098257, 124646918)


def test_flax_hash_is_sha1_of_path_and_counter() -> None:
    expected = hashlib.sha1(b"hi" + b"\x02", usedforsecurity=False).digest()[:4]
    assert flax_hash(("hi",), 2) == int.from_bytes(expected, "big")


def _all_unit_floats() -> np.ndarray:
    mantissas = np.arange(1 << 23, dtype=np.uint32)
    return (mantissas | np.uint32(0x3F800000)).view(F32) - F32(1)


def test_normal_equals_jax_on_every_possible_input() -> None:
    f = _all_unit_floats()
    lo = np.nextafter(F32(-1), F32(0))
    u = np.maximum(lo, fma32(f, F32(1) - lo, lo))
    z = jax_random.SQRT2_F32 * jax_random.erf_inv(u)
    assert hashlib.sha256(z.tobytes()).hexdigest() == ALL_NORMAL_SHA256


def test_truncated_normal_equals_jax_on_every_possible_input() -> None:
    f = _all_unit_floats()
    a, b = jax_random.erf_f32(-2.0), jax_random.erf_f32(2.0)
    u = np.maximum(a, fma32(f, b - a, a))
    z = np.clip(
        jax_random.SQRT2_F32 * jax_random.erf_inv(u),
        np.nextafter(F32(-2), F32(np.inf)),
        np.nextafter(F32(2), F32(-np.inf)),
    )
    assert hashlib.sha256(z.tobytes()).hexdigest() == ALL_TRUNCATED_SHA256


def test_the_exactness_registry_has_one_row_per_draw_and_renders_the_readme_table() -> None:
    kinds = [k for row in EXACTNESS for k in row.kinds]
    assert sorted(map(str, kinds)) == sorted(map(str, [*typing.get_args(DrawKind), None]))
    assert all((row.max_ulp is None) == row.exact for row in EXACTNESS)
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert jax_table.BLOCK.replace(readme) == readme, "run `make readme` and commit README.md"
    assert "| approximate | 131072 |" in jax_table.render_table()
