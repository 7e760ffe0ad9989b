"""Live JAX/Flax against the service: jax.random, jax.nn.initializers and Flax init for
seeds and shapes the fixtures do not have (a seed above 2**32 included: JAX keeps it mod
2**32). The reference values come from a script run in .venv-frameworks (``make
frameworks``); the service's own venv never imports JAX."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from tests.api.conftest import ApiClient, load_npz

from .conftest import run_script

# (live JAX/Flax spec, weightinit request); literal rows.
CASES: list[tuple[dict[str, Any], dict[str, Any]]] = [
    (
        {"what": "uniform", "seed": 123, "shape": [70000]},
        {
            "layer": {"kind": "tensor", "shape": [70000]},
            "scheme": {"name": "jax.uniform", "scale": 1.0},
        },
    ),
    (
        {"what": "normal", "seed": (1 << 40) + 5, "shape": [5, 7]},
        {
            "layer": {"kind": "tensor", "shape": [5, 7]},
            "scheme": {"name": "jax.normal", "stddev": 1.0},
        },
    ),
    (
        {"what": "init.he_normal", "seed": 9, "shape": [3, 3, 8, 16]},
        {"layer": {"kind": "tensor", "shape": [3, 3, 8, 16]}, "scheme": "jax.he_normal"},
    ),
    (
        {
            "what": "init.variance_scaling",
            "seed": 4,
            "shape": [40, 30],
            "kwargs": {"scale": 0.5, "mode": "fan_out", "distribution": "normal"},
        },
        {
            "layer": {"kind": "tensor", "shape": [40, 30]},
            "scheme": {
                "name": "jax.variance_scaling",
                "scale": 0.5,
                "mode": "fan_out",
                "distribution": "normal",
            },
        },
    ),
    (
        {"what": "flax.Dense", "seed": 77, "in": 33, "out": 17},
        {"layer": {"kind": "dense", "in_features": 33, "out_features": 17}},
    ),
    (
        {"what": "flax.GRUCell", "seed": 8, "in": 5, "hidden": 6},
        {"layer": {"kind": "gru", "input_size": 5, "hidden_size": 6}},
    ),
]


def test_live_jax_equals_the_service(frameworks_python: Path, tmp_path: Path) -> None:
    client = ApiClient()
    served: dict[str, np.ndarray] = {}
    exactness: dict[tuple[int, str], dict[str, Any]] = {}
    try:
        for i, (live, request) in enumerate(CASES):
            body = {**request, "seed": live["seed"], "algorithm": "jax-threefry", "layout": "jax"}
            r = client.post("/v1/weights", json=body, params={"format": "npz"})
            assert r.status_code == 200, r.text
            served.update({f"{i}/{n}": a for n, a in load_npz(r.content).items()})
            meta = client.post("/v1/weights/digests", json=body, params={"blocks": "false"}).json()
            exactness.update({(i, t["name"]): t for t in meta["tensors"]})
    finally:
        client.close()
    (tmp_path / "cases.json").write_text(json.dumps([live for live, _ in CASES]))
    np.savez(tmp_path / "served.npz", **served)
    report = run_script(
        frameworks_python,
        "jax_live_script.py",
        str(tmp_path / "cases.json"),
        str(tmp_path / "served.npz"),
        timeout=300,
    )
    assert report["jax"] == "0.10.2"
    assert len(report["report"]) == len(served)
    for row in report["report"]:
        stated = exactness[(row["case"], row["tensor"])]
        if stated["exactness"] == "exact":
            assert row["equal"], row
        else:
            assert 0 <= row["ulp"] <= stated["max_ulp"], row
