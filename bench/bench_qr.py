"""orthogonal_q (deterministic blocked Householder, numpy elementwise) beside LAPACK.

Run: ``PYTHONPATH=. python bench/bench_qr.py`` (or ``make bench``). For each shape prints the
best wall time of ``orthogonal_q`` and of ``np.linalg.qr`` plus the sign correction (OpenBLAS
LAPACK, for comparison only: its bytes depend on the CPU), the ratio, the largest difference
between the two ``Q`` and ``max |Q^T Q - I|``. ``orthogonal_q`` runs on one core (numpy
ufuncs are single-threaded); OpenBLAS uses all cores unless ``OPENBLAS_NUM_THREADS=1``.
torch's ``orthogonal_`` (1024 x 1024 in ~1.05 s on one core of this machine kind) is quoted,
not measured: torch is not installed here. Shapes go up to the service's limit of 2**22
elements.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from functools import partial

import numpy as np
from numpy.typing import NDArray

from app.core.linalg import orthogonal_q

SHAPES = [(256, 256, 5), (1024, 1024, 3), (2048, 2048, 1), (4096, 1024, 1)]


def best_of(fn: Callable[[], object], reps: int) -> float:
    best = float("inf")
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def lapack_q(a: NDArray[np.float64]) -> NDArray[np.float64]:
    q, r = np.linalg.qr(a)
    return q * np.sign(np.diag(r))


def main() -> None:
    threads = os.environ.get("OPENBLAS_NUM_THREADS", "all cores")
    print(f"numpy {np.__version__}; OpenBLAS threads: {threads}; orthogonal_q: 1 thread")
    print(
        f"{'shape':>11s} {'ours s':>8s} {'LAPACK s':>9s} {'ratio':>6s} {'|Q-Q_lapack|':>13s}"
        f" {'|QtQ-I|':>9s}"
    )
    orthogonal_q(np.random.Generator(np.random.PCG64(1)).standard_normal((64, 64)))  # warm-up
    for m, n, reps in SHAPES:
        a = np.random.Generator(np.random.PCG64(0)).standard_normal((m, n))
        ours = best_of(partial(orthogonal_q, a), reps)
        lapack = best_of(partial(lapack_q, a), reps)
        q = orthogonal_q(a)
        diff = float(np.abs(q - lapack_q(a)).max())
        orth = float(np.abs(q.T @ q - np.eye(n)).max())
        print(
            f"{m:5d}x{n:<5d} {ours:8.3f} {lapack:9.3f} {ours / lapack:6.1f} {diff:13.1e}"
            f" {orth:9.1e}",
            flush=True,
        )
    print("torch orthogonal_ 1024x1024: ~1.05 s on one core (quoted, not measured)")


if __name__ == "__main__":
    main()
