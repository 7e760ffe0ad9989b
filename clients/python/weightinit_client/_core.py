"""Transport-independent pieces: request bodies, response parsing, errors, retry timing."""

from __future__ import annotations

import email.utils
import io
import json
import math
import time
from collections.abc import Mapping, Sequence
from typing import Any, Literal, Self

import numpy as np
from numpy.typing import NDArray

Arrays = dict[str, NDArray[Any]]
BinaryFormat = Literal["npz", "safetensors", "npy"]
SchemeSpec = str | Mapping[str, Any] | None

MAX_SAFE_INTEGER = 2**53
RETRY_STATUSES = frozenset({429, 503})
DEFAULT_URL = "http://127.0.0.1:8000"


class WeightinitError(Exception):
    """A refused request (problem+json fields) or a transport failure (``status`` 0)."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        *,
        errors: list[dict[str, str]] | None = None,
        request_id: str | None = None,
        type: str | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> None:
        self.status = status
        self.title = title
        self.detail = detail
        self.errors = list(errors or [])
        self.request_id = request_id
        self.type = type
        self.body = dict(body or {})
        super().__init__(str(self))

    def __str__(self) -> str:
        head = f"{self.status} {self.title}" if self.status else self.title
        return f"{head}: {self.detail}" if self.detail else head

    @classmethod
    def from_response(cls, status: int, headers: Mapping[str, str], content: bytes) -> Self:
        request_id = headers.get("x-request-id")
        try:
            body = json.loads(content)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            text = content.decode(errors="replace").strip()[:200]
            return cls(status, "HTTP error", text, request_id=request_id)
        errors = body.get("errors")
        return cls(
            int(body.get("status", status)),
            str(body.get("title", "HTTP error")),
            str(body.get("detail", "")),
            errors=errors if isinstance(errors, list) else None,
            request_id=str(body.get("request_id") or request_id or "") or None,
            type=body.get("type"),
            body=body,
        )


def seed_value(seed: int | str) -> int | str:
    """Seeds above 2**53 travel as decimal strings (exact in every JSON parser)."""
    value = int(seed)
    return str(value) if value > MAX_SAFE_INTEGER else value


def common(
    seed: int | str,
    *,
    scheme: SchemeSpec,
    bias_scheme: SchemeSpec,
    dtype: str,
    layout: str,
    algorithm: str,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "seed": seed_value(seed),
        "dtype": dtype,
        "layout": layout,
        "algorithm": algorithm,
    }
    if scheme is not None:
        body["scheme"] = scheme if isinstance(scheme, str) else dict(scheme)
    if bias_scheme is not None:
        body["bias_scheme"] = bias_scheme if isinstance(bias_scheme, str) else dict(bias_scheme)
    return body


def model_body(
    layers: Sequence[Mapping[str, Any]] | None,
    mlp: list[int] | Mapping[str, Any] | None,
    base: dict[str, Any],
    tensors: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    if sum(part is not None for part in (layers, mlp, tensors)) != 1:
        raise ValueError("give exactly one of layers=..., mlp=... or tensors=...")
    body = dict(base)
    if layers is not None:
        body["layers"] = [dict(item) for item in layers]
    elif tensors is not None:  # a shape map: name -> shape (any sequence) or {"shape": ...}
        body["tensors"] = {
            str(name): dict(value) if isinstance(value, Mapping) else [int(d) for d in value]
            for name, value in tensors.items()
        }
    else:
        body["mlp"] = dict(mlp) if isinstance(mlp, Mapping) else {"sizes": list(mlp or [])}
    return body


# ---- parsing -----------------------------------------------------------------------------------
# Every array returned is writable and has memory of its own: no two share bytes, and none is
# a view of the response body (np.frombuffer over ``bytes`` would be, and read-only).

_ST_DTYPES: dict[str, str] = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8"}


def bfloat16_dtype() -> np.dtype[Any]:
    """ml_dtypes' bfloat16 when ml_dtypes is installed (it comes with jax, tensorflow and the
    server), else little-endian uint16 holding the same bits (numpy has no bfloat16; the
    client depends on numpy and httpx only). ``a.view(ml_dtypes.bfloat16)`` or
    ``torch.from_numpy(a).view(torch.bfloat16)`` reads such bits as bfloat16."""
    try:
        import ml_dtypes
    except ImportError:
        return np.dtype("<u2")
    bfloat16: np.dtype[Any] = np.dtype(ml_dtypes.bfloat16)
    return bfloat16


def parse_npy(content: bytes) -> NDArray[Any]:
    """One ``.npy`` file (no pickles) as a writable array."""
    array: NDArray[Any] = np.load(io.BytesIO(content), allow_pickle=False)
    return _writable(array)


def parse_npz(content: bytes) -> Arrays:
    """Every member of an ``.npz`` archive (no pickles), by name, as writable arrays."""
    with np.load(io.BytesIO(content), allow_pickle=False) as archive:
        return {name: _writable(archive[name]) for name in archive.files}


def parse_safetensors(content: bytes) -> Arrays:
    """Every tensor of a safetensors file, in the file's order, as writable arrays.

    The format (https://github.com/huggingface/safetensors, README "Format"): an unsigned
    little-endian 64-bit header size ``N``, ``N`` bytes of JSON ``{name: {"dtype", "shape",
    "data_offsets": [begin, end]}, "__metadata__": {...}}``, then the data, offsets relative
    to its start. bfloat16 (``BF16``) comes back as :func:`bfloat16_dtype`. A header that does
    not describe the data (unknown dtype, a size that is not shape x item size, offsets
    outside the data) raises :class:`ValueError`.
    """
    if len(content) < 8:
        raise ValueError(f"safetensors: {len(content)} bytes, too short for a header")
    size = int.from_bytes(content[:8], "little")
    if size > len(content) - 8:
        raise ValueError(f"safetensors: a {size}-byte header in {len(content)} bytes")
    header = json.loads(content[8 : 8 + size])
    if not isinstance(header, dict):
        raise ValueError("safetensors: the header is not a JSON object")
    data = memoryview(content)[8 + size :]
    return {
        name: _safetensors_tensor(name, info, data)
        for name, info in header.items()
        if name != "__metadata__"
    }


def _safetensors_tensor(name: str, info: Any, data: memoryview) -> NDArray[Any]:
    """One header entry's tensor: a copy of its bytes, checked against its dtype and shape."""
    try:
        code, shape = info["dtype"], tuple(int(d) for d in info["shape"])
        start, end = (int(offset) for offset in info["data_offsets"])
    except (TypeError, KeyError, ValueError):
        raise ValueError(f"safetensors: tensor {name!r} has a malformed entry {info!r}") from None
    if code == "BF16":
        dtype = bfloat16_dtype()
    elif code in _ST_DTYPES:
        dtype = np.dtype(_ST_DTYPES[code])
    else:
        raise ValueError(f"safetensors: tensor {name!r} has an unsupported dtype {code!r}")
    if min(shape, default=0) < 0 or not 0 <= start <= end <= len(data):
        raise ValueError(f"safetensors: tensor {name!r}: bad shape or offsets {info!r}")
    if end - start != math.prod(shape) * dtype.itemsize:
        raise ValueError(f"safetensors: tensor {name!r}: {end - start} bytes for {info!r}")
    return np.frombuffer(data[start:end], dtype=dtype).reshape(shape).copy()


def _writable(array: NDArray[Any]) -> NDArray[Any]:
    """``array`` if it is writable (numpy reads a file object into a new array), else a copy."""
    return array if array.flags.writeable else array.copy()


def parse(fmt: str, content: bytes, npy_name: str = "weight") -> Arrays:
    if fmt == "npy":
        return {npy_name: parse_npy(content)}
    if fmt == "npz":
        return parse_npz(content)
    if fmt == "safetensors":
        return parse_safetensors(content)
    raise ValueError(f"format must be npz, safetensors or npy, got {fmt!r}")


# ---- retries -----------------------------------------------------------------------------------


def retry_delay(
    attempt: int, headers: Mapping[str, str], backoff: float, max_delay: float
) -> float:
    """Seconds before retry number ``attempt`` (0-based): Retry-After if given, else 2**n."""
    raw = headers.get("retry-after")
    if raw is not None:
        raw = raw.strip()
        try:
            seconds = float(raw)
        except ValueError:
            try:
                seconds = email.utils.parsedate_to_datetime(raw).timestamp() - time.time()
            except (TypeError, ValueError, IndexError):
                seconds = math.nan
        if math.isfinite(seconds):
            return min(max(seconds, 0.0), max_delay)
    return float(min(backoff * (2**attempt), max_delay))
