"""Transport-independent pieces: request bodies, response parsing, errors, retry timing."""

from __future__ import annotations

import email.utils
import io
import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, Self

import ml_dtypes
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

_ST_DTYPES: dict[str, Any] = {
    "F64": np.float64,
    "F32": np.float32,
    "F16": np.float16,
    "BF16": ml_dtypes.bfloat16,
    "I64": np.int64,
}


def parse_npy(content: bytes) -> NDArray[Any]:
    array: NDArray[Any] = np.load(io.BytesIO(content), allow_pickle=False)
    return array


def parse_npz(content: bytes) -> Arrays:
    with np.load(io.BytesIO(content), allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}


def parse_safetensors(content: bytes) -> Arrays:
    """safetensors' own parser; the views are read with ml_dtypes for bfloat16."""
    try:
        import safetensors
    except ImportError:  # pragma: no cover - the format is simple enough to read directly
        return _parse_safetensors_plain(content)
    deserialize: Callable[[bytes], list[tuple[str, dict[str, Any]]]] = safetensors.deserialize
    out: Arrays = {}
    for name, view in deserialize(content):
        dtype = np.dtype(_ST_DTYPES[view["dtype"]]).newbyteorder("<")
        out[name] = np.frombuffer(bytes(view["data"]), dtype=dtype).reshape(view["shape"])
    return out


def _parse_safetensors_plain(content: bytes) -> Arrays:  # pragma: no cover
    size = int.from_bytes(content[:8], "little")
    header: dict[str, Any] = json.loads(content[8 : 8 + size])
    data = content[8 + size :]
    out: Arrays = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        dtype = np.dtype(_ST_DTYPES[info["dtype"]]).newbyteorder("<")
        out[name] = np.frombuffer(data[start:end], dtype=dtype).reshape(info["shape"])
    return out


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
