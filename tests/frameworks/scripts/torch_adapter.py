"""Run in .venv-frameworks: fill real torch modules with ``init_torch_module`` from the server
at ``argv[1]`` and print one JSON line of named checks (tests/frameworks/test_torch_adapter.py).
"""

from __future__ import annotations

import json
import sys

import numpy as np
import torch
from torch import nn
from weightinit_client import Client, init_torch_module, torch_layers


def build() -> nn.Module:
    return nn.Sequential(
        nn.Embedding(10, 8, padding_idx=0),
        nn.Linear(8, 16),
        nn.ReLU(),
        nn.Conv1d(16, 4, 3),
        nn.LSTM(4, 6, num_layers=2, bidirectional=True, proj_size=2),
        nn.LayerNorm(12),
        nn.BatchNorm1d(12),
        nn.MultiheadAttention(12, 3, add_bias_kv=True),
        nn.TransformerEncoderLayer(12, 2, dim_feedforward=16),
        nn.GRU(3, 5),
        nn.ConvTranspose2d(2, 3, (2, 3)),
        nn.GroupNorm(2, 4),
        nn.PReLU(),
        nn.Bilinear(2, 3, 4),
        nn.RMSNorm(4),
    )


class Custom(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(2, 2)
        self.gate = nn.Parameter(torch.zeros(3))


def state(module: nn.Module) -> dict[str, np.ndarray]:
    return {k: v.detach().cpu().numpy().copy() for k, v in module.state_dict().items()}


def same(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> bool:
    return a.keys() == b.keys() and all(
        a[k].dtype == b[k].dtype and a[k].tobytes() == b[k].tobytes() for k in a
    )


def main() -> None:
    url = sys.argv[1]
    checks: dict[str, object] = {}
    with Client(url) as client:
        model = init_torch_module(build(), seed=7, scheme="he_normal", client=client)
        filled = state(model)
        expected = client.model(torch_layers(build()), seed=7, scheme="he_normal")
        checks["every state_dict entry equals the /v1/models tensor of the same name"] = same(
            filled, {k: np.asarray(v) for k, v in expected.items()}
        )
        checks["the padding row is zero"] = bool((filled["0.weight"][0] == 0).all())
        checks["num_batches_tracked is int64 zero"] = (
            filled["6.num_batches_tracked"].dtype == np.int64
            and int(filled["6.num_batches_tracked"]) == 0
        )
        with torch.device("meta"):
            meta = build()
        init_torch_module(meta, seed=7, scheme="he_normal", client=client)
        checks["a meta-device module is materialised and filled alike"] = same(state(meta), filled)
        double = init_torch_module(build().double(), seed=7, client=client)
        checks["a float64 module gets float64 weights"] = all(
            v.dtype in (np.float64, np.int64) for v in state(double).values()
        )
        leaf = init_torch_module(nn.Linear(3, 2), seed=1, client=client)
        checks["a leaf module keeps its own names"] = sorted(state(leaf)) == ["bias", "weight"]
        try:
            init_torch_module(Custom(), seed=1, client=client)
            checks["an unknown module with parameters is refused, named"] = False
        except TypeError as exc:
            checks["an unknown module with parameters is refused, named"] = "Custom" in str(exc)
    print(json.dumps(checks))


if __name__ == "__main__":
    main()
