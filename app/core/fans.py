"""fan_in / fan_out of a tensor, under an explicit layout or explicit axes.

One mechanism, JAX's ``_compute_fans`` (jax/_src/nn/initializers.py):
``in_size = prod(shape[in_axes])``, ``out_size = prod(shape[out_axes])``,
``batch = prod(shape[batch_axes])``, receptive field ``rf = numel / in_size / out_size / batch``
(a real number: naming the same axis twice, as Flax's ``Embed`` does, makes it fractional),
``fan_in = in_size * rf``, ``fan_out = out_size * rf``.

Each framework's raw-tensor rule is a choice of axes (../shared/reference/initializers.md §1.1,
§2.3, §3.2):

========  =========================  =====================================================
layout    rank 0 / rank 1            rank >= 2
========  =========================  =====================================================
torch     rejected (torch raises)    in_axes=(1,), out_axes=(0,): ``(out, in, *kernel)``
keras     (1, 1) / (n, n)            in_axes=(-2,), out_axes=(-1,): ``(*kernel, in, out)``
jax       rejected (JAX raises)      in_axes=(-2,), out_axes=(-1,) (the defaults)
========  =========================  =====================================================

Layer kinds (layers.py) only choose the axes; nothing here guesses a layout from a shape.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from .errors import InvalidParameterError, ShapeError
from .types import Layout

Shape = tuple[int, ...]


@dataclass(frozen=True)
class Fans:
    """The two fans of a tensor (floats: a fractional receptive field is possible)."""

    fan_in: float
    fan_out: float


@dataclass(frozen=True)
class FanAxes:
    """JAX-style axes: which axes count as inputs, outputs and batch; the rest are kernel."""

    in_axes: tuple[int, ...]
    out_axes: tuple[int, ...]
    batch_axes: tuple[int, ...] = ()


def _normalise_axes(axes: Sequence[int], rank: int, what: str) -> tuple[int, ...]:
    result = []
    for axis in axes:
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise InvalidParameterError(f"{what} must be integers, got {axis!r}.", field=what)
        if not -rank <= axis < rank:
            raise InvalidParameterError(
                f"{what} contains axis {axis}, outside a rank-{rank} shape "
                f"(valid axes: {-rank}..{rank - 1}).",
                field=what,
            )
        result.append(axis % rank)
    if len(set(result)) != len(result):
        raise InvalidParameterError(f"{what} names an axis twice: {tuple(axes)}.", field=what)
    return tuple(result)


def compute_fans(shape: Shape, axes: FanAxes) -> Fans:
    """Fans from explicit axes (JAX semantics, see the module docstring).

    ``in_axes`` and ``out_axes`` may name the same axis (Flax's Embed trick); ``batch_axes``
    must not overlap either of them.
    """
    rank = len(shape)
    if rank == 0:
        raise ShapeError(
            "in_axes and out_axes need a tensor of rank >= 1: a scalar has no axes.",
            field="in_axes",
        )
    in_axes = _normalise_axes(axes.in_axes, rank, "in_axes")
    out_axes = _normalise_axes(axes.out_axes, rank, "out_axes")
    batch_axes = _normalise_axes(axes.batch_axes, rank, "batch_axes")
    if not in_axes or not out_axes:
        raise InvalidParameterError("in_axes and out_axes must each name at least one axis.")
    if set(batch_axes) & (set(in_axes) | set(out_axes)):
        raise InvalidParameterError("batch_axes must not overlap in_axes or out_axes.")
    in_size = math.prod(shape[a] for a in in_axes)
    out_size = math.prod(shape[a] for a in out_axes)
    batch = math.prod(shape[a] for a in batch_axes)
    numel = math.prod(shape)
    if numel == 0:
        raise ShapeError(f"Shape {list(shape)} has a zero dimension; fans are undefined.")
    # numel / in_size / out_size / batch, kept exact where it is an integer.
    denominator = in_size * out_size * batch
    if numel % denominator == 0:
        rf = numel // denominator
        return Fans(float(in_size * rf), float(out_size * rf))
    rf_real = numel / in_size / out_size / batch
    return Fans(in_size * rf_real, out_size * rf_real)


def layout_axes(rank: int, layout: Layout) -> FanAxes | None:
    """The raw-tensor fan axes of ``layout`` for a tensor of ``rank`` (None: special rule)."""
    if rank >= 2:
        if layout is Layout.TORCH:
            return FanAxes(in_axes=(1,), out_axes=(0,))
        return FanAxes(in_axes=(-2,), out_axes=(-1,))
    return None


def layout_fans(shape: Shape, layout: Layout) -> Fans:
    """Fans of a raw tensor under a framework's own rule (module docstring table)."""
    rank = len(shape)
    if any(d == 0 for d in shape):
        raise ShapeError(f"Shape {list(shape)} has a zero dimension; fans are undefined.")
    axes = layout_axes(rank, layout)
    if axes is not None:
        return compute_fans(shape, axes)
    if layout is Layout.KERAS:
        n = float(shape[0]) if rank == 1 else 1.0
        return Fans(n, n)
    framework = "torch" if layout is Layout.TORCH else "JAX"
    raise ShapeError(
        f"Fans are undefined for a rank-{rank} tensor under the {layout.value} layout "
        f"({framework} needs at least 2 dimensions). Give fan_in/fan_out explicitly, "
        "use the keras layout (which treats a 1-D shape (n,) as fans (n, n)), "
        "or pick a scheme that needs no fans."
    )


def _finite_positive(value: float) -> bool:
    try:
        number = float(value)
    except OverflowError:
        return False
    return math.isfinite(number) and number > 0


def override_fans(fans: Fans | None, fan_in: float | None, fan_out: float | None) -> Fans | None:
    """Apply explicit fan_in / fan_out overrides (each must be finite and > 0)."""
    for name, value in (("fan_in", fan_in), ("fan_out", fan_out)):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidParameterError(f"{name} must be a number, got {value!r}.", field=name)
        if not _finite_positive(value):
            raise InvalidParameterError(
                f"{name} must be finite and > 0, got {value!r}.", field=name
            )
    if fan_in is None and fan_out is None:
        return fans
    if fans is None and (fan_in is None or fan_out is None):
        raise InvalidParameterError(
            "This tensor has no fans of its own: give both fan_in and fan_out.",
            field="fan_in" if fan_in is None else "fan_out",
        )
    base_in = fans.fan_in if fans is not None else 0.0
    base_out = fans.fan_out if fans is not None else 0.0
    return Fans(
        float(fan_in) if fan_in is not None else base_in,
        float(fan_out) if fan_out is not None else base_out,
    )
