"""The reference JSON text of tensor values: the spelling every other path must reproduce.

* float32, float16, bfloat16: :mod:`app.encoders.shortest` finds the fewest digits that give
  the value back through a float64 parse and a cast to the dtype, :mod:`app.encoders.render`
  spells them like ``repr`` spells that double, vectorised with numpy (about 3 M values/s);
* float64, int64: ``json.dumps`` of ``tolist()`` (``repr`` of each double, JSON integers).

:func:`app.encoders.json_numbers.json_values` uses it directly for float16, bfloat16 and
empty arrays, and :mod:`app.encoders.json_fast` falls back to it for the elements whose
orjson text it cannot vouch for. Inputs are validated by the caller (little-endian,
C-contiguous, finite).
"""

from __future__ import annotations

import json
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from .raw import BFLOAT16
from .render import render
from .shortest import float_spec, shortest_decimals

JsonLayout = Literal["flat", "nested"]
CHUNK = 1 << 16  # elements rendered at a time (keeps the working set in cache)

SHORTEST_DTYPES = (np.dtype(np.float32), np.dtype(np.float16), BFLOAT16)


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


def python_json(array: NDArray[Any], layout: JsonLayout) -> str:
    """``json.dumps`` of the values as Python floats or ints, without whitespace."""
    values = array.reshape(-1).tolist() if layout == "flat" else array.tolist()
    return json.dumps(values, separators=(",", ":"), allow_nan=False)


def shortest_json(array: NDArray[Any], layout: JsonLayout) -> str:
    """Shortest round-trip decimals of a non-empty float32, float16 or bfloat16 array."""
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


def shortest_tokens(values: NDArray[Any]) -> list[bytes]:
    """The reference text of each element of a 1-d float32, float16 or bfloat16 array."""
    decimals = shortest_decimals(values)
    separators = np.zeros(values.size, np.int64)
    return render(decimals, float_spec(values.dtype), separators, (b",",)).split(b",")[:-1]


def reference_json(array: NDArray[Any], layout: JsonLayout) -> str:
    """The reference text of ``array`` (validated: little-endian, C-contiguous, finite)."""
    if array.dtype in SHORTEST_DTYPES and array.size:
        return shortest_json(array, layout)
    return python_json(array, layout)
