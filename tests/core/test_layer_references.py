"""The new layer kinds against the frameworks: names, shapes, roles, fans and default laws.

Every row was produced by the framework itself (torch 2.13.0+cpu, Keras 3.15.1 on JAX, Flax
0.12.8 / JAX 0.10.2) with bench/verify_layer_kinds_torch.py and
bench/verify_layer_kinds_keras_flax.py, which build the framework's layer and compare:

* names and shapes: torch ``module.state_dict()`` (in order); Keras ``layer.weights`` paths
  (``/`` read as ``.``); Flax ``module.init(...)["params"]`` flattened with ``.``;
* fans: torch ``init._calculate_fan_in_and_fan_out`` on the stored tensor; Keras
  ``compute_fans(kernel_shape, input_axes, output_axes)`` with the axes EinsumDense derives from
  its equation (keras/src/layers/core/einsum_dense.py, ``_analyze_split_string``); Flax
  DenseGeneral's flattened 2-D kernel shape (flax/linen/linear.py, ``kernel_init_wrap``);
* default laws: each torch tensor initialised by torch's own function (xavier_uniform_,
  kaiming_uniform_(a=sqrt(5)), xavier_normal_, uniform_(+-1/sqrt(in1)), ...) with a seeded
  generator is bit-identical to ``uniform_(-bound, bound)`` / ``normal_(0, std)`` with the
  numbers below; Keras' glorot limit is ``math.sqrt(3.0 * scale)`` with ``scale = 1 /
  max(1, (fan_in + fan_out) / 2)`` (keras/src/initializers/random_initializers.py,
  ``VarianceScaling.__call__``); Flax's lecun_normal sigma is ``sqrt(float32(1 / fan_in)) /
  float32(0.87962566103423978)`` (jax/_src/nn/initializers.py, ``variance_scaling``); norms
  and PReLU start at the values each framework's layer holds after init.

Sources of each torch default: ``MultiheadAttention._reset_parameters``
(torch/nn/modules/activation.py: xavier_uniform_ on the input projections, constant_(0) on
in_proj_bias and out_proj.bias, xavier_normal_ on bias_k/bias_v; out_proj is a Linear),
``Linear.reset_parameters`` (torch/nn/modules/linear.py: kaiming_uniform_(a=sqrt(5)), bias
U(+-1/sqrt(fan_in))), ``Bilinear.reset_parameters`` (same file: ``bound = 1 /
math.sqrt(self.weight.size(1))``), ``RNNBase.reset_parameters`` (torch/nn/modules/rnn.py: every
tensor, weight_hr too, U(+-1/sqrt(hidden_size))), ``PReLU.reset_parameters``
(torch/nn/modules/activation.py: ``constant_(self.weight, self.init)``, init=0.25), and
``GroupNorm``/``RMSNorm``/``_InstanceNorm`` ``reset_parameters`` (torch/nn/modules/
normalization.py, instancenorm.py: ones and zeros).
"""

from __future__ import annotations

from typing import Any

import pytest

from app.core.laws import (
    ConstantLaw,
    CounterLaw,
    Law,
    NormalLaw,
    TruncatedNormalLaw,
    UniformLaw,
)
from app.core.layers import make_layer
from app.core.planning import plan_layer
from app.core.types import Layout

T, K, J = Layout.TORCH, Layout.KERAS, Layout.JAX


def U(bound: float) -> tuple[str, float]:
    return ("U", bound)


def N(std: float) -> tuple[str, float]:
    return ("N", std)


def TN(sigma: float) -> tuple[str, float]:
    return ("TN", sigma)


def C(value: float) -> tuple[str, float]:
    return ("C", value)


def described(law: Law) -> tuple[str, float]:
    if isinstance(law, UniformLaw):
        assert law.low == -law.high
        return U(law.high)
    if isinstance(law, NormalLaw):
        assert law.mean == 0.0
        return N(law.std)
    if isinstance(law, TruncatedNormalLaw):
        assert (law.low, law.high) == (-2 * law.sigma, 2 * law.sigma)
        return TN(law.sigma)
    assert isinstance(law, ConstantLaw), law
    return C(law.value)


Row = tuple[str, tuple[int, ...], str, tuple[float, float] | None, tuple[str, float]]

MHA_64_8 = {"embed_dim": 64, "num_heads": 8}
MHA_CROSS = {"embed_dim": 8, "num_heads": 2, "kdim": 4, "vdim": 6, "add_bias_kv": True}
KERAS_MHA = {
    "embed_dim": 8,
    "num_heads": 2,
    "key_dim": 3,
    "value_dim": 4,
    "kdim": 10,
    "vdim": 9,
    "output_shape": [6, 7],
}
FLAX_MHA = {
    "embed_dim": 8,
    "num_heads": 2,
    "qkv_features": 12,
    "out_features": 6,
    "kdim": 10,
    "vdim": 9,
}
TRANSFORMER = {"d_model": 8, "nhead": 2, "dim_feedforward": 16}
ATTN_8 = [
    ("self_attn.in_proj_weight", (24, 8), "attention_qkv", (8, 24), U(0.4330127018922193)),
    ("self_attn.in_proj_bias", (24,), "bias", (8, 24), C(0.0)),
    ("self_attn.out_proj.weight", (8, 8), "attention_output", (8, 8), U(0.3535533905932737)),
    ("self_attn.out_proj.bias", (8,), "bias", (8, 8), C(0.0)),
]
MLP_AND_NORMS = [
    ("linear1.weight", (16, 8), "mlp_in", (8, 16), U(0.3535533905932737)),
    ("linear1.bias", (16,), "bias", (8, 16), U(0.35355339059327373)),
    ("linear2.weight", (8, 16), "mlp_out", (16, 8), U(0.24999999999999997)),
    ("linear2.bias", (8,), "bias", (16, 8), U(0.25)),
    ("norm1.weight", (8,), "norm_scale", None, C(1.0)),
    ("norm1.bias", (8,), "norm_shift", None, C(0.0)),
    ("norm2.weight", (8,), "norm_scale", None, C(1.0)),
    ("norm2.bias", (8,), "norm_shift", None, C(0.0)),
]
LSTM_PROJ_BOUND = U(0.4472135954999579)  # 1 / sqrt(hidden_size=5)

CASES: list[tuple[str, dict[str, Any], Layout, list[Row]]] = [
    # torch nn.MultiheadAttention(64, 8): the packed in_proj's fans count all three
    # projections, fan_out 3E (pytorch/pytorch#166378): sqrt(6 / 256), not sqrt(6 / 128).
    (
        "multihead_attention",
        MHA_64_8,
        T,
        [
            ("in_proj_weight", (192, 64), "attention_qkv", (64, 192), U(0.15309310892394865)),
            ("in_proj_bias", (192,), "bias", (64, 192), C(0.0)),
            ("out_proj.weight", (64, 64), "attention_output", (64, 64), U(0.12499999999999999)),
            ("out_proj.bias", (64,), "bias", (64, 64), C(0.0)),
        ],
    ),
    # nn.MultiheadAttention(8, 2, kdim=4, vdim=6, add_bias_kv=True): separate projections,
    # xavier on each one's own fans; in_proj_bias still packed (3E,).
    (
        "multihead_attention",
        MHA_CROSS,
        T,
        [
            ("q_proj_weight", (8, 8), "attention_qkv", (8, 8), U(0.6123724356957946)),
            ("k_proj_weight", (8, 4), "attention_qkv", (4, 8), U(0.7071067811865475)),
            ("v_proj_weight", (8, 6), "attention_qkv", (6, 8), U(0.6546536707079771)),
            ("in_proj_bias", (24,), "bias", (8, 24), C(0.0)),
            ("bias_k", (1, 1, 8), "attention_qkv", (8, 8), N(0.3535533905932738)),
            ("bias_v", (1, 1, 8), "attention_qkv", (8, 8), N(0.3535533905932738)),
            ("out_proj.weight", (8, 8), "attention_output", (8, 8), U(0.3535533905932737)),
            ("out_proj.bias", (8,), "bias", (8, 8), C(0.0)),
        ],
    ),
    # nn.MultiheadAttention(8, 2, bias=False, add_bias_kv=True): bias_k/bias_v stay.
    (
        "multihead_attention",
        {"embed_dim": 8, "num_heads": 2, "bias": False, "add_bias_kv": True},
        T,
        [
            ("in_proj_weight", (24, 8), "attention_qkv", (8, 24), U(0.4330127018922193)),
            ("bias_k", (1, 1, 8), "attention_qkv", (8, 8), N(0.3535533905932738)),
            ("bias_v", (1, 1, 8), "attention_qkv", (8, 8), N(0.3535533905932738)),
            ("out_proj.weight", (8, 8), "attention_output", (8, 8), U(0.3535533905932737)),
        ],
    ),
    # keras.layers.MultiHeadAttention(num_heads=8, key_dim=8) on 64 features: axis-aware fans
    # (64, 64); before keras-team/keras PR #22789 they were (512, 512).
    (
        "multihead_attention",
        MHA_64_8,
        K,
        [
            ("query.kernel", (64, 8, 8), "attention_qkv", (64, 64), U(0.21650635094610965)),
            ("query.bias", (8, 8), "bias", (64, 64), C(0.0)),
            ("key.kernel", (64, 8, 8), "attention_qkv", (64, 64), U(0.21650635094610965)),
            ("key.bias", (8, 8), "bias", (64, 64), C(0.0)),
            ("value.kernel", (64, 8, 8), "attention_qkv", (64, 64), U(0.21650635094610965)),
            ("value.bias", (8, 8), "bias", (64, 64), C(0.0)),
            (
                "attention_output.kernel",
                (8, 8, 64),
                "attention_output",
                (64, 64),
                U(0.21650635094610965),
            ),
            ("attention_output.bias", (64,), "bias", (64, 64), C(0.0)),
        ],
    ),
    # MultiHeadAttention(num_heads=2, key_dim=3, value_dim=4, output_shape=(6, 7)) built on
    # query 8, value 9, key 10 features.
    (
        "multihead_attention",
        KERAS_MHA,
        K,
        [
            ("query.kernel", (8, 2, 3), "attention_qkv", (8, 6), U(0.6546536707079771)),
            ("query.bias", (2, 3), "bias", (8, 6), C(0.0)),
            ("key.kernel", (10, 2, 3), "attention_qkv", (10, 6), U(0.6123724356957945)),
            ("key.bias", (2, 3), "bias", (10, 6), C(0.0)),
            ("value.kernel", (9, 2, 4), "attention_qkv", (9, 8), U(0.5940885257860046)),
            ("value.bias", (2, 4), "bias", (9, 8), C(0.0)),
            (
                "attention_output.kernel",
                (2, 4, 6, 7),
                "attention_output",
                (8, 42),
                U(0.34641016151377546),
            ),
            ("attention_output.bias", (6, 7), "bias", (8, 42), C(0.0)),
        ],
    ),
    # flax.linen.MultiHeadDotProductAttention(num_heads=8) on 64 features: lecun_normal on
    # the flattened (64, 64) kernels, sigma in float32.
    (
        "multihead_attention",
        MHA_64_8,
        J,
        [
            ("query.kernel", (64, 8, 8), "attention_qkv", (64, 64), TN(0.14210590720176697)),
            ("query.bias", (8, 8), "bias", (64, 64), C(0.0)),
            ("key.kernel", (64, 8, 8), "attention_qkv", (64, 64), TN(0.14210590720176697)),
            ("key.bias", (8, 8), "bias", (64, 64), C(0.0)),
            ("value.kernel", (64, 8, 8), "attention_qkv", (64, 64), TN(0.14210590720176697)),
            ("value.bias", (8, 8), "bias", (64, 64), C(0.0)),
            ("out.kernel", (8, 8, 64), "attention_output", (64, 64), TN(0.14210590720176697)),
            ("out.bias", (64,), "bias", (64, 64), C(0.0)),
        ],
    ),
    # MultiHeadDotProductAttention(num_heads=2, qkv_features=12, out_features=6) on query 8,
    # key 10, value 9 features.
    (
        "multihead_attention",
        FLAX_MHA,
        J,
        [
            ("query.kernel", (8, 2, 6), "attention_qkv", (8, 12), TN(0.4019361734390259)),
            ("query.bias", (2, 6), "bias", (8, 12), C(0.0)),
            ("key.kernel", (10, 2, 6), "attention_qkv", (10, 12), TN(0.3595026433467865)),
            ("key.bias", (2, 6), "bias", (10, 12), C(0.0)),
            ("value.kernel", (9, 2, 6), "attention_qkv", (9, 12), TN(0.3789490759372711)),
            ("value.bias", (2, 6), "bias", (9, 12), C(0.0)),
            ("out.kernel", (2, 6, 6), "attention_output", (12, 6), TN(0.3281795084476471)),
            ("out.bias", (6,), "bias", (12, 6), C(0.0)),
        ],
    ),
    # nn.TransformerEncoderLayer(8, 2, 16): state_dict order and each submodule's own init.
    ("transformer_encoder_layer", TRANSFORMER, T, [*ATTN_8, *MLP_AND_NORMS]),
    # nn.TransformerDecoderLayer(8, 2, 16, norm_first=True): norm_first changes nothing.
    (
        "transformer_decoder_layer",
        {**TRANSFORMER, "norm_first": True},
        T,
        [
            *ATTN_8,
            *[(n.replace("self_attn", "multihead_attn"), *rest) for n, *rest in ATTN_8],  # type: ignore[misc]
            *MLP_AND_NORMS,
            ("norm3.weight", (8,), "norm_scale", None, C(1.0)),
            ("norm3.bias", (8,), "norm_shift", None, C(0.0)),
        ],
    ),
    # nn.TransformerEncoderLayer(8, 2, 16, bias=False): no bias anywhere, the norms' included.
    (
        "transformer_encoder_layer",
        {**TRANSFORMER, "bias": False},
        T,
        [
            row
            for row in [*ATTN_8, *MLP_AND_NORMS]
            if not row[0].endswith("bias")  # type: ignore[index]
        ],
    ),
    # nn.Bilinear(3, 4, 5): torch's fans (in1*in2, out*in2); its default bound 1/sqrt(in1).
    (
        "bilinear",
        {"in1_features": 3, "in2_features": 4, "out_features": 5},
        T,
        [
            ("weight", (5, 3, 4), "weight", (12, 20), U(0.5773502691896258)),
            ("bias", (5,), "bias", (12, 20), U(0.5773502691896258)),
        ],
    ),
    # nn.LSTM(3, 5, proj_size=2, num_layers=2): weight_hr after the biases; weight_hh (4H, P);
    # layer 1 reads P inputs.
    (
        "lstm",
        {"input_size": 3, "hidden_size": 5, "num_layers": 2, "proj_size": 2},
        T,
        [
            ("weight_ih_l0", (20, 3), "weight", (3, 20), LSTM_PROJ_BOUND),
            ("weight_hh_l0", (20, 2), "recurrent_weight", (2, 20), LSTM_PROJ_BOUND),
            ("bias_ih_l0", (20,), "bias", (3, 20), LSTM_PROJ_BOUND),
            ("bias_hh_l0", (20,), "bias", (2, 20), LSTM_PROJ_BOUND),
            ("weight_hr_l0", (2, 5), "recurrent_weight", (5, 2), LSTM_PROJ_BOUND),
            ("weight_ih_l1", (20, 2), "weight", (2, 20), LSTM_PROJ_BOUND),
            ("weight_hh_l1", (20, 2), "recurrent_weight", (2, 20), LSTM_PROJ_BOUND),
            ("bias_ih_l1", (20,), "bias", (2, 20), LSTM_PROJ_BOUND),
            ("bias_hh_l1", (20,), "bias", (2, 20), LSTM_PROJ_BOUND),
            ("weight_hr_l1", (2, 5), "recurrent_weight", (5, 2), LSTM_PROJ_BOUND),
        ],
    ),
    # PReLU: torch nn.PReLU(3) weight 0.25; keras.layers.PReLU alpha zeros; flax.linen.PReLU
    # one scalar negative_slope 0.01 (float32 0.01 after the float32 cast).
    ("prelu", {"num_parameters": 3}, T, [("weight", (3,), "activation", None, C(0.25))]),
    ("prelu", {"init": 0.1}, T, [("weight", (1,), "activation", None, C(0.1))]),
    ("prelu", {"num_parameters": 3}, K, [("alpha", (3,), "activation", (3, 3), C(0.0))]),
    ("prelu", {}, J, [("negative_slope", (), "activation", None, C(0.01))]),
    # GroupNorm(2, 4) / GroupNormalization(groups=2) / nn.GroupNorm(num_groups=2): 1 and 0.
    *[
        (
            "group_norm",
            {"num_groups": 2, "num_channels": 4},
            layout,
            [
                (scale, (4,), "norm_scale", None, C(1.0)),
                (shift, (4,), "norm_shift", None, C(0.0)),
            ],
        )
        for layout, scale, shift in (
            (T, "weight", "bias"),
            (K, "gamma", "beta"),
            (J, "scale", "bias"),
        )
    ],
    # InstanceNorm2d(4, affine=True) / flax nn.InstanceNorm(): scale 1, shift 0.
    *[
        (
            "instance_norm",
            {"num_features": 4, "affine": True},
            layout,
            [
                (scale, (4,), "norm_scale", None, C(1.0)),
                (shift, (4,), "norm_shift", None, C(0.0)),
            ],
        )
        for layout, scale, shift in ((T, "weight", "bias"), (J, "scale", "bias"))
    ],
    # InstanceNorm3d(4, track_running_stats=True): statistics without affine parameters.
    (
        "instance_norm",
        {"num_features": 4, "track_running_stats": True},
        T,
        [
            ("running_mean", (4,), "running_stat", None, C(0.0)),
            ("running_var", (4,), "running_stat", None, C(1.0)),
            ("num_batches_tracked", (), "counter", None, C(0.0)),
        ],
    ),
    # RMSNorm([3, 4]) weight; keras RMSNormalization and flax RMSNorm "scale"; no shift.
    ("rms_norm", {"normalized_shape": [3, 4]}, T, [("weight", (3, 4), "norm_scale", None, C(1.0))]),
    ("rms_norm", {"normalized_shape": 5}, K, [("scale", (5,), "norm_scale", None, C(1.0))]),
    ("rms_norm", {"normalized_shape": 5}, J, [("scale", (5,), "norm_scale", None, C(1.0))]),
]


def _law(plan_law: Law) -> tuple[str, float]:
    return C(0.0) if isinstance(plan_law, CounterLaw) else described(plan_law)


@pytest.mark.parametrize(
    ("kind", "fields", "layout", "rows"),
    CASES,
    ids=[f"{kind}-{layout.value}-{i}" for i, (kind, _, layout, _) in enumerate(CASES)],
)
def test_names_shapes_roles_fans_and_default_laws_equal_the_frameworks(
    kind: str, fields: dict[str, Any], layout: Layout, rows: list[Row]
) -> None:
    plans = plan_layer(make_layer(kind, fields), layout=layout)
    got = [
        (
            p.name,
            p.shape,
            p.role.value,
            None if p.fans is None else (p.fans.fan_in, p.fans.fan_out),
            _law(p.law),
        )
        for p in plans
    ]
    assert got == rows
