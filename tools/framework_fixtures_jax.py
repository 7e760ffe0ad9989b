"""Write the JAX/Flax fixtures under tests/fixtures/jax/ (run with .venv-frameworks' python).

    .venv-frameworks/bin/python tools/framework_fixtures_jax.py [--out tests/fixtures/jax]

Each fixture is what live jax 0.10.2 / flax 0.12.8 return for one spec and seed, saved as
one ``.npy`` per tensor, plus ``manifest.json``: the versions, the flags (x64 off,
partitionable Threefry on), and per fixture the seed, the weightinit request that reproduces
it, and per tensor its file, sha256, ``exactness`` and, when approximate, the ``max_ulp``
measured against weightinit's own values (imported from this checkout: numpy only). The
shared ``tools/make_framework_fixtures.py`` may call :func:`write_fixtures`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SEEDS = (0, 42)
Arrays = dict[str, Any]


def _specs() -> list[tuple[str, dict[str, Any], Callable[[int], Arrays]]]:
    """(id, weightinit request, live JAX/Flax function of the seed -> {tensor name: array})."""
    import flax.linen as nn
    import jax
    import jax.numpy as jnp

    init = jax.nn.initializers
    key = jax.random.key

    def tensor(shape: list[int], scheme: object) -> dict[str, Any]:
        return {"layout": "jax", "layer": {"kind": "tensor", "shape": shape}, "scheme": scheme}

    def flax(layer: dict[str, Any]) -> dict[str, Any]:
        return {"layout": "jax", "layer": layer}

    def params(tree: Any, prefix: str = "") -> Arrays:
        out: Arrays = {}
        for name, value in tree.items():
            if isinstance(value, dict):
                out.update(params(value, f"{prefix}{name}."))
            else:
                out[prefix + name] = value
        return out

    lstm = nn.LSTMCell(8)
    return [
        (
            "random_uniform",
            tensor([3, 50], {"name": "jax.uniform", "scale": 1.0}),
            lambda s: {"weight": jax.random.uniform(key(s), (3, 50))},
        ),
        (
            "random_uniform_minmax",
            tensor([100], {"name": "uniform", "low": -0.3, "high": 0.7}),
            lambda s: {"weight": jax.random.uniform(key(s), (100,), minval=-0.3, maxval=0.7)},
        ),
        (
            "random_normal",
            tensor([4, 60], {"name": "jax.normal", "stddev": 1.0}),
            lambda s: {"weight": jax.random.normal(key(s), (4, 60))},
        ),
        (
            "glorot_uniform",
            tensor([64, 32], "jax.glorot_uniform"),
            lambda s: {"weight": init.glorot_uniform()(key(s), (64, 32))},
        ),
        (
            "he_uniform",
            tensor([3, 3, 16, 32], "jax.he_uniform"),
            lambda s: {"weight": init.he_uniform()(key(s), (3, 3, 16, 32))},
        ),
        (
            "lecun_normal",
            tensor([50, 40], "jax.lecun_normal"),
            lambda s: {"weight": init.lecun_normal()(key(s), (50, 40))},
        ),
        (
            "truncated_normal",
            tensor([30, 20], {"name": "jax.truncated_normal", "stddev": 0.02}),
            lambda s: {"weight": init.truncated_normal(0.02)(key(s), (30, 20))},
        ),
        (
            "flax_dense",
            flax({"kind": "dense", "in_features": 20, "out_features": 30}),
            lambda s: params(nn.Dense(30).init(key(s), jnp.ones((1, 20)))["params"]),
        ),
        (
            "flax_conv",
            flax({"kind": "conv2d", "in_channels": 4, "out_channels": 8, "kernel_size": 3}),
            lambda s: params(nn.Conv(8, (3, 3)).init(key(s), jnp.ones((1, 5, 5, 4)))["params"]),
        ),
        (
            "flax_embed",
            flax({"kind": "embedding", "num_embeddings": 50, "embedding_dim": 16}),
            lambda s: params(nn.Embed(50, 16).init(key(s), jnp.zeros((1,), jnp.int32))["params"]),
        ),
        (
            "flax_lstm_cell",
            flax({"kind": "lstm", "input_size": 6, "hidden_size": 8}),
            lambda s: params(
                lstm.init(key(s), lstm.initialize_carry(key(0), (1, 6)), jnp.ones((1, 6)))["params"]
            ),
        ),
    ]


def ulp_distance(a: np.ndarray, b: np.ndarray) -> int:
    """Largest distance in float32 units in the last place (0 when identical)."""
    ia = a.astype(np.float32).view(np.int32).astype(np.int64)
    ib = b.astype(np.float32).view(np.int32).astype(np.int64)
    ia = np.where(ia < 0, -(1 << 31) - ia, ia)  # monotonic over the sign
    ib = np.where(ib < 0, -(1 << 31) - ib, ib)
    return int(np.abs(ia - ib).max()) if a.size else 0


def _service(request: dict[str, Any], seed: int) -> Arrays:
    sys.path.insert(0, str(ROOT))
    from app.core.initialize import initialize_layer

    layer = dict(request["layer"])
    kind = layer.pop("kind")
    return initialize_layer(
        kind,
        layer,
        seed=seed,
        scheme=request.get("scheme"),
        layout="jax",
        algorithm="jax-threefry",
    )


def write_fixtures(out: Path) -> dict[str, Any]:
    """Write every fixture and the manifest into ``out``; returns the manifest."""
    import flax
    import jax
    import jaxlib

    assert jax.config.jax_threefry_partitionable and not jax.config.jax_enable_x64
    out.mkdir(parents=True, exist_ok=True)
    fixtures = []
    for ident, request, live in _specs():
        for seed in SEEDS:
            ours = _service(request, seed)
            tensors = {}
            for name, value in live(seed).items():
                array = np.asarray(value)
                file = f"{ident}_s{seed}_{name.replace('.', '_')}.npy"
                np.save(out / file, array, allow_pickle=False)
                distance = ulp_distance(array, np.asarray(ours[name]))
                entry: dict[str, Any] = {
                    "file": file,
                    "shape": list(array.shape),
                    "sha256": hashlib.sha256(array.tobytes()).hexdigest(),
                    "exactness": "exact" if distance == 0 else "approximate",
                }
                if distance:
                    entry["max_ulp"] = distance
                tensors[name] = entry
            fixtures.append(
                {
                    "id": ident,
                    "seed": seed,
                    "request": {**request, "seed": seed},
                    "tensors": tensors,
                }
            )
    manifest = {
        "versions": {
            "jax": jax.__version__,
            "jaxlib": jaxlib.__version__,
            "flax": flax.__version__,
        },
        "flags": {"jax_threefry_partitionable": True, "jax_enable_x64": False},
        "dtype": "float32",
        "algorithm": "jax-threefry",
        "fixtures": fixtures,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return manifest


def measure_orthogonal(seeds: range = range(5)) -> int:
    """Largest ulp distance of jax.nn.initializers.orthogonal() from weightinit's over square
    and rectangular matrices up to 64 x 64 (the figure behind ORTHOGONAL_MAX_ULP)."""
    import jax

    worst = 0
    for shape in [(2, 2), (3, 5), (8, 8), (16, 4), (32, 32), (20, 64), (64, 64)]:
        for seed in seeds:
            live = np.asarray(jax.nn.initializers.orthogonal()(jax.random.key(seed), shape))
            request = {
                "layer": {"kind": "tensor", "shape": list(shape)},
                "scheme": "jax.orthogonal",
            }
            ours = np.asarray(_service(request, seed)["weight"])
            worst = max(worst, ulp_distance(live, ours))
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "tests" / "fixtures" / "jax")
    args = parser.parse_args()
    manifest = write_fixtures(args.out)
    approx = [
        (f["id"], f["seed"], n, t["max_ulp"])
        for f in manifest["fixtures"]
        for n, t in f["tensors"].items()
        if t["exactness"] == "approximate"
    ]
    print(f"wrote {len(manifest['fixtures'])} fixtures; approximate tensors: {approx}")
    print(f"orthogonal up to 64 x 64: max_ulp {measure_orthogonal()}")


if __name__ == "__main__":
    main()
