"""Tests for app/core/kinds.py: which layouts have each layer kind, and the 422s naming them."""

from __future__ import annotations

import pytest

from app.core.errors import InvalidParameterError
from app.core.kinds import FRAMEWORKS, KIND_CLASSES, check_kind, refuse_argument
from app.core.layers import LAYER_KINDS
from app.core.types import Layout

T, K, J = Layout.TORCH, Layout.KERAS, Layout.JAX


def test_the_table_has_one_row_per_kind_and_torch_has_every_kind() -> None:
    assert set(KIND_CLASSES) == set(LAYER_KINDS)
    assert all(T in classes for classes in KIND_CLASSES.values())
    assert set(FRAMEWORKS) == set(Layout)


def test_the_gaps_are_the_frameworks_own() -> None:
    missing = {
        kind: sorted(lay.value for lay in Layout if lay not in classes)
        for kind, classes in KIND_CLASSES.items()
        if len(classes) < len(Layout)
    }
    assert missing == {
        "bilinear": ["jax", "keras"],
        "transformer_encoder_layer": ["jax", "keras"],
        "transformer_decoder_layer": ["jax", "keras"],
        "instance_norm": ["keras"],
    }


def test_check_kind_names_the_layouts_that_have_the_kind() -> None:
    check_kind("dense", K)
    with pytest.raises(InvalidParameterError) as info:
        check_kind("transformer_encoder_layer", J)
    assert info.value.field == "layer.kind"
    assert info.value.message == (
        "Flax has no 'transformer_encoder_layer' layer (torch nn.TransformerEncoderLayer); "
        "use layout 'torch', which has it."
    )


def test_refuse_argument_names_the_layer_and_the_layouts_that_take_it() -> None:
    with pytest.raises(InvalidParameterError) as info:
        refuse_argument("lstm", "proj_size", K, (T,), "More words.")
    assert info.value.field == "layer.proj_size"
    assert info.value.message == (
        "Keras LSTM has no proj_size (it is an argument of torch nn.LSTM); remove it or use "
        "layout 'torch', which has it. More words."
    )
