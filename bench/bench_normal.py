"""Single-core throughput of the standard-normal sampler versus numpy.

Run from the repository root:  ``python bench/bench_normal.py`` (the script puts the repository
root on ``sys.path`` itself; ``--log2-total`` and ``--repeats`` adjust the work).

Every line generates ``2**log2_total`` values (default ``2**24``) in blocks of 65536 and prints
output GiB/s (float32 = 4 bytes, float64 = 8 bytes per value), the best of ``--repeats`` runs.
"ours" includes drawing the raw words with ``PCG64.random_raw`` and the transform
``standard_normal_from_raw``: float32 by the compiled sampler (``app/core/_normal.c``, the
default when built) and by the numpy path (the fallback, same bytes); one core. torch's
``normal_`` is measured on one thread when torch is importable (bench/torch_reference.py).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.core.normal import compiled_kernel_sets, raw_words_needed, standard_normal_from_raw
from bench.torch_reference import NOT_INSTALLED, torch_seconds

BLOCK = 65536


def _rate(step: Callable[[], object], blocks: int, itemsize: int, repeats: int) -> float:
    """Best GiB/s of output over ``repeats`` runs of ``blocks`` calls of ``step``."""
    step()  # warm up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(blocks):
            step()
        best = min(best, time.perf_counter() - start)
    return blocks * BLOCK * itemsize / best / 2**30


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log2-total", type=int, default=24, help="values per run, as log2")
    parser.add_argument("--repeats", type=int, default=3, help="runs per line (best is kept)")
    args = parser.parse_args()
    blocks = max(1, 2**args.log2_total // BLOCK)

    bitgen = np.random.PCG64(20240601)
    gen = np.random.Generator(bitgen)
    words32 = raw_words_needed(BLOCK, np.float32)
    words64 = raw_words_needed(BLOCK, np.float64)

    def ours32() -> object:
        return standard_normal_from_raw(bitgen.random_raw(words32), BLOCK, np.float32)

    def ours32_numpy() -> object:
        words = bitgen.random_raw(words32)
        return standard_normal_from_raw(words, BLOCK, np.float32, kernel_set="numpy")

    def ours64() -> object:
        return standard_normal_from_raw(bitgen.random_raw(words64), BLOCK, np.float64)

    sets = compiled_kernel_sets()
    compiled32 = f"compiled {sets[0]}" if sets else "numpy path: not built"
    lines: list[tuple[str, Callable[[], object], int]] = [
        ("numpy PCG64 random_raw (float32-equivalent)", lambda: bitgen.random_raw(words32), 4),
        ("numpy Generator(PCG64).random(float32)", lambda: gen.random(BLOCK, np.float32), 4),
        (
            "numpy standard_normal float32 (ziggurat)",
            lambda: gen.standard_normal(BLOCK, np.float32),
            4,
        ),
        ("numpy standard_normal float64 (ziggurat)", lambda: gen.standard_normal(BLOCK), 8),
        (f"ours float32 ({compiled32}, random_raw + Box-Muller)", ours32, 4),
        ("ours float32 (numpy path, random_raw + Box-Muller)", ours32_numpy, 4),
        ("ours float64 (random_raw + Box-Muller)", ours64, 8),
    ]
    print(f"one core, block {BLOCK}, {blocks * BLOCK} values per run, best of {args.repeats}")
    for name, step, itemsize in lines:
        print(f"{name:<46} {_rate(step, blocks, itemsize, args.repeats):6.3f} GiB/s")
    total = blocks * BLOCK
    timed = torch_seconds(f"x = torch.empty({total})", "x.normal_()", args.repeats)
    if timed is None:
        print(NOT_INSTALLED)
    else:
        seconds, version = timed
        rate = total * 4 / seconds / 2**30
        print(f"{'torch ' + version + ' normal_ float32 (1 thread)':<46} {rate:6.3f} GiB/s")


if __name__ == "__main__":
    main()
