"""One BLAS thread while these tests run, as the service runs (Dockerfile:
OPENBLAS_NUM_THREADS=1).

The diagnostics multiply many small matrices; a multi-threaded OpenBLAS on a busy machine
spends that time spinning its worker threads (this directory took ~30 s instead of ~5 s at
load average 2 on 2 cores). numpy has no API for it, so the fixture calls numpy's bundled
OpenBLAS through ctypes and restores the previous count afterwards; where that library is
not found (another numpy build) it does nothing. The thread count may change the last bits
of a matmul (not its value from run to run at one count); no test here depends on those.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest


def _openblas() -> tuple[Callable[[], int], Callable[[int], None]] | None:
    libs = Path(np.__file__).resolve().parent.parent / "numpy.libs"
    for path in sorted(libs.glob("libscipy_openblas*.so")):
        lib = ctypes.CDLL(str(path))  # already loaded by numpy: the same handle
        get = getattr(lib, "scipy_openblas_get_num_threads64_", None)
        put = getattr(lib, "scipy_openblas_set_num_threads64_", None)
        if get is not None and put is not None:
            return get, put
    return None


@pytest.fixture(autouse=True, scope="package")
def one_blas_thread() -> Iterator[None]:
    found = _openblas()
    if found is None:
        yield
        return
    get, put = found
    before = int(get())
    put(1)
    try:
        yield
    finally:
        put(before)
