"""Single-core cost per element of the framework-exact algorithms (README, "Reproduce PyTorch
and JAX initial weights"; the WEIGHTINIT_MAX_TORCH_CPU_ELEMENTS row of "Operations").

Run from the repository root:  ``python bench/bench_framework_exact.py`` (``--log2-total`` sets
the values per run, default 2**22; best of ``--repeats``). torch-cpu draws one MT19937 stream
in order (``uniform_``: its words and one rounded multiply-add; ``normal_``: the AVX2 kernel
replayed op for op); jax-threefry derives each element from (key, index), as blocks-v1 does.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.core import jax_random, torch_cpu
from app.core.threefry import key


def _best(run: Callable[[], object], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--log2-total", type=int, default=22)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    n = 1 << args.log2_total
    k = key(0)
    gen = torch_cpu.TorchGenerator  # a fresh torch.manual_seed(0) per run
    cases: list[tuple[str, Callable[[], object]]] = [
        ("torch-cpu uniform_ float32", lambda: torch_cpu.uniform_(gen(0), n, -0.1, 0.1, False)),
        ("torch-cpu uniform_ float64", lambda: torch_cpu.uniform_(gen(0), n, -0.1, 0.1, True)),
        ("torch-cpu normal_ float32", lambda: torch_cpu.normal_(gen(0), n, 0.0, 0.02, False)),
        ("torch-cpu normal_ float64", lambda: torch_cpu.normal_(gen(0), n, 0.0, 0.02, True)),
        ("jax-threefry uniform float32", lambda: jax_random.uniform(k, 0, n)),
        ("jax-threefry normal float32", lambda: jax_random.normal(k, 0, n)),
        ("jax-threefry truncated_normal", lambda: jax_random.truncated_normal(k, 0, n, -2, 2)),
    ]
    print(f"one core, {n} values per run, best of {args.repeats}")
    for name, run in cases:
        seconds = _best(run, args.repeats)
        print(f"{name:<40} {seconds * 1e9 / n:7.1f} ns per element  ({seconds:.3f} s)")


if __name__ == "__main__":
    main()
