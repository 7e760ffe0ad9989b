"""Run in .venv-frameworks by test_torch_live.py: build each spec after torch.manual_seed and
print {case: {tensor: [dtype, hex of the raw bytes]}} as JSON on stdout."""

import json
import sys

import torch
from torch import nn

BUILD = {
    "dense": lambda a, d: nn.Linear(a["in_features"], a["out_features"], dtype=d),
    "conv2d": lambda a, d: nn.Conv2d(
        a["in_channels"], a["out_channels"], a["kernel_size"], dtype=d
    ),
    "embedding": lambda a, d: nn.Embedding(
        a["num_embeddings"], a["embedding_dim"], padding_idx=a["padding_idx"], dtype=d
    ),
    "lstm": lambda a, d: nn.LSTM(
        a["input_size"],
        a["hidden_size"],
        num_layers=a["num_layers"],
        bidirectional=a["bidirectional"],
        dtype=d,
    ),
    "multihead_attention": lambda a, d: nn.MultiheadAttention(
        a["embed_dim"], a["num_heads"], dtype=d
    ),
}

out = {}
for case in json.load(sys.stdin):
    dtype = getattr(torch, case["dtype"])
    torch.manual_seed(case["seed"])
    model = nn.ModuleDict(
        {
            layer["name"]: BUILD[layer["layer"]["kind"]](
                {k: v for k, v in layer["layer"].items() if k != "kind"}, dtype
            )
            for layer in case["layers"]
        }
    )
    out[case["id"]] = {n: t.detach().numpy().tobytes().hex() for n, t in model.state_dict().items()}
print(json.dumps(out))
