"""Tests for app/core/shape_maps.py: roles from names and ranks, families, recurrent sizes, fans.

Every row of the table has at least one case here (a test fails when a row has none), with
names as the frameworks print them: torch ``state_dict()`` keys (torch 2.13 for the bare
modules below, printed with ``{k: list(v.shape) for k, v in m.state_dict().items()}``),
Hugging Face and timm checkpoints, Keras 3 weight paths and Flax parameter trees.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from app.core.errors import InvalidParameterError, ShapeError
from app.core.fans import Fans
from app.core.layers import TensorSpec, expand_layer, make_layer
from app.core.shape_map_table import END, START, render_rules
from app.core.shape_maps import ROLE_RULES, MapEntry, expand_shape_map, find_rule, infer_role
from app.core.types import Family, Layout, Role

T, K, J = Layout.TORCH, Layout.KERAS, Layout.JAX
README = Path(__file__).resolve().parents[2] / "README.md"

Shapes = dict[str, tuple[int, ...]]

# torch 2.13: nn.LSTM(3, 5, proj_size=2).state_dict() (one layer, one direction of the print)
TORCH_LSTM_PROJ: Shapes = {
    "weight_ih_l0": (20, 3),
    "weight_hh_l0": (20, 2),
    "bias_ih_l0": (20,),
    "bias_hh_l0": (20,),
    "weight_hr_l0": (2, 5),
}
# torch 2.13: nn.MultiheadAttention(16, 2, kdim=8, vdim=8).state_dict()
TORCH_MHA_KDIM: Shapes = {
    "q_proj_weight": (16, 16),
    "k_proj_weight": (16, 8),
    "v_proj_weight": (16, 8),
    "in_proj_bias": (48,),
    "out_proj.weight": (16, 16),
    "out_proj.bias": (16,),
}
# torch 2.13: nn.BatchNorm1d(4).state_dict()
TORCH_BATCH_NORM: Shapes = {
    "weight": (4,),
    "bias": (4,),
    "running_mean": (4,),
    "running_var": (4,),
    "num_batches_tracked": (),
}
KERAS_LSTM: Shapes = {
    "lstm/lstm_cell/kernel": (3, 20),
    "lstm/lstm_cell/recurrent_kernel": (5, 20),
    "lstm/lstm_cell/bias": (20,),
}
TORCH_ENCODER_LAYER: Shapes = {
    "layers.0.self_attn.in_proj_weight": (48, 16),
    "layers.0.self_attn.in_proj_bias": (48,),
    "layers.0.self_attn.out_proj.weight": (16, 16),
    "layers.0.linear1.weight": (32, 16),
    "layers.0.linear2.weight": (16, 32),
}
BERT_LAYER: Shapes = {
    "bert.encoder.layer.0.attention.self.query.weight": (8, 8),
    "bert.encoder.layer.0.attention.output.dense.weight": (8, 8),
    "bert.encoder.layer.0.attention.output.LayerNorm.weight": (8,),
    "bert.encoder.layer.0.intermediate.dense.weight": (32, 8),
    "bert.encoder.layer.0.output.dense.weight": (8, 32),
}

# (the row expected to decide, tensor name, shape, the rest of the map)
CASES: list[tuple[str, str, tuple[int, ...], Shapes]] = [
    ("running mean", "running_mean", (4,), TORCH_BATCH_NORM),
    ("running mean", "batch_stats/BatchNorm_0/mean", (4,), {}),
    ("running mean", "batch_normalization/moving_mean", (4,), {}),
    ("running variance", "running_var", (4,), TORCH_BATCH_NORM),
    ("running variance", "batch_normalization/moving_variance", (4,), {}),
    ("running variance", "batch_stats/BatchNorm_0/var", (4,), {}),
    ("batch counter", "num_batches_tracked", (), TORCH_BATCH_NORM),
    ("norm scale (Keras, Flax)", "layer_normalization/gamma", (8,), {}),
    ("norm scale (Keras, Flax)", "params/LayerNorm_0/scale", (8,), {}),
    ("norm shift (Keras)", "layer_normalization/beta", (8,), {}),
    ("torch MultiheadAttention input projections", "mha.in_proj_weight", (48, 16), {}),
    ("torch MultiheadAttention input projections", "k_proj_weight", (16, 8), TORCH_MHA_KDIM),
    ("torch MultiheadAttention input bias", "in_proj_bias", (48,), TORCH_MHA_KDIM),
    (
        "torch MultiheadAttention key and value biases (add_bias_kv)",
        "self_attn.bias_k",
        (1, 1, 16),
        {},
    ),
    ("torch recurrent input kernel", "weight_ih_l0", (20, 3), TORCH_LSTM_PROJ),
    ("torch recurrent input kernel", "rnn.weight_ih_l1_reverse", (20, 10), {}),
    ("torch recurrent hidden kernel (and LSTM projection)", "weight_hh_l0", (20, 2), {}),
    ("torch recurrent hidden kernel (and LSTM projection)", "weight_hr_l0", (2, 5), {}),
    ("torch recurrent bias", "bias_ih_l0", (20,), TORCH_LSTM_PROJ),
    ("torch recurrent bias", "gru.bias_hh_l2_reverse", (15,), {}),
    ("Keras recurrent kernel", "lstm/lstm_cell/recurrent_kernel", (5, 20), KERAS_LSTM),
    ("Keras recurrent input kernel", "lstm/lstm_cell/kernel", (3, 20), KERAS_LSTM),
    ("Keras recurrent bias", "lstm/lstm_cell/bias", (20,), KERAS_LSTM),
    ("position table (Keras, Flax)", "position_embedding/embeddings", (128, 16), {}),
    ("position table (Keras, Flax)", "params/pos_embedding/embedding", (128, 16), {}),
    ("embedding table (Keras, Flax)", "embedding/embeddings", (100, 16), {}),
    ("embedding table (Keras, Flax)", "params/Embed_0/embedding", (100, 16), {}),
    ("position parameter", "pos_embed", (1, 197, 768), {}),  # timm ViT
    ("position parameter", "positional_embedding", (77, 512), {}),  # OpenAI CLIP
    ("norm weight", "layers.0.norm1.weight", (16,), {}),
    ("norm weight", "h.0.ln_1.weight", (16,), {}),  # GPT-2
    ("norm weight", "layer1.0.bn1.weight", (64,), {}),  # torchvision ResNet
    ("norm weight", "model.layers.0.input_layernorm.weight", (64,), {}),  # Llama
    ("norm weight", "norm.weight", (4, 8), {}),  # LayerNorm((4, 8))
    ("norm weight", "bert.encoder.layer.0.attention.output.LayerNorm.weight", (8,), BERT_LAYER),
    ("norm bias", "h.0.ln_1.bias", (16,), {}),
    ("PReLU slope (torch)", "prelu.weight", (1,), {}),
    ("PReLU slope (Keras alpha, Flax negative_slope)", "p_re_lu/alpha", (3,), {}),
    ("PReLU slope (Keras alpha, Flax negative_slope)", "params/PReLU_0/negative_slope", (), {}),
    ("rank-1 weight (a norm's scale)", "weight", (4,), TORCH_BATCH_NORM),
    ("rank-1 weight (a norm's scale)", "layer1.0.downsample.1.weight", (64,), {}),
    ("bias beside a norm scale", "bias", (4,), TORCH_BATCH_NORM),
    (
        "bias beside a norm scale",
        "params/final/bias",
        (8,),
        {"params/final/scale": (8,)},
    ),
    ("bias", "fc.bias", (3,), {"fc.weight": (3, 4)}),
    ("bias", "multi_head_attention/query/bias", (2, 8), {}),  # Keras: (heads, head_dim)
    ("attention input projection", "model.layers.0.self_attn.q_proj.weight", (64, 64), {}),
    ("attention input projection", "h.0.attn.c_attn.weight", (16, 48), {}),  # GPT-2
    (
        "attention input projection",
        "bert.encoder.layer.0.attention.self.query.weight",
        (8, 8),
        BERT_LAYER,
    ),
    ("attention input projection", "MultiHeadDotProductAttention_0/query/kernel", (16, 2, 8), {}),
    ("attention input projection", "layers.0.attention.wq.weight", (64, 64), {}),  # Llama 1
    ("attention output projection", "out_proj.weight", (16, 16), TORCH_MHA_KDIM),
    ("attention output projection", "layers.0.self_attn.out_proj.weight", (16, 16), {}),
    ("attention output projection", "h.0.attn.c_proj.weight", (16, 16), {}),
    (
        "attention output projection",
        "bert.encoder.layer.0.attention.output.dense.weight",
        (8, 8),
        BERT_LAYER,
    ),
    ("attention output projection", "multi_head_attention/attention_output/kernel", (2, 8, 16), {}),
    ("attention output projection", "blocks.0.attn.proj.weight", (16, 16), {}),  # timm ViT
    ("MLP input", "layers.0.linear1.weight", (32, 16), TORCH_ENCODER_LAYER),
    ("MLP input", "model.layers.0.mlp.gate_proj.weight", (128, 64), {}),
    ("MLP input", "h.0.mlp.c_fc.weight", (16, 64), {}),
    ("MLP input", "bert.encoder.layer.0.intermediate.dense.weight", (32, 8), BERT_LAYER),
    ("MLP input", "block.0.layer.1.DenseReluDense.wi.weight", (32, 8), {}),  # T5
    ("MLP input", "blocks.0.mlp.fc1.weight", (64, 16), {}),  # timm ViT
    ("MLP output", "layers.0.linear2.weight", (16, 32), TORCH_ENCODER_LAYER),
    ("MLP output", "model.layers.0.mlp.down_proj.weight", (64, 128), {}),
    ("MLP output", "h.0.mlp.c_proj.weight", (64, 16), {}),
    ("MLP output", "bert.encoder.layer.0.output.dense.weight", (8, 32), BERT_LAYER),
    ("MLP output", "block.0.layer.1.DenseReluDense.wo.weight", (8, 32), {}),
    ("position table", "transformer.wpe.weight", (1024, 16), {}),
    ("position table", "bert.embeddings.position_embeddings.weight", (512, 8), {}),
    ("embedding table", "transformer.wte.weight", (50257, 16), {}),
    ("embedding table", "model.embed_tokens.weight", (32000, 64), {}),
    ("embedding table", "embed.weight", (100, 16), {}),
    ("embedding table or projection?", "embed_proj.weight", (64, 32), {}),
    ("readout head", "lm_head.weight", (32000, 64), {}),
    ("readout head", "fc.weight", (1000, 512), {}),  # torchvision ResNet
    ("readout head", "head.fc.weight", (10, 64), {}),
    ("readout head", "params/head/kernel", (64, 10), {}),
    ("readout head", "output.weight", (32000, 64), {}),  # Llama 1
    ("Flax recurrent hidden kernel", "lstm/hi/kernel", (5, 5), {}),
    ("Flax recurrent hidden kernel", "cell.hn.kernel", (5, 5), {}),
    ("weight or kernel", "conv1.weight", (64, 3, 7, 7), {}),
    ("weight or kernel", "dense/kernel", (4, 3), {}),
    ("weight or kernel", "fc1.weight", (120, 400), {}),  # LeNet: no attention beside it
    ("weight or kernel", "layers.0.linear1.weight", (32, 16), {}),  # no attention beside it
    ("weight or kernel", "q_proj.weight", (16, 16), {}),  # not inside attention
    ("weight or kernel", "mixer.in_proj.weight", (64, 16), {}),  # Mamba: not attention
    ("weight or kernel", "patch_embed.proj.weight", (768, 3, 16, 16), {}),  # timm ViT
    ("weight or kernel", "classifier.6.weight", (1000, 4096), {}),  # VGG: not top level
    ("weight or kernel", "lstm/hi/kernel", (3, 5), {}),  # a Flax input-to-hidden shape
]


def _with(name: str, shape: tuple[int, ...], rest: Shapes) -> Shapes:
    return {**rest, name: shape}


@pytest.mark.parametrize(("row", "name", "shape", "rest"), CASES, ids=[c[1] for c in CASES])
def test_each_case_is_decided_by_its_row(
    row: str, name: str, shape: tuple[int, ...], rest: Shapes
) -> None:
    rule = find_rule(name, shape, _with(name, shape, rest))
    assert rule.name == row
    if rule.role is None:
        with pytest.raises(InvalidParameterError, match="Cannot tell the role") as info:
            infer_role(name, shape, _with(name, shape, rest))
        assert info.value.field == f"tensors[{name}]"
        assert rule.reason in info.value.message
    else:
        assert infer_role(name, shape, _with(name, shape, rest)) is rule.role


def test_every_row_has_a_case() -> None:
    assert {rule.name for rule in ROLE_RULES} == {row for row, *_ in CASES}
    assert len({rule.name for rule in ROLE_RULES}) == len(ROLE_RULES)


def test_the_table_is_ordered_so_each_row_can_decide() -> None:
    """A row no case reaches would be dead: every row decides at least one case (above), and
    the generic weight row comes last."""
    assert ROLE_RULES[-1].name == "weight or kernel"


@pytest.mark.parametrize(
    ("name", "shape", "part"),
    [
        ("x.A_log", (16, 4), "'A_log' at rank 2"),  # Mamba: a parameter with its own init
        ("cls_token", (1, 1, 768), "'cls_token' at rank 3"),  # timm ViT
        ("logit_scale", (), "'logit_scale' at rank 0"),  # CLIP
        ("w.weight", (), "'weight' at rank 0"),
        ("fc.bias", (), "'bias' at rank 0"),
        ("embedding", (4, 2, 2), "'embedding' at rank 3"),
    ],
)
def test_a_name_no_row_matches_is_refused_naming_the_tensor(
    name: str, shape: tuple[int, ...], part: str
) -> None:
    with pytest.raises(InvalidParameterError) as info:
        expand_shape_map([MapEntry(name, shape)], T)
    assert info.value.field == f"tensors[{name}]"
    assert part in info.value.message
    assert '"role": ...' in info.value.message and "norm_scale" in info.value.message


def test_a_given_role_wins_over_the_table_and_settles_what_it_cannot() -> None:
    (slope,) = expand_shape_map([MapEntry("prelu.weight", (1,), Role.WEIGHT, 1.0, 1.0)], T)
    assert (slope.role, slope.family, slope.fans) == (Role.WEIGHT, Family.DENSE, Fans(1.0, 1.0))
    (table,) = expand_shape_map([MapEntry("embed_proj.weight", (64, 32), Role.EMBEDDING)], T)
    assert (table.role, table.family, table.fans) == (
        Role.EMBEDDING,
        Family.EMBEDDING,
        Fans(32, 64),
    )
    (head,) = expand_shape_map([MapEntry("dense_2/kernel", (64, 10), Role.READOUT)], K)
    assert head.role is Role.READOUT


def test_module_names_are_compared_in_lower_case_and_either_separator_works() -> None:
    shapes: Shapes = {"Model/Attn/Q_Proj/kernel": (4, 4), "model.LN_F.weight": (4,)}
    assert infer_role("Model/Attn/Q_Proj/kernel", (4, 4), shapes) is Role.ATTENTION_QKV
    assert infer_role("model.LN_F.weight", (4,), shapes) is Role.NORM_SCALE


# ---- families, recurrent sizes, fills, fans ----------------------------------------------------


def _specs(shapes: Shapes, layout: Layout = T) -> dict[str, TensorSpec]:
    entries = [MapEntry(name, shape) for name, shape in shapes.items()]
    return {s.name: s for s in expand_shape_map(entries, layout)}


def test_a_bias_takes_its_weights_fans_and_family() -> None:
    specs = _specs(
        {"fc.weight": (3, 4), "fc.bias": (3,), "conv.weight": (8, 2, 3, 3), "conv.bias": (8,)}
    )
    assert specs["fc.bias"].fans == specs["fc.weight"].fans == Fans(4, 3)
    assert specs["conv.weight"].family is Family.CONV
    assert specs["conv.bias"].fans == Fans(2 * 9, 8 * 9)
    assert specs["conv.bias"].family is Family.CONV


def test_in_proj_bias_takes_the_fans_of_in_proj_weight_or_q_proj_weight() -> None:
    packed = _specs({"in_proj_weight": (48, 16), "in_proj_bias": (48,)})
    assert packed["in_proj_bias"].fans == Fans(16, 48)
    separate = _specs(TORCH_MHA_KDIM)
    assert separate["in_proj_bias"].fans == Fans(16, 16)
    assert separate["out_proj.weight"].role is Role.ATTENTION_OUTPUT


def test_a_bias_without_a_weight_has_the_layouts_own_fans() -> None:
    assert _specs({"bias": (5,)}, K)["bias"].fans == Fans(5, 5)
    assert _specs({"bias": (5,)}, T)["bias"].fans is None
    assert _specs({"bias": (5,)}, J)["bias"].fans is None


def test_explicit_fans_override_and_a_bias_follows_its_weights_override() -> None:
    entries = [
        MapEntry("fc.weight", (3, 4), fan_in=10.0),
        MapEntry("fc.bias", (3,)),
        MapEntry("lone.bias", (3,), fan_in=7.0, fan_out=2.0),
    ]
    specs = {s.name: s for s in expand_shape_map(entries, T)}
    assert specs["fc.weight"].fans == specs["fc.bias"].fans == Fans(10, 3)
    assert specs["lone.bias"].fans == Fans(7, 2)


def test_one_fan_for_a_tensor_without_fans_names_the_tensor() -> None:
    with pytest.raises(InvalidParameterError, match="both fan_in and fan_out") as info:
        expand_shape_map([MapEntry("lone.bias", (3,), fan_in=7.0)], T)
    assert info.value.field == "tensors[lone.bias].fan_out"


def test_embedding_fans_follow_each_frameworks_rule() -> None:
    # torch: (V, d) -> (d, V); Keras: (V, d); Flax Embed: variance_scaling(out_axis=0) -> (d, d)
    assert _specs({"embed.weight": (100, 16)}, T)["embed.weight"].fans == Fans(16, 100)
    assert _specs({"e/embeddings": (100, 16)}, K)["e/embeddings"].fans == Fans(100, 16)
    assert _specs({"e/embedding": (100, 16)}, J)["e/embedding"].fans == Fans(16, 16)


def test_flax_attention_kernels_take_densegenerals_flattened_fans() -> None:
    # Flax DenseGeneral initialises its kernel flattened to (prod(in axes), prod(out axes))
    specs = _specs(
        {"attn/query/kernel": (16, 2, 8), "attn/out/kernel": (2, 8, 16)},
        J,
    )
    assert specs["attn/query/kernel"].fans == Fans(16, 16)
    assert specs["attn/out/kernel"].fans == Fans(16, 16)
    # Keras' EinsumDense kernels keep Keras' own fan rule (receptive field = leading axes)
    keras = _specs({"attn/query/kernel": (16, 2, 8)}, K)
    assert keras["attn/query/kernel"].fans == Fans(2 * 16, 8 * 16)


def test_norms_and_running_statistics_have_fills_and_no_fans() -> None:
    specs = _specs(TORCH_BATCH_NORM)
    assert [specs[n].role for n in TORCH_BATCH_NORM] == [
        Role.NORM_SCALE,
        Role.NORM_SHIFT,
        Role.RUNNING_STAT,
        Role.RUNNING_STAT,
        Role.COUNTER,
    ]
    assert specs["running_mean"].fill == 0.0 and specs["running_var"].fill == 1.0
    assert all(specs[n].fans is None and specs[n].family is Family.NORM for n in specs)
    (given,) = expand_shape_map([MapEntry("stats/var", (3,), Role.RUNNING_STAT)], T)
    assert given.fill == 1.0


def test_torch_recurrent_tensors_get_the_cell_and_hidden_size_from_their_siblings() -> None:
    lstm = _specs(TORCH_LSTM_PROJ)
    for name in TORCH_LSTM_PROJ:
        spec = lstm[name]
        assert (spec.family, spec.cell, spec.hidden_size) == (Family.RECURRENT, "lstm", 5)
    assert lstm["bias_hh_l0"].fans == lstm["weight_hh_l0"].fans
    gru = _specs({"gru.weight_ih_l0": (15, 3), "gru.weight_hh_l0": (15, 5)})
    assert gru["gru.weight_ih_l0"].cell == "gru"
    rnn = _specs({"weight_hh_l0_reverse": (5, 5)})
    assert (rnn["weight_hh_l0_reverse"].cell, rnn["weight_hh_l0_reverse"].hidden_size) == ("rnn", 5)


@pytest.mark.parametrize(
    ("shapes", "detail"),
    [
        ({"rnn.weight_ih_l0": (20, 3)}, "no rank-2 rnn.weight_hh_l0"),
        ({"weight_hh_l0": (10, 5)}, "10 gate rows"),
        ({"weight_hh_l0": (7, 5)}, "7 gate rows"),
    ],
)
def test_a_recurrent_tensor_without_its_sizes_is_refused(shapes: Shapes, detail: str) -> None:
    with pytest.raises(ShapeError, match="named like a recurrent layer") as info:
        _specs(shapes)
    assert detail in info.value.message
    assert info.value.field is not None and info.value.field.startswith("tensors[")


def test_keras_recurrent_tensors_get_the_cell_from_the_recurrent_kernel() -> None:
    specs = _specs(KERAS_LSTM, K)
    assert {(s.family, s.cell, s.hidden_size) for s in specs.values()} == {
        (Family.RECURRENT, "lstm", 5)
    }


# ---- the same tensors as the layer kinds give ---------------------------------------------------

LAYERS = [
    ("dense", "dense", {"in_features": 4, "out_features": 3}),
    ("conv", "conv2d", {"in_channels": 4, "out_channels": 6, "kernel_size": 3, "groups": 2}),
    ("conv", "conv1d", {"in_channels": 2, "out_channels": 4, "kernel_size": 5}),
    ("embed", "embedding", {"num_embeddings": 10, "embedding_dim": 4}),
    ("rnn", "lstm", {"input_size": 3, "hidden_size": 5, "num_layers": 2, "bidirectional": True}),
    ("rnn", "gru", {"input_size": 3, "hidden_size": 5}),
    ("rnn", "rnn", {"input_size": 3, "hidden_size": 5, "num_layers": 2}),
    ("norm", "layer_norm", {"normalized_shape": 8}),
    ("norm", "layer_norm", {"normalized_shape": [2, 8]}),
    ("bn", "batch_norm", {"num_features": 8}),
    ("t", "tensor", {"shape": [3, 4, 5]}),
]
TABLE_NAME = {K: "embedding", J: "embedding"}  # Keras' and Flax's auto names for an Embedding


@pytest.mark.parametrize("layout", [T, K, J])
@pytest.mark.parametrize(
    ("prefix", "kind", "fields"), LAYERS, ids=[f"{k}-{p}" for p, k, _ in LAYERS]
)
def test_a_layers_shape_map_gives_its_tensors_as_the_layer_kind_does(
    prefix: str, kind: str, fields: dict[str, object], layout: Layout
) -> None:
    """Roles, fans and fills equal layers.py's for the same names; family, cell and hidden size
    too, except that a shape map's rank >= 3 weight is conv-family (a raw tensor's, or a
    transposed conv's, too), and Flax's per-gate Denses are dense-family (flax.default reads
    only their roles)."""
    expected = expand_layer(make_layer(kind, fields), layout)
    sep = "." if layout is T else "/"
    name = TABLE_NAME.get(layout, prefix) if kind == "embedding" else prefix
    entries = [MapEntry(f"{name}{sep}{t.name}", t.shape) for t in expected]
    got = expand_shape_map(entries, layout)
    for want, have in zip(expected, got, strict=True):
        assert (have.name, have.shape) == (f"{name}{sep}{want.name}", want.shape)
        assert (have.role, have.fans, have.fill) == (want.role, want.fans, want.fill), have.name
        if want.family not in (Family.CONV_TRANSPOSE, Family.TENSOR) and not (
            layout is J and want.family is Family.RECURRENT
        ):
            assert (have.family, have.cell, have.hidden_size) == (
                want.family,
                want.cell,
                want.hidden_size,
            ), have.name


def test_the_readme_table_is_rendered_from_the_rows() -> None:
    text = README.read_text()
    block = text.split(START, 1)[1].split(END, 1)[0].strip()
    assert block == render_rules(), "run `make readme` and commit README.md"
    assert len(block.splitlines()) == len(ROLE_RULES) + 2


def test_torch_multihead_attention_tensors_take_the_attention_families() -> None:
    """As the multihead_attention layer kind: torch's MultiheadAttention initialises its own
    projections (xavier) and zeroes both biases; bias_k/bias_v are xavier_normal_."""
    specs = _specs(
        {
            "attn.in_proj_weight": (48, 16),
            "attn.in_proj_bias": (48,),
            "attn.bias_k": (1, 1, 16),
            "attn.out_proj.weight": (16, 16),
            "attn.out_proj.bias": (16,),
            "other.out_proj.weight": (16, 16),  # no in_proj beside it: a Linear
        }
    )
    assert {name: spec.family for name, spec in specs.items()} == {
        "attn.in_proj_weight": Family.ATTENTION,
        "attn.in_proj_bias": Family.ATTENTION,
        "attn.bias_k": Family.ATTENTION_BIAS_KV,
        "attn.out_proj.weight": Family.ATTENTION,
        "attn.out_proj.bias": Family.ATTENTION,
        "other.out_proj.weight": Family.DENSE,
    }
    assert specs["attn.bias_k"].fans == Fans(16, 16)


def test_a_prelu_slope_is_an_activation_without_fans_in_torch() -> None:
    (slope,) = expand_shape_map([MapEntry("act.prelu.weight", (3,))], T)
    assert (slope.role, slope.family, slope.fans) == (Role.ACTIVATION, Family.PRELU, None)
