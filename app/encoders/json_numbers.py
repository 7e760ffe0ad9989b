"""Tensor data as JSON text: shortest round-trip decimals, or base64 of the raw bytes.

Numbers follow RFC 8259 section 6 (``-? int frac? exp?``; no NaN or infinity, which the core
never produces and which are refused here). Every float is written with the fewest
significant digits that give the value back *in the tensor's own dtype* when a client reads
the JSON number as a float64 and casts it to that dtype (``np.asarray(values,
np.float64).astype(dtype)``):

* float64: Python's ``repr`` (shortest round-trip for doubles);
* float32, float16, bfloat16: :mod:`app.encoders.shortest` finds the digits,
  :mod:`app.encoders.render` spells them like ``repr`` would (``0.1``, ``-0.0``, ``1e-05``);
* int64: JSON integers.

The text is a flat row-major list (``layout="flat"``, a 0-d array gives ``[x]``) or nested
lists shaped like the array (``layout="nested"``, like ``array.tolist()``; a 0-d array gives
``x``), with no whitespace.
"""

from __future__ import annotations

import base64
import json
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from .raw import BFLOAT16, little_endian, raw_bytes
from .render import render
from .shortest import float_spec, shortest_decimals

JsonLayout = Literal["flat", "nested"]
LAYOUTS: tuple[JsonLayout, ...] = ("flat", "nested")
CHUNK = 1 << 16  # elements rendered at a time (keeps the working set in cache)

_SHORTEST_DTYPES = (np.dtype(np.float32), np.dtype(np.float16), BFLOAT16)


def _check_finite(array: NDArray[Any]) -> None:
    with np.errstate(invalid="ignore"):  # ml_dtypes warns on NaN
        finite = array.dtype.kind == "i" or bool(np.isfinite(array).all())
    if not finite:
        raise ValueError("non-finite values (NaN or infinity) cannot be written as JSON numbers")


def _separators(rank: int) -> tuple[bytes, ...]:
    """Separator ``c`` closes and reopens ``c`` inner lists; the last one (``""``) ends."""
    return (*(b"]" * c + b"," + b"[" * c for c in range(rank)), b"")


def _separator_index(start: int, stop: int, shape: tuple[int, ...], size: int) -> NDArray[np.int64]:
    """For elements ``start..stop-1``: how many inner lists close after each one."""
    after = np.arange(start + 1, stop + 1, dtype=np.int64)  # 1-based position
    index = np.zeros(after.size, np.int64)
    block = 1
    for dim in reversed(shape[1:]):
        block *= dim
        index += after % block == 0
    index[after == size] = len(shape)  # the last element: no separator
    return index


def _python_json(array: NDArray[Any], layout: JsonLayout) -> str:
    values = array.reshape(-1).tolist() if layout == "flat" else array.tolist()
    return json.dumps(values, separators=(",", ":"), allow_nan=False)


def json_values(array: NDArray[Any], layout: JsonLayout = "flat") -> str:
    """JSON text of ``array``'s values, shortest round-trip decimals (see module docstring).

    ``layout="flat"`` gives one row-major list, ``"nested"`` lists nested like the shape.
    Raises ``ValueError`` for an unknown layout or non-finite values and
    :class:`~app.core.errors.InvalidParameterError` for an unsupported dtype.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"unknown JSON layout {layout!r}; expected one of {LAYOUTS}")
    array = little_endian(np.asarray(array))  # also refuses unsupported dtypes
    _check_finite(array)
    if array.dtype not in _SHORTEST_DTYPES or array.size == 0:
        return _python_json(array, layout)

    shape = array.shape if layout == "nested" else (array.size,)
    flat = array.reshape(-1)
    spec = float_spec(flat.dtype)
    separators = _separators(len(shape))
    parts = [b"[" * len(shape)]
    for start in range(0, flat.size, CHUNK):
        stop = min(start + CHUNK, flat.size)
        decimals = shortest_decimals(flat[start:stop])
        sep_index = _separator_index(start, stop, shape, flat.size)
        parts.append(render(decimals, spec, sep_index, separators))
    parts.append(b"]" * len(shape))
    return b"".join(parts).decode("ascii")


def json_base64(array: NDArray[Any]) -> str:
    """Standard base64 (RFC 4648 section 4, padded) of the little-endian C-order bytes."""
    return base64.b64encode(raw_bytes(np.asarray(array))).decode("ascii")
