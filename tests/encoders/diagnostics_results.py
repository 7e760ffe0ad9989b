"""Diagnostics results in the shape of POST /v1/diagnostics' JSON (docs: the design's HTTP
contract), made up for the plot tests: each run's std changes by a fixed factor per layer."""

from __future__ import annotations

from typing import Any

HISTOGRAM = {"edges": [-1.0 + i / 16 for i in range(33)], "counts": [i % 7 for i in range(32)]}


def layer(depth: int, activation_std: float | None, gradient_std: float | None) -> dict[str, Any]:
    """One layer's entry: the measured stds, a prediction equal to them, a histogram."""
    predicted = None
    if activation_std is not None and gradient_std is not None:
        predicted = {
            "preactivation_std": activation_std,
            "activation_std": activation_std,
            "activation_squared_mean": activation_std**2,
            "gradient_std": gradient_std,
            "tolerance": 0.1,
        }
    return {
        "name": f"W{depth}",
        "depth": depth,
        "kind": "dense",
        "activation": "relu",
        "fan_in": 64,
        "preactivation_std": activation_std,
        "activation_mean": 0.0,
        "activation_std": activation_std,
        "activation_squared_mean": None if activation_std is None else activation_std**2,
        "dead_fraction": 0.0,
        "saturated_fraction": None,
        "gradient_std": gradient_std,
        "weight_std": 0.1,
        "weight_std_theory": 0.1,
        "symmetric": activation_std == 0.0,
        "weight_histogram": HISTOGRAM,
        "predicted": predicted,
    }


def run(label: str, factor: float, depth: int, *, start: float = 1.0) -> dict[str, Any]:
    """A run whose activation std is ``start * factor**(d-1)`` and gradient std the reverse."""
    layers = [
        layer(d, start * factor ** (d - 1), start * factor ** (depth - d))
        for d in range(1, depth + 1)
    ]
    return {"scheme": {"name": label}, "label": label, "layers": layers}


def zeros_run(depth: int) -> dict[str, Any]:
    """Zero init: every activation std 0; the gradient reaches only the last layer."""
    layers = [layer(d, 0.0, 1.0 if d == depth else 0.0) for d in range(1, depth + 1)]
    for entry in layers:
        entry["predicted"] = None
    return {"scheme": {"name": "zeros"}, "label": "zeros", "layers": layers}


def result(depth: int = 6, *, coordinate_check: bool = False) -> dict[str, Any]:
    """zeros, random(0.01) (vanishing), he_normal (flat) and a run that overflows."""
    exploding = run("exploding", 1e30, depth)
    for entry in exploding["layers"][depth // 2 :]:
        entry.update(activation_std=None, activation_squared_mean=None, overflow=True)
    body: dict[str, Any] = {
        "seed": 0,
        "batch": 128,
        "layout": "torch",
        "dtype": "float32",
        "input": "standard normal",
        "upstream": "standard normal",
        "model": {"mlp": [64] * (depth + 1)},
        "runs": [
            zeros_run(depth),
            run("random", 0.01, depth),
            run("he_normal", 1.0, depth),
            exploding,
        ],
        "coordinate_check": None,
    }
    if coordinate_check:
        rows = [
            {
                "width": width,
                "step": step,
                "layer": f"W{d}",
                "l1": 0.5 * d * (1 + step * width / 256),
            }
            for width in (64, 128, 256)
            for step in (0, 1, 2)
            for d in (1, 2, 3)
        ]
        body["coordinate_check"] = {
            "optimizer": "adam",
            "learning_rate": 0.01,
            "steps": 2,
            "widths": [64, 128, 256],
            "rows": rows,
        }
    return body
