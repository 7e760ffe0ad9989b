"""Norm layers (layer, batch, group, instance and RMS norms): specs and named tensors.

Every framework starts a norm's scale at 1 and its shift at 0; names are each framework's:

========  ==============================  ===========================================
layout    scale, shift                    running statistics (batch and instance norm)
========  ==============================  ===========================================
torch     ``weight``, ``bias``            ``running_mean``, ``running_var``,
                                          ``num_batches_tracked`` (int64 0)
keras     ``gamma``, ``beta``             ``moving_mean``, ``moving_variance``
          (RMSNormalization: ``scale``)
jax       ``scale``, ``bias``             ``mean``, ``var``
========  ==============================  ===========================================

RMS norms have a scale and no shift in every framework (torch's RMSNorm has no ``bias``).
Keras has no instance norm (``kinds.py``); Flax's InstanceNorm keeps no running statistics.
Instance norm takes torch's defaults (no affine parameters, no running statistics) in every
layout: ``affine: true`` gives Flax's ``scale`` and ``bias``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .kinds import refuse_argument
from .tensor_spec import Shape, TensorSpec
from .types import Family, Layout, Role


@dataclass(frozen=True)
class LayerNormSpec:
    normalized_shape: Shape
    elementwise_affine: bool = True
    bias: bool = True
    kind: str = field(default="layer_norm", init=False)


@dataclass(frozen=True)
class BatchNormSpec:
    num_features: int
    affine: bool = True
    track_running_stats: bool = True
    kind: str = field(default="batch_norm", init=False)


@dataclass(frozen=True)
class GroupNormSpec:
    num_groups: int
    num_channels: int
    affine: bool = True
    kind: str = field(default="group_norm", init=False)


@dataclass(frozen=True)
class InstanceNormSpec:
    """torch's InstanceNorm1d/2d/3d (the same parameters; torch's defaults: no affine
    parameters, no running statistics)."""

    num_features: int
    affine: bool = False
    track_running_stats: bool = False
    kind: str = field(default="instance_norm", init=False)


@dataclass(frozen=True)
class RMSNormSpec:
    normalized_shape: Shape
    elementwise_affine: bool = True
    kind: str = field(default="rms_norm", init=False)


_NORM_NAMES = {
    Layout.TORCH: ("weight", "bias", "running_mean", "running_var"),
    Layout.KERAS: ("gamma", "beta", "moving_mean", "moving_variance"),
    Layout.JAX: ("scale", "bias", "mean", "var"),
}


NormSpec = LayerNormSpec | BatchNormSpec | GroupNormSpec | InstanceNormSpec | RMSNormSpec


def _norm_parts(spec: NormSpec, layout: Layout) -> tuple[Shape, bool, bool, bool]:
    """(shape, has a scale, has a shift besides its scale, keeps running statistics)."""
    if isinstance(spec, LayerNormSpec):
        return spec.normalized_shape, spec.elementwise_affine, spec.bias, False
    if isinstance(spec, RMSNormSpec):  # a scale and no shift, in every framework
        return spec.normalized_shape, spec.elementwise_affine, False, False
    if isinstance(spec, GroupNormSpec):
        return (spec.num_channels,), spec.affine, True, False
    if isinstance(spec, InstanceNormSpec) and spec.track_running_stats and layout is Layout.JAX:
        refuse_argument(
            spec.kind,
            "track_running_stats",
            layout,
            (Layout.TORCH,),
            "Flax's InstanceNorm keeps no running statistics.",
        )
    return (spec.num_features,), spec.affine, True, spec.track_running_stats


def expand_norm(spec: NormSpec, layout: Layout) -> list[TensorSpec]:
    w_name, b_name, mean_name, var_name = _NORM_NAMES[layout]
    if isinstance(spec, RMSNormSpec) and layout is Layout.KERAS:
        w_name = "scale"  # keras.layers.RMSNormalization's one weight
    shape, affine, bias, stats = _norm_parts(spec, layout)
    out = []
    if affine:
        out.append(TensorSpec(w_name, shape, Role.NORM_SCALE, Family.NORM, None))
        if bias:
            out.append(TensorSpec(b_name, shape, Role.NORM_SHIFT, Family.NORM, None))
    if stats:
        out.append(TensorSpec(mean_name, shape, Role.RUNNING_STAT, Family.NORM, None, fill=0.0))
        out.append(TensorSpec(var_name, shape, Role.RUNNING_STAT, Family.NORM, None, fill=1.0))
        if layout is Layout.TORCH:
            out.append(TensorSpec("num_batches_tracked", (), Role.COUNTER, Family.NORM, None))
    return out
