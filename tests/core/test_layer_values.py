"""Tests for app/core/layer_values.py: framework arguments read per layout.

Each case is a constructor call as people write it (torch, Keras 3, Flax linen), sent as the
request's layer values; the expected fields and schemes follow the framework's own semantics
(Keras' ``"he_normal"`` is its truncated HeNormal; ``unit_forget_bias`` starts the forget gate
at 1; a mixed Keras policy keeps float32 variables).
"""

from __future__ import annotations

import pytest

from app.core.errors import InvalidParameterError, UnknownNameError, WeightInitError
from app.core.initialize import initialize_layer
from app.core.layer_values import (
    framework_class,
    read_dtype,
    read_layer,
    resolve_initializer,
    unknown_kind,
)
from app.core.layers import BatchNormSpec, ConvSpec, DenseSpec, LayerNormSpec, RecurrentSpec
from app.core.types import DType, Layout, Role

T, K, J = Layout.TORCH, Layout.KERAS, Layout.JAX


def schemes(values: dict[str, object], kind: str, layout: Layout) -> dict[str, str]:
    _, reading = read_layer(kind, values, layout=layout)
    return {role.value: scheme.name for role, scheme in reading.schemes.items()}


# ---- each framework's constructor arguments ---------------------------------------------------


def test_torch_conv2d_arguments_that_change_no_parameter_are_ignored() -> None:
    # torch.nn.Conv2d(3, 64, 3, stride=2, padding=1, dilation=1, padding_mode="zeros",
    #                 device=None, dtype=None)
    values = {
        "in_channels": 3,
        "out_channels": 64,
        "kernel_size": 3,
        "stride": 2,
        "padding": 1,
        "dilation": 1,
        "padding_mode": "zeros",
        "device": None,
        "dtype": None,
    }
    spec, reading = read_layer("conv2d", values, layout=T)
    assert spec == ConvSpec(3, 64, (3, 3))
    assert reading.values == {"in_channels": 3, "out_channels": 64, "kernel_size": 3}
    assert reading.schemes == {}


def test_keras_dense_reads_units_use_bias_and_its_initializers() -> None:
    # keras.layers.Dense(units=16, activation="relu", use_bias=False,
    #                    kernel_initializer="he_normal") on 8 inputs
    values = {
        "in_features": 8,
        "units": 16,
        "activation": "relu",
        "use_bias": False,
        "kernel_initializer": "he_normal",
        "kernel_regularizer": None,
        "name": "dense_1",
        "trainable": True,
    }
    spec, reading = read_layer("dense", values, layout=K)
    assert spec == DenseSpec(8, 16, bias=False)
    assert reading.values == {"in_features": 8, "out_features": 16, "bias": False}
    assert reading.renamed == {"out_features": "units", "bias": "use_bias"}
    assert {r.value: s.name for r, s in reading.schemes.items()} == {"weight": "keras.HeNormal"}
    assert reading.fields == {Role.WEIGHT: "layer.kernel_initializer"}


def test_flax_dense_reads_features_and_kernel_init() -> None:
    # flax.linen.Dense(features=10, use_bias=True, kernel_init=nn.initializers.lecun_normal())
    values = {
        "in_features": 4,
        "features": 10,
        "use_bias": True,
        "kernel_init": "lecun_normal",
        "bias_init": "zeros_init",
        "dtype": "bfloat16",  # Flax: the computation's dtype, not the parameters'
    }
    spec, reading = read_layer("dense", values, layout=J)
    assert spec == DenseSpec(4, 10, bias=True)
    assert {r.value: s.name for r, s in reading.schemes.items()} == {
        "weight": "jax.lecun_normal",
        "bias": "jax.zeros",
    }


def test_keras_and_flax_names_of_each_kind() -> None:
    conv = read_layer("conv2d", {"in_channels": 3, "filters": 8, "kernel_size": 3}, layout=K)[0]
    assert conv == ConvSpec(3, 8, (3, 3))
    grouped = {"in_channels": 4, "features": 8, "kernel_size": [3, 3], "feature_group_count": 2}
    assert read_layer("conv2d", grouped, layout=J)[0] == ConvSpec(4, 8, (3, 3), groups=2)
    emb = read_layer("embedding", {"input_dim": 100, "output_dim": 8, "mask_zero": True}, layout=K)
    assert emb[0].num_embeddings == 100 and emb[0].embedding_dim == 8  # type: ignore[union-attr]
    keras_emb = {"input_dim": 9, "output_dim": 2, "embeddings_initializer": "uniform"}
    assert schemes(keras_emb, "embedding", K) == {"embedding": "keras.RandomUniform"}
    flax_emb = read_layer("embedding", {"num_embeddings": 9, "features": 3}, layout=J)[0]
    assert flax_emb.embedding_dim == 3  # type: ignore[union-attr]
    lstm = {"input_size": 3, "units": 5, "return_sequences": True, "dropout": 0.1}
    assert read_layer("lstm", lstm, layout=K)[0] == RecurrentSpec("lstm", 3, 5)
    cell = {"input_size": 3, "features": 5, "recurrent_kernel_init": "orthogonal"}
    assert schemes(cell, "gru", J) == {"recurrent_weight": "jax.orthogonal"}


def test_torch_names_are_read_under_every_layout() -> None:
    values = {"in_features": 3, "out_features": 2, "bias": False, "device": "cuda"}
    for layout in Layout:
        assert read_layer("dense", values, layout=layout)[0] == DenseSpec(3, 2, False)


# ---- initializers -------------------------------------------------------------------------------


def test_initializers_are_read_in_the_frameworks_vocabulary() -> None:
    assert resolve_initializer("he_normal", K, "x").name == "keras.HeNormal"
    assert resolve_initializer("GlorotUniform", K, "x").name == "keras.GlorotUniform"
    assert resolve_initializer("he_normal", J, "x").name == "jax.he_normal"
    # a name the framework lacks is read as a weightinit scheme name
    assert resolve_initializer("torch.default", K, "x").name == "torch.default"
    normal = resolve_initializer({"name": "normal", "stddev": 0.02}, J, "x")
    assert normal.describe() == {"name": "jax.normal", "stddev": 0.02}


def test_a_keras_serialised_initializer_is_read_from_get_config() -> None:
    config = {
        "module": "keras.initializers",
        "class_name": "RandomNormal",
        "config": {"mean": 0.0, "stddev": 0.02, "seed": None},
        "registered_name": None,
    }
    resolved = resolve_initializer(config, K, "layer.kernel_initializer")
    assert resolved.describe() == {"name": "keras.RandomNormal", "mean": 0.0, "stddev": 0.02}
    seeded = {**config, "config": {"seed": 3}}
    with pytest.raises(InvalidParameterError, match="seed") as err:
        resolve_initializer(seeded, K, "layer.kernel_initializer")
    assert err.value.field == "layer.kernel_initializer.config.seed"


def test_an_unknown_initializer_names_the_argument_and_the_nearest_name() -> None:
    values = {"in_features": 2, "units": 2, "kernel_initializer": "glorot_unifrom"}
    with pytest.raises(UnknownNameError) as err:
        read_layer("dense", values, layout=K)
    assert err.value.field == "layer.kernel_initializer"
    assert err.value.suggestion == "glorot_uniform"


def test_norm_initializers_and_running_statistics() -> None:
    values = {"num_features": 4, "gamma_initializer": "ones", "beta_initializer": "zeros"}
    assert schemes(values, "batch_norm", K) == {
        "norm_scale": "keras.Ones",
        "norm_shift": "keras.Zeros",
    }
    fixed = {"num_features": 4, "moving_mean_initializer": "zeros", "renorm": False}
    assert read_layer("batch_norm", fixed, layout=K)[0] == BatchNormSpec(4)
    with pytest.raises(InvalidParameterError, match="fixed values") as err:
        read_layer(
            "batch_norm", {"num_features": 4, "moving_variance_initializer": "zeros"}, layout=K
        )
    assert err.value.field == "layer.moving_variance_initializer"


# ---- Keras LSTM's unit_forget_bias -----------------------------------------------------------


def test_unit_forget_bias_follows_keras() -> None:
    base = {"input_size": 3, "units": 4}
    assert schemes(base, "lstm", K) == {}  # nothing said: the layout's default (keras.default)
    assert schemes({**base, "bias_initializer": "zeros"}, "lstm", K) == {"bias": "keras.default"}
    assert schemes({**base, "unit_forget_bias": True}, "lstm", K) == {"bias": "keras.default"}
    assert schemes({**base, "unit_forget_bias": False}, "lstm", K) == {"bias": "keras.Zeros"}
    off = {**base, "unit_forget_bias": False, "bias_initializer": "random_normal"}
    assert schemes(off, "lstm", K) == {"bias": "keras.RandomNormal"}
    assert schemes({**base, "bias_initializer": "ones"}, "lstm", K) == {"bias": "keras.Ones"}
    with pytest.raises(InvalidParameterError, match="unit_forget_bias") as err:
        read_layer("lstm", {**base, "bias_initializer": "random_normal"}, layout=K)
    assert err.value.field == "layer.bias_initializer"


# ---- norms: scale and shift ------------------------------------------------------------------


def test_keras_and_flax_norm_parts_map_to_affine_fields() -> None:
    assert read_layer("layer_norm", {"normalized_shape": 4, "center": False}, layout=K)[
        0
    ] == LayerNormSpec((4,), True, False)
    both_off = {"normalized_shape": 4, "use_scale": False, "use_bias": False}
    assert read_layer("layer_norm", both_off, layout=J)[0] == LayerNormSpec((4,), False, True)
    assert read_layer("batch_norm", {"num_features": 4, "scale": False, "center": False}, layout=K)[
        0
    ] == BatchNormSpec(4, affine=False)
    with pytest.raises(InvalidParameterError, match="shift") as err:
        read_layer("layer_norm", {"normalized_shape": 4, "use_scale": False}, layout=J)
    assert err.value.field == "layer.use_scale"
    with pytest.raises(InvalidParameterError, match="both or neither"):
        read_layer("batch_norm", {"num_features": 4, "center": False}, layout=K)


# ---- refusals ----------------------------------------------------------------------------------


def test_another_layouts_name_is_refused_naming_that_layout() -> None:
    with pytest.raises(InvalidParameterError) as err:
        read_layer("dense", {"in_features": 2, "units": 3}, layout=T)
    assert err.value.field == "layer.units"
    assert "keras.layers.Dense" in err.value.message and "'out_features'" in err.value.message
    with pytest.raises(InvalidParameterError, match="'out_features' or 'features'"):
        read_layer("dense", {"in_features": 2, "units": 3}, layout=J)
    with pytest.raises(InvalidParameterError, match="role_schemes"):
        read_layer("dense", {"in_features": 2, "out_features": 3, "kernel_init": "zeros"}, layout=K)


def test_two_names_of_one_field_are_refused() -> None:
    with pytest.raises(InvalidParameterError, match="give one") as err:
        read_layer("dense", {"in_features": 2, "units": 3, "out_features": 3}, layout=K)
    assert err.value.field == "layer.units"


def test_a_missing_field_names_the_layouts_own_name() -> None:
    with pytest.raises(InvalidParameterError, match="'units'") as err:
        read_layer("dense", {"in_features": 2}, layout=K)
    assert err.value.field == "layer.out_features"


def test_an_error_on_an_aliased_value_points_at_the_given_name() -> None:
    grouped = {"in_channels": 4, "filters": 6, "kernel_size": 3, "groups": 4}
    with pytest.raises(WeightInitError) as err:
        read_layer("conv2d", grouped, layout=K)
    assert err.value.field == "layer.groups"
    with pytest.raises(InvalidParameterError) as err:
        read_layer("dense", {"in_features": 2, "units": 0}, layout=K)
    assert err.value.field == "layer.units"


def test_values_weightinit_does_not_build_are_refused() -> None:
    with pytest.raises(InvalidParameterError, match="reset_after=true"):
        read_layer("gru", {"input_size": 2, "units": 3, "reset_after": False}, layout=K)
    assert read_layer("gru", {"input_size": 2, "units": 3, "reset_after": True}, layout=K)
    with pytest.raises(InvalidParameterError, match="transpose_kernel"):
        read_layer(
            "conv_transpose2d",
            {"in_channels": 2, "features": 3, "kernel_size": 3, "transpose_kernel": True},
            layout=J,
        )


# ---- dtypes -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "dtype"),
    [
        ("float32", DType.FLOAT32),
        ("torch.float32", DType.FLOAT32),
        ("torch.float", DType.FLOAT32),
        ("torch.half", DType.FLOAT16),
        ("jnp.bfloat16", DType.BFLOAT16),
        ("float64", DType.FLOAT64),
        ("mixed_float16", DType.FLOAT32),  # a Keras policy: float32 variables
        ({"class_name": "DTypePolicy", "config": {"name": "float16"}}, DType.FLOAT16),
    ],
)
def test_framework_dtype_spellings(value: object, dtype: DType) -> None:
    assert read_dtype(value, "layer.dtype") is dtype


def test_a_layer_dtype_must_agree_with_the_requests() -> None:
    values = {"in_features": 2, "out_features": 3, "dtype": "torch.float16"}
    assert read_layer("dense", values, layout=T, dtype=DType.FLOAT16)
    with pytest.raises(InvalidParameterError, match='"dtype": "float16"') as err:
        read_layer("dense", values, layout=T, dtype=DType.FLOAT32)
    assert err.value.field == "layer.dtype"
    flax = {"in_features": 2, "features": 3, "param_dtype": "float64"}
    with pytest.raises(InvalidParameterError):
        read_layer("dense", flax, layout=J)
    with pytest.raises(UnknownNameError):
        read_dtype("float8", "layer.dtype")


# ---- layer kinds --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("linear", "dense"),
        ("Linear", "dense"),
        ("nn.Linear", "dense"),
        ("Dense", "dense"),
        ("Conv2d", "conv2d"),
        ("Conv2D", "conv2d"),
        ("Conv2DTranspose", "conv_transpose2d"),
        ("Embed", "embedding"),
        ("LayerNorm", "layer_norm"),
        ("LayerNormalization", "layer_norm"),
        ("BatchNorm2d", "batch_norm"),
        ("SimpleRNN", "rnn"),
        ("LSTMCell", "lstm"),
    ],
)
def test_a_frameworks_class_name_suggests_its_kind(name: str, kind: str) -> None:
    error = unknown_kind(name, "layer.kind")
    assert error.suggestion == kind
    assert f"Did you mean {kind!r}" in error.message
    with pytest.raises(UnknownNameError):
        read_layer(name, {}, layout=T)


def test_flax_conv_names_the_three_kinds() -> None:
    found = framework_class("Conv")
    assert found == ("flax.linen.Conv", ("conv1d", "conv2d", "conv3d"))
    assert "'conv1d', 'conv2d', 'conv3d'" in unknown_kind("Conv", "layer.kind").message
    assert framework_class("transformer") is None


def test_initialize_layer_reads_framework_arguments_too() -> None:
    keras_dense = {"in_features": 3, "units": 2, "use_bias": False, "kernel_initializer": "ones"}
    arrays = initialize_layer("dense", keras_dense, layout="keras", seed=0, scheme="zeros")
    assert list(arrays) == ["kernel"] and arrays["kernel"].shape == (3, 2)
    assert (arrays["kernel"] == 1).all()  # the argument beats the call's scheme


# ---- the newer kinds: attention, norms, PReLU -------------------------------------------------


def test_keras_multi_head_attention_reads_its_initializers_per_role() -> None:
    # keras.layers.MultiHeadAttention(num_heads=2, key_dim=4, use_bias=False,
    #                                 kernel_initializer="he_normal", dropout=0.1)
    values = {
        "embed_dim": 8,
        "num_heads": 2,
        "key_dim": 4,
        "use_bias": False,
        "kernel_initializer": "he_normal",
        "dropout": 0.1,
        "attention_axes": None,
    }
    _, reading = read_layer("multihead_attention", values, layout=K)
    assert reading.values == {"embed_dim": 8, "num_heads": 2, "key_dim": 4, "bias": False}
    assert schemes(values, "multihead_attention", K) == {
        "attention_qkv": "keras.HeNormal",
        "attention_output": "keras.HeNormal",
    }
    with pytest.raises(InvalidParameterError, match="use_gate=false") as info:
        read_layer("multihead_attention", {**values, "use_gate": True}, layout=K)
    assert info.value.field == "layer.use_gate"


def test_flax_attention_out_kernel_init_wins_for_the_output_projection() -> None:
    # flax.linen.MultiHeadDotProductAttention(num_heads=2, qkv_features=8,
    #     kernel_init=lecun_normal(), out_kernel_init=zeros_init(), dropout_rate=0.1)
    values = {
        "embed_dim": 8,
        "num_heads": 2,
        "qkv_features": 8,
        "kernel_init": "lecun_normal",
        "out_kernel_init": "zeros_init",
        "dropout_rate": 0.1,
        "deterministic": True,
    }
    assert schemes(values, "multihead_attention", J) == {
        "attention_qkv": "jax.lecun_normal",
        "attention_output": "jax.zeros",
    }
    no_out = {k: v for k, v in values.items() if k != "out_kernel_init"}
    assert schemes(no_out, "multihead_attention", J)["attention_output"] == "jax.lecun_normal"


def test_flax_attention_out_bias_init_must_agree_with_bias_init() -> None:
    base = {"embed_dim": 8, "num_heads": 2}
    # bias_init defaults to zeros: out_bias_init zeros is what Flax does anyway
    assert schemes({**base, "out_bias_init": "zeros"}, "multihead_attention", J) == {}
    same = {**base, "bias_init": "ones", "out_bias_init": "ones"}
    assert schemes(same, "multihead_attention", J) == {"bias": "jax.ones"}
    for values in ({**base, "out_bias_init": "ones"}, {**same, "out_bias_init": "zeros"}):
        with pytest.raises(InvalidParameterError, match="one scheme per role") as info:
            read_layer("multihead_attention", values, layout=J)
        assert info.value.field == "layer.out_bias_init"
    with pytest.raises(InvalidParameterError, match="normalize_qk"):
        read_layer("multihead_attention", {**base, "normalize_qk": True}, layout=J)


def test_torch_attention_and_transformer_arguments_that_change_nothing() -> None:
    # torch.nn.MultiheadAttention(8, 2, dropout=0.1, add_zero_attn=True, batch_first=True)
    _, reading = read_layer(
        "multihead_attention",
        {
            "embed_dim": 8,
            "num_heads": 2,
            "dropout": 0.1,
            "add_zero_attn": True,
            "batch_first": True,
            "device": "cpu",
            "dtype": "torch.float32",
        },
    )
    assert reading.values == {"embed_dim": 8, "num_heads": 2} and not reading.schemes
    # torch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.1, activation="gelu",
    #     layer_norm_eps=1e-6, batch_first=True, norm_first=True)
    _, reading = read_layer(
        "transformer_encoder_layer",
        {
            "d_model": 8,
            "nhead": 2,
            "dim_feedforward": 16,
            "dropout": 0.1,
            "activation": "gelu",
            "layer_norm_eps": 1e-6,
            "batch_first": True,
            "norm_first": True,
        },
    )
    assert reading.values == {"d_model": 8, "nhead": 2, "dim_feedforward": 16, "norm_first": True}


def test_newer_norms_read_their_frameworks_switches() -> None:
    # keras.layers.GroupNormalization(groups=2, center=False, scale=False, epsilon=1e-5)
    _, reading = read_layer(
        "group_norm",
        {"groups": 2, "num_channels": 4, "center": False, "scale": False, "epsilon": 1e-5},
        layout=K,
    )
    assert reading.values == {"num_groups": 2, "num_channels": 4, "affine": False}
    # flax.linen.InstanceNorm(use_scale=True, use_bias=True, scale_init=ones)
    _, reading = read_layer(
        "instance_norm",
        {"num_features": 4, "use_scale": True, "use_bias": True, "scale_init": "ones"},
        layout=J,
    )
    assert reading.values == {"num_features": 4, "affine": True}
    assert reading.schemes[Role.NORM_SCALE].name == "jax.ones"
    with pytest.raises(InvalidParameterError, match="both or neither"):
        read_layer("group_norm", {"num_groups": 2, "num_channels": 4, "use_bias": False}, layout=J)
    # flax.linen.RMSNorm(use_scale=False); keras.layers.RMSNormalization(axis=-1, epsilon=1e-6)
    _, reading = read_layer("rms_norm", {"normalized_shape": 4, "use_scale": False}, layout=J)
    assert reading.values == {"normalized_shape": 4, "elementwise_affine": False}
    _, reading = read_layer(
        "rms_norm", {"normalized_shape": 4, "axis": -1, "epsilon": 1e-6}, layout=K
    )
    assert reading.values == {"normalized_shape": 4}


def test_prelu_slopes_start_from_a_number_or_an_initializer() -> None:
    # flax.linen.PReLU(negative_slope_init=0.2): a number, as torch's init
    _, reading = read_layer("prelu", {"negative_slope_init": 0.2}, layout=J)
    assert reading.values == {"init": 0.2} and not reading.schemes
    # keras.layers.PReLU(alpha_initializer="ones", shared_axes=[1, 2])
    assert schemes({"alpha_initializer": "ones", "shared_axes": [1, 2]}, "prelu", K) == {
        "activation": "keras.Ones"
    }
    with pytest.raises(InvalidParameterError, match="give one of them") as info:
        read_layer("prelu", {"init": 0.1, "alpha_initializer": "ones"}, layout=K)
    assert info.value.field == "layer.init"
    with pytest.raises(InvalidParameterError, match="'jax'") as info:
        read_layer("prelu", {"negative_slope_init": 0.2}, layout=T)
    assert info.value.field == "layer.negative_slope_init"
