"""Tests for app/core/arguments.py: the framework-argument table is consistent with the layers.

Every row is checked against what it claims: its aliases name fields the kind takes, its
initializer arguments name roles the kind's tensors have under that layout, its initializer
vocabularies name registry schemes, and every framework class name points at real kinds. A new
row (a new kind) is covered by these tests as soon as it is in the table.
"""

from __future__ import annotations

from dataclasses import fields

import pytest

from app.core.arguments import (
    ARGUMENTS,
    CLASS_KINDS,
    CONSTANTS,
    INITIALIZER_NAMES,
    KERAS_INITIALIZERS,
    Arguments,
    Use,
)
from app.core.kinds import KIND_CLASSES
from app.core.layers import LAYER_KINDS, expand_layer, make_layer
from app.core.schemes import SCHEMES, all_names
from app.core.types import Layout

# The smallest values of each kind (what make_layer requires).
MINIMAL: dict[str, dict[str, object]] = {
    "dense": {"in_features": 3, "out_features": 2},
    **{
        f"conv{t}{d}d": {"in_channels": 2, "out_channels": 4, "kernel_size": 3}
        for t in ("", "_transpose")
        for d in (1, 2, 3)
    },
    "embedding": {"num_embeddings": 5, "embedding_dim": 3},
    "rnn": {"input_size": 3, "hidden_size": 4},
    "lstm": {"input_size": 3, "hidden_size": 4},
    "gru": {"input_size": 3, "hidden_size": 4},
    "layer_norm": {"normalized_shape": 4},
    "batch_norm": {"num_features": 4},
    "bilinear": {"in1_features": 3, "in2_features": 2, "out_features": 4},
    "multihead_attention": {"embed_dim": 4, "num_heads": 2},
    "transformer_encoder_layer": {"d_model": 4, "nhead": 2, "dim_feedforward": 8},
    "transformer_decoder_layer": {"d_model": 4, "nhead": 2, "dim_feedforward": 8},
    "group_norm": {"num_groups": 2, "num_channels": 4},
    # affine: torch's default has no parameters, so no roles for the initializers to name
    "instance_norm": {"num_features": 4, "affine": True},
    "rms_norm": {"normalized_shape": 4},
    "prelu": {},
}
ROWS = sorted(ARGUMENTS.items(), key=lambda item: (item[0][0].value, item[0][1]))


def _id(item: tuple[tuple[Layout, str], Arguments]) -> str:
    (layout, kind), _ = item
    return f"{layout.value}-{kind}"


def test_every_kind_but_tensor_has_a_row_per_layout_that_has_it() -> None:
    kinds = {kind for kind in LAYER_KINDS if kind != "tensor"}
    assert set(MINIMAL) == kinds  # a new kind: add its smallest values here
    assert set(ARGUMENTS) == {
        (layout, kind) for kind in kinds for layout in KIND_CLASSES[kind]
    }  # kinds.py: the layouts whose framework has the kind


@pytest.mark.parametrize("item", ROWS, ids=[_id(item) for item in ROWS])
def test_a_row_reads_each_name_one_way_and_never_shadows_our_fields(
    item: tuple[tuple[Layout, str], Arguments],
) -> None:
    (_, kind), row = item
    named = [
        *row.aliases,
        *row.initializers,
        *([row.dtype] if row.dtype else []),
        *row.norm_parts,
        *row.fixed,
        *row.stats,
        *([row.forget_bias] if row.forget_bias else []),
        *row.follows,
        *row.ignored,
    ]
    assert len(named) == len(set(named)), f"a name read two ways: {sorted(named)}"
    spec = make_layer(kind, MINIMAL[kind])
    ours = {f.name for f in fields(spec) if f.init} | {"kind"}
    assert not ours & set(named), "a framework name that is one of our fields"
    assert set(row.aliases.values()) <= ours


@pytest.mark.parametrize("item", ROWS, ids=[_id(item) for item in ROWS])
def test_initializer_arguments_name_roles_the_layer_has(
    item: tuple[tuple[Layout, str], Arguments],
) -> None:
    (layout, kind), row = item
    roles = {t.role for t in expand_layer(make_layer(kind, MINIMAL[kind]), layout)}
    for name, named in row.initializers.items():
        assert set(named) <= roles, (name, named, roles)
    for name, (leader, default) in row.follows.items():
        assert leader in row.initializers, name
        assert default in INITIALIZER_NAMES[layout], (name, default)


@pytest.mark.parametrize("layout", [Layout.KERAS, Layout.JAX])
def test_initializer_vocabularies_name_the_frameworks_own_schemes(layout: Layout) -> None:
    prefix = {Layout.KERAS: "keras.", Layout.JAX: "jax."}[layout]
    for name, scheme in INITIALIZER_NAMES[layout].items():
        assert scheme in SCHEMES, (name, scheme)
        assert scheme.startswith(prefix), (name, scheme)


def test_keras_names_follow_keras_initializers_get() -> None:
    # keras/src/initializers/__init__.py: class names, their snake_case, and the aliases.
    assert KERAS_INITIALIZERS["he_normal"] == "keras.HeNormal"  # truncated, as Keras draws it
    assert KERAS_INITIALIZERS["normal"] == "keras.RandomNormal"
    assert KERAS_INITIALIZERS["uniform"] == "keras.RandomUniform"
    assert KERAS_INITIALIZERS["orthogonal"] == KERAS_INITIALIZERS["OrthogonalInitializer"]
    for name in ("GlorotUniform", "glorot_uniform", "Zeros", "zeros", "zero", "one"):
        assert name in KERAS_INITIALIZERS


def test_the_constants_a_stats_row_may_name_are_constants() -> None:
    for names in CONSTANTS.values():
        assert names <= set(all_names())


def test_framework_class_names_point_at_our_kinds() -> None:
    for source, kinds in CLASS_KINDS:
        assert kinds and set(kinds) <= set(LAYER_KINDS), source
    sources = {source for source, _ in CLASS_KINDS}
    for row in ARGUMENTS.values():
        for part in row.source.split("/"):
            if "." in part:  # torch.nn.Conv1d/Conv2d/Conv3d: the first carries the module
                assert part in sources, part


def test_uses_lists_every_name_of_the_row() -> None:
    row = ARGUMENTS[(Layout.KERAS, "lstm")]
    uses = row.uses()
    assert uses["units"] is Use.ALIAS and uses["unit_forget_bias"] is Use.FORGET_BIAS
    assert uses["kernel_initializer"] is Use.INITIALIZER and uses["dtype"] is Use.DTYPE
    assert uses["dropout"] is Use.IGNORED
    gru = ARGUMENTS[(Layout.KERAS, "gru")].uses()
    assert gru["reset_after"] is Use.FIXED
    norm = ARGUMENTS[(Layout.JAX, "batch_norm")].uses()
    assert norm["use_scale"] is Use.NORM_PART and norm["param_dtype"] is Use.DTYPE
    assert ARGUMENTS[(Layout.JAX, "dense")].uses()["dtype"] is Use.IGNORED  # Flax: compute
