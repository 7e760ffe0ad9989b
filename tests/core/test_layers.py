"""Tests for app/core/layers.py: layer specs, their validation and their named tensors.

Names and shapes follow each framework (torch state_dict, Keras weights, Flax params) and are
part of the stream key, so they are written out here from the frameworks' conventions. Every
refusal is a typed error on the dotted field of the offending value.
"""

from __future__ import annotations

import math
import string

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from app.core.errors import InvalidParameterError, LimitExceededError, ShapeError, UnknownNameError
from app.core.fans import Fans
from app.core.kinds import KIND_CLASSES
from app.core.layers import (
    LAYER_KINDS,
    MAX_RANK,
    MAX_RECURRENT_LAYERS,
    BatchNormSpec,
    ConvSpec,
    DenseSpec,
    EmbeddingSpec,
    LayerNormSpec,
    RecurrentSpec,
    TensorLayerSpec,
    count_elements,
    expand_layer,
    make_layer,
)
from app.core.types import Family, Layout, Role

T, K, J = Layout.TORCH, Layout.KERAS, Layout.JAX


def names_and_shapes(kind: str, fields: dict[str, object], layout: Layout) -> list[tuple]:  # type: ignore[type-arg]
    return [(t.name, t.shape) for t in expand_layer(make_layer(kind, fields), layout)]


# ---- make_layer: specs and defaults -------------------------------------------------------------


def test_each_kind_builds_its_spec_with_torchs_defaults() -> None:
    assert make_layer("dense", {"in_features": 3, "out_features": 2}) == DenseSpec(3, 2, True)
    conv = make_layer("conv2d", {"in_channels": 4, "out_channels": 6, "kernel_size": 3})
    assert conv == ConvSpec(4, 6, (3, 3), 1, True, False) and conv.kind == "conv2d"
    transposed = make_layer(
        "conv_transpose1d", {"in_channels": 2, "out_channels": 2, "kernel_size": [5]}
    )
    assert transposed.transposed and transposed.kind == "conv_transpose1d"
    assert make_layer("embedding", {"num_embeddings": 9, "embedding_dim": 4}) == EmbeddingSpec(
        9, 4, None
    )
    lstm = make_layer("lstm", {"input_size": 3, "hidden_size": 5})
    assert lstm == RecurrentSpec("lstm", 3, 5, 1, True, False) and lstm.kind == "lstm"
    assert make_layer("layer_norm", {"normalized_shape": 8}) == LayerNormSpec((8,), True, True)
    assert make_layer("batch_norm", {"num_features": 8}) == BatchNormSpec(8, True, True)
    assert make_layer("tensor", {"shape": [2, 3]}) == TensorLayerSpec((2, 3))


def test_every_documented_kind_is_accepted() -> None:
    assert len(LAYER_KINDS) == len(set(LAYER_KINDS)) == 22
    assert {"conv1d", "conv3d", "conv_transpose3d", "rnn", "gru"} < set(LAYER_KINDS)
    assert {"multihead_attention", "transformer_decoder_layer", "rms_norm", "prelu"} < set(
        LAYER_KINDS
    )


@pytest.mark.parametrize(("padding", "row"), [(0, 0), (4, 4), (-1, 9), (-10, 0)])
def test_a_negative_padding_idx_counts_from_the_end(padding: int, row: int) -> None:
    spec = make_layer(
        "embedding", {"num_embeddings": 10, "embedding_dim": 2, "padding_idx": padding}
    )
    assert isinstance(spec, EmbeddingSpec) and spec.padding_idx == row


def test_kernel_size_of_one_int_is_the_same_in_every_spatial_dimension() -> None:
    spec = make_layer("conv3d", {"in_channels": 1, "out_channels": 1, "kernel_size": 2})
    assert isinstance(spec, ConvSpec) and spec.kernel_size == (2, 2, 2)


def test_a_tensor_takes_explicit_axes_and_fans() -> None:
    spec = make_layer(
        "tensor",
        {"shape": [2, 3, 4], "in_axes": 1, "out_axes": [2], "batch_axes": 0, "fan_in": 7},
    )
    assert spec == TensorLayerSpec((2, 3, 4), (1,), (2,), (0,), 7.0, None)


# ---- make_layer: refusals, each on its field ----------------------------------------------------


def test_an_unknown_kind_is_refused_with_a_suggestion() -> None:
    with pytest.raises(UnknownNameError) as info:
        make_layer("conv2", {})
    assert info.value.field == "layer.kind"
    assert info.value.suggestion in ("conv2d", "conv1d", "conv3d")


def test_fields_are_reported_under_the_callers_path() -> None:
    with pytest.raises(InvalidParameterError) as info:
        make_layer("dense", {"in_features": 3}, where="layers[2]")
    assert info.value.field == "layers[2].out_features"
    assert "needs 'out_features'" in info.value.message


@pytest.mark.parametrize(
    ("kind", "fields", "error", "field", "fragment"),
    [
        ("dense", {"in_features": 0, "out_features": 2}, InvalidParameterError,
         "layer.in_features", "must be >= 1, got 0"),
        ("dense", {"in_features": True, "out_features": 2}, InvalidParameterError,
         "layer.in_features", "must be a positive integer, got True"),
        ("dense", {"in_features": 2.0, "out_features": 2}, InvalidParameterError,
         "layer.in_features", "must be a positive integer"),
        ("dense", {"in_features": 2, "out_features": 2, "bias": 1}, InvalidParameterError,
         "layer.bias", "must be true or false, got 1"),
        ("dense", {"in_features": 2, "out_features": 2, "hidden_size": 4}, UnknownNameError,
         "layer.hidden_size", "of a dense layer"),
        ("conv2d", {"in_channels": 4, "out_channels": 6, "kernel_size": [3, 3, 3]},
         InvalidParameterError, "layer.kernel_size", "must have 2 entries, got 3"),
        ("conv2d", {"in_channels": 4, "out_channels": 6, "kernel_size": [3, 0]},
         InvalidParameterError, "layer.kernel_size[1]", "must be >= 1"),
        ("conv2d", {"in_channels": 4, "out_channels": 6, "kernel_size": "3"},
         InvalidParameterError, "layer.kernel_size", "list of positive integers"),
        ("conv1d", {"in_channels": 4, "out_channels": 6, "kernel_size": 3, "groups": 4},
         ShapeError, "layer.groups", "groups=4 must divide out_channels=6"),
        ("conv1d", {"in_channels": 6, "out_channels": 4, "kernel_size": 3, "groups": 4},
         ShapeError, "layer.groups", "groups=4 must divide in_channels=6"),
        ("embedding", {"num_embeddings": 5, "embedding_dim": 2, "padding_idx": 5},
         InvalidParameterError, "layer.padding_idx", "within -5..4, got 5"),
        ("embedding", {"num_embeddings": 5, "embedding_dim": 2, "padding_idx": -6},
         InvalidParameterError, "layer.padding_idx", "within -5..4"),
        ("embedding", {"num_embeddings": 5, "embedding_dim": 2, "padding_idx": False},
         InvalidParameterError, "layer.padding_idx", "must be an integer"),
        ("lstm", {"input_size": 3, "hidden_size": 4, "num_layers": 0}, InvalidParameterError,
         "layer.num_layers", "must be >= 1"),
        ("gru", {"input_size": 3, "hidden_size": 4, "bidirectional": "yes"},
         InvalidParameterError, "layer.bidirectional", "true or false"),
        ("layer_norm", {"normalized_shape": []}, None, None, None),
        ("layer_norm", {"normalized_shape": [4, -1]}, InvalidParameterError,
         "layer.normalized_shape[1]", "must be >= 1, got -1"),
        ("batch_norm", {"num_features": 4, "affine": None}, InvalidParameterError,
         "layer.affine", "true or false"),
        ("tensor", {"shape": [1] * (MAX_RANK + 1)}, InvalidParameterError, "layer.shape",
         f"rank {MAX_RANK + 1}, over {MAX_RANK}"),
        ("tensor", {"shape": [2, 3], "in_axes": 0}, InvalidParameterError, "layer.in_axes",
         "in_axes and out_axes together"),
        ("tensor", {"shape": [2, 3], "out_axes": 0}, InvalidParameterError, "layer.in_axes",
         "in_axes and out_axes together"),
        ("tensor", {"shape": [2, 3], "in_axes": [0, True], "out_axes": 1},
         InvalidParameterError, "layer.in_axes", "integer or a list of integers"),
        ("tensor", {"shape": [2, 3], "fan_in": 0}, InvalidParameterError, "layer.fan_in",
         "finite and > 0"),
        ("tensor", {"shape": [2, 3], "fan_out": float("inf")}, InvalidParameterError,
         "layer.fan_out", "finite and > 0"),
        ("tensor", {"shape": [2, 3], "fan_out": 10**400}, InvalidParameterError,
         "layer.fan_out", "finite and > 0"),
        ("tensor", {"shape": [2, 3], "fan_in": "1"}, InvalidParameterError, "layer.fan_in",
         "must be a number"),
        ("tensor", {}, InvalidParameterError, "layer.shape", "needs 'shape'"),
    ],
)  # fmt: skip
def test_a_bad_field_is_refused_on_its_path(
    kind: str,
    fields: dict[str, object],
    error: type[Exception] | None,
    field: str | None,
    fragment: str | None,
) -> None:
    if error is None:  # the one accepted edge case: a layer norm over no axes
        assert make_layer(kind, fields) == LayerNormSpec((), True, True)
        return
    with pytest.raises(error) as info:
        make_layer(kind, fields)
    assert getattr(info.value, "field", None) == field
    assert fragment is not None and fragment in str(info.value)


def test_an_unknown_field_lists_the_kinds_fields() -> None:
    with pytest.raises(UnknownNameError) as info:
        make_layer("batch_norm", {"num_features": 2, "eps": 1e-5, "momentum": 0.1})
    assert info.value.field == "layer.eps"  # the first unknown field, alphabetically
    assert info.value.choices == ["affine", "kind", "num_features", "track_running_stats"]


# ---- expand_layer: names, shapes, roles per layout -----------------------------------------------


@pytest.mark.parametrize(
    ("layout", "expected"),
    [
        (T, [("weight", (2, 3)), ("bias", (2,))]),
        (K, [("kernel", (3, 2)), ("bias", (2,))]),
        (J, [("kernel", (3, 2)), ("bias", (2,))]),
    ],
)
def test_dense_tensors_per_layout(layout: Layout, expected: list[tuple]) -> None:  # type: ignore[type-arg]
    assert names_and_shapes("dense", {"in_features": 3, "out_features": 2}, layout) == expected
    no_bias = names_and_shapes(
        "dense", {"in_features": 3, "out_features": 2, "bias": False}, layout
    )
    assert no_bias == expected[:1]


@pytest.mark.parametrize(
    ("kind", "layout", "weight"),
    [
        ("conv2d", T, ("weight", (6, 2, 3, 5))),  # (out, in/groups, *k)
        ("conv2d", K, ("kernel", (3, 5, 2, 6))),  # (*k, in/groups, out)
        ("conv2d", J, ("kernel", (3, 5, 2, 6))),
        ("conv_transpose2d", T, ("weight", (4, 3, 3, 5))),  # (in, out/groups, *k)
    ],
)
def test_grouped_conv_weight_shapes_per_layout(
    kind: str, layout: Layout, weight: tuple[str, tuple[int, ...]]
) -> None:
    fields = {"in_channels": 4, "out_channels": 6, "kernel_size": [3, 5], "groups": 2}
    assert names_and_shapes(kind, fields, layout) == [weight, ("bias", (6,))]


@pytest.mark.parametrize(("layout", "shape"), [(K, (3, 6, 4)), (J, (3, 4, 6))])
def test_transposed_conv_kernels_in_keras_and_flax_order(
    layout: Layout, shape: tuple[int, ...]
) -> None:
    fields = {"in_channels": 4, "out_channels": 6, "kernel_size": 3}
    assert names_and_shapes("conv_transpose1d", fields, layout)[0] == ("kernel", shape)


@pytest.mark.parametrize("layout", [K, J])
def test_grouped_transposed_conv_exists_only_in_torch(layout: Layout) -> None:
    spec = make_layer(
        "conv_transpose2d", {"in_channels": 4, "out_channels": 4, "kernel_size": 3, "groups": 2}
    )
    with pytest.raises(ShapeError, match="no grouped transposed convolution") as info:
        expand_layer(spec, layout)
    assert info.value.field == "layer.groups"
    assert expand_layer(spec, T)[0].shape == (4, 2, 3, 3)


@pytest.mark.parametrize(
    ("layout", "name", "fans"),
    [(T, "weight", Fans(4, 9)), (K, "embeddings", Fans(9, 4)), (J, "embedding", Fans(4, 4))],
)
def test_embedding_names_and_fans_per_layout(layout: Layout, name: str, fans: Fans) -> None:
    (table,) = expand_layer(
        make_layer("embedding", {"num_embeddings": 9, "embedding_dim": 4}), layout
    )
    assert (table.name, table.shape, table.role, table.family) == (
        name,
        (9, 4),
        Role.EMBEDDING,
        Family.EMBEDDING,
    )
    # Flax's Embed names axis 0 as in and out axis: receptive field 36 / 9 / 9, fans (4, 4)
    assert table.fans == fans


def test_torch_lstm_names_shapes_and_roles() -> None:
    tensors = expand_layer(
        make_layer(
            "lstm", {"input_size": 3, "hidden_size": 5, "num_layers": 2, "bidirectional": True}
        ),
        T,
    )
    assert [(t.name, t.shape) for t in tensors[:8]] == [
        ("weight_ih_l0", (20, 3)),
        ("weight_hh_l0", (20, 5)),
        ("bias_ih_l0", (20,)),
        ("bias_hh_l0", (20,)),
        ("weight_ih_l0_reverse", (20, 3)),
        ("weight_hh_l0_reverse", (20, 5)),
        ("bias_ih_l0_reverse", (20,)),
        ("bias_hh_l0_reverse", (20,)),
    ]
    assert tensors[8].name == "weight_ih_l1" and tensors[8].shape == (20, 10)  # 2 directions in
    assert len(tensors) == 16
    assert [t.role for t in tensors[:4]] == [
        Role.WEIGHT,
        Role.RECURRENT_WEIGHT,
        Role.BIAS,
        Role.BIAS,
    ]
    assert all(t.cell == "lstm" and t.hidden_size == 5 for t in tensors)
    assert tensors[3].fans == tensors[1].fans  # a bias carries its weight's fans


def test_keras_recurrent_names_prefixes_and_gru_bias() -> None:
    gru = {"input_size": 3, "hidden_size": 4, "num_layers": 2, "bidirectional": True}
    names = names_and_shapes("gru", gru, K)
    assert names[:3] == [
        ("l0.forward.kernel", (3, 12)),
        ("l0.forward.recurrent_kernel", (4, 12)),
        ("l0.forward.bias", (2, 12)),  # Keras GRU (reset_after): input and recurrent biases
    ]
    assert names[3][0] == "l0.backward.kernel" and names[6] == ("l1.forward.kernel", (8, 12))
    assert names_and_shapes("lstm", {"input_size": 3, "hidden_size": 4}, K) == [
        ("kernel", (3, 16)),
        ("recurrent_kernel", (4, 16)),
        ("bias", (16,)),
    ]


@pytest.mark.parametrize(
    ("cell", "names"),
    [
        ("lstm", ["ii.kernel", "hi.kernel", "hi.bias", "if.kernel", "hf.kernel", "hf.bias",
                  "ig.kernel", "hg.kernel", "hg.bias", "io.kernel", "ho.kernel", "ho.bias"]),
        ("gru", ["ir.kernel", "ir.bias", "hr.kernel", "iz.kernel", "iz.bias", "hz.kernel",
                 "in.kernel", "in.bias", "hn.kernel", "hn.bias"]),
        ("rnn", ["i.kernel", "i.bias", "h.kernel"]),
    ],
)  # fmt: skip
def test_flax_cells_keep_one_dense_per_gate(cell: str, names: list[str]) -> None:
    tensors = expand_layer(make_layer(cell, {"input_size": 3, "hidden_size": 4}), J)
    assert [t.name for t in tensors] == names
    shapes = {t.name: t.shape for t in tensors}
    assert shapes[names[0]] == (3, 4) and all(
        shapes[n] == ((4, 4) if n.startswith("h") else (3, 4)) for n in names if "kernel" in n
    )
    no_bias = expand_layer(make_layer(cell, {"input_size": 3, "hidden_size": 4, "bias": False}), J)
    assert [t.name for t in no_bias] == [n for n in names if n.endswith("kernel")]


@pytest.mark.parametrize(
    ("layout", "names"),
    [
        (T, ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]),
        (K, ["gamma", "beta", "moving_mean", "moving_variance"]),
        (J, ["scale", "bias", "mean", "var"]),
    ],
)
def test_batch_norm_tensors_per_layout(layout: Layout, names: list[str]) -> None:
    tensors = expand_layer(make_layer("batch_norm", {"num_features": 3}), layout)
    assert [t.name for t in tensors] == names
    assert [t.role for t in tensors[:4]] == [
        Role.NORM_SCALE,
        Role.NORM_SHIFT,
        Role.RUNNING_STAT,
        Role.RUNNING_STAT,
    ]
    assert [t.fill for t in tensors[2:4]] == [0.0, 1.0]
    assert all(t.fans is None and t.family is Family.NORM for t in tensors)
    if layout is T:
        assert (tensors[4].role, tensors[4].shape) == (Role.COUNTER, ())


def test_norm_options_drop_their_tensors() -> None:
    bn = {"num_features": 3, "affine": False, "track_running_stats": False}
    assert names_and_shapes("batch_norm", bn, T) == []
    ln = {"normalized_shape": [2, 3], "bias": False}
    assert names_and_shapes("layer_norm", ln, K) == [("gamma", (2, 3))]
    assert (
        names_and_shapes("layer_norm", {"normalized_shape": 3, "elementwise_affine": False}, J)
        == []
    )


def test_a_raw_tensor_takes_the_layouts_fans_or_explicit_ones() -> None:
    (torch,) = expand_layer(make_layer("tensor", {"shape": [4, 3, 5]}), T)
    assert torch.fans == Fans(15, 20)
    (no_fans,) = expand_layer(make_layer("tensor", {"shape": [4]}), T)
    assert no_fans.fans is None
    (explicit,) = expand_layer(make_layer("tensor", {"shape": [4], "fan_in": 2, "fan_out": 8}), T)
    assert explicit.fans == Fans(2, 8)
    (axes,) = expand_layer(
        make_layer("tensor", {"shape": [2, 3, 4], "in_axes": 1, "out_axes": 2, "batch_axes": 0}), J
    )
    assert axes.fans == Fans(3, 4)


def test_batch_axes_need_in_and_out_axes() -> None:
    with pytest.raises(InvalidParameterError, match="batch_axes needs") as info:
        expand_layer(make_layer("tensor", {"shape": [2, 3], "batch_axes": 0}), T)
    assert info.value.field == "layer.batch_axes"


def test_a_recurrent_stack_over_the_library_guard_is_refused_before_expanding() -> None:
    spec = make_layer(
        "rnn", {"input_size": 1, "hidden_size": 1, "num_layers": MAX_RECURRENT_LAYERS + 1}
    )
    with pytest.raises(LimitExceededError) as info:
        expand_layer(spec, T)
    assert info.value.field == "layer.num_layers" and info.value.unit == "layers"


# ---- LSTM projections, PReLU, Bilinear ----------------------------------------------------------


def test_a_projected_lstm_stack_reads_the_projection_and_records_it_in_its_spec() -> None:
    spec = make_layer("lstm", {"input_size": 3, "hidden_size": 5, "proj_size": 2})
    assert spec == RecurrentSpec("lstm", 3, 5, 1, True, False, 2)
    assert isinstance(spec, RecurrentSpec) and spec.output_size == 2
    no_bias = make_layer("lstm", {"input_size": 3, "hidden_size": 5, "proj_size": 2, "bias": False})
    assert [t.name for t in expand_layer(no_bias, T)] == [
        "weight_ih_l0",
        "weight_hh_l0",
        "weight_hr_l0",
    ]


@pytest.mark.parametrize(
    ("kind", "proj", "fragment"),
    [
        ("lstm", 5, "smaller than hidden_size=5"),
        ("lstm", -1, "0 .no projection. or a positive integer"),
        ("lstm", True, "0 .no projection. or a positive integer"),
        ("gru", 2, "only supported for LSTM"),
        ("rnn", 0, "only supported for LSTM"),
    ],
)
def test_a_bad_proj_size_is_refused(kind: str, proj: object, fragment: str) -> None:
    with pytest.raises(InvalidParameterError, match=fragment) as info:
        make_layer(kind, {"input_size": 3, "hidden_size": 5, "proj_size": proj})
    assert info.value.field == "layer.proj_size"


@pytest.mark.parametrize("layout", [K, J])
def test_only_torch_has_lstm_projections(layout: Layout) -> None:
    spec = make_layer("lstm", {"input_size": 3, "hidden_size": 5, "proj_size": 2})
    with pytest.raises(InvalidParameterError, match=r"argument of torch nn\.LSTM") as info:
        expand_layer(spec, layout)
    assert info.value.field == "layer.proj_size"
    unprojected = make_layer("lstm", {"input_size": 3, "hidden_size": 5, "proj_size": 0})
    assert expand_layer(unprojected, layout)  # proj_size 0 is every framework's LSTM


def test_prelu_slopes_per_layout_and_their_refusals() -> None:
    spec = make_layer("prelu", {"num_parameters": 4, "init": -1})
    (slope,) = expand_layer(spec, K)
    assert (slope.name, slope.shape, slope.role, slope.family, slope.fill) == (
        "alpha",
        (4,),
        Role.ACTIVATION,
        Family.PRELU,
        -1.0,
    )
    with pytest.raises(InvalidParameterError, match="one scalar negative_slope") as info:
        expand_layer(spec, J)
    assert info.value.field == "layer.num_parameters"
    for bad in (float("nan"), True, "0.1", 10**400):
        with pytest.raises(InvalidParameterError) as info:
            make_layer("prelu", {"init": bad})
        assert info.value.field == "layer.init"


def test_bilinear_is_torchs_alone_and_carries_in1_features() -> None:
    spec = make_layer("bilinear", {"in1_features": 3, "in2_features": 4, "out_features": 5})
    weight, bias = expand_layer(spec, T)
    assert (weight.in1_features, bias.in1_features, bias.fans) == (3, 3, weight.fans)
    for layout in (K, J):
        with pytest.raises(InvalidParameterError) as info:
            expand_layer(spec, layout)
        assert info.value.field == "layer.kind"


# ---- count_elements ------------------------------------------------------------------------------


@pytest.mark.parametrize("layout", list(Layout))
@pytest.mark.parametrize(
    ("kind", "fields"),
    [
        ("dense", {"in_features": 7, "out_features": 3}),
        ("conv_transpose2d", {"in_channels": 4, "out_channels": 6, "kernel_size": [3, 2]}),
        ("embedding", {"num_embeddings": 11, "embedding_dim": 5}),
        ("lstm", {"input_size": 3, "hidden_size": 4, "num_layers": 3, "bidirectional": True}),
        ("gru", {"input_size": 5, "hidden_size": 2, "num_layers": 4}),
        ("rnn", {"input_size": 5, "hidden_size": 2, "num_layers": 2, "bias": False}),
        ("batch_norm", {"num_features": 6}),
        ("tensor", {"shape": []}),
        ("group_norm", {"num_groups": 2, "num_channels": 6}),
        ("rms_norm", {"normalized_shape": [2, 3]}),
        ("prelu", {}),
        ("multihead_attention", {"embed_dim": 6, "num_heads": 2, "vdim": 3}),
    ],
)
def test_count_elements_is_the_total_of_the_expanded_tensors(
    kind: str, fields: dict[str, object], layout: Layout
) -> None:
    spec = make_layer(kind, fields)
    total = sum(math.prod(t.shape) for t in expand_layer(spec, layout))
    assert count_elements(spec, layout) == total


def test_count_elements_of_a_deep_projected_stack_matches_its_expansion() -> None:
    fields = {"input_size": 3, "hidden_size": 5, "proj_size": 2, "num_layers": 4}
    spec = make_layer("lstm", {**fields, "bidirectional": True})
    assert count_elements(spec, T) == sum(math.prod(t.shape) for t in expand_layer(spec, T))


def test_count_elements_of_a_huge_stack_does_not_expand_it() -> None:
    spec = make_layer("lstm", {"input_size": 3, "hidden_size": 4, "num_layers": 10**12})
    per_later_layer = 4 * 4 * 4 + 4 * 4 * 4 + 2 * 16  # weight_ih (16, 4), weight_hh, two biases
    first = 16 * 3 + 16 * 4 + 2 * 16
    assert count_elements(spec, T) == first + (10**12 - 1) * per_later_layer


# ---- properties --------------------------------------------------------------------------------

SIZES = st.integers(1, 6)
REQUIRED = {
    "dense": ("in_features", "out_features"),
    "bilinear": ("in1_features", "in2_features", "out_features"),
    "conv": ("in_channels", "out_channels", "kernel_size"),
    "embedding": ("num_embeddings", "embedding_dim"),
    "recurrent": ("input_size", "hidden_size"),
    "multihead_attention": ("embed_dim", "num_heads"),
    "transformer": ("d_model", "nhead"),
    "layer_norm": ("normalized_shape",),
    "batch_norm": ("num_features",),
    "group_norm": ("num_groups", "num_channels"),
    "instance_norm": ("num_features",),
    "rms_norm": ("normalized_shape",),
    "prelu": (),
    "tensor": ("shape",),
}
BOOLS = {
    "dense": ("bias",),
    "bilinear": ("bias",),
    "conv": ("bias",),
    "embedding": (),
    "recurrent": ("bias", "bidirectional"),
    "multihead_attention": ("bias",),
    "transformer": ("bias", "norm_first"),
    "layer_norm": ("elementwise_affine", "bias"),
    "batch_norm": ("affine", "track_running_stats"),
    "group_norm": ("affine",),
    "instance_norm": ("affine", "track_running_stats"),
    "rms_norm": ("elementwise_affine",),
    "prelu": (),
    "tensor": (),
}
OPTIONAL = {
    "dense": (),
    "bilinear": (),
    "conv": ("groups",),
    "embedding": ("padding_idx",),
    "recurrent": ("num_layers",),  # proj_size: LSTM only, tested on its own
    "multihead_attention": (
        "kdim",
        "vdim",
        "add_bias_kv",
        "key_dim",
        "value_dim",
        "output_shape",
        "qkv_features",
        "out_features",
    ),
    "transformer": ("dim_feedforward",),
    "layer_norm": (),
    "batch_norm": (),
    "group_norm": (),
    "instance_norm": (),
    "rms_norm": (),
    "prelu": ("num_parameters", "init"),
    "tensor": ("in_axes", "out_axes", "batch_axes", "fan_in", "fan_out"),
}
ALL_FIELDS = sorted(
    {f for table in (REQUIRED, BOOLS, OPTIONAL) for names in table.values() for f in names}
)


def group_of(kind: str) -> str:
    if kind.startswith("conv"):
        return "conv"
    if kind.startswith("transformer"):
        return "transformer"
    return "recurrent" if kind in ("rnn", "lstm", "gru") else kind


# Sizes that must divide another one: (divisor, dividend) per group.
DIVIDES = {
    "multihead_attention": ("num_heads", "embed_dim"),
    "transformer": ("nhead", "d_model"),
    "group_norm": ("num_groups", "num_channels"),
}


def _required(draw: st.DrawFn, kind: str, name: str) -> object:
    if name == "kernel_size":
        dims = int(kind[-2])
        return draw(st.one_of(SIZES, st.lists(SIZES, min_size=dims, max_size=dims)))
    if name in ("normalized_shape", "shape"):
        return draw(st.lists(SIZES, min_size=name == "normalized_shape", max_size=4))
    return draw(SIZES)


def _optional(draw: st.DrawFn, group: str, fields: dict[str, object]) -> None:
    """Optional fields a group may take, each maybe, all valid with the required ones."""
    if group == "transformer":
        fields["dim_feedforward"] = draw(SIZES)  # torch's default 2048 is slow to expand
    for name in ("kdim", "vdim") if group == "multihead_attention" else ():
        if draw(st.booleans()):
            fields[name] = draw(SIZES)
    if group == "prelu" and draw(st.booleans()):
        fields["num_parameters"] = draw(SIZES)
    if group == "conv" and draw(st.booleans()):
        common = math.gcd(int(fields["in_channels"]), int(fields["out_channels"]))  # type: ignore[call-overload]
        fields["groups"] = draw(
            st.sampled_from([g for g in range(1, common + 1) if common % g == 0])
        )
    if group == "recurrent" and draw(st.booleans()):
        fields["num_layers"] = draw(st.integers(1, 3))
    if group == "embedding" and draw(st.booleans()):
        n = int(fields["num_embeddings"])  # type: ignore[call-overload]
        fields["padding_idx"] = draw(st.integers(-n, n - 1))


@st.composite
def valid_layers(draw: st.DrawFn) -> tuple[str, dict[str, object]]:
    """A kind and fields make_layer must accept (sizes 1..6, every optional field maybe)."""
    kind = draw(st.sampled_from(LAYER_KINDS))
    group = group_of(kind)
    fields: dict[str, object] = {name: _required(draw, kind, name) for name in REQUIRED[group]}
    for name in BOOLS[group]:
        if draw(st.booleans()):
            fields[name] = draw(st.booleans())
    if group in DIVIDES:
        divisor, dividend = DIVIDES[group]
        fields[dividend] = int(fields[divisor]) * draw(SIZES)  # type: ignore[call-overload]
    _optional(draw, group, fields)
    return kind, fields


def refused_field(kind: str, fields: dict[str, object], layout: Layout) -> str | None:
    """The field a valid layer is refused on under ``layout`` (a framework lacks it), if any."""
    if layout not in KIND_CLASSES[kind]:
        return "layer.kind"
    if layout is T:
        return None
    if kind.startswith("conv_transpose") and fields.get("groups", 1) != 1:
        return "layer.groups"
    if layout is J and kind == "instance_norm" and fields.get("track_running_stats"):
        return "layer.track_running_stats"
    if layout is J and kind == "prelu" and fields.get("num_parameters", 1) != 1:
        return "layer.num_parameters"
    return None


@given(layer=valid_layers(), layout=st.sampled_from(list(Layout)))
def test_valid_layers_expand_to_distinct_positive_tensors(
    layer: tuple[str, dict[str, object]], layout: Layout
) -> None:
    kind, fields = layer
    spec = make_layer(kind, fields)
    refused = refused_field(kind, fields, layout)
    if refused is not None:
        with pytest.raises((ShapeError, InvalidParameterError)) as info:
            expand_layer(spec, layout)
        assert info.value.field == refused
        return
    tensors = expand_layer(spec, layout)
    names = [t.name for t in tensors]
    assert len(names) == len(set(names))
    assert all(d >= 1 for t in tensors for d in t.shape)
    assert count_elements(spec, layout) == sum(math.prod(t.shape) for t in tensors)


@given(kind=st.text(max_size=8).filter(lambda k: k not in LAYER_KINDS))
def test_an_unknown_kind_is_an_unknown_name_on_layer_kind(kind: str) -> None:
    with pytest.raises(UnknownNameError) as info:
        make_layer(kind, {})
    assert info.value.field == "layer.kind"
    assert repr(kind) in info.value.message


@given(layer=valid_layers(), data=st.data())
def test_a_missing_required_field_is_refused_on_that_field(
    layer: tuple[str, dict[str, object]], data: st.DataObject
) -> None:
    kind, fields = layer
    assume(REQUIRED[group_of(kind)])  # PReLU needs nothing
    missing = data.draw(st.sampled_from(REQUIRED[group_of(kind)]))
    del fields[missing]
    with pytest.raises(InvalidParameterError) as info:
        make_layer(kind, fields)
    assert info.value.field == f"layer.{missing}"
    assert f"needs {missing!r}" in info.value.message


@given(
    layer=valid_layers(),
    bogus=st.text(string.ascii_lowercase, min_size=1, max_size=6).map(lambda s: f"x_{s}"),
    extra=st.lists(st.sampled_from(ALL_FIELDS), max_size=3),
)
def test_an_unknown_field_is_refused_on_the_first_unknown_name(
    layer: tuple[str, dict[str, object]], bogus: str, extra: list[str]
) -> None:
    """Another kind's fields are unknown too; the error names the first, alphabetically."""
    kind, fields = layer
    group = group_of(kind)
    known = {*REQUIRED[group], *BOOLS[group], *OPTIONAL[group]}
    unknown = sorted({bogus, *(e for e in extra if e not in known)})
    for name in unknown:
        fields[name] = 1
    with pytest.raises(UnknownNameError) as info:
        make_layer(kind, fields)
    assert info.value.field == f"layer.{unknown[0]}"
    assert f"of a {kind} layer" in info.value.message


NOT_A_POSITIVE_INT = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 0),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=3),
)
NOT_A_BOOL = st.one_of(st.none(), st.integers(), st.floats(), st.text(max_size=3))


@given(layer=valid_layers(), data=st.data())
def test_a_wrongly_typed_value_is_refused_on_its_field(
    layer: tuple[str, dict[str, object]], data: st.DataObject
) -> None:
    kind, fields = layer
    group = group_of(kind)
    assume(REQUIRED[group] or BOOLS[group])  # PReLU has neither
    name = data.draw(st.sampled_from([*REQUIRED[group], *BOOLS[group]]))
    is_bool = name in BOOLS[group]
    fields[name] = data.draw(NOT_A_BOOL if is_bool else NOT_A_POSITIVE_INT)
    with pytest.raises(InvalidParameterError) as info:
        make_layer(kind, fields)
    field = info.value.field
    assert field is not None
    assert field == f"layer.{name}" or field.startswith(f"layer.{name}[")
    if is_bool:
        assert "must be true or false" in info.value.message
