"""Hypothesis properties of the request pipeline: resolve_scheme -> plan_layer -> generate_tensor.

Every property states, for the input it generated, the one outcome it expects: values of the
right shape and dtype, or a refusal of one class, on one field, saying one thing. Nothing
counts "some WeightInitError" as a pass. The expectations come from the registry's public
metadata (``Param`` ranges and choices, ``Scheme.uses_fans``) and from the rank/channel rules
written out in ``SHAPE_RULES`` below.

Layer-spec properties live in test_layers.py. The crashes these properties found (a 500 each
in the API) are fixed and pinned by regression tests at the end of this file and in
test_laws.py.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import cache

import numpy as np
import pytest
from hypothesis import example, given, reject, settings
from hypothesis import strategies as st

from app.core.dtypes import finfo_max, numpy_dtype
from app.core.errors import InvalidParameterError, ShapeError, UnknownNameError, WeightInitError
from app.core.gains import TORCH_NONLINEARITIES, VARIANCE_PRESERVING_ACTIVATIONS
from app.core.generate import generate_tensor
from app.core.laws import TruncatedNormalLaw
from app.core.layers import make_layer
from app.core.planning import SchemeChoice, plan_layer
from app.core.schemes import ALIASES, SCHEMES, Param, ParamKind, all_names, resolve_scheme
from app.core.types import DType, Layout

# ---- what the registry promises, written out -----------------------------------------------------

# (lowest rank, highest rank or None) of the schemes with a rank rule; every other scheme
# takes any rank (the fan-based ones need fans, see shape_refusal).
SHAPE_RULES: dict[str, tuple[int, int | None]] = {
    "orthogonal": (2, None),
    "torch.orthogonal_": (2, None),
    "keras.Orthogonal": (2, None),
    "jax.orthogonal": (2, None),
    "identity": (2, 2),
    "torch.eye_": (2, 2),
    "keras.Identity": (2, 2),
    "sparse": (2, 2),
    "torch.sparse_": (2, 2),
    "dirac": (3, 5),
    "torch.dirac_": (3, 5),
    "delta_orthogonal": (3, 5),
    "jax.delta_orthogonal": (3, 5),
}
DIRAC = ("dirac", "torch.dirac_")
DELTA_ORTHOGONAL = ("delta_orthogonal", "jax.delta_orthogonal")
# Each scheme's check: the first parameter must be less than the second.
ORDERED_PAIRS = (("low", "high"), ("a", "b"), ("minval", "maxval"), ("lower", "upper"))
# A valid value for each required parameter (all of them are numbers in [0, 1]).
REQUIRED_VALUE = 0.5


def shape_refusal(
    name: str, params: Mapping[str, object], shape: tuple[int, ...], layout: Layout
) -> str | None:
    """The fragment of the ShapeError a tensor of ``shape`` must get, or None if it fits."""
    rank = len(shape)
    if SCHEMES[name].uses_fans and layout is not Layout.KERAS and rank < 2:
        return "needs fans"  # torch and JAX define no fans below rank 2; Keras does
    low, high = SHAPE_RULES.get(name, (0, None))
    if rank < low or (high is not None and rank > high):
        return "needs a tensor of rank"
    channels_last = layout is not Layout.TORCH
    if name in DIRAC:
        out = shape[-1] if channels_last else shape[0]
        if out % int(params.get("groups", 1)):  # type: ignore[call-overload]
            return "does not divide"
    if name in DELTA_ORTHOGONAL:
        c_in, c_out = (shape[-2], shape[-1]) if channels_last else (shape[1], shape[0])
        if c_out < c_in:
            return "needs out_channels >= in_channels"
    return None


def in_range(param: Param, value: float) -> bool:
    """Whether ``value`` satisfies the parameter's documented minimum and maximum."""
    if param.minimum is not None and (
        value <= param.minimum if param.exclusive_minimum else value < param.minimum
    ):
        return False
    return param.maximum is None or (
        value < param.maximum if param.exclusive_maximum else value <= param.maximum
    )


def parameter_refusal(name: str, params: Mapping[str, float]) -> tuple[str, str] | None:
    """(field, message fragment) of the refusal numeric ``params`` must get, or None."""
    scheme = SCHEMES[name]
    for param in scheme.params:
        if param.name in params and not in_range(param, params[param.name]):
            return f"scheme.{param.name}", f"must be {param.range_text()}"
    resolved = {p.name: params.get(p.name, p.default) for p in scheme.params}
    for low, high in ORDERED_PAIRS:
        if low in resolved and high in resolved and not resolved[low] < resolved[high]:  # type: ignore[operator]
            return f"scheme.{low}", f"{low} must be less than {high}"
    slope = resolved.get("a")
    if name.startswith("he_") and isinstance(slope, float) and math.isinf(1 + slope * slope):
        return "scheme.a", "is too large (its square overflows)"
    return None


@cache
def truncating_schemes() -> frozenset[str]:
    """Schemes whose law, with their default choices, is a truncated normal."""
    names = set()
    for name, scheme in SCHEMES.items():
        params = {p.name: REQUIRED_VALUE for p in scheme.params if p.required}
        shape = [4, 4, 3] if SHAPE_RULES.get(name, (0, None))[0] == 3 else [4, 4]
        (plan,) = plan_layer(
            make_layer("tensor", {"shape": shape}),
            levels=(SchemeChoice(scheme=resolve_scheme(name, params)),),
        )
        if isinstance(plan.law, TruncatedNormalLaw):
            names.add(name)
    return frozenset(names)


# ---- strategies ----------------------------------------------------------------------------------

shapes = st.lists(st.integers(1, 12), min_size=0, max_size=5)
GRID = [k / 20 for k in range(1, 61)]  # 0.05 .. 3.0, distinct values 0.05 apart
NOT_TEXT = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.lists(st.integers(-3, 3), max_size=3),
)


def _valid_value(param: Param) -> st.SearchStrategy[object]:
    if param.kind is ParamKind.CHOICE:
        return st.sampled_from(param.choices)
    if param.kind is ParamKind.INTEGER:
        return st.integers(max(1, int(param.minimum or 1)), 4)
    return st.sampled_from([v for v in GRID if in_range(param, v)])


@st.composite
def valid_scheme_requests(draw: st.DrawFn) -> tuple[str, dict[str, object]]:
    """A scheme and parameters resolve_scheme must accept."""
    name = draw(st.sampled_from(sorted(SCHEMES)))
    scheme = SCHEMES[name]
    names = {p.name for p in scheme.params}
    params: dict[str, object] = {}
    for p in scheme.params:
        if p.required or draw(st.booleans()):
            params[p.name] = draw(_valid_value(p))
    for low, high in ORDERED_PAIRS:
        if {low, high} <= names:
            a, b = draw(st.lists(st.sampled_from(GRID), min_size=2, max_size=2, unique=True))
            params[low], params[high] = min(a, b), max(a, b)
    if {"nonlinearity", "gain_rule"} <= names and "nonlinearity" in params:
        rule = params.setdefault(
            "gain_rule", draw(st.sampled_from(("torch", "variance_preserving")))
        )
        table = TORCH_NONLINEARITIES if rule == "torch" else VARIANCE_PRESERVING_ACTIVATIONS
        params["nonlinearity"] = draw(st.sampled_from(sorted(set(table) & set(_choices(name)))))
    return name, params


def _choices(name: str) -> tuple[str, ...]:
    return next(p.choices for p in SCHEMES[name].params if p.name == "nonlinearity")


def _required(name: str, but: str = "") -> dict[str, object]:
    return {p.name: REQUIRED_VALUE for p in SCHEMES[name].params if p.required and p.name != but}


# ---- valid requests --------------------------------------------------------------------------


@settings(max_examples=300)
@given(
    req=valid_scheme_requests(),
    shape=shapes,
    layout=st.sampled_from(list(Layout)),
    dtype=st.sampled_from(list(DType)),
    seed=st.integers(0, 2**64 - 1),
)
def test_valid_requests_give_finite_values_or_the_shape_error_they_call_for(
    req: tuple[str, dict[str, object]], shape: list[int], layout: Layout, dtype: DType, seed: int
) -> None:
    name, params = req
    scheme = resolve_scheme(name, params)
    layer = make_layer("tensor", {"shape": shape})
    expected = shape_refusal(name, params, tuple(shape), layout)
    if expected is not None:
        with pytest.raises(ShapeError) as info:
            plan_layer(
                layer,
                layout=layout,
                dtype=dtype,
                levels=(SchemeChoice(scheme=scheme),),
            )
        assert info.value.field == "scheme"
        assert expected in info.value.message and repr(name) in info.value.message
        return
    (plan,) = plan_layer(
        layer,
        layout=layout,
        dtype=dtype,
        levels=(SchemeChoice(scheme=scheme),),
    )
    values = generate_tensor(plan, seed)
    assert values.shape == tuple(shape)
    assert values.dtype == numpy_dtype(dtype)
    assert np.isfinite(values.astype(np.float64)).all()
    if plan.law.std is not None and math.prod(shape) > 1:
        assert math.isfinite(plan.law.std)


def test_the_shape_rules_name_registered_schemes() -> None:
    assert set(SHAPE_RULES) <= set(SCHEMES)
    assert {*DIRAC, *DELTA_ORTHOGONAL} <= set(SHAPE_RULES)


# ---- invalid scheme requests ---------------------------------------------------------------------


@settings(max_examples=100)
@given(name=st.one_of(st.text(max_size=12), NOT_TEXT))
def test_an_unknown_scheme_name_is_refused_on_field_scheme(name: object) -> None:
    if name in all_names():
        reject()
    with pytest.raises(UnknownNameError) as info:
        resolve_scheme(name, {})  # type: ignore[arg-type]
    assert info.value.field == "scheme"
    assert info.value.what == "scheme" and info.value.choices == all_names()


@settings(max_examples=150)
@given(
    name=st.sampled_from(all_names()),
    key=st.text(max_size=8),
    value=st.one_of(NOT_TEXT, st.text(max_size=5)),
)
def test_an_unknown_parameter_is_refused_on_its_path(name: str, key: str, value: object) -> None:
    scheme = SCHEMES[ALIASES.get(name, name)]
    if key in {p.name for p in scheme.params}:
        reject()
    with pytest.raises(WeightInitError) as info:
        resolve_scheme(name, {**_required(scheme.name), key: value})
    assert info.value.field == f"scheme.{key}"
    if scheme.params:
        assert type(info.value) is UnknownNameError and "Unknown parameter" in info.value.message
    else:
        assert type(info.value) is InvalidParameterError
        assert "takes no parameters" in info.value.message


def _invalid_value(param: Param) -> st.SearchStrategy[object]:
    if param.kind is ParamKind.CHOICE:
        return st.one_of(NOT_TEXT, st.text(max_size=8).filter(lambda s: s not in param.choices))
    wrong_type = st.one_of(st.none(), st.booleans(), st.text(max_size=3), st.lists(st.none()))
    if param.kind is ParamKind.INTEGER:
        options = [wrong_type, st.floats()]
        if param.minimum is not None:
            options.append(st.integers(max_value=int(param.minimum) - 1))
        return st.one_of(*options)
    options = [wrong_type, st.sampled_from([math.nan, math.inf, -math.inf, 10**400])]
    if param.minimum is not None or param.maximum is not None:
        options.append(st.floats(allow_nan=False).filter(lambda v: not in_range(param, v)))
    return st.one_of(*options)


@settings(max_examples=200)
@given(data=st.data(), name=st.sampled_from(sorted(n for n, s in SCHEMES.items() if s.params)))
def test_an_invalid_parameter_value_is_refused_on_its_path(data: st.DataObject, name: str) -> None:
    param = data.draw(st.sampled_from(SCHEMES[name].params))
    value = data.draw(_invalid_value(param))
    with pytest.raises(WeightInitError) as info:
        resolve_scheme(name, {**_required(name, but=param.name), param.name: value})
    assert info.value.field == f"scheme.{param.name}"
    if param.kind is ParamKind.CHOICE and isinstance(value, str):
        assert type(info.value) is UnknownNameError and "Unknown value" in info.value.message
    else:
        assert type(info.value) is InvalidParameterError and "must be" in info.value.message


@pytest.mark.parametrize(
    ("name", "param"),
    [(n, p.name) for n, s in sorted(SCHEMES.items()) for p in s.params if p.required],
)
def test_a_missing_required_parameter_is_refused_on_its_path(name: str, param: str) -> None:
    with pytest.raises(InvalidParameterError, match=f"needs parameter {param!r}") as info:
        resolve_scheme(name, _required(name, but=param))
    assert info.value.field == f"scheme.{param}"


# ---- extreme finite parameters -------------------------------------------------------------------

finite = st.floats(allow_nan=False, allow_infinity=False)


@st.composite
def numeric_requests(draw: st.DrawFn) -> tuple[str, dict[str, float]]:
    """A scheme with every numeric parameter set to an arbitrary finite float."""
    name = draw(st.sampled_from(sorted(SCHEMES)))
    numbers = [p for p in SCHEMES[name].params if p.kind is ParamKind.NUMBER]
    return name, {p.name: draw(finite) for p in numbers}


@settings(max_examples=300)
@given(req=numeric_requests())
def test_finite_parameters_outside_their_range_are_refused_on_their_path(
    req: tuple[str, dict[str, float]],
) -> None:
    name, params = req
    expected = parameter_refusal(name, params)
    if expected is None:
        assert resolve_scheme(name, params).name == name
        return
    field, fragment = expected
    with pytest.raises(InvalidParameterError) as info:
        resolve_scheme(name, params)
    assert info.value.field == field
    assert fragment in info.value.message


@st.composite
def extreme_valid_requests(draw: st.DrawFn) -> tuple[str, dict[str, float]]:
    """Arbitrary finite values moved into each parameter's range, ordered pairs ordered."""
    name, params = draw(numeric_requests())
    for p in SCHEMES[name].params:
        if p.name not in params:
            continue
        value = params[p.name]
        if p.maximum is not None:  # sparsity: [0, 1]
            value = draw(st.floats(p.minimum or 0.0, p.maximum))
        elif p.minimum == 0.0 and p.exclusive_minimum:
            value = abs(value) or math.ulp(0.0)
        params[p.name] = value
    for low, high in ORDERED_PAIRS:
        if low in params and high in params:
            a, b = sorted((params[low], params[high]))
            if a == b:  # step apart, staying finite
                a = math.nextafter(b, -math.inf)
            params[low], params[high] = a, b
    if parameter_refusal(name, params) is not None:  # he_*'s slope overflowing
        reject()
    return name, params


def _magnitude(params: Mapping[str, float]) -> float:
    return max((abs(v) for v in params.values()), default=0.0)


@example(  # a sigma beyond float32 with a narrow interval: NaN, refused on field dtype
    req=("torch.trunc_normal_", {"mean": 0.0, "std": 1.1317344551023378e45, "a": 0.0, "b": 1.0}),
    shape=[1, 1],
    dtype=DType.FLOAT32,
)
@settings(max_examples=300)
@given(
    req=extreme_valid_requests(),
    shape=st.lists(st.integers(1, 6), min_size=2, max_size=4),
    dtype=st.sampled_from(list(DType)),
)
def test_extreme_valid_parameters_give_finite_values_or_a_documented_refusal(
    req: tuple[str, dict[str, float]], shape: list[int], dtype: DType
) -> None:
    """Values, or one of: the shape's error; an overflow of the dtype, on field dtype, only
    when some parameter is within 1e4 of the dtype's range; a truncation the samplers cannot
    do, on field scheme, only for truncated laws."""
    name, params = req
    scheme = resolve_scheme(name, params)
    layer = make_layer("tensor", {"shape": shape})
    expected = shape_refusal(name, params, tuple(shape), Layout.TORCH)
    if expected is not None:
        with pytest.raises(ShapeError, match=expected) as shape_info:
            plan_layer(
                layer,
                dtype=dtype,
                levels=(SchemeChoice(scheme=scheme),),
            )
        assert shape_info.value.field == "scheme"
        return
    try:
        (plan,) = plan_layer(
            layer,
            dtype=dtype,
            levels=(SchemeChoice(scheme=scheme),),
        )
    except InvalidParameterError as exc:
        assert exc.field == "scheme" and "truncation" in exc.message, exc
        assert name in truncating_schemes()
        return
    try:
        out = generate_tensor(plan, 1)
    except InvalidParameterError as exc:
        assert exc.field == "dtype" and f"overflow {dtype.value}" in exc.message, exc
        assert _magnitude(params) >= finfo_max(dtype) / 1e4, (params, exc)
        return
    assert out.shape == tuple(shape)
    assert np.isfinite(out.astype(np.float64)).all(), (name, params, shape, dtype, plan.law)


# ---- crashes these properties found, fixed ------------------------------------------------


@pytest.mark.parametrize("name", ["torch.kaiming_uniform_", "torch.kaiming_normal_"])
def test_a_torch_kaiming_slope_that_overflows_is_refused_on_scheme_a(name: str) -> None:
    with pytest.raises(InvalidParameterError, match="too large") as info:
        resolve_scheme(name, {"a": 1e200})
    assert info.value.field == "scheme.a"


@pytest.mark.parametrize("name", ["he_normal", "he_uniform", "he_truncated_normal"])
def test_a_nonlinearity_outside_the_gain_rules_table_is_refused_on_scheme_nonlinearity(
    name: str,
) -> None:
    with pytest.raises(WeightInitError) as info:
        resolve_scheme(name, {"nonlinearity": "conv2d", "gain_rule": "variance_preserving"})
    assert info.value.field == "scheme.nonlinearity"


@pytest.mark.parametrize(
    ("name", "params", "dtype"),
    [
        ("jax.variance_scaling", {"scale": 1e-7}, DType.FLOAT16),
        ("jax.variance_scaling", {"scale": 1e-300}, DType.FLOAT32),
        ("keras.VarianceScaling", {"scale": 5e-324}, DType.FLOAT64),
        ("glorot_truncated_normal", {"gain": 5e-324}, DType.FLOAT64),
    ],
)
def test_a_truncated_variance_scaling_whose_std_underflows_does_not_crash(
    name: str, params: dict[str, float], dtype: DType
) -> None:
    """Zeros (what JAX gives) or a typed refusal would both be fine; a ZeroDivisionError is not."""
    layer = make_layer("tensor", {"shape": [6, 6, 3]})
    try:
        (plan,) = plan_layer(
            layer,
            dtype=dtype,
            levels=(SchemeChoice(scheme=resolve_scheme(name, params)),),
        )
    except InvalidParameterError as exc:
        assert exc.field is not None and exc.field.startswith("scheme")
        return
    assert np.isfinite(generate_tensor(plan, 0).astype(np.float64)).all()
