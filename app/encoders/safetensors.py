"""Named arrays as a safetensors file, written by hand to the format's specification.

Format (https://github.com/huggingface/safetensors, README "Format"):

* 8 bytes: ``N``, the header size, an unsigned little-endian 64-bit integer;
* ``N`` bytes: a UTF-8 JSON object ``{name: {"dtype": "F32", "shape": [...],
  "data_offsets": [begin, end]}, ..., "__metadata__": {str: str}}``, padded with spaces so
  the data starts at a multiple of 8;
* the data: each tensor's little-endian, C-order bytes, back to back, no holes; offsets
  are relative to the start of the data. A 0-d tensor has the shape ``[]``.

Deterministic bytes: the header is compact JSON (``,``/``:``, non-ASCII kept as UTF-8)
with ``__metadata__`` first (its keys sorted) and the tensors in the reference writer's
order, which is also the data order: by dtype (I64, F64, F32, BF16, F16: widest first, so
every tensor starts at a multiple of its element size), then by name. Without metadata, or
with a single metadata key, the output equals ``safetensors.numpy.save`` byte for byte.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .raw import dtype_info, raw_bytes

METADATA_KEY = "__metadata__"
# Descending position in the reference implementation's ``Dtype`` enum.
_DTYPE_ORDER = {"I64": 0, "F64": 1, "F32": 2, "BF16": 3, "F16": 4}


def _checked_metadata(metadata: Mapping[str, str]) -> dict[str, str]:
    for key, value in metadata.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError(f"safetensors metadata must map str to str, got {key!r}: {value!r}")
    return {key: metadata[key] for key in sorted(metadata)}


@dataclass(frozen=True)
class SafetensorsEntry:
    """One tensor's header fields: name, dtype code (``"F32"``...), shape, byte size."""

    name: str
    code: str
    shape: tuple[int, ...]
    nbytes: int


def data_order(entries: list[SafetensorsEntry]) -> list[SafetensorsEntry]:
    """The reference writer's order of header entries and data: by dtype, then by name."""
    names = [entry.name for entry in entries]
    if len(set(names)) != len(names):
        raise ValueError("tensor names must be unique")
    for name in names:
        if not isinstance(name, str) or not name:
            raise ValueError(f"tensor names must be non-empty strings, not {name!r}")
        if name == METADATA_KEY:
            raise ValueError(f"{METADATA_KEY!r} is reserved for the metadata")
    return sorted(entries, key=lambda e: (_DTYPE_ORDER[e.code], e.name))


def safetensors_header(
    entries: list[SafetensorsEntry], metadata: Mapping[str, str] | None = None
) -> bytes:
    """The 8-byte length and the padded JSON header; the data follows in ``data_order``.

    Depends only on names, dtypes and shapes, so a body can be sent before any value exists.
    """
    header: dict[str, Any] = {}
    if metadata is not None:
        header[METADATA_KEY] = _checked_metadata(metadata)
    offset = 0
    for entry in data_order(entries):
        header[entry.name] = {
            "dtype": entry.code,
            "shape": list(entry.shape),
            "data_offsets": [offset, offset + entry.nbytes],
        }
        offset += entry.nbytes
    text = json.dumps(header, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    encoded = text.encode("utf-8")
    encoded += b" " * (-len(encoded) % 8)
    return struct.pack("<Q", len(encoded)) + encoded


def encode_safetensors(
    arrays: Mapping[str, NDArray[Any]], metadata: Mapping[str, str] | None = None
) -> bytes:
    """The arrays (and optional ``__metadata__``) as the bytes of a safetensors file.

    Raises ``ValueError`` for an empty, duplicate or reserved (``__metadata__``) name,
    ``TypeError`` for non-string metadata and
    :class:`~app.core.errors.InvalidParameterError` (``field="dtype"``) for a dtype other
    than float32, float64, float16, bfloat16 or int64.
    """
    data = {name: raw_bytes(np.asarray(array)) for name, array in arrays.items()}
    entries = [
        SafetensorsEntry(
            name, dtype_info(np.asarray(a)).safetensors, tuple(np.shape(a)), data[name].nbytes
        )
        for name, a in arrays.items()
    ]
    header = safetensors_header(entries, metadata)
    return b"".join((header, *(data[e.name] for e in data_order(entries))))
