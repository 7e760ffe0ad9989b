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

:mod:`app.encoders.json_reference` defines the bytes (and writes float16, bfloat16);
:mod:`app.encoders.json_fast` writes the same bytes for float32, float64 and int64 through
orjson, about 20 times faster than ``json.dumps``.
"""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .json_fast import FAST_DTYPES, fast_json
from .json_reference import JsonLayout, reference_json
from .raw import little_endian, raw_bytes

__all__ = ["LAYOUTS", "JsonLayout", "json_base64", "json_values"]

LAYOUTS: tuple[JsonLayout, ...] = ("flat", "nested")


def _check_finite(array: NDArray[Any]) -> None:
    with np.errstate(invalid="ignore"):  # ml_dtypes warns on NaN
        finite = array.dtype.kind == "i" or bool(np.isfinite(array).all())
    if not finite:
        raise ValueError("non-finite values (NaN or infinity) cannot be written as JSON numbers")


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
    if array.dtype in FAST_DTYPES and array.size:
        return fast_json(array, layout)
    return reference_json(array, layout)


def json_base64(array: NDArray[Any]) -> str:
    """Standard base64 (RFC 4648 section 4, padded) of the little-endian C-order bytes."""
    return base64.b64encode(raw_bytes(np.asarray(array))).decode("ascii")
