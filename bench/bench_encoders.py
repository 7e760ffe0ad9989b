"""Encode throughput of every output format for 2**20 float32 values (one 4 MiB tensor).

Run: ``PYTHONPATH=. python bench/bench_encoders.py``. Prints the best of 5 runs per format
(seconds, million values/s, MiB/s of output), then JSON in the other dtypes, then other ways
to write shortest float32 JSON that were measured while choosing the method (for context;
they are not used). Target: JSON flat <= 0.5 s for 2**20 float32 values on one core.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import ml_dtypes
import numpy as np

from app.encoders import (
    encode_npy,
    encode_npz,
    encode_safetensors,
    json_base64,
    json_values,
)

N = 1 << 20


def best_of(fn: Callable[[], object], reps: int = 5) -> tuple[float, int]:
    best, size = float("inf"), 0
    for _ in range(reps):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
        size = len(out) if isinstance(out, str | bytes) else 0
    return best, size


def report(name: str, fn: Callable[[], object], reps: int = 5) -> None:
    seconds, size = best_of(fn, reps)
    print(
        f"{name:34s} {seconds:7.3f} s  {N / seconds / 1e6:7.2f} Mvalues/s"
        f"  {size / seconds / 2**20:8.1f} MiB/s  ({size / 2**20:.1f} MiB)"
    )


def main() -> None:
    rng = np.random.Generator(np.random.PCG64(0))
    values = rng.standard_normal(N) * 0.02
    w32 = values.astype(np.float32).reshape(1024, 1024)
    print(f"{N} float32 values (normal, std 0.02), shape {w32.shape}; best of 5")
    report("json flat (shortest)", lambda: json_values(w32, "flat"))
    report("json nested (shortest)", lambda: json_values(w32, "nested"))
    report("json base64", lambda: json_base64(w32))
    report("npy", lambda: encode_npy(w32))
    report("npz (stored)", lambda: encode_npz({"weight": w32}))
    report("safetensors", lambda: encode_safetensors({"weight": w32}, {"producer": "bench"}))

    print("\njson flat, other dtypes")
    report("float16", lambda: json_values(values.astype(np.float16), "flat"))
    report("bfloat16", lambda: json_values(values.astype(ml_dtypes.bfloat16), "flat"))
    report("float64 (repr spelling)", lambda: json_values(values, "flat"))
    tiny = (values * 1e-20).astype(np.float32)
    report("float32 ~1e-22 (wide path)", lambda: json_values(tiny, "flat"), reps=3)

    print("\nalternatives for float32 (not used)")
    flat32 = w32.reshape(-1)
    as_str = np.dtypes.StringDType()
    report(
        "numpy StringDType cast + join",
        lambda: "[" + ",".join(flat32.astype(as_str).tolist()) + "]",
        reps=3,
    )
    report(
        "json.dumps float64 (not shortest)",
        lambda: json.dumps(flat32.astype(np.float64).tolist(), separators=(",", ":")),
        reps=3,
    )
    report(
        "f'{v:.9g}' per value (not shortest)",
        lambda: "[" + ",".join([f"{v:.9g}" for v in flat32.astype(np.float64).tolist()]) + "]",
        reps=3,
    )


if __name__ == "__main__":
    main()
