"""Tests for app/core/norms.py: group, instance and RMS norms beside layer and batch norms.

Each framework's names and starting values are pinned in test_layer_references.py; here, the
specs, the options that drop tensors, and the refusals.
"""

from __future__ import annotations

import pytest

from app.core.errors import InvalidParameterError, ShapeError
from app.core.layers import expand_layer, make_layer
from app.core.norms import GroupNormSpec, InstanceNormSpec, RMSNormSpec
from app.core.types import Family, Layout, Role

T, K, J = Layout.TORCH, Layout.KERAS, Layout.JAX


def names(kind: str, fields: dict[str, object], layout: Layout) -> list[str]:
    return [t.name for t in expand_layer(make_layer(kind, fields), layout)]


def test_specs_take_torchs_arguments_and_defaults() -> None:
    assert make_layer("group_norm", {"num_groups": 2, "num_channels": 4}) == GroupNormSpec(
        2, 4, True
    )
    # torch's InstanceNorm*d: no affine parameters, no running statistics by default
    assert make_layer("instance_norm", {"num_features": 3}) == InstanceNormSpec(3, False, False)
    assert make_layer("rms_norm", {"normalized_shape": 5}) == RMSNormSpec((5,), True)


def test_group_norm_needs_num_groups_to_divide_num_channels() -> None:
    with pytest.raises(ShapeError, match="num_groups=3 must divide num_channels=4") as info:
        make_layer("group_norm", {"num_groups": 3, "num_channels": 4})
    assert info.value.field == "layer.num_groups"


@pytest.mark.parametrize("layout", list(Layout))
def test_options_drop_their_tensors(layout: Layout) -> None:
    assert names("group_norm", {"num_groups": 1, "num_channels": 2, "affine": False}, layout) == []
    assert names("rms_norm", {"normalized_shape": 3, "elementwise_affine": False}, layout) == []
    if layout is not K:
        assert names("instance_norm", {"num_features": 3}, layout) == []


def test_every_norm_tensor_is_a_norm_scale_shift_or_statistic() -> None:
    tensors = expand_layer(
        make_layer(
            "instance_norm", {"num_features": 3, "affine": True, "track_running_stats": True}
        ),
        T,
    )
    assert [t.role for t in tensors] == [
        Role.NORM_SCALE,
        Role.NORM_SHIFT,
        Role.RUNNING_STAT,
        Role.RUNNING_STAT,
        Role.COUNTER,
    ]
    assert all(t.family is Family.NORM and t.fans is None for t in tensors)


def test_keras_has_no_instance_norm() -> None:
    with pytest.raises(InvalidParameterError) as info:
        expand_layer(make_layer("instance_norm", {"num_features": 3}), K)
    assert info.value.field == "layer.kind"
    assert "use layout 'torch' or 'jax', which have it" in info.value.message


def test_flax_instance_norm_keeps_no_running_statistics() -> None:
    spec = make_layer("instance_norm", {"num_features": 3, "track_running_stats": True})
    with pytest.raises(InvalidParameterError, match="keeps no running statistics") as info:
        expand_layer(spec, J)
    assert info.value.field == "layer.track_running_stats"


@pytest.mark.parametrize(("layout", "name"), [(T, "weight"), (K, "scale"), (J, "scale")])
def test_an_rms_norm_has_a_scale_and_no_shift(layout: Layout, name: str) -> None:
    assert names("rms_norm", {"normalized_shape": [2, 3]}, layout) == [name]
