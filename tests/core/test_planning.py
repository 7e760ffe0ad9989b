"""Tests for app/core/planning.py: a layer spec and scheme choices to named tensor plans.

``scheme`` initialises weights (kernels, embeddings, recurrent kernels, norm scales),
``bias_scheme`` biases, each defaulting to the layout's framework default; running statistics
and the counter always take their fixed values; an error a scheme raises without a field is
reported on the choice that caused it.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from app.core.errors import InvalidParameterError, ShapeError
from app.core.fans import Fans
from app.core.generate import generate_tensor
from app.core.laws import ConstantLaw, CounterLaw, NormalLaw, UniformLaw
from app.core.layers import expand_layer, make_layer
from app.core.planning import SchemeChoice, plan_layer, plan_tensor
from app.core.schemes import resolve_scheme
from app.core.types import Algorithm, DType, Layout, Role

DENSE = make_layer("dense", {"in_features": 3, "out_features": 2})


def test_weights_take_scheme_and_biases_take_bias_scheme() -> None:
    weight, bias = plan_layer(
        DENSE,
        levels=(
            SchemeChoice(scheme=resolve_scheme("he_normal"), bias_scheme=resolve_scheme("ones")),
        ),
    )
    assert (weight.name, bias.name) == ("weight", "bias")
    assert weight.law == NormalLaw(0.0, math.sqrt(2 / 3))
    assert bias.law == ConstantLaw(1.0)


def test_recurrent_kernels_are_weights_and_take_scheme() -> None:
    plans = plan_layer(
        make_layer("gru", {"input_size": 4, "hidden_size": 3}),
        levels=(SchemeChoice(scheme=resolve_scheme("zeros"), bias_scheme=resolve_scheme("ones")),),
    )
    laws = {p.name: p.law for p in plans}
    assert laws == {
        "weight_ih_l0": ConstantLaw(0.0),
        "weight_hh_l0": ConstantLaw(0.0),
        "bias_ih_l0": ConstantLaw(1.0),
        "bias_hh_l0": ConstantLaw(1.0),
    }


@pytest.mark.parametrize(
    ("layout", "default"),
    [
        (Layout.TORCH, "torch.default"),
        (Layout.KERAS, "keras.default"),
        (Layout.JAX, "flax.default"),
    ],
)
def test_without_a_scheme_every_tensor_takes_the_layouts_default(
    layout: Layout, default: str
) -> None:
    plans = plan_layer(DENSE, layout=layout)
    assert [p.scheme for p in plans] == [{"name": default}] * 2


@pytest.mark.parametrize(
    ("layout", "names"),
    [
        (Layout.TORCH, ("running_mean", "running_var", "num_batches_tracked")),
        (Layout.KERAS, ("moving_mean", "moving_variance", None)),
        (Layout.JAX, ("mean", "var", None)),
    ],
)
def test_running_statistics_are_fixed_whatever_the_scheme(
    layout: Layout, names: tuple[str, str, str | None]
) -> None:
    plans = plan_layer(
        make_layer("batch_norm", {"num_features": 4}),
        layout=layout,
        levels=(
            SchemeChoice(scheme=resolve_scheme("normal"), bias_scheme=resolve_scheme("normal")),
        ),
    )
    by_name = {p.name: p for p in plans}
    mean, var, counter = names
    assert by_name[mean].law == ConstantLaw(0.0) and by_name[mean].scheme == {"name": "zeros"}
    assert by_name[var].law == ConstantLaw(1.0) and by_name[var].scheme == {"name": "ones"}
    assert by_name[mean].fans is None and by_name[var].fans is None
    if counter is not None:
        assert by_name[counter].law == CounterLaw() and by_name[counter].shape == ()
    assert len(plans) == (5 if counter else 4)


def test_the_plan_echoes_every_resolved_parameter_and_fans_only_when_used() -> None:
    weight, _ = plan_layer(
        DENSE,
        levels=(SchemeChoice(scheme=resolve_scheme("he_uniform", {"mode": "fan_out"})),),
    )
    assert weight.scheme == {
        "name": "he_uniform",
        "a": 0.0,
        "mode": "fan_out",
        "nonlinearity": "leaky_relu",
        "gain_rule": "torch",
    }
    assert weight.fans == Fans(3.0, 2.0)
    (plan,) = plan_layer(
        make_layer("tensor", {"shape": [3, 2]}),
        levels=(SchemeChoice(scheme=resolve_scheme("normal")),),
    )
    assert plan.fans is None


def test_prefix_names_every_tensor() -> None:
    plans = plan_layer(DENSE, prefix="encoder.0.")
    assert [p.name for p in plans] == ["encoder.0.weight", "encoder.0.bias"]


def test_a_layers_values_depend_on_its_name_not_its_position() -> None:
    layer = make_layer("dense", {"in_features": 4, "out_features": 3})
    alone = plan_layer(layer, prefix="decoder.")
    after_another = plan_layer(
        make_layer("dense", {"in_features": 9, "out_features": 9}), prefix="encoder."
    )
    after_another += plan_layer(layer, prefix="decoder.")
    for p, q in zip(alone, after_another[-2:], strict=True):
        assert generate_tensor(p, 8).tobytes() == generate_tensor(q, 8).tobytes()


def test_the_padding_row_and_dtype_reach_the_plan() -> None:
    (plan,) = plan_layer(
        make_layer("embedding", {"num_embeddings": 5, "embedding_dim": 2, "padding_idx": -2}),
        dtype=DType.BFLOAT16,
    )
    assert plan.zero_row == 3 and plan.dtype is DType.BFLOAT16


def test_plan_tensor_is_one_entry_of_plan_layer() -> None:
    layer = make_layer("conv2d", {"in_channels": 2, "out_channels": 4, "kernel_size": 3})
    tensors = expand_layer(layer, Layout.KERAS)
    scheme = resolve_scheme("glorot_uniform")
    one = plan_tensor(
        tensors[0],
        layout=Layout.KERAS,
        dtype=DType.FLOAT64,
        levels=(SchemeChoice(scheme=scheme, bias_scheme=None),),
    )
    assert (
        one
        == plan_layer(
            layer,
            layout=Layout.KERAS,
            dtype=DType.FLOAT64,
            levels=(SchemeChoice(scheme=scheme),),
        )[0]
    )
    assert isinstance(one.law, UniformLaw)


def test_the_algorithm_reaches_the_scheme() -> None:
    """numpy-legacy computes he_normal's std in the textbook order, sqrt(2 / fan_in).

    For fan_in 14 that double differs in the last bit from the exactly rounded sqrt(1/7)
    blocks-v1 uses, so the two plans tell whether the algorithm reached the scheme.
    """
    laws = {
        algorithm: plan_layer(
            make_layer("tensor", {"shape": [4, 14]}),
            dtype=DType.FLOAT64,
            levels=(SchemeChoice(scheme=resolve_scheme("he_normal")),),
            algorithm=algorithm,
        )[0].law
        for algorithm in Algorithm
    }
    assert laws[Algorithm.NUMPY_LEGACY] == NormalLaw(0.0, math.sqrt(2 / 14))
    assert laws[Algorithm.BLOCKS_V1] == NormalLaw(0.0, 0.37796447300922725)  # sqrt(1/7) rounded
    assert math.sqrt(2 / 14) != 0.37796447300922725


# ---- the field of an error --------------------------------------------------------------------


def test_a_weight_schemes_shape_error_is_on_field_scheme() -> None:
    with pytest.raises(ShapeError, match="rank 2") as info:
        plan_layer(
            make_layer("tensor", {"shape": [3, 3, 3]}),
            levels=(SchemeChoice(scheme=resolve_scheme("identity")),),
        )
    assert info.value.field == "scheme"


def test_a_bias_schemes_shape_error_is_on_field_bias_scheme() -> None:
    with pytest.raises(ShapeError, match="rank >= 2") as info:
        plan_layer(
            DENSE,
            levels=(
                SchemeChoice(
                    scheme=resolve_scheme("normal"), bias_scheme=resolve_scheme("orthogonal")
                ),
            ),
        )
    assert info.value.field == "bias_scheme"


def test_a_default_schemes_error_is_on_the_field_it_replaced() -> None:
    with pytest.raises(ShapeError, match="needs fans") as info:
        plan_layer(make_layer("tensor", {"shape": [5]}), layout=Layout.TORCH)
    assert info.value.field == "scheme"


def test_a_truncation_error_from_the_law_is_on_field_scheme() -> None:
    scheme = resolve_scheme("torch.trunc_normal_", {"a": 1e7, "b": 2e7})
    with pytest.raises(InvalidParameterError, match="standard deviations from the mean") as info:
        plan_layer(
            DENSE,
            levels=(SchemeChoice(scheme=scheme),),
        )
    assert info.value.field == "scheme"


def test_finite_bounds_with_a_tiny_std_are_said_to_be_too_many_stds_away() -> None:
    # found by schemathesis: {"name": "torch.trunc_normal_", "std": 5e-324} was refused with
    # "The truncation bounds must be finite numbers." (its bounds are -2 and 2)
    scheme = resolve_scheme("torch.trunc_normal_", {"std": 5e-324})
    with pytest.raises(InvalidParameterError, match="standard deviations from the mean") as info:
        plan_layer(DENSE, levels=(SchemeChoice(scheme=scheme),))
    assert "[-2.0, 2.0]" in info.value.message and "raise the std" in info.value.message


def test_bounds_in_units_of_a_huge_std_are_said_to_overflow() -> None:
    # found by schemathesis: {"name": "truncated_normal", "std": 1.4e308} (bounds -2 and 2
    # stds) was refused with "The truncation bounds must be finite numbers."
    scheme = resolve_scheme("truncated_normal", {"std": 1.3985435037372475e308})
    with pytest.raises(InvalidParameterError, match="beyond float64's range") as info:
        plan_layer(DENSE, levels=(SchemeChoice(scheme=scheme),))
    assert "lower the std" in info.value.message


# ---- roles and levels of scheme choices -------------------------------------------------------


def _laws(plans: list[Any]) -> dict[str, Any]:
    return {p.name: p.law for p in plans}


def test_a_role_scheme_beats_scheme_and_bias_scheme_at_the_same_level() -> None:
    level = SchemeChoice(
        resolve_scheme("ones"), resolve_scheme("ones"), {Role.BIAS: resolve_scheme("zeros")}
    )
    assert _laws(plan_layer(DENSE, levels=(level,))) == {
        "weight": ConstantLaw(1.0),
        "bias": ConstantLaw(0.0),
    }


def test_a_layers_own_choices_beat_the_requests() -> None:
    own = SchemeChoice(bias_scheme=resolve_scheme("ones"))
    request = SchemeChoice(
        resolve_scheme("zeros"), resolve_scheme("zeros"), {Role.BIAS: resolve_scheme("normal")}
    )
    assert _laws(plan_layer(DENSE, levels=(own, request))) == {
        "weight": ConstantLaw(0.0),
        "bias": ConstantLaw(1.0),
    }


def test_a_request_wide_scheme_never_reaches_a_norm_but_the_norm_layers_own_does() -> None:
    norm = make_layer("layer_norm", {"normalized_shape": 4})
    request = SchemeChoice(resolve_scheme("he_normal"), resolve_scheme("normal"))
    kept = plan_layer(norm, levels=(SchemeChoice(), request))
    assert _laws(kept) == {"weight": ConstantLaw(1.0), "bias": ConstantLaw(0.0)}
    assert [p.role for p in kept] == [Role.NORM_SCALE, Role.NORM_SHIFT]
    own = SchemeChoice(resolve_scheme("zeros"), resolve_scheme("ones"))
    assert _laws(plan_layer(norm, levels=(own, request))) == {
        "weight": ConstantLaw(0.0),
        "bias": ConstantLaw(1.0),
    }
    by_role = SchemeChoice(role_schemes={Role.NORM_SCALE: resolve_scheme("zeros")})
    assert _laws(plan_layer(norm, levels=(SchemeChoice(), by_role)))["weight"] == ConstantLaw(0.0)


def test_a_prelu_slope_keeps_its_start_unless_its_layer_or_its_role_names_it() -> None:
    prelu = make_layer("prelu", {"num_parameters": 2})
    request = SchemeChoice(resolve_scheme("he_normal"), resolve_scheme("zeros"))
    (kept,) = plan_layer(prelu, levels=(SchemeChoice(), request))
    assert (kept.role, kept.law) == (Role.ACTIVATION, ConstantLaw(0.25))  # torch's init
    own = SchemeChoice(scheme=resolve_scheme("constant", {"value": 0.1}))
    assert plan_layer(prelu, levels=(own, request))[0].law == ConstantLaw(0.1)
    by_role = SchemeChoice(role_schemes={Role.ACTIVATION: resolve_scheme("zeros")})
    assert plan_layer(prelu, levels=(SchemeChoice(), by_role))[0].law == ConstantLaw(0.0)


def test_an_attention_layers_own_scheme_names_its_projections_not_a_norm() -> None:
    attention = make_layer("multihead_attention", {"embed_dim": 4, "num_heads": 2})
    own = SchemeChoice(resolve_scheme("zeros"), resolve_scheme("ones"))
    assert _laws(plan_layer(attention, levels=(own,))) == {
        "in_proj_weight": ConstantLaw(0.0),
        "in_proj_bias": ConstantLaw(1.0),
        "out_proj.weight": ConstantLaw(0.0),
        "out_proj.bias": ConstantLaw(1.0),
    }
    encoder = make_layer("transformer_encoder_layer", {"d_model": 4, "nhead": 2})
    laws = _laws(plan_layer(encoder, levels=(own,)))
    assert (laws["linear1.weight"], laws["norm1.weight"], laws["norm1.bias"]) == (
        ConstantLaw(0.0),
        ConstantLaw(1.0),  # a request's or a mixed layer's scheme never reaches a norm
        ConstantLaw(0.0),
    )


@pytest.mark.parametrize("role", [Role.RUNNING_STAT, Role.COUNTER])
def test_fixed_roles_cannot_be_named(role: Role) -> None:
    with pytest.raises(InvalidParameterError, match="fixed value") as info:
        SchemeChoice(role_schemes={role: resolve_scheme("ones")}, where="layers[1].")
    assert info.value.field == f"layers[1].role_schemes.{role.value}"


def test_a_layer_role_renames_its_plain_weights_and_role_schemes_find_them() -> None:
    level = SchemeChoice(
        resolve_scheme("ones"), role_schemes={Role.READOUT: resolve_scheme("zeros")}
    )
    weight, bias = plan_layer(DENSE, levels=(level,), weight_role=Role.READOUT)
    assert (weight.role, weight.law) == (Role.READOUT, ConstantLaw(0.0))
    assert bias.role is Role.BIAS
    with pytest.raises(InvalidParameterError, match="weight-like"):
        plan_layer(DENSE, weight_role=Role.BIAS)


def test_an_error_names_the_field_of_the_level_that_chose_the_scheme() -> None:
    level = SchemeChoice(role_schemes={Role.WEIGHT: resolve_scheme("identity")}, where="layers[2].")
    with pytest.raises(ShapeError) as info:
        plan_layer(make_layer("tensor", {"shape": [3, 3, 3]}), levels=(level,))
    assert info.value.field == "layers[2].role_schemes.weight"


def test_every_plan_states_its_role() -> None:
    plans = plan_layer(make_layer("batch_norm", {"num_features": 2}))
    assert [p.role for p in plans] == [
        Role.NORM_SCALE,
        Role.NORM_SHIFT,
        Role.RUNNING_STAT,
        Role.RUNNING_STAT,
        Role.COUNTER,
    ]
