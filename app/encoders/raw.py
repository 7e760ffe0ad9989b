"""The dtypes the encoders accept and the raw little-endian, C-order bytes of an array.

Every binary format here (``.npy``, ``.npz``, safetensors, JSON base64, the ``sha256``
digests) stores an array as its elements' little-endian bytes in row-major (C) order, so
they all go through :func:`little_endian` / :func:`raw_bytes`.
"""

from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass
from typing import Any

import ml_dtypes
import numpy as np
from numpy.typing import NDArray

from app.core.errors import InvalidParameterError

try:  # a plain import: `from . import` would make this module import its own package
    import app.encoders._buffers as _buffers
except ImportError:  # built without a C compiler: bodies are copied into bytes instead
    _buffers = None  # type: ignore[assignment]

BFLOAT16: np.dtype[Any] = np.dtype(ml_dtypes.bfloat16)


@dataclass(frozen=True)
class DTypeInfo:
    """How one supported dtype is named in each format."""

    name: str  # the service's name: "float32", ..., "int64"
    npy_descr: str | None  # the .npy ``descr`` (NEP 1); None: .npy cannot store it
    safetensors: str  # the safetensors ``dtype`` code


_INFOS: dict[np.dtype[Any], DTypeInfo] = {
    np.dtype(np.float64): DTypeInfo("float64", "<f8", "F64"),
    np.dtype(np.float32): DTypeInfo("float32", "<f4", "F32"),
    np.dtype(np.float16): DTypeInfo("float16", "<f2", "F16"),
    BFLOAT16: DTypeInfo("bfloat16", None, "BF16"),
    np.dtype(np.int64): DTypeInfo("int64", "<i8", "I64"),
}


def _native(dtype: np.dtype[Any]) -> np.dtype[Any]:
    """``dtype`` in native byte order (bfloat16 has no byte-order variants)."""
    if dtype == BFLOAT16 or dtype.byteorder in ("=", "|"):
        return dtype
    return dtype.newbyteorder("=")


def dtype_info(array: NDArray[Any]) -> DTypeInfo:
    """The :class:`DTypeInfo` of ``array``'s dtype; refuses any other dtype."""
    info = _INFOS.get(_native(array.dtype))
    if info is None:
        names = ", ".join(i.name for i in _INFOS.values())
        raise InvalidParameterError(
            f"Cannot encode dtype {array.dtype}; supported dtypes: {names}.", field="dtype"
        )
    return info


def refuse_bfloat16(array: NDArray[Any], what: str) -> None:
    """Raise the client-facing error for bfloat16 in a format without it (``what``)."""
    if array.dtype == BFLOAT16:
        raise InvalidParameterError(
            f"bfloat16 cannot be encoded as {what}: .npy has no bfloat16; use safetensors or JSON.",
            field="dtype",
        )


def little_endian(array: NDArray[Any]) -> NDArray[Any]:
    """``array`` as a C-contiguous array in little-endian byte order (a copy only if needed)."""
    dtype_info(array)
    dtype = array.dtype
    big = dtype.byteorder == ">" or (dtype.byteorder == "=" and sys.byteorder == "big")
    if big and dtype != BFLOAT16:
        array = array.astype(dtype.newbyteorder("<"))
    elif big:  # pragma: no cover - big-endian hosts only
        array = array.view(np.uint16).astype("<u2").view(BFLOAT16)
    # not np.ascontiguousarray: it turns 0-d arrays into 1-d ones
    return array if array.flags.c_contiguous else array.copy(order="C")


def raw_bytes(array: NDArray[Any]) -> memoryview:
    """The little-endian, C-order bytes of ``array`` (zero-copy when already so laid out)."""
    return little_endian(array).reshape(-1).view(np.uint8).data


def sha256_hex(array: NDArray[Any]) -> str:
    """Hex sha256 of the little-endian, C-order bytes of ``array`` (big-endian input swapped)."""
    return hashlib.sha256(raw_bytes(array)).hexdigest()


def fresh_bytes(size: int) -> tuple[bytes, memoryview] | None:
    """A new ``bytes`` of ``size`` bytes and a writable view of it, to fill before the bytes
    object is used or shared (then release the view): a body written straight into the
    object that is sent, without a copy. None when ``app/encoders/_buffers.c`` was not built
    (the caller copies instead)."""
    return None if _buffers is None else _buffers.fresh_bytes(size)
