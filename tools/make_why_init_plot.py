"""The README's "Why initialization matters" figure, made by the service itself.

    python tools/make_why_init_plot.py          # rewrite docs/why-initialization.{svg,json}
    python tools/make_why_init_plot.py --check  # exit 1 when the series drifted

One POST /v1/diagnostics body (:data:`BODY`: a 20-layer ReLU MLP of width 256 under zeros,
random(0.01), Xavier and He), run in process; the JSON keeps the plotted series (activation
and gradient std per depth and run, and the predictions) that tests/test_why_initialization.py
compares with a fresh run. The series are compared with a relative tolerance, not the SVG's
bytes: across machines the forward pass (BLAS, libm) may differ in the last bits.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SVG = ROOT / "docs" / "why-initialization.svg"
SERIES = ROOT / "docs" / "why-initialization.json"
BODY: dict[str, Any] = {
    "mlp": {"sizes": [256] * 21, "activation": "relu"},
    "compare": ["zeros", {"name": "random", "scale": 0.01}, "glorot_normal", "he_normal"],
    "seed": 0,
}
RTOL = 1e-6  # the last bits of 20 float64 matmuls and libm calls, with room


def document() -> dict[str, Any]:
    """The diagnostics document of :data:`BODY`, as POST /v1/diagnostics returns it."""
    sys.path.insert(0, str(ROOT))
    from app.jobs.diagnostics import diagnostics_job, run_diagnostics
    from app.jobs.diagnostics_requests import DiagnosticsRequest
    from app.jobs.limits import Settings

    return run_diagnostics(diagnostics_job(DiagnosticsRequest.model_validate(BODY), Settings()))


def series(doc: dict[str, Any]) -> dict[str, Any]:
    """What the figure plots, per run label: depth -> measured and predicted std."""
    out: dict[str, Any] = {"body": BODY, "runs": {}}
    for run in doc["runs"]:
        out["runs"][run["label"]] = [
            {
                "depth": layer["depth"],
                "activation_std": layer["activation_std"],
                "gradient_std": layer["gradient_std"],
                "predicted_activation_std": (layer["predicted"] or {}).get("activation_std"),
                "symmetric": layer["symmetric"],
            }
            for layer in run["layers"]
        ]
    return out


def close(a: Any, b: Any) -> bool:
    """Equal structure; numbers equal within :data:`RTOL` (zeros and nulls exactly)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(close(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(close(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float) and not isinstance(a, bool):
        return math.isclose(a, b, rel_tol=RTOL, abs_tol=0.0)
    return bool(a == b)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    args = parser.parse_args()
    doc = document()
    fresh = series(doc)
    if args.check:
        kept = json.loads(SERIES.read_text())
        if not close(kept, fresh):
            print(
                f"{SERIES} drifted: run python tools/make_why_init_plot.py (make readme)",
                file=sys.stderr,
            )
            return 1
        return 0
    from app.encoders.plots import render_diagnostics_plot

    SVG.parent.mkdir(exist_ok=True)
    SVG.write_bytes(render_diagnostics_plot(doc, "svg"))
    SERIES.write_text(json.dumps(fresh, indent=1) + "\n")
    print(f"wrote {SVG.relative_to(ROOT)} and {SERIES.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
