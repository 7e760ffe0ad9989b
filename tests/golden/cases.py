"""Golden cases for blocks-v1: (scheme, params, layout, shape, dtype, seed) -> sha256 of bytes.

The hashes in ``blocks_v1.json`` freeze the algorithm: a change that alters any byte fails
tests/core/test_golden.py and needs a new algorithm name instead. Only this script writes the
file, by hand, once (``python -m tests.golden.cases --write``); the tests only read it.
The hash is of the little-endian, C-order bytes of the array.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from app.core.generate import generate_tensor
from app.core.layers import make_layer
from app.core.planning import SchemeChoice, plan_layer
from app.core.plans import TensorPlan
from app.core.schemes import SCHEMES, resolve_scheme
from app.core.types import DType, Layout

GOLDEN_FILE = Path(__file__).with_name("blocks_v1.json")

_SHAPES: dict[str, list[int]] = {
    "identity": [5, 7],
    "torch.eye_": [5, 7],
    "keras.Identity": [7, 5],
    "sparse": [20, 10],
    "torch.sparse_": [20, 10],
    "dirac": [8, 4, 3, 3],
    "torch.dirac_": [8, 4, 3, 3],
    "delta_orthogonal": [8, 4, 3, 3],
}
_REQUIRED = {
    "constant": {"value": 0.25},
    "torch.constant_": {"val": -1.5},
    "jax.constant": {"value": 3.0},
    "sparse": {"sparsity": 0.3},
    "torch.sparse_": {"sparsity": 0.3},
}


def _layout_for(name: str) -> Layout:
    if name.startswith(("keras.",)):
        return Layout.KERAS
    if name.startswith(("jax.", "flax.")):
        return Layout.JAX
    return Layout.TORCH


def tensor_cases() -> list[dict[str, Any]]:
    """Every registered scheme once in float32, plus dtype, seed and multi-block variants."""
    cases: list[dict[str, Any]] = []
    for name in SCHEMES:
        layout = _layout_for(name)
        shape = _SHAPES.get(name, [24, 3, 2, 2] if "delta" in name else [48, 36])
        if name == "jax.delta_orthogonal":
            shape = [3, 3, 4, 8]
        cases.append(
            {
                "scheme": name,
                "params": _REQUIRED.get(name, {}),
                "layout": layout.value,
                "shape": shape,
                "dtype": "float32",
                "seed": 42,
            }
        )
    for dtype in ("float64", "float16", "bfloat16"):
        for name in (
            "uniform",
            "normal",
            "truncated_normal",
            "glorot_uniform",
            "he_normal",
            "lecun_truncated_normal",
            "orthogonal",
            "jax.he_normal",
            "keras.GlorotNormal",
        ):
            cases.append(
                {
                    "scheme": name,
                    "params": {},
                    "layout": _layout_for(name).value,
                    "shape": [33, 17],
                    "dtype": dtype,
                    "seed": 7,
                }
            )
    big = [300, 500]  # 150 000 elements: three blocks, the last one partial
    for name, params in (
        ("normal", {}),
        ("uniform", {"low": -3.0, "high": 5.0}),
        ("truncated_normal", {}),
        ("truncated_normal", {"a": 0.5, "b": 0.7}),
        ("truncated_normal", {"a": 3.0, "b": 9.0}),
        ("truncated_normal", {"mean": 1.0, "std": 2.0, "a": -5.0, "b": -4.5, "bounds": "absolute"}),
    ):
        for dtype in ("float32", "float64"):
            cases.append(
                {
                    "scheme": name,
                    "params": params,
                    "layout": "torch",
                    "shape": big,
                    "dtype": dtype,
                    "seed": 123456789,
                }
            )
    for seed in (0, 1, 2**32, 2**64 - 1):
        cases.append(
            {
                "scheme": "he_uniform",
                "params": {},
                "layout": "torch",
                "shape": [10, 10],
                "dtype": "float32",
                "seed": seed,
            }
        )
    cases.append(
        {
            "scheme": "orthogonal",
            "params": {"gain": 2.0},
            "layout": "keras",
            "shape": [3, 3, 16, 8],
            "dtype": "float64",
            "seed": 5,
        }
    )
    return cases


def layer_cases() -> list[dict[str, Any]]:
    """Framework defaults for whole layers (names are part of the stream key)."""
    return [
        {"kind": "dense", "layer": {"in_features": 784, "out_features": 256}, "layout": "torch"},
        {
            "kind": "conv2d",
            "layer": {"in_channels": 3, "out_channels": 16, "kernel_size": 3},
            "layout": "keras",
        },
        {
            "kind": "lstm",
            "layer": {"input_size": 10, "hidden_size": 20, "num_layers": 2, "bidirectional": True},
            "layout": "torch",
        },
        {"kind": "lstm", "layer": {"input_size": 10, "hidden_size": 20}, "layout": "keras"},
        {"kind": "gru", "layer": {"input_size": 10, "hidden_size": 20}, "layout": "jax"},
        {
            "kind": "embedding",
            "layer": {"num_embeddings": 100, "embedding_dim": 16, "padding_idx": 0},
            "layout": "jax",
        },
        {"kind": "batch_norm", "layer": {"num_features": 8}, "layout": "torch"},
    ]


def digest(array: np.ndarray[Any, Any]) -> str:
    data = np.ascontiguousarray(array)
    if data.dtype.byteorder == ">":
        data = data.byteswap().view(data.dtype.newbyteorder("<"))
    return hashlib.sha256(data.tobytes()).hexdigest()


def tensor_plan(case: dict[str, Any]) -> TensorPlan:
    layer = make_layer("tensor", {"shape": case["shape"]})
    scheme = resolve_scheme(case["scheme"], case["params"])
    (plan,) = plan_layer(
        layer,
        layout=Layout(case["layout"]),
        dtype=DType(case["dtype"]),
        levels=(SchemeChoice(scheme=scheme),),
    )
    return plan


def compute_all() -> dict[str, str]:
    """Key -> sha256 for every case (what the tests compare with the frozen file)."""
    out: dict[str, str] = {}
    for case in tensor_cases():
        out[json.dumps(case, sort_keys=True)] = digest(
            generate_tensor(tensor_plan(case), case["seed"])
        )
    for case in layer_cases():
        plans = plan_layer(make_layer(case["kind"], case["layer"]), layout=Layout(case["layout"]))
        for plan in plans:
            key = json.dumps({**case, "tensor": plan.name}, sort_keys=True)
            out[key] = digest(generate_tensor(plan, 2024))
    return out


def load() -> dict[str, str]:
    data: dict[str, str] = json.loads(GOLDEN_FILE.read_text())
    return data


if __name__ == "__main__":
    hashes = compute_all()
    if sys.argv[1:] == ["--write"]:
        GOLDEN_FILE.write_text(json.dumps(hashes, indent=1, sort_keys=True) + "\n")
        print(f"wrote {len(hashes)} hashes to {GOLDEN_FILE}")
    else:
        print(json.dumps(hashes, indent=1, sort_keys=True))
