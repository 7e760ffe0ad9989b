"""JSON numbers: ``json_values`` against ``json.dumps(arr.tolist())``, one core.

Run from the repository root: ``PYTHONPATH=. .venv/bin/python bench/bench_json.py``.

The arrays are what the service hands out: He-normal weights of a dense layer (``n x n``,
std ``sqrt(2/n)``, seed 0) from the core, in each dtype. Each line prints the best of several
runs (enough for about half a second, at least 3) of ``json_values(arr)`` (flat layout, the
exact shortest round-trip text of the dtype) and of ``json.dumps(arr.tolist())`` (Python's
own JSON of the same values, as doubles), their ratio and ``json_values``'s values/s, and
for scale bare ``orjson.dumps(arr, option=OPT_SERIALIZE_NUMPY)``, whose text is not ours.
``json_values`` writes float32, float64 and int64 through orjson and splices in the
reference text of the few elements orjson may write differently (``json_fast``), so bare
orjson bounds its speed; float16 and bfloat16 take the numpy reference path.

A second table shows how the float32 speed depends on the values: small weights put more
elements in the decimal exponents that orjson spells differently (about 1 us each to fix),
and values with few significant bits (a constant tensor) or bit patterns spread over all
exponents make most elements suspects, so the reference path writes the whole array.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import numpy as np
import orjson
from numpy.typing import NDArray

from app.core.initialize import initialize_layer
from app.encoders import json_values

SIZES = (64, 256, 1024)
DTYPES = ("float32", "float64", "float16")
MIN_SECONDS = 0.5


def best_time(fn: Callable[[], object]) -> float:
    """Best wall time of at least 3 runs, or as many as fit in about MIN_SECONDS."""
    times: list[float] = []
    while len(times) < 3 or (sum(times) < MIN_SECONDS and len(times) < 200):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def he_normal(n: int, dtype: str) -> NDArray[np.generic]:
    layer = initialize_layer(
        "dense", {"in_features": n, "out_features": n}, seed=0, scheme="he_normal", dtype=dtype
    )
    return layer["weight"]


def row(label: str, array: NDArray[np.generic]) -> None:
    ours = best_time(lambda: json_values(array))
    dumps = best_time(lambda: json.dumps(array.tolist()))
    bare = best_time(lambda: orjson.dumps(array, option=orjson.OPT_SERIALIZE_NUMPY))
    print(
        f"{label:28s} {ours * 1e3:9.3f} {dumps * 1e3:10.3f} {dumps / ours:7.1f}x"
        f" {array.size / ours / 1e6:11.1f} {bare * 1e3:10.3f}"
    )


def main() -> None:
    header = (
        f"{'array':28s} {'ours ms':>9s} {'dumps ms':>10s} {'ratio':>8s} {'M values/s':>11s}"
        f" {'orjson ms':>10s}"
    )
    print("He-normal weights (dense n x n, seed 0), flat layout; best of runs")
    print(header)
    for dtype in DTYPES:
        for n in SIZES:
            row(f"{dtype} {n}x{n}", he_normal(n, dtype))
    rng = np.random.default_rng(0)
    shape = (256, 256)
    bits = rng.integers(0, 2**32, shape, dtype=np.uint64).astype(np.uint32).view(np.float32)
    print("\nfloat32 256x256: how the values matter")
    print(header)
    row("normal, std 0.02", (rng.standard_normal(shape) * 0.02).astype(np.float32))
    row("normal, std 0.001", (rng.standard_normal(shape) * 0.001).astype(np.float32))
    row("constant 1.0", np.ones(shape, np.float32))
    row("uniform finite bit patterns", np.where(np.isfinite(bits), bits, np.float32(0)))


if __name__ == "__main__":
    main()
