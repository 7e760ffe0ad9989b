"""Check the torch layout of the new layer kinds against torch 2.13 itself, bit for bit.

Not part of the test suite (torch is never a dependency): ``PYTHONPATH=.
.venv-bench/bin/python bench/verify_layer_kinds_torch.py`` (``make bench-extras`` builds
.venv-bench). For each module it asserts that weightinit's plans have the module's
``state_dict`` names, order and shapes, torch's fans (``init._calculate_fan_in_and_fan_out``),
and default laws that reproduce torch's own initialiser bit for bit: the tensor torch's function
fills from a seeded generator (each module's ``reset_parameters``: xavier_uniform_,
kaiming_uniform_(a=sqrt(5)), xavier_normal_, uniform_(+-1/sqrt(in1)), ...) equals
``uniform_(low, high)`` / ``normal_(mean, std)`` / a fill with our law's constants and the same
generator. The numbers it prints are the ones tests/core/test_layer_references.py pins.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.nn import init

from app.core.laws import ConstantLaw, CounterLaw, Law, NormalLaw, UniformLaw
from app.core.layers import make_layer
from app.core.planning import plan_layer
from app.core.types import Layout

Fill = Callable[[torch.Tensor, torch.Generator], object]
Rule = Callable[[str], Fill]
SEED = 1234


def xavier_uniform(t: torch.Tensor, g: torch.Generator) -> object:
    return init.xavier_uniform_(t, generator=g)


def xavier_normal(t: torch.Tensor, g: torch.Generator) -> object:
    return init.xavier_normal_(t, generator=g)


def linear_weight(t: torch.Tensor, g: torch.Generator) -> object:
    return init.kaiming_uniform_(t, a=math.sqrt(5), generator=g)  # Linear.reset_parameters


def uniform(bound: float) -> Fill:
    return lambda t, g: init.uniform_(t, -bound, bound, generator=g)


def constant(value: float) -> Fill:
    return lambda t, g: init.constant_(t, value)


def replay(law: Law, shape: tuple[int, ...]) -> torch.Tensor:
    g = torch.Generator().manual_seed(SEED)
    t = torch.empty(shape, dtype=torch.float64)
    if isinstance(law, UniformLaw):
        return t.uniform_(law.low, law.high, generator=g)
    if isinstance(law, NormalLaw):
        return t.normal_(law.mean, law.std, generator=g)
    if isinstance(law, CounterLaw):  # num_batches_tracked: int64 0
        return t.fill_(0)
    assert isinstance(law, ConstantLaw), law
    return t.fill_(law.value)


def torch_fill(fill: Fill, shape: tuple[int, ...]) -> torch.Tensor:
    g = torch.Generator().manual_seed(SEED)
    t = torch.empty(shape, dtype=torch.float64)
    fill(t, g)
    return t


def check(kind: str, fields: dict[str, Any], module: nn.Module, rule: Rule) -> None:
    print(f"{kind} {fields}")
    plans = plan_layer(make_layer(kind, fields), layout=Layout.TORCH)
    state = module.state_dict()
    assert [p.name for p in plans] == list(state), ([p.name for p in plans], list(state))
    for p in plans:
        value = state[p.name]
        assert tuple(value.shape) == p.shape, p.name
        torch_fans = init._calculate_fan_in_and_fan_out(value) if value.dim() >= 2 else None
        ours = None if p.fans is None else (int(p.fans.fan_in), int(p.fans.fan_out))
        # every tensor of rank >= 2 has torch's fans, except a norm's scale, which has none
        # (torch would give a 2-D RMSNorm weight some); a bias carries its weight's
        if torch_fans is not None and not p.role.value.startswith("norm"):
            assert ours == torch_fans, (p.name, ours, torch_fans)
        assert torch.equal(replay(p.law, p.shape), torch_fill(rule(p.name), p.shape)), p.name
        if isinstance(p.law, UniformLaw):  # the module's own values lie in our law's support
            assert value.double().abs().max() <= p.law.high, p.name
        if isinstance(p.law, ConstantLaw):
            assert torch.all(value == torch.tensor(p.law.value, dtype=value.dtype)), p.name
        print(f"  {p.name:32} {p.shape!s:14} {p.role.value:17} fans {ours} {p.law}")


def attention_rule(name: str) -> Fill:
    """MultiheadAttention._reset_parameters; out_proj is a Linear (its bias zeroed)."""
    last = name.rsplit(".", 2)
    key = ".".join(last[-2:]) if "out_proj" in name else last[-1]
    return {
        "in_proj_weight": xavier_uniform,
        "q_proj_weight": xavier_uniform,
        "k_proj_weight": xavier_uniform,
        "v_proj_weight": xavier_uniform,
        "in_proj_bias": constant(0.0),
        "out_proj.bias": constant(0.0),
        "bias_k": xavier_normal,
        "bias_v": xavier_normal,
        "out_proj.weight": linear_weight,
    }[key]


def transformer_rule(d_model: int, feedforward: int) -> Rule:
    def rule(name: str) -> Fill:
        if "attn" in name:
            return attention_rule(name)
        if name.startswith("linear"):
            if name.endswith("weight"):
                return linear_weight
            return uniform(1 / math.sqrt(d_model if name.startswith("linear1") else feedforward))
        return constant(1.0 if name.endswith("weight") else 0.0)

    return rule


def norm_rule(name: str) -> Fill:
    return constant(1.0 if name == "weight" else 0.0)


def main() -> None:
    torch.manual_seed(0)
    check(
        "multihead_attention",
        {"embed_dim": 64, "num_heads": 8},
        nn.MultiheadAttention(64, 8),
        attention_rule,
    )
    check(
        "multihead_attention",
        {"embed_dim": 8, "num_heads": 2, "kdim": 4, "vdim": 6, "add_bias_kv": True},
        nn.MultiheadAttention(8, 2, kdim=4, vdim=6, add_bias_kv=True),
        attention_rule,
    )
    check(
        "multihead_attention",
        {"embed_dim": 8, "num_heads": 2, "bias": False, "add_bias_kv": True},
        nn.MultiheadAttention(8, 2, bias=False, add_bias_kv=True),
        attention_rule,
    )
    layer = {"d_model": 8, "nhead": 2, "dim_feedforward": 16}
    check(
        "transformer_encoder_layer",
        layer,
        nn.TransformerEncoderLayer(8, 2, 16),
        transformer_rule(8, 16),
    )
    check(
        "transformer_decoder_layer",
        {**layer, "norm_first": True},
        nn.TransformerDecoderLayer(8, 2, 16, norm_first=True),
        transformer_rule(8, 16),
    )
    check(
        "transformer_encoder_layer",
        {**layer, "bias": False},
        nn.TransformerEncoderLayer(8, 2, 16, bias=False),
        transformer_rule(8, 16),
    )
    check(
        "bilinear",
        {"in1_features": 3, "in2_features": 4, "out_features": 5},
        nn.Bilinear(3, 4, 5),
        lambda name: uniform(1 / math.sqrt(3)),  # Bilinear: 1 / sqrt(weight.size(1))
    )
    check(
        "lstm",
        {"input_size": 3, "hidden_size": 5, "num_layers": 2, "proj_size": 2},
        nn.LSTM(3, 5, num_layers=2, proj_size=2),
        lambda name: uniform(1.0 / math.sqrt(5)),  # RNNBase: 1 / sqrt(hidden_size)
    )
    check(
        "lstm",
        {"input_size": 3, "hidden_size": 5, "proj_size": 2, "bidirectional": True},
        nn.LSTM(3, 5, proj_size=2, bidirectional=True),
        lambda name: uniform(1.0 / math.sqrt(5)),
    )
    check("prelu", {"num_parameters": 3}, nn.PReLU(3), lambda name: constant(0.25))
    check("prelu", {"init": 0.1}, nn.PReLU(init=0.1), lambda name: constant(0.1))
    check("group_norm", {"num_groups": 2, "num_channels": 4}, nn.GroupNorm(2, 4), norm_rule)
    check("rms_norm", {"normalized_shape": [3, 4]}, nn.RMSNorm([3, 4]), norm_rule)
    check(
        "instance_norm",
        {"num_features": 4, "affine": True},
        nn.InstanceNorm2d(4, affine=True),
        norm_rule,
    )
    check("instance_norm", {"num_features": 4}, nn.InstanceNorm1d(4), norm_rule)
    check(
        "instance_norm",
        {"num_features": 4, "track_running_stats": True},
        nn.InstanceNorm3d(4, track_running_stats=True),
        lambda name: constant(1.0 if name == "running_var" else 0.0),
    )
    print("the torch layout agrees with torch", torch.__version__)


if __name__ == "__main__":
    main()
