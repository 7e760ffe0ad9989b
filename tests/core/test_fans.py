"""Fans under each layout and under explicit axes, against the reference frameworks' numbers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.core.errors import InvalidParameterError, ShapeError
from app.core.fans import FanAxes, Fans, compute_fans, layout_fans, override_fans
from app.core.layers import expand_layer, make_layer
from app.core.types import Layout

REF = json.loads((Path(__file__).parents[1] / "fixtures" / "reference_vectors.json").read_text())


@pytest.mark.parametrize("row", REF["torch_tensors"], ids=lambda r: str(r["shape"]))
def test_torch_layout_fans_match_torch(row: dict[str, object]) -> None:
    fans = layout_fans(tuple(row["shape"]), Layout.TORCH)  # type: ignore[arg-type]
    assert (fans.fan_in, fans.fan_out) == (row["fan_in"], row["fan_out"])


@pytest.mark.parametrize("row", REF["keras_kernels"], ids=lambda r: str(r["shape"]))
def test_keras_layout_fans_match_keras_compute_fans(row: dict[str, object]) -> None:
    fans = layout_fans(tuple(row["shape"]), Layout.KERAS)  # type: ignore[arg-type]
    assert (fans.fan_in, fans.fan_out) == (row["fan_in"], row["fan_out"])


@pytest.mark.parametrize("row", REF["jax_axes"], ids=lambda r: str(r["shape"]))
def test_explicit_axes_match_jax_compute_fans(row: dict[str, object]) -> None:
    axes = FanAxes(tuple(row["in_axes"]), tuple(row["out_axes"]), tuple(row["batch_axes"]))  # type: ignore[arg-type]
    fans = compute_fans(tuple(row["shape"]), axes)  # type: ignore[arg-type]
    assert [fans.fan_in, fans.fan_out] == row["fans"]


@pytest.mark.parametrize("row", REF["cross_framework"], ids=lambda r: r["kind"] + str(r["layer"]))
@pytest.mark.parametrize("layout", list(Layout))
def test_same_logical_layer_gets_each_frameworks_shape_and_fans(
    row: dict[str, object], layout: Layout
) -> None:
    layer = make_layer(row["kind"], row["layer"])  # type: ignore[arg-type]
    weight = expand_layer(layer, layout)[0]
    shape, fans = row[layout.value]  # type: ignore[misc]
    assert list(weight.shape) == shape
    assert weight.fans is not None
    assert [weight.fans.fan_in, weight.fans.fan_out] == fans


def test_flax_embed_trick_gives_fractional_receptive_field() -> None:
    fans = compute_fans((1000, 64), FanAxes(in_axes=(-2,), out_axes=(0,)))
    assert fans == Fans(64.0, 64.0)


def test_one_dimensional_shapes_follow_each_framework() -> None:
    assert layout_fans((64,), Layout.KERAS) == Fans(64.0, 64.0)
    assert layout_fans((), Layout.KERAS) == Fans(1.0, 1.0)
    for layout in (Layout.TORCH, Layout.JAX):
        with pytest.raises(ShapeError, match="fan_in/fan_out"):
            layout_fans((64,), layout)


def test_zero_dimension_is_rejected() -> None:
    with pytest.raises(ShapeError, match="zero dimension"):
        layout_fans((0, 3), Layout.TORCH)


def test_bad_axes_are_rejected_with_the_field_named() -> None:
    with pytest.raises(InvalidParameterError) as err:
        compute_fans((3, 4), FanAxes(in_axes=(2,), out_axes=(0,)))
    assert err.value.field == "in_axes"
    with pytest.raises(InvalidParameterError):
        compute_fans((3, 4, 5), FanAxes(in_axes=(0,), out_axes=(1,), batch_axes=(1,)))


def test_overrides_replace_fans_and_are_validated() -> None:
    assert override_fans(Fans(3, 4), 10, None) == Fans(10.0, 4.0)
    assert override_fans(None, 2, 5) == Fans(2.0, 5.0)
    with pytest.raises(InvalidParameterError):
        override_fans(None, 2, None)
    for bad in (0, -1, float("nan"), float("inf"), True):
        with pytest.raises(InvalidParameterError):
            override_fans(Fans(1, 1), bad, None)


@given(
    dims=st.lists(st.integers(1, 6), min_size=2, max_size=5),
    data=st.data(),
)
def test_fans_are_invariant_under_axis_relabelling(dims: list[int], data: st.DataObject) -> None:
    rank = len(dims)
    perm = data.draw(st.permutations(range(rank)))
    shape = tuple(dims)
    permuted = tuple(shape[p] for p in perm)
    where = {old: new for new, old in enumerate(perm)}
    base = compute_fans(shape, FanAxes((0,), (1,)))
    moved = compute_fans(permuted, FanAxes((where[0],), (where[1],)))
    assert base == moved


@given(st.lists(st.integers(1, 9), min_size=2, max_size=6))
def test_torch_and_keras_rules_agree_on_the_transposed_layout(dims: list[int]) -> None:
    # torch (out, in, *k) and keras (*k, in, out) describe the same kernel
    out, inp, *kernel = dims
    torch = layout_fans((out, inp, *kernel), Layout.TORCH)
    keras = layout_fans((*kernel, inp, out), Layout.KERAS)
    assert torch == keras
