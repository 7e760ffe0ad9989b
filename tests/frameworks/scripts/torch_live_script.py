"""Run in .venv-frameworks by test_torch_live.py: for each case, ``torch.manual_seed(seed)``,
build its layers (an ``nn.ModuleDict`` in request order, with the case's dtype), then apply
the case's re-initialisations in state_dict order, and print
{case: {tensor: hex of the raw bytes}} as JSON on stdout (bfloat16 as its 16-bit pattern).

A layer of kind ``tensor`` is ``torch.empty(shape, dtype)`` filled by ``init`` (a
``torch.nn.init`` function name and its keyword arguments), registered as the parameter
``<layer>.weight``, the service's name for a raw tensor of ``/v1/models``.
"""

import json
import sys

import torch
from torch import nn


def conv(cls):
    return lambda a, d: cls(
        a["in_channels"],
        a["out_channels"],
        a["kernel_size"],
        groups=a.get("groups", 1),
        bias=a.get("bias", True),
        dtype=d,
    )


def recurrent(cls):
    def build(a, d):
        extra = {"proj_size": a["proj_size"]} if a.get("proj_size") else {}
        if cls is nn.RNN:
            extra["nonlinearity"] = a.get("_nonlinearity", "tanh")  # torch only: same draws
        return cls(
            a["input_size"],
            a["hidden_size"],
            num_layers=a.get("num_layers", 1),
            bias=a.get("bias", True),
            bidirectional=a.get("bidirectional", False),
            dtype=d,
            **extra,
        )

    return build


def transformer(cls):
    return lambda a, d: cls(
        a["d_model"],
        a["nhead"],
        dim_feedforward=a.get("dim_feedforward", 2048),
        bias=a.get("bias", True),
        norm_first=a.get("norm_first", False),
        dtype=d,
    )


BUILD = {
    "dense": lambda a, d: nn.Linear(
        a["in_features"], a["out_features"], bias=a.get("bias", True), dtype=d
    ),
    "bilinear": lambda a, d: nn.Bilinear(
        a["in1_features"], a["in2_features"], a["out_features"], bias=a.get("bias", True), dtype=d
    ),
    "conv1d": conv(nn.Conv1d),
    "conv2d": conv(nn.Conv2d),
    "conv3d": conv(nn.Conv3d),
    "conv_transpose1d": conv(nn.ConvTranspose1d),
    "conv_transpose2d": conv(nn.ConvTranspose2d),
    "conv_transpose3d": conv(nn.ConvTranspose3d),
    "embedding": lambda a, d: nn.Embedding(
        a["num_embeddings"], a["embedding_dim"], padding_idx=a.get("padding_idx"), dtype=d
    ),
    "rnn": recurrent(nn.RNN),
    "lstm": recurrent(nn.LSTM),
    "gru": recurrent(nn.GRU),
    "multihead_attention": lambda a, d: nn.MultiheadAttention(
        a["embed_dim"],
        a["num_heads"],
        bias=a.get("bias", True),
        add_bias_kv=a.get("add_bias_kv", False),
        kdim=a.get("kdim"),
        vdim=a.get("vdim"),
        dtype=d,
    ),
    "transformer_encoder_layer": transformer(nn.TransformerEncoderLayer),
    "transformer_decoder_layer": transformer(nn.TransformerDecoderLayer),
    "layer_norm": lambda a, d: nn.LayerNorm(a["normalized_shape"], dtype=d),
    "batch_norm": lambda a, d: nn.BatchNorm1d(a["num_features"], dtype=d),
    "group_norm": lambda a, d: nn.GroupNorm(a["num_groups"], a["num_channels"], dtype=d),
    "rms_norm": lambda a, d: nn.RMSNorm(a["normalized_shape"], dtype=d),
    "prelu": lambda a, d: nn.PReLU(a.get("num_parameters", 1), dtype=d),
}


class Raw(nn.Module):
    """A raw tensor: ``torch.empty(shape, dtype)`` then its init call."""

    def __init__(self, a, d):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(a["shape"], dtype=d), requires_grad=False)
        with torch.no_grad():
            getattr(nn.init, a["init"])(self.weight, **a.get("kwargs", {}))


def raw_bytes(t: torch.Tensor) -> str:
    t = t.detach().contiguous()
    if t.dtype == torch.bfloat16:
        t = t.view(torch.int16)
    return t.numpy().tobytes().hex()


out = {}
for case in json.load(sys.stdin):
    dtype = getattr(torch, case["dtype"])
    torch.manual_seed(case["seed"])
    model = nn.ModuleDict()
    for layer in case["layers"]:
        args = {k: v for k, v in layer["layer"].items() if k != "kind"}
        kind = layer["layer"]["kind"]
        model[layer["name"]] = Raw(args, dtype) if kind == "tensor" else BUILD[kind](args, dtype)
    state = model.state_dict()
    with torch.no_grad():  # the re-init loop: {tensor name: [init function, kwargs]}
        for name, tensor in state.items():
            if name in case.get("reinit", {}):
                fn, kwargs = case["reinit"][name]
                getattr(nn.init, fn)(tensor, **kwargs)
    out[case["id"]] = {n: raw_bytes(t) for n, t in state.items()}
print(json.dumps(out))
