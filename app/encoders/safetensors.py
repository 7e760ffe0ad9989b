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


def encode_safetensors(
    arrays: Mapping[str, NDArray[Any]], metadata: Mapping[str, str] | None = None
) -> bytes:
    """The arrays (and optional ``__metadata__``) as the bytes of a safetensors file.

    Raises ``ValueError`` for an empty, duplicate or reserved (``__metadata__``) name,
    ``TypeError`` for non-string metadata and
    :class:`~app.core.errors.InvalidParameterError` (``field="dtype"``) for a dtype other
    than float32, float64, float16, bfloat16 or int64.
    """
    items = [(name, np.asarray(array)) for name, array in arrays.items()]
    names = [name for name, _ in items]
    if len(set(names)) != len(names):
        raise ValueError("tensor names must be unique")
    for name in names:
        if not isinstance(name, str) or not name:
            raise ValueError(f"tensor names must be non-empty strings, not {name!r}")
        if name == METADATA_KEY:
            raise ValueError(f"{METADATA_KEY!r} is reserved for the metadata")
    codes = {name: dtype_info(array).safetensors for name, array in items}
    items.sort(key=lambda item: (_DTYPE_ORDER[codes[item[0]]], item[0]))

    header: dict[str, Any] = {}
    if metadata is not None:
        header[METADATA_KEY] = _checked_metadata(metadata)
    chunks: list[memoryview] = []
    offset = 0
    for name, array in items:
        data = raw_bytes(array)
        header[name] = {
            "dtype": codes[name],
            "shape": [int(d) for d in array.shape],
            "data_offsets": [offset, offset + data.nbytes],
        }
        chunks.append(data)
        offset += data.nbytes

    text = json.dumps(header, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    encoded = text.encode("utf-8")
    encoded += b" " * (-len(encoded) % 8)
    return b"".join((struct.pack("<Q", len(encoded)), encoded, *chunks))
