"""Tests for app/core/attention.py: multi-head attention and torch's transformer layers.

The frameworks' own names, shapes, fans and default laws are pinned in
test_layer_references.py; here, the specs, each layout's choices and every refusal.
"""

from __future__ import annotations

import math

import pytest

from app.core.attention import (
    MultiheadAttentionSpec,
    TransformerDecoderLayerSpec,
    TransformerEncoderLayerSpec,
)
from app.core.errors import InvalidParameterError, ShapeError, UnknownNameError
from app.core.fans import Fans
from app.core.laws import UniformLaw
from app.core.layers import count_elements, expand_layer, make_layer
from app.core.planning import plan_layer
from app.core.types import Family, Layout, Role

T, K, J = Layout.TORCH, Layout.KERAS, Layout.JAX
MHA = "multihead_attention"


def names(kind: str, fields: dict[str, object], layout: Layout) -> list[str]:
    return [t.name for t in expand_layer(make_layer(kind, fields), layout)]


def test_make_layer_takes_torchs_arguments_and_defaults() -> None:
    assert make_layer(MHA, {"embed_dim": 8, "num_heads": 2}) == MultiheadAttentionSpec(8, 2)
    spec = make_layer("transformer_encoder_layer", {"d_model": 8, "nhead": 2, "norm_first": True})
    assert spec == TransformerEncoderLayerSpec(8, 2, 2048, True, True)
    decoder = make_layer("transformer_decoder_layer", {"d_model": 8, "nhead": 2})
    assert isinstance(decoder, TransformerDecoderLayerSpec)
    assert decoder.kind == "transformer_decoder_layer"


def test_kdim_and_vdim_equal_to_embed_dim_keep_torchs_packed_projection() -> None:
    same = {"embed_dim": 8, "num_heads": 2, "kdim": 8, "vdim": 8}
    assert names(MHA, same, T)[0] == "in_proj_weight"
    assert names(MHA, {**same, "vdim": 4}, T)[:3] == [
        "q_proj_weight",
        "k_proj_weight",
        "v_proj_weight",
    ]


@pytest.mark.parametrize("layout", list(Layout))
def test_every_projection_has_the_attention_family_and_its_role(layout: Layout) -> None:
    fields = {"embed_dim": 8, "num_heads": 2}
    tensors = expand_layer(make_layer(MHA, fields), layout)
    assert {t.family for t in tensors} == {Family.ATTENTION}
    roles = [t.role for t in tensors if t.role is not Role.BIAS]
    assert roles == (
        [Role.ATTENTION_QKV, Role.ATTENTION_OUTPUT]
        if layout is T
        else [Role.ATTENTION_QKV] * 3 + [Role.ATTENTION_OUTPUT]
    )
    no_bias = expand_layer(make_layer(MHA, {**fields, "bias": False}), layout)
    assert [t.role for t in no_bias] == roles


def test_torchs_bias_k_and_bias_v_have_their_own_family() -> None:
    fields = {"embed_dim": 4, "num_heads": 1, "add_bias_kv": True}
    kv = [t for t in expand_layer(make_layer(MHA, fields), T) if t.name.startswith("bias_")]
    assert [(t.name, t.family, t.fans) for t in kv] == [
        ("bias_k", Family.ATTENTION_BIAS_KV, Fans(4, 4)),
        ("bias_v", Family.ATTENTION_BIAS_KV, Fans(4, 4)),
    ]


def test_keras_key_dim_defaults_to_torchs_head_size_and_value_dim_to_key_dim() -> None:
    shapes = {
        t.name: t.shape for t in expand_layer(make_layer(MHA, {"embed_dim": 12, "num_heads": 3}), K)
    }
    assert shapes["query.kernel"] == (12, 3, 4)
    assert shapes["value.kernel"] == (12, 3, 4)
    given = make_layer(MHA, {"embed_dim": 12, "num_heads": 5, "key_dim": 7, "output_shape": 3})
    shapes = {t.name: t.shape for t in expand_layer(given, K)}
    assert shapes["query.kernel"] == (12, 5, 7)  # key_dim needs no divisibility
    assert shapes["attention_output.kernel"] == (5, 7, 3)
    assert shapes["attention_output.bias"] == (3,)


def test_flax_qkv_features_and_out_features_default_to_the_input_features() -> None:
    shapes = {
        t.name: t.shape for t in expand_layer(make_layer(MHA, {"embed_dim": 12, "num_heads": 3}), J)
    }
    assert shapes == {
        "query.kernel": (12, 3, 4),
        "query.bias": (3, 4),
        "key.kernel": (12, 3, 4),
        "key.bias": (3, 4),
        "value.kernel": (12, 3, 4),
        "value.bias": (3, 4),
        "out.kernel": (3, 4, 12),
        "out.bias": (12,),
    }


@pytest.mark.parametrize(
    ("fields", "layout", "field", "fragment"),
    [
        ({"embed_dim": 9, "num_heads": 2}, T, "layer.num_heads", "num_heads=2 must divide"),
        ({"embed_dim": 9, "num_heads": 2}, K, "layer.key_dim", "Or give key_dim"),
        ({"embed_dim": 9, "num_heads": 2}, J, "layer.num_heads", "must divide qkv_features=9"),
        (
            {"embed_dim": 8, "num_heads": 2, "qkv_features": 5},
            J,
            "layer.qkv_features",
            "must divide qkv_features=5",
        ),
    ],
)
def test_heads_that_do_not_divide_the_features_are_refused(
    fields: dict[str, object], layout: Layout, field: str, fragment: str
) -> None:
    with pytest.raises(ShapeError, match=fragment) as info:
        expand_layer(make_layer(MHA, fields), layout)
    assert info.value.field == field


@pytest.mark.parametrize(
    ("name", "value", "layout", "taker"),
    [
        ("key_dim", 4, T, "Keras MultiHeadAttention"),
        ("value_dim", 4, J, "Keras MultiHeadAttention"),
        ("output_shape", [8], T, "Keras MultiHeadAttention"),
        ("qkv_features", 8, K, "Flax nn.MultiHeadDotProductAttention"),
        ("out_features", 8, T, "Flax nn.MultiHeadDotProductAttention"),
        ("add_bias_kv", True, K, "torch nn.MultiheadAttention"),
        ("add_bias_kv", True, J, "torch nn.MultiheadAttention"),
    ],
)
def test_another_frameworks_argument_is_refused_naming_the_layout_that_takes_it(
    name: str, value: object, layout: Layout, taker: str
) -> None:
    spec = make_layer(MHA, {"embed_dim": 8, "num_heads": 2, name: value})
    with pytest.raises(InvalidParameterError) as info:
        expand_layer(spec, layout)
    assert info.value.field == f"layer.{name}"
    assert taker in info.value.message and "use layout" in info.value.message


def test_add_bias_kv_false_is_every_frameworks_default() -> None:
    spec = make_layer(MHA, {"embed_dim": 8, "num_heads": 2, "add_bias_kv": False})
    assert len(expand_layer(spec, K)) == 8


@pytest.mark.parametrize(
    ("fields", "error", "field"),
    [
        ({"embed_dim": 8, "num_heads": 2, "output_shape": []}, InvalidParameterError,
         "layer.output_shape"),
        ({"embed_dim": 8, "num_heads": 2, "kdim": 0}, InvalidParameterError, "layer.kdim"),
        ({"embed_dim": 8, "num_heads": True}, InvalidParameterError, "layer.num_heads"),
        ({"embed_dim": 8}, InvalidParameterError, "layer.num_heads"),
        ({"embed_dim": 8, "num_heads": 2, "dropout": 0.1}, UnknownNameError, "layer.dropout"),
    ],
)  # fmt: skip
def test_bad_attention_fields_are_refused_on_their_path(
    fields: dict[str, object], error: type[Exception], field: str
) -> None:
    with pytest.raises(error) as info:
        make_layer(MHA, fields)
    assert getattr(info.value, "field", None) == field


# ---- transformer layers ---------------------------------------------------------------------

ENCODER = {"d_model": 8, "nhead": 2, "dim_feedforward": 16}


@pytest.mark.parametrize("kind", ["transformer_encoder_layer", "transformer_decoder_layer"])
@pytest.mark.parametrize("layout", [K, J])
def test_transformer_layers_exist_only_in_torch(kind: str, layout: Layout) -> None:
    with pytest.raises(InvalidParameterError) as info:
        expand_layer(make_layer(kind, ENCODER), layout)
    assert info.value.field == "layer.kind"
    assert "use layout 'torch', which has it" in info.value.message


def test_norm_first_changes_no_parameter() -> None:
    post = expand_layer(make_layer("transformer_encoder_layer", ENCODER), T)
    pre = expand_layer(make_layer("transformer_encoder_layer", {**ENCODER, "norm_first": True}), T)
    assert pre == post


def test_a_transformer_layer_is_refused_when_nhead_does_not_divide_d_model() -> None:
    spec = make_layer("transformer_decoder_layer", {"d_model": 10, "nhead": 4})
    with pytest.raises(ShapeError) as info:
        expand_layer(spec, T)
    assert info.value.field == "layer.nhead"


def test_a_transformer_layer_takes_no_decoder_flag() -> None:
    with pytest.raises(UnknownNameError) as info:
        make_layer("transformer_encoder_layer", {**ENCODER, "decoder": True})
    assert "decoder" not in info.value.choices


def test_transformer_roles_and_families() -> None:
    tensors = {t.name: t for t in expand_layer(make_layer("transformer_encoder_layer", ENCODER), T)}
    assert (tensors["linear1.weight"].role, tensors["linear1.weight"].family) == (
        Role.MLP_IN,
        Family.DENSE,
    )
    assert tensors["linear2.weight"].role is Role.MLP_OUT
    assert tensors["linear1.bias"].fans == Fans(8, 16)  # a Linear bias: U(+-1/sqrt(fan_in))
    assert tensors["self_attn.out_proj.bias"].family is Family.ATTENTION  # zeroed by MHA
    assert tensors["norm2.bias"].role is Role.NORM_SHIFT


@pytest.mark.parametrize(
    ("kind", "fields"),
    [
        ("transformer_decoder_layer", {"d_model": 6, "nhead": 3, "dim_feedforward": 5}),
        (MHA, {"embed_dim": 6, "num_heads": 3, "kdim": 2, "add_bias_kv": True}),
    ],
)
def test_count_elements_is_the_total_of_the_expanded_tensors(
    kind: str, fields: dict[str, object]
) -> None:
    spec = make_layer(kind, fields)
    assert count_elements(spec, T) == sum(math.prod(t.shape) for t in expand_layer(spec, T))


def test_torchs_packed_projection_is_narrower_than_a_separate_one_pytorch_166378() -> None:
    """torch's xavier_uniform_ on the packed in_proj_weight (3E, E) counts all three
    projections in fan_out, so its bound is sqrt(6 / 4E); the same query projection stored
    separately (q_proj_weight (E, E), when kdim or vdim differ) gets sqrt(6 / 2E). This is
    torch's default (pytorch/pytorch#166378, open; fixes #171361 and #171409 closed unmerged),
    so the torch layout keeps it: sqrt(2) apart."""
    packed = plan_layer(make_layer(MHA, {"embed_dim": 8, "num_heads": 2}))[0]
    separate = plan_layer(make_layer(MHA, {"embed_dim": 8, "num_heads": 2, "vdim": 4}))[0]
    assert (packed.name, separate.name) == ("in_proj_weight", "q_proj_weight")
    assert isinstance(packed.law, UniformLaw) and isinstance(separate.law, UniformLaw)
    assert packed.law.high == 0.4330127018922193  # torch: sqrt(3) * sqrt(2 / (8 + 24))
    assert separate.law.high == 0.6123724356957946  # torch: sqrt(3) * sqrt(2 / (8 + 8))
    assert separate.law.high / packed.law.high == pytest.approx(math.sqrt(2), rel=1e-15)
