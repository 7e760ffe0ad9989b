"""Raw bytes, sha256 digests, media types and the package's import rule."""

from __future__ import annotations

import ast
import hashlib
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.core.errors import InvalidParameterError
from app.encoders import MEDIA_TYPES, sha256_hex
from app.encoders.raw import dtype_info, little_endian

from .helpers import ALL_DTYPES, BFLOAT16, SHAPES, sample

ENCODERS_DIR = Path(__file__).resolve().parents[2] / "app" / "encoders"
ALLOWED_THIRD_PARTY = {"numpy", "ml_dtypes", "orjson"}
# The plots are drawn with matplotlib; no other encoder loads it.
ALLOWED_IN = {"plots.py": {"matplotlib"}}


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_sha256_of_little_endian_c_order_bytes(
    dtype: np.dtype[Any], shape: tuple[int, ...]
) -> None:
    array = sample(dtype, shape)
    assert sha256_hex(array) == hashlib.sha256(array.tobytes()).hexdigest()


def test_sha256_ignores_byte_order_and_memory_layout() -> None:
    array = sample(np.dtype(np.float32), (4, 6))
    digest = sha256_hex(array)
    assert sha256_hex(array.astype(">f4")) == digest
    assert sha256_hex(np.asfortranarray(array)) == digest
    assert sha256_hex(array[:, ::2]) == hashlib.sha256(array[:, ::2].tobytes()).hexdigest()


def test_sha256_of_scalar_zero() -> None:
    assert sha256_hex(np.array(0, np.int64)) == hashlib.sha256(bytes(8)).hexdigest()


def test_little_endian_keeps_zero_dim_and_copies_only_if_needed() -> None:
    scalar = np.array(1.5, np.float32)
    assert little_endian(scalar).shape == ()
    contiguous = np.zeros((2, 3), np.float32)
    assert little_endian(contiguous) is contiguous
    assert little_endian(contiguous.astype(">f4")).dtype.str == "<f4"
    assert little_endian(np.zeros(2, BFLOAT16)).dtype == BFLOAT16


def test_dtype_names() -> None:
    names = [dtype_info(np.zeros(1, d)).name for d in ALL_DTYPES]
    assert names == ["float32", "float64", "float16", "bfloat16", "int64"]
    with pytest.raises(InvalidParameterError, match="supported dtypes") as info:
        dtype_info(np.zeros(1, np.int32))
    assert info.value.field == "dtype"


def test_media_types() -> None:
    assert dict(MEDIA_TYPES) == {
        "json": "application/json",
        "npy": "application/x-npy",
        "npz": "application/x-npz",
        "safetensors": "application/vnd.safetensors",
    }


def _imports(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.append(node.module or "")
        elif isinstance(node, ast.ImportFrom) and node.level == 2:  # from ..x: app.x
            names += [f"app.{node.module}" if node.module else "app"]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 1, f"{path.name}: import beyond app/"
    return names


@pytest.mark.parametrize("path", sorted(ENCODERS_DIR.glob("*.py")), ids=lambda p: p.name)
def test_encoders_import_only_stdlib_numpy_ml_dtypes_orjson_and_core(path: Path) -> None:
    for name in _imports(path):
        top = name.partition(".")[0]
        allowed = (
            name == "app.core"
            or name.startswith("app.core.")
            or name.startswith("app.encoders.")  # its own modules (json_fast's extension)
            or top in sys.stdlib_module_names
            or top in ALLOWED_THIRD_PARTY
            or top in ALLOWED_IN.get(path.name, set())
        )
        assert allowed, f"{path.name} imports {name}"


def test_fresh_bytes_are_filled_through_their_view() -> None:
    from app.encoders import raw

    assert raw._buffers is not None, "app.encoders._buffers was not built: is gcc installed?"
    fresh = raw.fresh_bytes(12)
    assert fresh is not None
    body, view = fresh
    np.frombuffer(view, dtype=np.float32)[:] = [1.0, -2.0, 0.5]
    view.release()
    assert isinstance(body, bytes)
    assert body == np.array([1.0, -2.0, 0.5], dtype="<f4").tobytes()
    empty, empty_view = raw.fresh_bytes(0) or (b"x", memoryview(b""))
    assert empty == b"" and empty_view.nbytes == 0
    with pytest.raises(ValueError):
        raw._buffers.fresh_bytes(-1)
