"""app/encoders/_suspects.c: the compiled first filter finds exactly numpy's candidates.

``json_fast._candidates`` (compiled when built) against ``_candidates_numpy`` on arbitrary
bit patterns (NaN, infinities, subnormals and zeros included), lengths around the kernel's
512-element tiles, both dtypes; the whole JSON text is pinned by tests/encoders/test_golden.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from app.encoders import json_fast

COMMON = {np.dtype(np.float32): json_fast._COMMON32, np.dtype(np.float64): json_fast._COMMON64}


def test_extension_is_built_here() -> None:
    # `make install` compiles app/encoders/_suspects.c; without a C compiler the writer uses
    # the numpy filter (same indices), but this suite insists.
    assert json_fast._suspects is not None, "app.encoders._suspects was not built"


def both(flat: NDArray[np.floating]) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    common = COMMON[flat.dtype]
    return json_fast._candidates(flat, *common), json_fast._candidates_numpy(flat, *common)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("size", [0, 1, 7, 8, 9, 511, 512, 513, 1024, 1031, 65536])
def test_weights_and_raw_bit_patterns(dtype: type, size: int) -> None:
    rng = np.random.default_rng(size)
    weights = (rng.standard_normal(size) * 0.05).astype(dtype)
    weights[::97] = 1.0  # grid elements
    weights[5::101] = 0.0
    unsigned = np.uint32 if dtype is np.float32 else np.uint64
    raw = rng.integers(0, np.iinfo(unsigned).max, size, dtype=unsigned, endpoint=True).view(dtype)
    for flat in (weights, raw):
        compiled, reference = both(flat)
        assert compiled.dtype == np.intp
        assert np.array_equal(compiled, reference)


@settings(max_examples=200, deadline=None)
@given(words=st.lists(st.integers(0, 2**64 - 1), max_size=1100), wide=st.booleans())
def test_any_bit_patterns(words: list[int], wide: bool) -> None:
    array = np.array(words, dtype=np.uint64)
    flat = (
        array.view(np.float64)
        if wide
        else (array >> np.uint64(32)).astype(np.uint32).view(np.float32)
    )
    compiled, reference = both(flat)
    assert np.array_equal(compiled, reference)


def test_bad_arguments_raise() -> None:
    from app.encoders import _suspects

    with pytest.raises((ValueError, BufferError, TypeError)):
        _suspects.candidates(np.zeros(4, np.int16), 0, 1, 1)
    with pytest.raises((ValueError, BufferError, TypeError)):
        _suspects.candidates(np.zeros(8, np.float32)[::2], 0, 1, 1)
    with pytest.raises(OverflowError):
        _suspects.candidates(np.zeros(4, np.float32), -1, 1, 1)


def suspects_both(flat: NDArray[np.float32]) -> None:
    index, reference = json_fast.float32_suspects(flat)
    want_index, want_reference = json_fast._float32_suspects_numpy(flat)
    assert index.dtype == np.intp and reference.dtype == np.bool_
    assert np.array_equal(index, want_index)
    assert np.array_equal(reference, want_reference)


@pytest.mark.parametrize("scale", [1e-12, 1e-9, 1e-6, 1e-4, 1e-3, 0.05, 1.0, 3e5, 1e30])
def test_float32_classification_same_as_numpy(scale: float) -> None:
    # Weights of every magnitude: spelling-window suspects, check-binade ties, grid elements.
    rng = np.random.default_rng(int(-np.log10(scale) * 10) % 97)
    flat = (rng.standard_normal(20000) * scale).astype(np.float32)
    flat[::53] = np.float32(scale)  # few significant bits: grid elements
    flat[7::211] = 0.0
    flat[9::307] = -0.0
    suspects_both(flat)


@settings(max_examples=200, deadline=None)
@given(words=st.lists(st.integers(0, 2**32 - 1), max_size=600))
def test_float32_classification_of_any_finite_bit_pattern(words: list[int]) -> None:
    flat = np.array(words, dtype=np.uint32).view(np.float32)
    suspects_both(flat[np.isfinite(flat)])


def test_float32_classification_near_decimal_ties() -> None:
    # Decimals of 7 to 9 digits and their float32 neighbours: where ties and near ties live.
    decimals = np.array([k * 10.0**e for k in range(1, 400, 7) for e in range(-14, 7)])
    flat = decimals.astype(np.float32)
    near = np.concatenate([np.nextafter(flat, np.float32(0)), flat, np.nextafter(flat, np.inf)])
    suspects_both(near.astype(np.float32))


def repr_spelling(texts: bytes) -> bytes:
    return b",".join(repr(float(text)).encode() for text in texts.split(b","))


def orjson_texts(values: NDArray[np.float32]) -> bytes:
    import orjson

    return orjson.dumps(values, option=orjson.OPT_SERIALIZE_NUMPY)[1:-1]


def test_respell_equals_repr_over_the_spelling_window() -> None:
    # Every binade of [1e-10, 1e-4), both signs, and the float32s next to both ends.
    from app.encoders import _suspects

    rng = np.random.default_rng(5)
    magnitudes = 10.0 ** rng.uniform(-10, -4, 200_000)
    values = (magnitudes * rng.choice([-1.0, 1.0], magnitudes.size)).astype(np.float32)
    ends = np.array([1e-10, 1e-4], dtype=np.float32)
    steps = np.arange(-300, 300, dtype=np.int32)
    around = (ends.view(np.int32)[:, None] + steps).ravel().view(np.float32)
    few_digits = np.array([d * 10.0**e for d in range(1, 100) for e in range(-10, -3)])
    for chunk in (values, around, -around, few_digits.astype(np.float32)):
        window = chunk[(np.abs(chunk) >= 1e-10) & (np.abs(chunk) < 1e-4)]
        texts = orjson_texts(window)
        assert _suspects.respell(texts) == repr_spelling(texts)


def test_respell_refuses_other_forms() -> None:
    from app.encoders import _suspects

    for text in [b"", b"1.5", b"1e+38", b"0.5", b"1e-7,2", b"-", b"0.", b"1.50e-7", b"x"]:
        assert _suspects.respell(text) is None, text
    assert json_fast._respelt(b"1.5,2e-7") == [b"1.5", b"2e-07"]  # the repr fallback


def test_splice_equals_the_python_splice() -> None:
    from app.encoders import _suspects

    text = b"[1.5,1e+38,-2.0,1e+38,3e-7]"
    replacements = [b"0.25", b"1e-05"]
    want = json_fast._splice(text, b"1e+38", replacements).decode("ascii")
    assert _suspects.splice(text, 2, 2, replacements) == want == "[1.5,0.25,-2.0,1e-05,3e-7]"
    # a '+' too many or too few, or non-ASCII text: None (the caller's Python path)
    assert _suspects.splice(text, 2, 2, [b"1"]) is None
    assert _suspects.splice(text, 2, 2, [b"1", b"2", b"3"]) is None
    assert _suspects.splice("[1e+38,\u00e9]".encode(), 2, 2, [b"1"]) is None
    with pytest.raises(TypeError):
        _suspects.splice(text, 2, 2, ["0.25", b"1"])
