"""Hypothesis properties: any valid request gives finite values of the right shape and dtype;
any invalid one raises a typed WeightInitError (never a bare numpy or Python exception)."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.dtypes import numpy_dtype
from app.core.errors import WeightInitError
from app.core.generate import generate_tensor
from app.core.layers import LAYER_KINDS, make_layer
from app.core.planning import plan_layer
from app.core.schemes import SCHEMES, ParamKind, all_names, resolve_scheme
from app.core.types import DType, Layout

shapes = st.lists(st.integers(1, 12), min_size=0, max_size=5)
junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.text(max_size=5),
    st.floats(allow_nan=True, allow_infinity=True),
    st.lists(st.integers(-3, 3), max_size=3),
)


def _valid_value(kind: ParamKind, choices: tuple[str, ...]) -> st.SearchStrategy[object]:
    if kind is ParamKind.CHOICE:
        return st.sampled_from(choices)
    if kind is ParamKind.INTEGER:
        return st.integers(1, 4)
    return st.floats(0.05, 3.0)


@st.composite
def scheme_requests(draw: st.DrawFn) -> tuple[str, dict[str, object]]:
    name = draw(st.sampled_from(sorted(SCHEMES)))
    params: dict[str, object] = {}
    for p in SCHEMES[name].params:
        if p.required or draw(st.booleans()):
            params[p.name] = draw(_valid_value(p.kind, p.choices))
    return name, params


@settings(max_examples=300)
@given(
    req=scheme_requests(),
    shape=shapes,
    layout=st.sampled_from(list(Layout)),
    dtype=st.sampled_from(list(DType)),
    seed=st.integers(0, 2**64 - 1),
)
def test_valid_requests_give_finite_values_of_the_right_shape_and_dtype(
    req: tuple[str, dict[str, object]], shape: list[int], layout: Layout, dtype: DType, seed: int
) -> None:
    name, params = req
    try:
        scheme = resolve_scheme(name, params)
        (plan,) = plan_layer(
            make_layer("tensor", {"shape": shape}), layout=layout, dtype=dtype, scheme=scheme
        )
        values = generate_tensor(plan, seed)
    except WeightInitError as exc:  # a scheme/shape mismatch is a typed, explained refusal
        assert str(exc) and exc.message
        return
    assert values.shape == tuple(shape)
    assert values.dtype == numpy_dtype(dtype)
    assert np.isfinite(values.astype(np.float64)).all()
    if plan.law.std is not None and math.prod(shape) > 1 and not isinstance(plan.law.std, bool):
        assert math.isfinite(plan.law.std)


@settings(max_examples=300)
@given(
    name=st.one_of(st.sampled_from(all_names()), st.text(max_size=12)),
    params=st.dictionaries(st.text(max_size=8), junk, max_size=3),
    shape=st.lists(st.integers(-2, 6), max_size=4),
)
def test_invalid_scheme_requests_raise_typed_errors(
    name: str, params: dict[str, object], shape: list[int]
) -> None:
    try:
        scheme = resolve_scheme(name, params)
        plan_layer(make_layer("tensor", {"shape": shape}), scheme=scheme)
    except WeightInitError as exc:
        assert exc.message
        if exc.field is not None:
            assert exc.field.split(".")[0] in ("scheme", "layer", "in_axes", "out_axes", "fan_in")


@settings(max_examples=300)
@given(
    kind=st.one_of(st.sampled_from(LAYER_KINDS), st.text(max_size=8)),
    fields=st.dictionaries(
        st.sampled_from(
            [
                "in_features",
                "out_features",
                "in_channels",
                "out_channels",
                "kernel_size",
                "groups",
                "num_embeddings",
                "embedding_dim",
                "input_size",
                "hidden_size",
                "num_layers",
                "normalized_shape",
                "num_features",
                "shape",
                "bias",
                "bidirectional",
                "padding_idx",
                "in_axes",
                "out_axes",
                "fan_in",
                "bogus",
            ]
        ),
        st.one_of(junk, st.integers(1, 8)),
        max_size=6,
    ),
    layout=st.sampled_from(list(Layout)),
)
def test_invalid_layers_raise_typed_errors(
    kind: str, fields: dict[str, object], layout: Layout
) -> None:
    try:
        plans = plan_layer(make_layer(kind, fields), layout=layout)
    except WeightInitError as exc:
        assert exc.message and exc.field
        return
    for p in plans:
        assert all(d >= 1 for d in p.shape)


@settings(max_examples=300)
@given(
    name=st.sampled_from(sorted(SCHEMES)),
    values=st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=6, max_size=6),
    shape=st.lists(st.integers(1, 6), min_size=2, max_size=4),
    dtype=st.sampled_from(list(DType)),
)
def test_extreme_finite_parameters_give_finite_values_or_a_typed_error(
    name: str, values: list[float], shape: list[int], dtype: DType
) -> None:
    numbers = iter(values)
    params: dict[str, object] = {
        p.name: next(numbers) for p in SCHEMES[name].params if p.kind is ParamKind.NUMBER
    }
    try:
        scheme = resolve_scheme(name, params)
        (plan,) = plan_layer(make_layer("tensor", {"shape": shape}), dtype=dtype, scheme=scheme)
        out = generate_tensor(plan, 1)
    except WeightInitError as exc:
        assert exc.message
        return
    assert np.isfinite(out.astype(np.float64)).all()


def test_absurd_sizes_are_refused_before_allocation() -> None:
    from app.core.errors import LimitExceededError

    (plan,) = plan_layer(
        make_layer("tensor", {"shape": [2**30, 2**30]}), scheme=resolve_scheme("zeros")
    )
    try:
        generate_tensor(plan, 0)
    except LimitExceededError as exc:
        assert exc.requested == 2**60
    else:  # pragma: no cover
        raise AssertionError("expected LimitExceededError")
