"""Types of the compiled suspect filter in ``_suspects.c`` (see ``app.encoders.json_fast``)."""

import numpy as np
from numpy.typing import NDArray

def candidates(
    values: NDArray[np.float32] | NDArray[np.float64], start: int, span: int, grid: int, /
) -> bytes: ...
def float32_suspects(
    values: NDArray[np.float32],
    start: int,
    span: int,
    grid: int,
    mask: NDArray[np.uint32],
    scale: NDArray[np.float64],
    midpoint: NDArray[np.float64],
    low_midpoint: NDArray[np.float64],
    low: float,
    high: float,
    tolerance: float,
    /,
) -> tuple[bytes, bytes]: ...
def respell(text: bytes, /) -> bytes | None: ...
def splice(text: bytes, before: int, after: int, replacements: list[bytes], /) -> str | None: ...
