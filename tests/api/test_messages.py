"""Tests for app/api/messages.py: pydantic's errors said for people.

The bad-request table (test_bad_requests.py) checks the messages over HTTP; these pin the
pieces: what each error type expected, how a union's members are said once, and which model an
unknown field was sent to (a layer of some kind, a model's layer entry, the body).
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from app.api.messages import model_at, shown, validation_errors
from app.jobs.requests import DenseLayer, Mlp, ModelLayer, ModelRequest, WeightsRequest


def _errors(model: Any, body: Any) -> list[dict[str, str]]:
    with pytest.raises(ValidationError) as err:
        model.model_validate(body)
    return validation_errors(err.value.errors(), model)


def test_a_unions_members_say_what_they_expected_once() -> None:
    conv = {"kind": "conv2d", "in_channels": 1, "out_channels": 1, "kernel_size": 1.5}
    (error,) = _errors(WeightsRequest, {"layer": conv, "seed": 1})
    assert error == {
        "field": "layer.kernel_size",
        "message": "Expected an integer or a list; got 1.5.",
    }


def test_every_bad_seed_gets_the_one_seed_message() -> None:
    (error,) = _errors(WeightsRequest, {"layer": {"kind": "tensor", "shape": [2]}, "seed": 1.5})
    assert error["field"] == "seed"
    assert error["message"].startswith("seed must be an integer from 0 to 18446744073709551615")


def test_ranges_lists_and_objects_in_words() -> None:
    found = _errors(
        WeightsRequest,
        {"layer": {"kind": "tensor", "shape": [1] * 9}, "seed": 1, "shard": [1]},
    )
    by_field = {e["field"]: e["message"] for e in found}
    assert by_field["layer.shape"] == "Expected at most 8 items; got a list of 9 items."
    assert by_field["shard"] == "Expected an object; got a list of 1 item."
    (zero,) = _errors(WeightsRequest, {"layer": {"kind": "dense", "in_features": 0}, "seed": 1})
    assert zero["message"] == "Expected a value > 0; got 0."


def test_an_unknown_field_is_named_with_the_nearest_and_the_valid_ones() -> None:
    (error,) = _errors(
        ModelRequest,
        {"seed": 1, "layers": [{"name": "a", "layer": {"kind": "dense", "in_feature": 2}}]},
    )
    assert error["field"] == "layers[0].layer.in_feature"
    assert error["message"].startswith(
        "Unknown field 'in_feature' of a dense layer. Did you mean 'in_features'?"
    )
    found = _errors(ModelRequest, {"seed": 1, "layers": [{"name": "a", "layr": {}}]})
    by_field = {e["field"]: e["message"] for e in found}
    assert "in layers[0]. Did you mean 'layer'?" in by_field["layers[0].layr"]
    assert by_field["layers[0].layer"] == "This field is required."


def test_the_model_at_a_loc() -> None:
    assert model_at(WeightsRequest, ["layer", "dense"]) is DenseLayer
    assert model_at(ModelRequest, ["layers", 0]) is ModelLayer
    assert model_at(ModelRequest, ["layers", 0, "layer", "dense"]) is DenseLayer
    assert model_at(ModelRequest, ["mlp"]) is Mlp
    assert model_at(WeightsRequest, []) is WeightsRequest
    assert model_at(WeightsRequest, ["nowhere"]) is None


@pytest.mark.parametrize(
    ("value", "said"),
    [
        (None, "null"),
        (True, "true"),
        (4.5, "4.5"),
        ("4", 'the string "4"'),
        ([1, 2], "a list of 2 items"),
        ({"a": 1}, "an object"),
    ],
)
def test_received_values_are_said_in_jsons_words(value: object, said: str) -> None:
    assert shown(value) == said
