"""Output encoders: pure functions from arrays to bytes or JSON text.

Input arrays come from the core in float32, float64, float16, bfloat16 or int64, of any
rank from 0 to 8. Every encoder is deterministic (same arrays, same bytes) and stores
values as little-endian, C-order data.

* :func:`json_values` - JSON numbers, shortest round-trip decimals in the tensor's dtype
  (RFC 8259); :func:`json_base64` - base64 of the raw bytes;
* :func:`encode_npy` - ``.npy`` v1.0 (NEP 1), no bfloat16;
* :func:`encode_npz` - an uncompressed zip of ``<name>.npy`` members, no bfloat16;
* :func:`encode_safetensors` - safetensors (huggingface/safetensors README);
* :func:`sha256_hex` - sha256 of the raw bytes, as the digests in responses;
* ``app.encoders.plots.render_diagnostics_plot`` - a diagnostics result as an SVG or PNG
  figure (matplotlib, Agg). Import it from its module: importing this package does not load
  matplotlib.

This package may import only the standard library, numpy, ml_dtypes, orjson, matplotlib (in
``plots`` only) and ``app.core``.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from .json_numbers import JsonLayout, json_base64, json_values
from .npy import encode_npy
from .npz import encode_npz
from .raw import sha256_hex
from .safetensors import encode_safetensors

MEDIA_TYPE_JSON = "application/json"
MEDIA_TYPE_NPY = "application/x-npy"
MEDIA_TYPE_NPZ = "application/x-npz"
MEDIA_TYPE_SAFETENSORS = "application/vnd.safetensors"

MEDIA_TYPES: Mapping[str, str] = MappingProxyType(
    {
        "json": MEDIA_TYPE_JSON,
        "npy": MEDIA_TYPE_NPY,
        "npz": MEDIA_TYPE_NPZ,
        "safetensors": MEDIA_TYPE_SAFETENSORS,
    }
)
"""Format name -> media type of the response body."""

__all__ = [
    "MEDIA_TYPES",
    "MEDIA_TYPE_JSON",
    "MEDIA_TYPE_NPY",
    "MEDIA_TYPE_NPZ",
    "MEDIA_TYPE_SAFETENSORS",
    "JsonLayout",
    "encode_npy",
    "encode_npz",
    "encode_safetensors",
    "json_base64",
    "json_values",
    "sha256_hex",
]
