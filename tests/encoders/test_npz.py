"""``.npz``: numpy reads every member back exactly, the bytes are deterministic."""

from __future__ import annotations

import hashlib
import io
import zipfile
from typing import Any

import numpy as np
import pytest

from app.core.errors import InvalidParameterError
from app.encoders import encode_npy, encode_npz

from .helpers import BFLOAT16, NPY_DTYPES, SHAPES, same_bytes, sample


def _arrays() -> dict[str, Any]:
    arrays: dict[str, Any] = {}
    for i, dtype in enumerate(NPY_DTYPES):
        for j, shape in enumerate(SHAPES):
            arrays[f"layer{i}.{j}.weight"] = sample(dtype, shape, seed=i * 10 + j)
    arrays["bn.num_batches_tracked"] = np.array(0, np.int64)
    return arrays


def test_round_trip_every_dtype_and_shape() -> None:
    arrays = _arrays()
    with np.load(io.BytesIO(encode_npz(arrays)), allow_pickle=False) as loaded:
        assert list(loaded.keys()) == list(arrays)  # names as given, order kept
        for name, array in arrays.items():
            assert same_bytes(loaded[name], array), name


def test_members_are_the_npy_files_stored_uncompressed() -> None:
    arrays = {"encoder.0.weight": sample(np.dtype(np.float32), (3, 4)), "b": np.zeros(0)}
    with zipfile.ZipFile(io.BytesIO(encode_npz(arrays))) as archive:
        infos = archive.infolist()
        assert [i.filename for i in infos] == ["encoder.0.weight.npy", "b.npy"]
        for info, array in zip(infos, arrays.values(), strict=True):
            assert info.compress_type == zipfile.ZIP_STORED
            assert info.date_time == (1980, 1, 1, 0, 0, 0)
            assert info.external_attr == 0o100644 << 16
            assert info.create_system == 3
            assert archive.read(info) == encode_npy(array)
        assert archive.testzip() is None


def test_deterministic_bytes() -> None:
    first = encode_npz(_arrays())
    second = encode_npz({k: v.copy() for k, v in _arrays().items()})
    assert hashlib.sha256(first).hexdigest() == hashlib.sha256(second).hexdigest()


def test_order_is_as_given() -> None:
    a, b = np.zeros(1, np.float32), np.ones(1, np.float32)
    assert encode_npz({"a": a, "b": b}) != encode_npz({"b": b, "a": a})


def test_empty_mapping() -> None:
    with np.load(io.BytesIO(encode_npz({}))) as loaded:
        assert list(loaded.keys()) == []


def test_bfloat16_refused_with_dtype_field() -> None:
    with pytest.raises(InvalidParameterError, match="no bfloat16") as info:
        encode_npz({"w": np.zeros(2, np.float32), "x": np.zeros(3, BFLOAT16)})
    assert info.value.field == "dtype"


@pytest.mark.parametrize("name", ["", "/etc/passwd", "../up", "a/../../b", "a\\b", "nul\0"])
def test_unsafe_names_refused(name: str) -> None:
    with pytest.raises(ValueError):
        encode_npz({name: np.zeros(1, np.float32)})
