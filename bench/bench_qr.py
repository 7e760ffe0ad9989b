"""orthogonal_q (deterministic blocked Householder) beside LAPACK and torch.

Run: ``PYTHONPATH=. python bench/bench_qr.py`` (or ``make bench``). For each shape prints the
best wall time of

- ``orthogonal_q`` (float64, one core) with its default products (the compiled kernels of
  ``app/core/_householder.c`` when built, named in the header line), and once with the
  numpy products (the fallback without a C compiler; the same bytes);
- ``np.linalg.qr`` plus the sign correction (OpenBLAS LAPACK, float64, for comparison only:
  its bytes depend on the CPU; all cores unless ``OPENBLAS_NUM_THREADS=1``);
- ``torch.nn.init.orthogonal_`` on an empty float32 tensor of the shape, with
  ``torch.set_num_threads(1)`` (its time includes drawing the normal matrix),

the ratios ours/LAPACK and ours/torch, the largest difference between our ``Q`` and
LAPACK's and ``max |Q^T Q - I|``. Every figure is measured in this run; when torch cannot
be imported the torch columns say "torch not installed" (the service's venv never has it:
``make bench-extras`` builds ``.venv-bench`` with torch, then run this file with
``PYTHONPATH=. .venv-bench/bin/python bench/bench_qr.py``). Shapes go up to the service's
limit of 2**22 elements.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
from numpy.typing import NDArray

from app.core.linalg import kernel_name, orthogonal_q, orthogonal_q_with, products
from bench.torch_reference import torch_python, torch_seconds

SHAPES = [(256, 256, 5), (1024, 1024, 3), (2048, 2048, 2), (4096, 1024, 2)]
NO_TORCH = "torch not installed"
#: Issue 9's target: orthogonal 2048 x 2048 within this factor of torch's orthogonal_.
TARGET_SHAPE, TARGET_RATIO = (2048, 2048), 3.0


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


def load_torch() -> Any | None:
    """torch set to one thread, or None when it is not importable."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    return torch


def torch_orthogonal(torch: Any, m: int, n: int) -> None:
    torch.nn.init.orthogonal_(torch.empty(m, n, dtype=torch.float32))


def torch_orthogonal_seconds(torch: Any | None, m: int, n: int, reps: int) -> float | None:
    """Best time of torch's orthogonal_ here, else in .venv-bench; None without torch."""
    if torch is not None:
        return best_of(partial(torch_orthogonal, torch, m, n), reps)
    # torch lives in .venv-bench (make bench-extras): time it there
    timed = torch_seconds(
        f"t = torch.empty({m}, {n}, dtype=torch.float32)", "torch.nn.init.orthogonal_(t)", reps
    )
    return timed[0] if timed else None


def main() -> None:
    torch = load_torch()
    threads = os.environ.get("OPENBLAS_NUM_THREADS", "all cores")
    if torch is not None:
        torch_note = f"torch {torch.__version__}: 1 thread, float32"
    elif torch_python() is not None:
        torch_note = "torch (.venv-bench): 1 thread, float32"
    else:
        torch_note = NO_TORCH
    print(
        f"numpy {np.__version__}; orthogonal_q: 1 thread, float64, products {kernel_name()};"
        f" OpenBLAS threads: {threads}; {torch_note}"
    )
    print(
        f"{'shape':>11s} {'ours s':>8s} {'numpy s':>8s} {'LAPACK s':>9s} {'/LAPACK':>8s}"
        f" {'torch s':>11s} {'/torch':>7s} {'|Q-Q_lapack|':>13s} {'|QtQ-I|':>9s}"
    )
    verdict = "orthogonal 2048x2048 vs torch: torch not measured"
    orthogonal_q(np.random.Generator(np.random.PCG64(1)).standard_normal((64, 64)))  # warm-up
    if torch is not None:
        torch_orthogonal(torch, 64, 64)
    for m, n, reps in SHAPES:
        a = np.random.Generator(np.random.PCG64(0)).standard_normal((m, n))
        ours = best_of(partial(orthogonal_q, a), reps)
        numpy_path = best_of(partial(orthogonal_q_with, a, products("numpy")), 1)
        lapack = best_of(partial(lapack_q, a), reps)
        q = orthogonal_q(a)
        diff = float(np.abs(q - lapack_q(a)).max())
        orth = float(np.abs(q.T @ q - np.eye(n)).max())
        measured = torch_orthogonal_seconds(torch, m, n, max(reps, 3))
        if measured is None:
            torch_cols = f"{NO_TORCH:>19s}"
        else:
            torch_cols = f"{measured:11.4f} {ours / measured:7.1f}"
            if (m, n) == TARGET_SHAPE:
                ratio = ours / measured
                passed = "PASS" if ratio <= TARGET_RATIO else "MISSED"
                verdict = (
                    f"orthogonal {m}x{n}: {ratio:.2f}x torch's orthogonal_"
                    f" (target <= {TARGET_RATIO:g}x): {passed}"
                )
        print(
            f"{m:5d}x{n:<5d} {ours:8.3f} {numpy_path:8.3f} {lapack:9.4f} {ours / lapack:8.1f}"
            f" {torch_cols} {diff:13.1e} {orth:9.1e}",
            flush=True,
        )
    print(verdict)


if __name__ == "__main__":
    main()
