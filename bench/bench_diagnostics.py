"""POST /v1/diagnostics' work, in process (the WEIGHTINIT_MAX_DIAGNOSTICS_FLOPS row of the
README's "Operations"): seconds and the job's counted flops per second for typical requests,
and what the default limit (2**34 flops) therefore costs.

Run from the repository root:  ``python bench/bench_diagnostics.py`` (best of ``--repeats``).
The figure is the whole job (weights generated, forward, backward, statistics, prediction),
as the service runs it on one request thread; numpy's BLAS may use more cores.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.jobs.diagnostics import diagnostics_job, run_diagnostics
from app.jobs.diagnostics_requests import DiagnosticsRequest
from app.jobs.limits import Settings

CASES: list[tuple[str, dict[str, Any]]] = [
    (
        "20-layer ReLU MLP 256, batch 128, 4 schemes (the README's plot)",
        {
            "mlp": {"sizes": [256] * 21, "activation": "relu"},
            "compare": ["zeros", {"name": "random", "scale": 0.01}, "glorot_normal", "he_normal"],
            "seed": 0,
        },
    ),
    (
        "conv2d chain 3-32-64-64 channels, 32x32, batch 32",
        {
            "layers": [
                {
                    "name": f"conv{i}",
                    "layer": {
                        "kind": "conv2d",
                        "in_channels": a,
                        "out_channels": b,
                        "kernel_size": 3,
                    },
                    "activation": "relu",
                    "padding": 1,
                }
                for i, (a, b) in enumerate([(3, 32), (32, 64), (64, 64)], start=1)
            ],
            "scheme": "he_normal",
            "batch": 32,
            "seed": 0,
        },
    ),
    (
        "coordinate check: MLP 32-w-w-10, widths 64..1024, 3 Adam steps, batch 64",
        {
            "mlp": {"sizes": [32, 64, 64, 10], "activation": "relu"},
            "scheme": "lecun_normal",
            "widths": [64, 256, 1024],
            "steps": 3,
            "batch": 64,
            "seed": 0,
        },
    ),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    settings = Settings()
    rates = []
    for label, body in CASES:
        job = diagnostics_job(DiagnosticsRequest.model_validate(body), settings)
        best = float("inf")
        for _ in range(args.repeats):
            start = time.perf_counter()
            run_diagnostics(job)
            best = min(best, time.perf_counter() - start)
        rate = job.flops / best
        rates.append(rate)
        print(
            f"{label}: {best * 1000:.0f} ms, {job.flops / 1e9:.2f} Gflop counted, "
            f"{rate / 1e9:.2f} Gflop/s"
        )
    slowest = min(rates)
    limit = settings.max_diagnostics_flops
    print(f"default limit {limit} flops: ~{limit / slowest:.1f} s at the slowest rate above")


if __name__ == "__main__":
    main()
