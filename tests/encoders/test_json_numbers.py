"""JSON numbers: exact round trip in the tensor's dtype, shortest digits, layouts."""

from __future__ import annotations

import base64
import hashlib
import json
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.typing import NDArray

from app.core.errors import InvalidParameterError
from app.encoders import json_base64, json_fast, json_reference, json_values
from app.encoders.json_numbers import LAYOUTS, JsonLayout

from .helpers import (
    ALL_DTYPES,
    BFLOAT16,
    FLOAT_DTYPES,
    SHAPES,
    finite_bit_patterns,
    golden_json_input,
    mixed_json_input,
    same_bytes,
    sample,
    special_values,
)

SHORTEST_DTYPES = [np.dtype(np.float32), np.dtype(np.float16), BFLOAT16]


def parse(text: str, dtype: np.dtype[Any]) -> NDArray[Any]:
    """What a client does: read the JSON numbers as float64, then cast to the dtype."""
    values = json.loads(text)
    if dtype == np.dtype(np.int64):
        return np.array(values, dtype=np.int64)
    return np.array(values, dtype=np.float64).astype(dtype)


def tokens(text: str) -> list[str]:
    return text.replace("[", "").replace("]", "").split(",")


def significant_digits(token: str) -> int:
    """Significant digits of a JSON number (``100.0`` has 1, ``0.0025`` has 2)."""
    return len(token.lstrip("-").split("e")[0].replace(".", "").strip("0"))


def reference_digits(value: float, dtype: np.dtype[Any]) -> int:
    """Fewest significant digits of a decimal d with ``dtype(float(d)) == |value|``, exactly.

    Independent of the encoder: exact ``Decimal`` floor/ceil at each precision.
    """
    target = np.array(abs(value)).astype(dtype).tobytes()
    exact = Decimal(abs(value))
    for p in range(1, 18):
        quantum = Decimal(1).scaleb(exact.adjusted() - p + 1)
        for candidate in (
            exact.quantize(quantum, ROUND_FLOOR),
            exact.quantize(quantum, ROUND_CEILING),
        ):
            with np.errstate(over="ignore"):
                if np.array(float(candidate)).astype(dtype).tobytes() == target:
                    return p
    raise AssertionError(f"no decimal round-trips {value!r}")


# ---- exact round trip --------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_round_trip_sample(
    dtype: np.dtype[Any], shape: tuple[int, ...], layout: JsonLayout
) -> None:
    array = sample(dtype, shape)
    text = json_values(array, layout)
    parsed = parse(text, dtype)
    expected = array.reshape(-1) if layout == "flat" else array
    assert same_bytes(parsed, expected)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
def test_round_trip_special_values(dtype: np.dtype[Any]) -> None:
    values = special_values(dtype)
    text = json_values(values, "flat")
    assert same_bytes(parse(text, dtype), values)
    assert "-0.0" in tokens(text)  # the sign bit of -0.0 survives


@pytest.mark.parametrize("dtype", SHORTEST_DTYPES, ids=str)
def test_spelling_is_python_repr_of_the_parsed_double(dtype: np.dtype[Any]) -> None:
    values = np.concatenate([special_values(dtype), sample(dtype, (4096,), seed=3)])
    text = json_values(values, "flat")
    assert text == json.dumps(json.loads(text), separators=(",", ":"))


def test_known_spellings() -> None:
    f32 = np.array([0.1, -0.0, 0.0, 1e-5, 1e-4, 3.4028235e38, 1.0, 100.5, 1 / 3, 1e16], np.float32)
    assert json_values(f32) == (
        "[0.1,-0.0,0.0,1e-05,0.0001,3.4028235e+38,1.0,100.5,0.33333334,1e+16]"
    )
    assert json_values(np.array([0.1, 1 / 3, 65504, 6e-8], np.float16)) == (
        "[0.1,0.3333,65500.0,6e-08]"
    )
    assert json_values(np.array([0.1, 1 / 3, 3.3895314e38], BFLOAT16)) == "[0.1,0.334,3.39e+38]"
    assert json_values(np.array([0.1, 1 / 3], np.float64)) == "[0.1,0.3333333333333333]"
    assert json_values(np.array([[1, -2], [2**62, 0]], np.int64), "nested") == (
        "[[1,-2],[4611686018427387904,0]]"
    )


def _no_fallback(array: NDArray[Any], layout: JsonLayout) -> str:
    raise AssertionError("the orjson path handed the whole array to the reference path")


# ---- golden text -------------------------------------------------------------------------------

# sha256 of json_values(golden_json_input(dtype), layout), recorded from the encoder as it was
# before the orjson fast path (commit 7ae0839): the text a client receives must not change.
GOLDEN_JSON_SHA256 = {
    "float32": (
        "79d508c6e2719d3c0c81f589612e3996f07ab74a18e6ac4454380b0072ab3e6a",
        "654d7b7b2c727a972327ba5235a328e55aec94ddacec9020a83b3baef2e5b6e1",
    ),
    "float64": (
        "fb7a859cc261defb4bb029e9e11a9b471e83e31b08746b4975a5a354e5bfedf2",
        "d068db90cf9e39154048a49f96948c3990fc11f5d4af3e9a8a703f3530d73757",
    ),
    "float16": (
        "170319f0590f3a077889a17e30a137d0eaaecd70543f06f5f3db92845691d325",
        "b7eff46c55eca3340695a93a40bcc921ef0134fac03c18920bc91b15a06f1fef",
    ),
    "bfloat16": (
        "630f6a59887f91ea7598ff8c5d1c292ce3bfc3e572a8da03b296fd5fd5c473f6",
        "2198cb53acc7e4a0ccb9dc37c107796a3b1f039539d7bd29a7031bf381560315",
    ),
    "int64": (
        "6b4e46bfca65f096da2165541cc0b19a84a0a0a0ecc194036890999c66c9e211",
        "aa1aeedf0f9dc8f25749b492f9e853bb2142a6a85f836a852c08ccb1c55c6571",
    ),
}


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
@pytest.mark.parametrize("splice_all", [False, True], ids=["as_is", "splice_all"])
def test_golden_sha256(
    monkeypatch: pytest.MonkeyPatch, dtype: np.dtype[Any], splice_all: bool
) -> None:
    """``splice_all``: the orjson path splices even when most elements are suspects."""
    if splice_all:
        monkeypatch.setattr(json_fast, "MAX_SUSPECT_SHARE", 1.0)
        monkeypatch.setattr(json_fast, "reference_json", _no_fallback)
    array = golden_json_input(dtype)
    got = tuple(
        hashlib.sha256(json_values(array, layout).encode()).hexdigest() for layout in LAYOUTS
    )
    assert got == GOLDEN_JSON_SHA256[str(dtype)]


# ---- the orjson path writes the reference's text ------------------------------------------------


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("seed", range(3))
def test_same_text_as_the_reference(
    monkeypatch: pytest.MonkeyPatch, dtype: np.dtype[Any], layout: JsonLayout, seed: int
) -> None:
    """~150k values per dtype: edge values, uniform bit patterns, weights, hard decades."""
    values = mixed_json_input(dtype, seed)
    array = values[: values.size - values.size % 96].reshape(-1, 2, 3, 16)
    expected = json_reference.reference_json(array, layout)
    monkeypatch.setattr(json_fast, "reference_json", _no_fallback)  # splice, not fall back
    assert json_values(array, layout) == expected


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("rank", range(9))
def test_same_text_as_the_reference_at_every_rank(
    dtype: np.dtype[Any], layout: JsonLayout, rank: int
) -> None:
    values = mixed_json_input(dtype, rank, size=1 << 9)
    shape = (*(2,) * (rank - 1), (1 << 9) >> (rank - 1)) if rank else ()
    array = values[: int(np.prod(shape))].reshape(shape)
    assert json_values(array, layout) == json_reference.reference_json(array, layout)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_same_text_when_most_values_are_suspects(dtype: np.dtype[Any], layout: JsonLayout) -> None:
    """Uniform bit patterns alone: mostly suspects, so the reference path writes them."""
    array = np.concatenate([special_values(dtype), finite_bit_patterns(dtype, 1 << 17, 4)])
    array = array[: array.size - array.size % 8].reshape(-1, 8)
    assert json_values(array, layout) == json_reference.reference_json(array, layout)


# ---- shortest ----------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.dtype(np.float16), BFLOAT16], ids=str)
def test_shortest_exhaustive_16_bit(dtype: np.dtype[Any]) -> None:
    exponent_mask = 0x7C00 if dtype == np.dtype(np.float16) else 0x7F80
    bits = np.arange(1, 0x8000, dtype=np.uint16)
    values = bits[bits & exponent_mask != exponent_mask].view(dtype)  # finite, positive
    text = json_values(values, "flat")
    assert same_bytes(parse(text, dtype), values)
    got = [significant_digits(t) for t in tokens(text)]
    want = [reference_digits(float(v), dtype) for v in values.astype(np.float64)]
    mismatches = [(float(v), g, w) for v, g, w in zip(values, got, want, strict=True) if g != w]
    assert not mismatches[:10]


def test_shortest_float32_random_bit_patterns() -> None:
    """All exponents (subnormals, the wide path beyond 1e22 / below 1e-14) against numpy."""
    rng = np.random.default_rng(7)
    values = rng.integers(0, 2**32, 1 << 16, dtype=np.uint64).astype(np.uint32).view(np.float32)
    values = values[np.isfinite(values)]
    text = json_values(values, "flat")
    assert same_bytes(parse(text, values.dtype), values)
    got = np.array([significant_digits(t) for t in tokens(text)])
    numpy_repr = values.astype(np.dtypes.StringDType()).tolist()
    want = np.array([significant_digits(s) for s in numpy_repr])
    assert np.array_equal(got, want)


@given(st.lists(st.floats(width=32, allow_nan=False, allow_infinity=False), min_size=1))
def test_shortest_float32_hypothesis(floats: list[float]) -> None:
    values = np.array(floats, np.float32)
    text = json_values(values, "flat")
    assert same_bytes(parse(text, values.dtype), values)
    for token, value in zip(tokens(text), values, strict=True):
        digits = significant_digits(token)
        if value == 0:
            continue
        assert digits == significant_digits(np.format_float_scientific(value, unique=True))
        assert digits == reference_digits(float(value), values.dtype)


# ---- layouts -----------------------------------------------------------------------------------


def _skeleton(value: Any) -> Any:
    return [_skeleton(v) for v in value] if isinstance(value, list) else None


NESTED_SHAPES = [(), (1,), (7,), (3, 5), (2, 3, 1, 4), (2, 0, 3), (0,), (1, 1, 1, 1, 1, 1, 2, 3)]


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
@pytest.mark.parametrize("shape", NESTED_SHAPES, ids=str)
def test_nested_matches_tolist(dtype: np.dtype[Any], shape: tuple[int, ...]) -> None:
    array = sample(dtype, shape)
    nested = json.loads(json_values(array, "nested"))
    assert _skeleton(nested) == _skeleton(array.tolist())
    flat = json.loads(json_values(array, "flat"))
    assert isinstance(flat, list)
    assert len(flat) == array.size
    if array.size:
        assert same_bytes(parse(json_values(array, "nested"), dtype), array)
    if dtype in (np.dtype(np.float64), np.dtype(np.int64)):
        assert nested == array.tolist()


@pytest.mark.parametrize("dtype", SHORTEST_DTYPES, ids=str)
@pytest.mark.parametrize("shape", [(3, 4, 5), (61,), (2, 1, 7, 3)], ids=str)
def test_chunk_boundaries(
    monkeypatch: pytest.MonkeyPatch, dtype: np.dtype[Any], shape: tuple[int, ...]
) -> None:
    array = sample(dtype, shape)
    whole = {layout: json_reference.shortest_json(array, layout) for layout in LAYOUTS}
    monkeypatch.setattr(json_reference, "CHUNK", 5)
    for layout in LAYOUTS:
        assert json_reference.shortest_json(array, layout) == whole[layout]


def test_scalars() -> None:
    assert json_values(np.array(0, np.int64), "flat") == "[0]"
    assert json_values(np.array(0, np.int64), "nested") == "0"
    assert json_values(np.array(-0.0, np.float32), "nested") == "-0.0"
    assert json_values(np.array(0.1, BFLOAT16), "flat") == "[0.1]"
    assert json_values(np.array(0.5, np.float64), "nested") == "0.5"


def test_big_endian_input_gives_the_same_text() -> None:
    array = sample(np.dtype(np.float32), (3, 5))
    swapped = array.astype(">f4")
    assert json_values(swapped, "nested") == json_values(array, "nested")
    assert json_values(swapped[:, ::2], "flat") == json_values(array[:, ::2], "flat")


# ---- refusals ----------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_refused(dtype: np.dtype[Any], bad: float) -> None:
    array = np.array([1.0, bad], np.float64).astype(dtype)
    with pytest.raises(ValueError, match="non-finite"):
        json_values(array, "flat")


def test_unknown_layout_and_dtype() -> None:
    with pytest.raises(ValueError, match="layout"):
        json_values(np.zeros(2, np.float32), "columns")  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError) as info:
        json_values(np.zeros(2, np.int32), "flat")
    assert info.value.field == "dtype"


# ---- base64 ------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_base64_round_trip(dtype: np.dtype[Any], shape: tuple[int, ...]) -> None:
    array = sample(dtype, shape)
    raw = base64.b64decode(json_base64(array), validate=True)
    assert same_bytes(np.frombuffer(raw, dtype).reshape(shape), array)


def test_base64_is_little_endian_c_order() -> None:
    array = np.arange(6, dtype=np.float32).reshape(2, 3)
    expected = base64.b64encode(array.tobytes()).decode()
    assert json_base64(array.astype(">f4")) == expected
    assert json_base64(np.asfortranarray(array)) == expected
    assert json_base64(np.array(0, np.int64)) == "AAAAAAAAAAA="
    assert json_base64(np.array([1.0], ml_dtypes.bfloat16)) == "gD8="
