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


def torch_model() -> nn.Module:
    """The issue's model for the torch-cpu check: Linear, Conv2d, Embedding(padding_idx),
    LSTM, GRU, MultiheadAttention, TransformerEncoderLayer and norms."""
    return nn.Sequential(
        nn.Linear(6, 8),
        nn.Conv2d(3, 4, 3),
        nn.Embedding(9, 5, padding_idx=2),
        nn.LSTM(5, 7, num_layers=2, bidirectional=True),
        nn.GRU(4, 6),
        nn.MultiheadAttention(8, 2, add_bias_kv=True),
        nn.TransformerEncoderLayer(8, 2, dim_feedforward=12),
        nn.LayerNorm(8),
        nn.BatchNorm1d(4),
        nn.GroupNorm(2, 4),
    )


class Later(nn.Module):
    """Constructs ``b`` before ``a`` but registers ``a`` first: registration order is not
    construction order, which a module object does not record (the adapter cannot match)."""

    def __init__(self) -> None:
        super().__init__()
        b = nn.Linear(3, 3)
        self.a = nn.Linear(3, 3)
        self.b = b


def within_claims(
    got: dict[str, np.ndarray], ref: dict[str, np.ndarray], digests: dict[str, dict[str, object]]
) -> bool:
    """Exact tensors byte for byte; approximate ones within their max_ulp (or, unbounded,
    within a few float32 eps)."""
    if got.keys() != ref.keys():
        return False
    for name, value in got.items():
        claim = digests[name]
        if claim["exactness"] == "exact" or name.endswith("num_batches_tracked"):
            if value.tobytes() != ref[name].tobytes():
                return False
            continue
        a, b = value.astype(np.float64), ref[name].astype(np.float64)
        bound = claim["max_ulp"]
        spacing = np.spacing(np.abs(ref[name])).astype(np.float64)
        if bound is not None and (np.abs(a - b) / spacing).max(initial=0) > float(bound):
            return False
    return True


def torch_cpu_checks(client: Client) -> dict[str, object]:
    checks: dict[str, object] = {}
    for seed in (0, 2**40 + 3):
        torch.manual_seed(seed)
        ref = state(torch_model())
        body = {"seed": seed, "algorithm": "torch-cpu", "layers": torch_layers(torch_model())}
        digests = {t["name"]: t for t in client.digests(body, op="models", blocks=False)["tensors"]}
        got = state(init_torch_module(torch_model(), seed=seed, algorithm="torch-cpu",
                                      client=client))  # fmt: skip
        checks[f"torch-cpu seed {seed}: equals torch.manual_seed then construction"] = (
            within_claims(got, ref, digests)
        )
        checks[f"torch-cpu seed {seed}: approximate only where normal_ runs on < 16 elements"] = {
            n for n, t in digests.items() if t["exactness"] != "exact"
        } == {"5.bias_k", "5.bias_v"}
        checks[f"torch-cpu seed {seed}: on this machine, every byte"] = same(got, ref)
        with torch.device("meta"):
            meta = torch_model()
        init_torch_module(meta, seed=seed, algorithm="torch-cpu", client=client)
        checks[f"torch-cpu seed {seed}: a meta-device model alike"] = same(state(meta), ref)
    stack = lambda: nn.ModuleDict({  # noqa: E731 - built twice, after the same seed
        "enc": nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 12), 2, nn.LayerNorm(8)),
        "dec": nn.TransformerDecoder(nn.TransformerDecoderLayer(8, 2, 12), 3),
        "head": nn.Linear(8, 3),
    })  # fmt: skip
    torch.manual_seed(11)
    ref = state(stack())
    got = state(init_torch_module(stack(), seed=11, algorithm="torch-cpu", client=client))
    checks["TransformerEncoder/Decoder: one drawn layer, deep-copied, as torch"] = same(got, ref)
    try:
        init_torch_module(nn.Transformer(8, 2, 1, 1, 12), seed=1, algorithm="torch-cpu",
                          client=client)  # fmt: skip
        checks["nn.Transformer is refused under torch-cpu"] = False
    except TypeError as exc:
        checks["nn.Transformer is refused under torch-cpu"] = "xavier_uniform_" in str(exc)
    torch.manual_seed(5)
    ref = state(Later())
    got = state(init_torch_module(Later(), seed=5, algorithm="torch-cpu", client=client))
    checks[
        "a module registering children out of construction order differs (documented)"
    ] = not same(got, ref)
    return checks


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
        checks |= torch_cpu_checks(client)
    print(json.dumps(checks))


if __name__ == "__main__":
    main()
