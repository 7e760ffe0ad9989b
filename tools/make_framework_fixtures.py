"""Write the framework-exact fixtures: what torch and JAX/Flax themselves produce.

Run with the frameworks environment (``make frameworks``), never the service's::

    .venv-frameworks/bin/python tools/make_framework_fixtures.py --framework torch|jax|all

For each case and seed it builds the module (or calls the init function) after
``torch.manual_seed(seed)`` and writes every tensor as ``tests/fixtures/torch/<case>/<name>.npy``
plus ``tests/fixtures/torch/manifest.json`` (framework versions, CPU capability, seeds, the
case's weightinit request and its torch code). The tests (``tests/api/test_torch_fixtures.py``)
replay each request through the HTTP API: exact tensors must have torch's sha256, approximate
ones must lie within the ``max_ulp`` the service states. ``--framework jax`` writes
``tests/fixtures/jax/`` with :func:`framework_fixtures_jax.write_fixtures` (its cases, files and
manifest are that module's; re-running it reproduces the committed files byte for byte);
``all`` writes every framework's.

The torch cases are literal rows below: a name, the ``/v1/models`` body (seed and dtype
filled in per run) and the torch code that must give the same tensors.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import json
import platform
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SEEDS = (0, 20261123)
DTYPES = ("float32", "float64")
# cases made in other dtypes (bfloat16 is saved as its uint16 bit pattern: numpy has no
# bfloat16, and the fixture test compares raw bytes)
CASE_DTYPES = {"half_precision": ("float16", "bfloat16")}


def _layer(name: str, kind: str, **args: Any) -> dict[str, Any]:
    return {"name": name, "layer": {"kind": kind, **args}}


def _tensor(name: str, shape: list[int], scheme: Any) -> dict[str, Any]:
    return {"name": name, "layer": {"kind": "tensor", "shape": shape}, "scheme": scheme}


# (case, request layers, extra request fields, torch code building {name: tensor})
# The code runs after torch.manual_seed(seed) with ``nn``, ``init``, ``torch`` and ``dtype``.
TORCH_CASES: tuple[tuple[str, list[dict[str, Any]], dict[str, Any], str], ...] = (
    (
        "linear",
        [_layer("fc", "dense", in_features=20, out_features=30)],
        {},
        "m = nn.ModuleDict({'fc': nn.Linear(20, 30, dtype=dtype)})",
    ),
    (
        "conv2d",
        [_layer("conv", "conv2d", in_channels=3, out_channels=8, kernel_size=3)],
        {},
        "m = nn.ModuleDict({'conv': nn.Conv2d(3, 8, 3, dtype=dtype)})",
    ),
    (
        "conv_transpose2d",
        [_layer("up", "conv_transpose2d", in_channels=4, out_channels=6, kernel_size=3)],
        {},
        "m = nn.ModuleDict({'up': nn.ConvTranspose2d(4, 6, 3, dtype=dtype)})",
    ),
    (
        "embedding_padding",
        [
            _layer("emb", "embedding", num_embeddings=10, embedding_dim=12, padding_idx=3),
            _layer("small", "embedding", num_embeddings=3, embedding_dim=4, padding_idx=0),
        ],
        {},
        "m = nn.ModuleDict({'emb': nn.Embedding(10, 12, padding_idx=3, dtype=dtype),"
        " 'small': nn.Embedding(3, 4, padding_idx=0, dtype=dtype)})",
    ),
    (
        "lstm_2layer_bidirectional",
        [_layer("rnn", "lstm", input_size=8, hidden_size=16, num_layers=2, bidirectional=True)],
        {},
        "m = nn.ModuleDict({'rnn': nn.LSTM(8, 16, num_layers=2, bidirectional=True, dtype=dtype)})",
    ),
    (
        "gru",
        [_layer("rnn", "gru", input_size=8, hidden_size=12)],
        {},
        "m = nn.ModuleDict({'rnn': nn.GRU(8, 12, dtype=dtype)})",
    ),
    (
        "mlp_3layer",
        [
            _layer("0", "dense", in_features=20, out_features=32),
            _layer("2", "dense", in_features=32, out_features=32),
            _layer("4", "dense", in_features=32, out_features=10),
        ],
        {},
        "m = nn.Sequential(nn.Linear(20, 32, dtype=dtype), nn.ReLU(),"
        " nn.Linear(32, 32, dtype=dtype), nn.ReLU(), nn.Linear(32, 10, dtype=dtype))",
    ),
    (
        "multihead_attention",
        [
            _layer("attn", "multihead_attention", embed_dim=16, num_heads=4),
            _layer(
                "cross",
                "multihead_attention",
                embed_dim=16,
                num_heads=4,
                kdim=8,
                vdim=8,
                add_bias_kv=True,
            ),
        ],
        {},
        "m = nn.ModuleDict({'attn': nn.MultiheadAttention(16, 4, dtype=dtype),"
        " 'cross': nn.MultiheadAttention(16, 4, kdim=8, vdim=8, add_bias_kv=True, dtype=dtype)})",
    ),
    (
        "transformer_encoder_layer",
        [_layer("enc", "transformer_encoder_layer", d_model=16, nhead=4, dim_feedforward=32)],
        {},
        "m = nn.ModuleDict({'enc': nn.TransformerEncoderLayer(16, 4, dim_feedforward=32,"
        " dtype=dtype)})",
    ),
    (
        "linear_he_uniform_reinit",
        [_layer("fc", "dense", in_features=20, out_features=30)],
        {"scheme": "he_uniform"},
        "m = nn.ModuleDict({'fc': nn.Linear(20, 30, dtype=dtype)})\n"
        "init.kaiming_uniform_(m['fc'].weight, nonlinearity='relu')",
    ),
    (
        "kaiming_normal_small_and_large",
        [
            _tensor("small", [3, 4], "torch.kaiming_normal_"),
            _tensor("large", [8, 5], "torch.kaiming_normal_"),
        ],
        {},
        "m = {'small': init.kaiming_normal_(torch.empty(3, 4, dtype=dtype)),"
        " 'large': init.kaiming_normal_(torch.empty(8, 5, dtype=dtype))}",
    ),
    (
        "trunc_normal_small_and_large",
        [
            _tensor("small", [3, 4], {"name": "torch.trunc_normal_", "std": 0.02}),
            _tensor("large", [6, 7], {"name": "torch.trunc_normal_", "std": 0.02}),
            _tensor("rejecting", [10, 10], "torch.trunc_normal_"),
            _tensor("after", [5, 5], "torch.uniform_"),
        ],
        {},
        "m = {'small': init.trunc_normal_(torch.empty(3, 4, dtype=dtype), std=0.02),"
        " 'large': init.trunc_normal_(torch.empty(6, 7, dtype=dtype), std=0.02),"
        " 'rejecting': init.trunc_normal_(torch.empty(10, 10, dtype=dtype)),"
        " 'after': init.uniform_(torch.empty(5, 5, dtype=dtype))}",
    ),
    (
        "cached_normal",
        [
            _tensor("a", [5], "torch.normal_"),
            _tensor("b", [3], "torch.normal_"),
            _tensor("c", [20], "torch.normal_"),
            _tensor("d", [1], "torch.normal_"),
        ],
        {},
        "m = {k: init.normal_(torch.empty(n, dtype=dtype))"
        " for k, n in (('a', 5), ('b', 3), ('c', 20), ('d', 1))}",
    ),
    (
        "conv1d_conv3d",
        [
            _layer("c1", "conv1d", in_channels=4, out_channels=6, kernel_size=3),
            _layer("c3", "conv3d", in_channels=2, out_channels=4, kernel_size=[1, 2, 3], groups=2),
        ],
        {},
        "m = nn.ModuleDict({'c1': nn.Conv1d(4, 6, 3, dtype=dtype),"
        " 'c3': nn.Conv3d(2, 4, (1, 2, 3), groups=2, dtype=dtype)})",
    ),
    (
        "conv_transpose1d_3d",
        [
            _layer("t1", "conv_transpose1d", in_channels=4, out_channels=6, kernel_size=3),
            _layer("t3", "conv_transpose3d", in_channels=2, out_channels=3, kernel_size=2),
        ],
        {},
        "m = nn.ModuleDict({'t1': nn.ConvTranspose1d(4, 6, 3, dtype=dtype),"
        " 't3': nn.ConvTranspose3d(2, 3, 2, dtype=dtype)})",
    ),
    (
        "rnn_tanh_relu",
        [
            _layer("tanh", "rnn", input_size=5, hidden_size=7, num_layers=2),
            _layer("relu", "rnn", input_size=3, hidden_size=4, bidirectional=True),
        ],
        {},
        "m = nn.ModuleDict({'tanh': nn.RNN(5, 7, num_layers=2, dtype=dtype),"
        " 'relu': nn.RNN(3, 4, nonlinearity='relu', bidirectional=True, dtype=dtype)})",
    ),
    (
        "lstm_proj",
        [
            _layer(
                "rnn",
                "lstm",
                input_size=6,
                hidden_size=8,
                num_layers=2,
                proj_size=3,
                bidirectional=True,
            )
        ],
        {},
        "m = nn.ModuleDict({'rnn': nn.LSTM(6, 8, num_layers=2, proj_size=3, bidirectional=True,"
        " dtype=dtype)})",
    ),
    (
        "bilinear_prelu",
        [
            _layer("bil", "bilinear", in1_features=3, in2_features=4, out_features=5),
            _layer("act", "prelu", num_parameters=5),
        ],
        {},
        "m = nn.ModuleDict({'bil': nn.Bilinear(3, 4, 5, dtype=dtype),"
        " 'act': nn.PReLU(5, dtype=dtype)})",
    ),
    (
        "transformer_decoder_layer",
        [_layer("dec", "transformer_decoder_layer", d_model=8, nhead=2, dim_feedforward=12)],
        {},
        "m = nn.ModuleDict({'dec': nn.TransformerDecoderLayer(8, 2, dim_feedforward=12,"
        " dtype=dtype)})",
    ),
    (
        "half_precision",
        [
            _layer("fc", "dense", in_features=6, out_features=5),
            _layer("emb", "embedding", num_embeddings=5, embedding_dim=8, padding_idx=1),
            _tensor("n24", [24], "torch.normal_"),
            _tensor("n40", [5, 8], {"name": "torch.normal_", "mean": 0.5, "std": 2.0}),
            _tensor("after", [3, 3], "torch.uniform_"),
        ],
        {},
        "m = nn.ModuleDict({'fc': nn.Linear(6, 5, dtype=dtype),"
        " 'emb': nn.Embedding(5, 8, padding_idx=1, dtype=dtype)}).state_dict()\n"
        "m |= {'n24.weight': init.normal_(torch.empty(24, dtype=dtype)),"
        " 'n40.weight': init.normal_(torch.empty(5, 8, dtype=dtype), 0.5, 2.0),"
        " 'after.weight': init.uniform_(torch.empty(3, 3, dtype=dtype))}",
    ),
    (
        "sparse",
        [
            _tensor("s", [12, 5], {"name": "torch.sparse_", "sparsity": 0.25}),
            _tensor("after", [3], "torch.normal_"),
        ],
        {},
        "m = {'s': init.sparse_(torch.empty(12, 5, dtype=dtype), 0.25),"
        " 'after': init.normal_(torch.empty(3, dtype=dtype))}",
    ),
    (
        "trunc_normal_narrow",
        [
            _tensor("tail", [6, 7], {"name": "torch.trunc_normal_", "a": 2.0, "b": 3.0}),
            _tensor(
                "shifted",
                [4, 5],
                {"name": "torch.trunc_normal_", "mean": 1.0, "std": 0.2, "a": -0.1, "b": 0.8},
            ),
            _tensor("after", [5, 5], "torch.uniform_"),
        ],
        {},
        "m = {'tail': init.trunc_normal_(torch.empty(6, 7, dtype=dtype), a=2.0, b=3.0),"
        " 'shifted': init.trunc_normal_(torch.empty(4, 5, dtype=dtype), 1.0, 0.2, -0.1, 0.8),"
        " 'after': init.uniform_(torch.empty(5, 5, dtype=dtype))}",
    ),
    (
        "orthogonal",
        [_layer("fc", "dense", in_features=12, out_features=8)],
        {"scheme": "torch.orthogonal_"},
        "m = nn.ModuleDict({'fc': nn.Linear(12, 8, dtype=dtype)})\n"
        "init.orthogonal_(m['fc'].weight)",
    ),
)


def _state(code: str, seed: int, dtype_name: str) -> dict[str, Any]:
    import torch
    from torch import nn
    from torch.nn import init

    dtype = getattr(torch, dtype_name)
    torch.manual_seed(seed)
    scope: dict[str, Any] = {"nn": nn, "init": init, "torch": torch, "dtype": dtype}
    with torch.no_grad():
        exec(code, scope)  # the literal rows above
    m = scope["m"]
    # raw tensors are one-tensor layers of kind "tensor": their tensor is "<layer>.weight"
    if isinstance(m, nn.Module):
        tensors = m.state_dict()
    else:
        tensors = {k if "." in k else f"{k}.weight": t for k, t in m.items()}
    return {name: _numpy(t) for name, t in tensors.items()}


def _numpy(t: Any) -> Any:
    import torch

    t = t.detach().contiguous()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().view("uint16")
    return t.numpy()


def make_torch(out: Path) -> dict[str, Any]:
    import numpy as np
    import torch

    cases = []
    for case, layers, extra, code in TORCH_CASES:
        for seed in SEEDS:
            for dtype in CASE_DTYPES.get(case, DTYPES):
                key = f"{case}-s{seed}-{dtype}"
                folder = out / key
                folder.mkdir(parents=True, exist_ok=True)
                tensors = []
                for name, array in _state(code, seed, dtype).items():
                    path = folder / f"{name}.npy"
                    np.save(path, array)
                    raw = np.ascontiguousarray(array).tobytes()
                    tensors.append(
                        {
                            "name": name,
                            "file": str(path.relative_to(out)),
                            "sha256": hashlib.sha256(raw).hexdigest(),
                        }
                    )
                request = {
                    "seed": seed,
                    "dtype": dtype,
                    "algorithm": "torch-cpu",
                    "layers": layers,
                    **extra,
                }
                cases.append({"case": key, "request": request, "torch": code, "tensors": tensors})
    return {
        "framework": "torch",
        "versions": {
            "torch": torch.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "machine": platform.machine(),
        "seeds": list(SEEDS),
        "cases": cases,
    }


def write_torch(out: Path) -> int:
    """The torch fixtures and their manifest; the number of cases."""
    manifest = make_torch(out)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return len(manifest["cases"])


def write_jax(out: Path) -> int:
    """The JAX/Flax fixtures (tools/framework_fixtures_jax.py writes files and manifest)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    fixtures = importlib.import_module("framework_fixtures_jax")
    manifest: dict[str, Any] = fixtures.write_fixtures(out)
    return len(manifest["fixtures"])


MAKERS: dict[str, Callable[[Path], int]] = {"torch": write_torch, "jax": write_jax}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--framework", choices=(*MAKERS, "all"), default="all")
    parser.add_argument("--out", type=Path, default=ROOT / "tests" / "fixtures")
    args = parser.parse_args(argv)
    names = list(MAKERS) if args.framework == "all" else [args.framework]
    for name in names:
        folder = args.out / name
        print(f"{name}: {MAKERS[name](folder)} cases -> {folder}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
