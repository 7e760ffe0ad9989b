"""safetensors: the reference reader gets every tensor back exactly, bfloat16 included."""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import safetensors
import safetensors.numpy

from app.core.errors import InvalidParameterError
from app.encoders import encode_safetensors

from .helpers import ALL_DTYPES, BFLOAT16, NPY_DTYPES, SHAPES, same_bytes, sample


def _arrays(dtypes: list[np.dtype[Any]]) -> dict[str, Any]:
    arrays: dict[str, Any] = {}
    for i, dtype in enumerate(dtypes):
        for j, shape in enumerate(SHAPES):
            arrays[f"layer{i}.{j}.{dtype}"] = sample(dtype, shape, seed=i * 10 + j)
    arrays["bn.num_batches_tracked"] = np.array(0, np.int64)
    return arrays


def _header(data: bytes) -> dict[str, Any]:
    (size,) = struct.unpack("<Q", data[:8])
    assert size % 8 == 0
    header: dict[str, Any] = json.loads(data[8 : 8 + size])
    return header


def test_round_trip_numpy_load() -> None:
    arrays = _arrays(NPY_DTYPES)  # safetensors.numpy.load has no BF16 entry
    loaded = safetensors.numpy.load(encode_safetensors(arrays))
    assert set(loaded) == set(arrays)
    for name, array in arrays.items():
        assert same_bytes(loaded[name], array), name


@pytest.mark.parametrize("framework", ["numpy", "np"])
def test_round_trip_safe_open_with_bfloat16(tmp_path: Path, framework: str) -> None:
    arrays = _arrays(ALL_DTYPES)
    path = tmp_path / "w.safetensors"
    path.write_bytes(encode_safetensors(arrays, {"producer": "weightinit", "seed": "7"}))
    with safetensors.safe_open(str(path), framework=framework) as handle:
        assert set(handle.keys()) == set(arrays)
        assert handle.metadata() == {"producer": "weightinit", "seed": "7"}
        for name, array in arrays.items():
            got = handle.get_tensor(name)
            assert same_bytes(got, array), name
    assert any(a.dtype == BFLOAT16 for a in arrays.values())


def test_round_trip_deserialize_raw_bytes() -> None:
    arrays = _arrays(ALL_DTYPES)
    codes = {"F32": "float32", "F64": "float64", "F16": "float16", "BF16": "bfloat16"}
    views = safetensors.deserialize(encode_safetensors(arrays))  # type: ignore[no-untyped-call]
    for name, view in views:
        array = arrays[name]
        assert view["shape"] == list(array.shape)
        assert codes.get(view["dtype"], "int64") == str(array.dtype)
        assert bytes(view["data"]) == array.tobytes()


def test_equals_reference_writer_byte_for_byte() -> None:
    arrays = _arrays(ALL_DTYPES)
    assert encode_safetensors(arrays) == safetensors.numpy.save(arrays)
    meta = {"producer": "weightinit"}
    assert encode_safetensors(arrays, meta) == safetensors.numpy.save(arrays, meta)


def test_layout_offsets_alignment_and_scalars() -> None:
    arrays = {
        "h": np.ones(3, np.float16),
        "b": np.ones(1, BFLOAT16),
        "s": np.array(0.5, np.float32),
        "d": np.ones((2, 2), np.float64),
        "n": np.array(0, np.int64),
    }
    data = encode_safetensors(arrays, {"z": "1", "a": "2"})
    header = _header(data)
    assert list(header) == ["__metadata__", "n", "d", "s", "b", "h"]
    assert list(header["__metadata__"]) == ["a", "z"]
    assert header["s"] == {"dtype": "F32", "shape": [], "data_offsets": [40, 44]}
    assert header["n"]["shape"] == []
    start = 8 + struct.unpack("<Q", data[:8])[0]
    end = 0
    for name in list(header)[1:]:
        begin, stop = header[name]["data_offsets"]
        assert begin == end  # no holes
        assert begin % arrays[name].dtype.itemsize == 0
        assert data[start + begin : start + stop] == arrays[name].tobytes()
        end = stop
    assert start + end == len(data)
    assert data[8:start].rstrip(b" ").endswith(b"}")


def test_deterministic_bytes() -> None:
    arrays = _arrays(ALL_DTYPES)
    first = encode_safetensors(arrays, {"b": "2", "a": "1"})
    reordered = dict(reversed([(k, v.copy()) for k, v in arrays.items()]))
    second = encode_safetensors(reordered, {"a": "1", "b": "2"})
    assert hashlib.sha256(first).hexdigest() == hashlib.sha256(second).hexdigest()


def test_big_endian_input_written_little_endian() -> None:
    array = sample(np.dtype(np.float32), (3, 5))
    assert encode_safetensors({"w": array.astype(">f4")}) == encode_safetensors({"w": array})


def test_empty_and_unicode_names() -> None:
    assert encode_safetensors({}) == safetensors.numpy.save({})
    arrays = {'é"\n\x01': np.zeros(1, np.float32)}
    assert encode_safetensors(arrays) == safetensors.numpy.save(arrays)


class _DuplicateKeys(dict[str, Any]):
    def items(self) -> Any:
        return [("w", np.zeros(1)), ("w", np.ones(1))]


@pytest.mark.parametrize(
    "arrays",
    [{"": np.zeros(1)}, {"__metadata__": np.zeros(1)}, _DuplicateKeys()],
    ids=["empty", "reserved", "duplicate"],
)
def test_bad_names_refused(arrays: Any) -> None:
    with pytest.raises(ValueError):
        encode_safetensors(arrays)


def test_bad_metadata_and_dtype_refused() -> None:
    with pytest.raises(TypeError):
        encode_safetensors({"w": np.zeros(1)}, {"seed": 7})  # type: ignore[dict-item]
    with pytest.raises(InvalidParameterError) as info:
        encode_safetensors({"w": np.zeros(1, np.uint8)})
    assert info.value.field == "dtype"
