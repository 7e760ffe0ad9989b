"""``.npy`` v1.0: numpy reads it back exactly; the header is numpy's own; no bfloat16."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest

from app.core.errors import InvalidParameterError
from app.encoders import encode_npy
from app.encoders.npy import npy_header

from .helpers import BFLOAT16, NPY_DTYPES, SHAPES, same_bytes, sample


@pytest.mark.parametrize("dtype", NPY_DTYPES, ids=str)
@pytest.mark.parametrize("shape", [*SHAPES, (0,), (2, 0, 3), (1,) * 8], ids=str)
def test_round_trip(dtype: np.dtype[Any], shape: tuple[int, ...]) -> None:
    array = sample(dtype, shape)
    data = encode_npy(array)
    loaded = np.load(io.BytesIO(data), allow_pickle=False)
    assert same_bytes(loaded, array)
    assert loaded.dtype.byteorder in ("<", "=")


@pytest.mark.parametrize("dtype", NPY_DTYPES, ids=str)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_bytes_equal_numpy_write_array(dtype: np.dtype[Any], shape: tuple[int, ...]) -> None:
    array = sample(dtype, shape)
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, version=(1, 0), allow_pickle=False)
    assert encode_npy(array) == buffer.getvalue()


def test_layout_of_the_file() -> None:
    data = encode_npy(np.arange(6, dtype=np.float32).reshape(2, 3))
    assert data.startswith(b"\x93NUMPY\x01\x00")
    header_len = int.from_bytes(data[8:10], "little")
    assert (10 + header_len) % 64 == 0
    header = data[10 : 10 + header_len]
    assert header.startswith(b"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }")
    assert header.endswith(b"\n")
    assert data[10 + header_len :] == np.arange(6, dtype="<f4").tobytes()
    assert npy_header("<f4", (2, 3)) == data[: 10 + header_len]


def test_big_endian_and_non_contiguous_input_written_little_endian_c_order() -> None:
    array = sample(np.dtype(np.float64), (4, 6))
    expected = encode_npy(np.ascontiguousarray(array[:, ::2]))
    assert encode_npy(array.astype(">f8")[:, ::2]) == expected
    assert encode_npy(np.asfortranarray(array[:, ::2])) == expected


def test_bfloat16_refused_with_dtype_field() -> None:
    with pytest.raises(InvalidParameterError, match="no bfloat16") as info:
        encode_npy(np.zeros(3, BFLOAT16))
    assert info.value.field == "dtype"
    assert "safetensors" in info.value.message


def test_unsupported_dtype_refused() -> None:
    with pytest.raises(InvalidParameterError) as info:
        encode_npy(np.zeros(3, np.complex64))
    assert info.value.field == "dtype"


def test_deterministic() -> None:
    array = sample(np.dtype(np.float32), (3, 5))
    assert encode_npy(array) == encode_npy(array.copy())
