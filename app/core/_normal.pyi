"""Types of the compiled float32 normal sampler in ``_normal.c`` (see ``app.core.normal``)."""

import numpy as np
from numpy.typing import NDArray

def kernel_sets() -> tuple[str, ...]: ...
def normal32(
    words: NDArray[np.uint64], out: NDArray[np.float32], kernel_set: str | None = None, /
) -> None: ...
def normal32_streams(
    capsules: list[object],
    counts: list[int],
    out: NDArray[np.float32],
    kernel_set: str | None = None,
    scale: float = 1.0,
    shift: float = 0.0,
    has_shift: bool = False,
    /,
) -> None: ...
