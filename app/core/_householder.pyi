"""Types of the compiled kernels in ``_householder.c`` (see ``app.core.linalg``)."""

import numpy as np
from numpy.typing import NDArray

def kernel_sets() -> tuple[str, ...]: ...
def vt_times(
    v: NDArray[np.float64],
    x: NDArray[np.float64],
    out: NDArray[np.float64],
    kernel_set: str | None = None,
    /,
) -> None: ...
def apply_wy(
    a2: NDArray[np.float64],
    v: NDArray[np.float64],
    m_transposed: NDArray[np.float64],
    skip_rows: int,
    kernel_set: str | None = None,
    /,
) -> None: ...
