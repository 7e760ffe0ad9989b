"""torch's own timings for the benchmarks, measured, never quoted.

torch is never a dependency of the service. A benchmark asks :func:`torch_seconds` to time a
snippet in a Python that has torch: this interpreter when ``import torch`` works, else
``.venv-bench/bin/python`` (``make bench-extras`` creates it with a CPU build of torch), else
it returns None and the benchmark prints "torch: not installed". torch runs on one thread
(``torch.set_num_threads(1)``), as our single-thread figures do; the best of ``repeats``.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH_PYTHON = ROOT / ".venv-bench" / "bin" / "python"

_TIMER = """
import json, sys, time
import torch
torch.set_num_threads(1)
setup, stmt, repeats = sys.argv[1], sys.argv[2], int(sys.argv[3])
scope = {"torch": torch}
exec(setup, scope)
exec(stmt, scope)  # warm-up
best = float("inf")
for _ in range(repeats):
    start = time.perf_counter()
    exec(stmt, scope)
    best = min(best, time.perf_counter() - start)
print(json.dumps({"seconds": best, "version": torch.__version__}))
"""


def torch_python() -> str | None:
    """A Python interpreter that can import torch, or None."""
    if importlib.util.find_spec("torch") is not None:
        return sys.executable
    return str(BENCH_PYTHON) if BENCH_PYTHON.exists() else None


def torch_seconds(setup: str, stmt: str, repeats: int = 3) -> tuple[float, str] | None:
    """Best wall time of ``stmt`` (after ``setup``) under torch on one thread, and its version."""
    python = torch_python()
    if python is None:
        return None
    done = subprocess.run(
        [python, "-c", _TIMER, setup, stmt, str(repeats)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        print(f"torch: failed ({done.stderr.strip().splitlines()[-1:]})")
        return None
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return float(result["seconds"]), str(result["version"])


NOT_INSTALLED = "torch: not installed (make bench-extras installs it in .venv-bench)"
