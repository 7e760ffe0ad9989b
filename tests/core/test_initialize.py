"""Tests for app/core/initialize.py: one call from a layer spec to named arrays."""

from __future__ import annotations

import doctest

import numpy as np
import pytest

from app.core import initialize
from app.core.errors import InvalidParameterError, UnknownNameError
from app.core.generate import generate_all
from app.core.initialize import initialize_layer
from app.core.layers import make_layer
from app.core.planning import SchemeChoice, plan_layer
from app.core.schemes import resolve_scheme
from app.core.types import Algorithm, DType, Layout

DENSE = {"in_features": 5, "out_features": 3}


def test_the_module_docstring_example_runs() -> None:
    assert doctest.testmod(initialize, raise_on_error=True).attempted >= 1


def test_it_is_plan_layer_then_generate_all() -> None:
    got = initialize_layer(
        "dense",
        DENSE,
        seed=4,
        scheme={"name": "truncated_normal", "std": 0.5},
        bias_scheme="uniform",
        layout="keras",
        dtype="float64",
        prefix="enc.",
    )
    plans = plan_layer(
        make_layer("dense", DENSE),
        layout=Layout.KERAS,
        dtype=DType.FLOAT64,
        levels=(
            SchemeChoice(
                scheme=resolve_scheme("truncated_normal", {"std": 0.5}),
                bias_scheme=resolve_scheme("uniform"),
            ),
        ),
        prefix="enc.",
    )
    expected = generate_all(plans, 4)
    assert list(got) == ["enc.kernel", "enc.bias"]
    for array, want in zip(got.values(), expected, strict=True):
        assert array.dtype == np.float64 and array.tobytes() == want.tobytes()


def test_without_schemes_it_uses_the_layouts_defaults() -> None:
    got = initialize_layer("batch_norm", {"num_features": 3}, seed=0, layout=Layout.JAX)
    assert {k: v.tolist() for k, v in got.items()} == {
        "scale": [1.0] * 3,
        "bias": [0.0] * 3,
        "mean": [0.0] * 3,
        "var": [1.0] * 3,
    }


def test_threads_do_not_change_the_arrays() -> None:
    one = initialize_layer("tensor", {"shape": [300, 500]}, seed=2, scheme="normal")
    four = initialize_layer("tensor", {"shape": [300, 500]}, seed=2, scheme="normal", threads=4)
    assert one["weight"].tobytes() == four["weight"].tobytes()


def test_numpy_legacy_is_reachable_by_name() -> None:
    got = initialize_layer(
        "tensor",
        {"shape": [10, 2]},
        seed=3,
        scheme="random",
        dtype="float64",
        algorithm="numpy-legacy",
    )
    np.random.seed(3)
    assert got["weight"].tobytes() == (np.random.randn(10, 2) * 0.01).tobytes()


@pytest.mark.parametrize("field", ["scheme", "bias_scheme"])
def test_a_scheme_mapping_needs_a_name(field: str) -> None:
    with pytest.raises(InvalidParameterError, match=f"{field} needs a 'name'") as info:
        initialize_layer("dense", DENSE, seed=0, **{field: {"std": 0.1}})  # type: ignore[arg-type]
    assert info.value.field == f"{field}.name"


def test_a_scheme_mappings_parameters_are_reported_under_its_field() -> None:
    with pytest.raises(InvalidParameterError) as info:
        initialize_layer("dense", DENSE, seed=0, bias_scheme={"name": "normal", "std": -1.0})
    assert info.value.field == "bias_scheme.std"


@pytest.mark.parametrize(
    ("option", "value", "suggestion"),
    [
        ("layout", "pytorch", "torch"),
        ("dtype", "float_32", "float32"),
        ("algorithm", "blocks", None),
    ],
)
def test_a_bad_choice_is_an_unknown_name_on_its_field(
    option: str, value: str, suggestion: str | None
) -> None:
    with pytest.raises(UnknownNameError) as info:
        initialize_layer("dense", DENSE, seed=0, **{option: value})  # type: ignore[arg-type]
    assert info.value.field == option
    if suggestion is not None:
        assert info.value.suggestion == suggestion


def test_members_and_strings_are_the_same_choice() -> None:
    by_name = initialize_layer("dense", DENSE, seed=1, layout="jax", dtype="bfloat16")
    by_member = initialize_layer(
        "dense",
        DENSE,
        seed=1,
        layout=Layout.JAX,
        dtype=DType.BFLOAT16,
        algorithm=Algorithm.BLOCKS_V1,
    )
    assert by_name.keys() == by_member.keys()
    assert all(by_name[k].tobytes() == by_member[k].tobytes() for k in by_name)
