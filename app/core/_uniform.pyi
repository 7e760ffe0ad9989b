"""Types of the compiled float32 uniform blocks in ``_uniform.c`` (see ``app.core.sampling``)."""

import numpy as np
from numpy.typing import NDArray

def uniform32_streams(
    capsules: list[object],
    spares: list[int],
    counts: list[int],
    out: NDArray[np.float32],
    mode: int,
    a: float,
    b: float,
    c: float,
    /,
) -> None: ...
