"""Rows, parameters and engines: validation once, defaults echoed, fixed arguments applied."""

from __future__ import annotations

import math
import re

import pytest

from app.core.errors import InvalidParameterError, ShapeError, UnknownNameError
from app.core.laws import ConstantLaw, Law, NormalLaw
from app.core.schemes.base import (
    REQUIRED,
    Engine,
    Param,
    Params,
    Scheme,
    TensorContext,
    check_less,
    choice,
    integer,
    number,
    positive,
)


def shifted(ctx: TensorContext, *, mean: float, std: float) -> Law:
    return NormalLaw(mean, std)


ROW = Scheme(
    name="demo",
    summary="demo",
    formula="W ~ N(mean, s^2)",
    reference="none",
    engine=Engine(shifted, {"mean": 1.0}, renamed={"s": "std"}),
    params=(positive("s", 0.5, "std"), integer("k", 2, "count", minimum=1)),
)


def test_an_engine_receives_fixed_arguments_and_renamed_parameters() -> None:
    engine = Engine(shifted, {"mean": 1.0}, renamed={"s": "std"})
    assert engine(Params(s=0.25), TensorContext(shape=(2,), fans=None)) == NormalLaw(1.0, 0.25)
    assert engine.describe() == "shifted(mean=1, std=s)"


def test_resolve_fills_defaults_and_echoes_only_the_callers_parameters() -> None:
    resolved = Scheme(
        name="demo",
        summary="",
        formula="",
        reference="",
        engine=Engine(shifted, {"mean": 1.0}, renamed={"s": "std"}),
        params=(positive("s", 0.5, "std"),),
    ).resolve({})
    assert resolved.describe() == {"name": "demo", "s": 0.5}
    assert resolved.law(TensorContext(shape=(3,), fans=None)) == NormalLaw(1.0, 0.5)


def test_the_law_sees_the_schemes_name_for_its_error_messages() -> None:
    def needs_fans(ctx: TensorContext) -> Law:
        ctx.require_fans()
        return ConstantLaw(0.0)

    row = Scheme(name="fanned", summary="", formula="", reference="", engine=Engine(needs_fans))
    with pytest.raises(ShapeError, match="Scheme 'fanned' needs fans"):
        row.resolve(None).law(TensorContext(shape=(3, 4, 5), fans=None, name="w"))


def test_an_unknown_parameter_is_named_with_a_suggestion() -> None:
    with pytest.raises(UnknownNameError) as info:
        ROW.resolve({"ss": 1.0}, where="layers[2].scheme")
    assert info.value.field == "layers[2].scheme.ss"
    assert "'s'" in str(info.value)


def test_a_scheme_without_parameters_says_so() -> None:
    row = Scheme(name="bare", summary="", formula="", reference="", engine=Engine(shifted))
    with pytest.raises(InvalidParameterError, match="takes no parameters") as info:
        row.resolve({"x": 1})
    assert info.value.field == "scheme.x"


def test_a_required_parameter_must_be_given() -> None:
    row = Scheme(
        name="fill",
        summary="",
        formula="",
        reference="",
        engine=Engine(shifted),
        params=(number("value", REQUIRED, "the fill value"),),
    )
    with pytest.raises(InvalidParameterError, match="needs parameter 'value'") as info:
        row.resolve({})
    assert info.value.field == "scheme.value"


@pytest.mark.parametrize(
    ("param", "value", "message"),
    [
        (positive("s", 1.0, ""), 0.0, "must be > 0"),
        (positive("s", 1.0, ""), math.inf, "must be finite"),
        (positive("s", 1.0, ""), True, "must be a number"),
        (positive("s", 1.0, ""), "1", "must be a number"),
        (integer("k", 1, "", minimum=1), 1.5, "must be an integer"),
        (integer("k", 1, "", minimum=1), 0, "must be >= 1"),
        (number("p", 0.0, "", minimum=0.0, maximum=1.0), 1.5, "must be >= 0 and <= 1"),
        (choice("mode", "a", ("a", "b"), ""), 3, "must be one of a, b"),
    ],
)
def test_a_bad_value_is_refused_with_its_range(param: Param, value: object, message: str) -> None:
    with pytest.raises(InvalidParameterError, match=message) as info:
        param.validate(value, "scheme.x")
    assert info.value.field == "scheme.x"


def test_an_unknown_choice_suggests_the_closest() -> None:
    with pytest.raises(UnknownNameError) as info:
        choice("mode", "fan_in", ("fan_in", "fan_out"), "").validate("fan_inn", "scheme.mode")
    assert info.value.field == "scheme.mode"
    assert "fan_in" in str(info.value)


def test_numbers_are_floats_and_integers_stay_integers() -> None:
    assert isinstance(positive("s", 1.0, "").validate(2, "s"), float)
    assert integer("k", 1, "").validate(3, "k") == 3
    with pytest.raises(InvalidParameterError, match="must be finite"):
        number("x", 0.0, "").validate(10**400, "x")  # an int too large for a float


def test_check_less_names_the_lower_bound() -> None:
    check = check_less("low", "high")
    check(Params(low=0.0, high=1.0))
    with pytest.raises(InvalidParameterError, match=re.escape("low=1.0, high=1.0")) as info:
        check(Params(low=1.0, high=1.0))
    assert info.value.field == "low"


def test_require_rank_names_the_scheme_tensor_and_rank() -> None:
    ctx = TensorContext(shape=(3,), fans=None, name="bias", scheme="orthogonal")
    with pytest.raises(ShapeError, match="'orthogonal' needs a tensor of rank >= 2; tensor 'bias'"):
        ctx.require_rank(2)
    TensorContext(shape=(3, 3), fans=None).require_rank(2, 2)
