"""Statistics of local tensors for ``POST /v1/audit``, with numpy only.

:func:`tensor_stats` summarises one array: shape, dtype, numel and, in float64, the mean, the
population std (``ddof=0``), min and max. Values are taken in chunks of :data:`CHUNK_ELEMENTS`
and merged with Chan, Golub and LeVeque's pairwise update of (n, mean, M2), which is stable
(no sum of squares minus a squared sum). :func:`safetensors_stats` does the same for every
tensor of a safetensors file, reading each in chunks from disk (never the whole file at
once), and returns the file's init manifest (``__metadata__["weightinit.manifest"]``) when it
has one.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

MANIFEST_KEY = "weightinit.manifest"
CHUNK_ELEMENTS = 1 << 20
MAX_HEADER_BYTES = 100 << 20  # safetensors' own limit on the header
# safetensors dtype codes -> (numpy dtype of the stored bytes, the name the service uses)
_CODES: dict[str, tuple[str, str]] = {
    "F64": ("<f8", "float64"),
    "F32": ("<f4", "float32"),
    "F16": ("<f2", "float16"),
    "BF16": ("<u2", "bfloat16"),
    "I64": ("<i8", "int64"),
    "I32": ("<i4", "int32"),
    "I16": ("<i2", "int16"),
    "I8": ("i1", "int8"),
    "U8": ("u1", "uint8"),
}


class _Moments:
    """Running (n, mean, M2, min, max), merged chunk by chunk (Chan et al., 1979)."""

    def __init__(self) -> None:
        self.n = 0
        self.mean = 0.0
        self.m2 = 0.0
        self.min = math.inf
        self.max = -math.inf

    def add(self, chunk: NDArray[np.float64]) -> None:
        nb = int(chunk.size)
        if nb == 0:
            return
        mean_b = float(chunk.mean())
        m2_b = float(np.square(chunk - mean_b).sum())
        n = self.n + nb
        delta = mean_b - self.mean
        self.mean += delta * nb / n
        self.m2 += m2_b + delta * delta * self.n * nb / n
        self.n = n
        self.min = min(self.min, float(chunk.min()))
        self.max = max(self.max, float(chunk.max()))

    def stats(self, shape: Iterable[int], dtype: str) -> dict[str, Any]:
        out: dict[str, Any] = {"shape": [int(d) for d in shape], "dtype": dtype, "numel": self.n}
        if self.n:
            out |= {
                "mean": self.mean,
                "std": math.sqrt(max(self.m2, 0.0) / self.n),
                "min": self.min,
                "max": self.max,
            }
        return out


def _float64(values: NDArray[Any], dtype: str) -> NDArray[np.float64]:
    if dtype == "bfloat16" and values.dtype == np.dtype("<u2"):  # bfloat16 bits: widen
        return (values.astype(np.uint32) << 16).view(np.float32).astype(np.float64)
    return values.astype(np.float64)


def _dtype_name(array: NDArray[Any]) -> str:
    return "bfloat16" if array.dtype.name == "bfloat16" else array.dtype.name


def tensor_stats(array: Any) -> dict[str, Any]:
    """shape, dtype, numel, and the float64 mean, std (ddof=0), min and max of ``array``."""
    values = np.asarray(array)
    dtype = _dtype_name(values)
    flat = values.reshape(-1)
    moments = _Moments()
    for start in range(0, flat.size, CHUNK_ELEMENTS):
        moments.add(_float64(flat[start : start + CHUNK_ELEMENTS], dtype))
    return moments.stats(values.shape, dtype)


def state_stats(state: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """:func:`tensor_stats` of every array of a ``{name: array}`` mapping (a state dict
    converted to numpy: ``{k: v.float().numpy() for k, v in sd.items()}`` for bfloat16)."""
    return {name: tensor_stats(array) for name, array in state.items()}


def read_safetensors_header(path: str | os.PathLike[str]) -> tuple[dict[str, Any], int]:
    """The JSON header of a safetensors file and the offset its data starts at."""
    with open(path, "rb") as f:
        raw = f.read(8)
        if len(raw) < 8:
            raise ValueError(f"{path}: too short for a safetensors file")
        size = int.from_bytes(raw, "little")
        if size > MAX_HEADER_BYTES:
            raise ValueError(f"{path}: a {size}-byte safetensors header is beyond the limit")
        header = json.loads(f.read(size))
    if not isinstance(header, dict):
        raise ValueError(f"{path}: the safetensors header is not a JSON object")
    return header, 8 + size


def file_manifest(header: Mapping[str, Any]) -> dict[str, Any] | None:
    """The init manifest in a safetensors header's ``__metadata__``, if there is one."""
    text = (header.get("__metadata__") or {}).get(MANIFEST_KEY)
    if text is None:
        return None
    manifest: dict[str, Any] = json.loads(text)
    return manifest


def safetensors_stats(
    path: str | os.PathLike[str],
) -> tuple[dict[str, Any] | None, dict[str, dict[str, Any]]]:
    """The file's manifest (or None) and the statistics of each of its tensors, in header
    order, read chunk by chunk."""
    header, data_start = read_safetensors_header(path)
    stats: dict[str, dict[str, Any]] = {}
    with open(Path(path), "rb") as f:
        for name, info in header.items():
            if name == "__metadata__":
                continue
            code = str(info["dtype"])
            if code not in _CODES:
                raise ValueError(f"{path}: tensor {name!r} has an unsupported dtype {code!r}")
            stored, dtype = _CODES[code]
            item = np.dtype(stored).itemsize
            start, end = (int(x) for x in info["data_offsets"])
            moments = _Moments()
            f.seek(data_start + start)
            remaining = (end - start) // item
            while remaining:
                count = min(remaining, CHUNK_ELEMENTS)
                chunk = np.frombuffer(f.read(count * item), dtype=stored)
                if chunk.size != count:
                    raise ValueError(f"{path}: tensor {name!r} is cut short")
                moments.add(_float64(chunk, dtype))
                remaining -= count
            stats[name] = moments.stats(info["shape"], dtype)
    return file_manifest(header), stats


def is_manifest(document: Mapping[str, Any]) -> bool:
    """A manifest (its ``format`` says so, or its ``tensors`` is a list), not a request body."""
    return str(document.get("format", "")).startswith("weightinit.manifest") or isinstance(
        document.get("tensors"), list
    )


def audit_body(
    expected: Mapping[str, Any], tensors: Mapping[str, Mapping[str, Any]], z: float | None = None
) -> dict[str, Any]:
    """The body of POST /v1/audit: ``expected`` a manifest or a /v1/weights or /v1/models
    body, ``tensors`` the statistics of each tensor."""
    key = "manifest" if is_manifest(expected) else "request"
    body: dict[str, Any] = {
        key: dict(expected),
        "tensors": {k: dict(v) for k, v in tensors.items()},
    }
    if z is not None:
        body["z"] = z
    return body
