"""End-to-end blocks-v1 throughput beside numpy's, and the per-block set-up cost.

Run: ``PYTHONPATH=. python bench/bench_streams.py`` (or ``make bench``). Prints GiB/s of output
for a 2**24-element tensor (64 MiB of float32), best of 3, on 1 and 2 threads, and what seeding
one block's generator costs relative to filling it. torch's ``normal_`` and ``uniform_`` are
measured on one thread when torch is importable (bench/torch_reference.py), never quoted.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from app.core.generate import generate_tensor
from app.core.laws import NormalLaw, TruncatedNormalLaw, UniformLaw
from app.core.plans import TensorPlan
from app.core.streams import BLOCK_SIZE, block_bitgen
from app.core.types import DType
from bench.torch_reference import NOT_INSTALLED, torch_seconds

N = 1 << 24


def best_of(fn: Callable[[], object], reps: int = 3) -> float:
    best = float("inf")
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def gib_per_s(nbytes: int, seconds: float) -> float:
    return nbytes / seconds / 2**30


def main() -> None:
    rng = np.random.Generator(np.random.PCG64(0))
    out32 = np.empty(N, np.float32)
    print(f"tensor: {N} elements, block size {BLOCK_SIZE}")
    baselines = {
        "numpy Generator.random float32": lambda: rng.random(dtype=np.float32, out=out32),
        "numpy standard_normal float32 (ziggurat)": lambda: rng.standard_normal(
            dtype=np.float32, out=out32
        ),
    }
    for label, fn in baselines.items():
        print(f"{label:44s} {gib_per_s(4 * N, best_of(fn)):6.2f} GiB/s")
    for method in ("normal_", "uniform_"):
        timed = torch_seconds(f"x = torch.empty({N})", f"x.{method}()")
        if timed is None:
            print(NOT_INSTALLED)
            break
        label = f"torch {timed[1]} {method} float32 (1 thread)"
        print(f"{label:44s} {gib_per_s(4 * N, timed[0]):6.2f} GiB/s")
    laws = {
        "uniform U(-b, b)": UniformLaw(-0.1, 0.1),
        "normal (he_normal)": NormalLaw(0.0, 0.05),
        "truncated normal +-2 sigma": TruncatedNormalLaw(0.0, 0.05, -0.1, 0.1),
    }
    for dtype in (DType.FLOAT32, DType.FLOAT64):
        size = 4 if dtype is DType.FLOAT32 else 8
        for label, law in laws.items():
            plan = TensorPlan("weight", (N,), dtype, law)
            for threads in (1, 2):
                t = best_of(lambda p=plan, th=threads: generate_tensor(p, 1, threads=th))
                name = f"blocks-v1 {label} {dtype.value}, {threads} thread{'s' * (threads > 1)}"
                print(f"{name:44s} {gib_per_s(size * N, t):6.2f} GiB/s")
    seeding = best_of(lambda: [block_bitgen(1, "weight", i) for i in range(1000)]) / 1000
    plan = TensorPlan("weight", (BLOCK_SIZE,), DType.FLOAT32, NormalLaw(0.0, 1.0))
    block = best_of(lambda: generate_tensor(plan, 1), reps=20)
    print(
        f"seeding one block: {seeding * 1e6:.1f} us; "
        f"one float32 normal block: {block * 1e6:.0f} us "
        f"({100 * seeding / block:.1f} % set-up)"
    )


if __name__ == "__main__":
    main()
