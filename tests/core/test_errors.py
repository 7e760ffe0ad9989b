"""Tests for app/core/errors.py: typed errors with a readable message and a field path."""

from __future__ import annotations

import pytest

from app.core.errors import (
    InvalidParameterError,
    LimitExceededError,
    ShapeError,
    UnknownNameError,
    WeightInitError,
    nearest_name,
)


@pytest.mark.parametrize(
    "cls", [InvalidParameterError, ShapeError, UnknownNameError, LimitExceededError]
)
def test_every_core_error_is_a_weightinit_error_and_a_value_error(cls: type) -> None:
    assert issubclass(cls, WeightInitError) and issubclass(cls, ValueError)


def test_an_error_is_its_message_and_carries_its_field() -> None:
    error = InvalidParameterError("std must be > 0, got -1.", field="scheme.std")
    assert str(error) == error.message == "std must be > 0, got -1."
    assert error.field == "scheme.std"
    assert ShapeError("no fans").field is None


def test_the_field_can_be_filled_in_by_a_caller_that_knows_it() -> None:
    error = ShapeError("needs rank 2")
    error.field = "bias_scheme"
    assert error.field == "bias_scheme" and str(error) == "needs rank 2"


def test_an_unknown_name_lists_the_sorted_choices_and_suggests_the_nearest() -> None:
    error = UnknownNameError("layout", "kerass", ["torch", "keras", "jax", "keras"], field="layout")
    assert error.message == (
        "Unknown layout 'kerass'. Did you mean 'keras'? Valid layouts: jax, keras, torch."
    )
    assert (error.what, error.name, error.field) == ("layout", "kerass", "layout")
    assert error.choices == ["jax", "keras", "torch"]
    assert error.suggestion == "keras"


def test_an_unknown_name_with_nothing_close_has_no_suggestion() -> None:
    error = UnknownNameError("scheme", "zzzzzz", ["normal", "uniform"], context="in layer 2")
    assert error.suggestion is None
    assert error.message == "Unknown scheme 'zzzzzz' in layer 2. Valid schemes: normal, uniform."


def test_a_limit_error_states_the_request_the_limit_and_the_hint() -> None:
    error = LimitExceededError(
        "MAX_ELEMENTS", 1000, 4096, unit="elements", hint="Ask for a slice.", field="layer"
    )
    assert error.message == (
        "The request needs 4096 elements, over the limit MAX_ELEMENTS=1000. Ask for a slice."
    )
    assert (error.limit_name, error.limit, error.requested, error.unit) == (
        "MAX_ELEMENTS",
        1000,
        4096,
        "elements",
    )
    assert error.field == "layer"
    assert LimitExceededError("L", 1, 2, unit="layers").message.endswith("over the limit L=1.")


@pytest.mark.parametrize(
    ("name", "choices", "nearest"),
    [
        ("he_normall", ["he_normal", "he_uniform", "normal"], "he_normal"),
        ("HE_NORMAL", ["he_normal", "normal"], "he_normal"),  # case-insensitive, original case
        ("Keras.GlorotUniform", ["keras.GlorotUniform"], "keras.GlorotUniform"),
        ("xyz", ["he_normal", "normal"], None),
        ("normal", [], None),
    ],
)
def test_nearest_name_is_the_closest_choice_or_none(
    name: str, choices: list[str], nearest: str | None
) -> None:
    assert nearest_name(name, choices) == nearest
