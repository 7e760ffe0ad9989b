"""A sequential chain of initialised layers, pushed forward and backward once, with per-layer
statistics (the signal-propagation plots of Brock et al. 2021, "Characterizing signal
propagation to close the performance gap in unnormalized ResNets", arXiv:2101.08692).

Every array is float64 in a canonical orientation, not a framework layout: a dense weight is
``(fan_in, fan_out)`` (``h = x @ W``), a conv weight torch's ``(out, in/groups, *kernel)`` on
``(batch, channels, *spatial)`` inputs. Each :class:`Link` is one step (dense, conv,
embedding, attention or norm) followed by an activation: ``h = step(x)``, ``a = f(h)``.

:func:`forward_backward` takes the inputs and an upstream gradient ``dL/da`` of the last
link's output (both drawn by the caller), pushes the gradient back to every link's
pre-activation ``h`` and reports :class:`LayerStats` per link. Statistics are population
(ddof = 0) over all elements; an overflow (an exploding chain) raises nothing: the statistic
becomes ``inf``/``nan`` and ``LayerStats.overflow`` is set.

Units (for ``dead_fraction`` and ``symmetric``): features (the last axis) for dense,
attention and embedding outputs; channels (axis 1) for conv outputs and for norms on them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from app.core.errors import InvalidParameterError

from .activations import apply, check, derivative, saturated_fraction
from .ops import (
    Array,
    AttentionWeights,
    ConvGeometry,
    Shape,
    affine_shape,
    attention_backward,
    attention_forward,
    conv_forward,
    conv_input_gradient,
    dense_forward,
    norm_backward,
    norm_forward,
)

__all__ = [
    "NORM_KINDS",
    "Attention",
    "Conv",
    "Dense",
    "Embedding",
    "LayerStats",
    "Link",
    "Norm",
    "Pass",
    "Step",
    "chain_shapes",
    "forward_backward",
    "kind_of",
    "link_stats",
    "main_weight",
    "passes",
]

NORM_KINDS = ("layer_norm", "rms_norm", "batch_norm", "group_norm")
HISTOGRAM_BINS = 32
# ``symmetric``: units equal to unit 0 within this fraction of the largest |activation|
# (a constant init's columns are equal up to the matmul kernel's summation order).
SYMMETRY_RTOL = 1e-9


@dataclass(frozen=True, eq=False)
class Dense:
    """``h = x @ weight + bias`` over the last axis; weight (fan_in, fan_out), bias (fan_out,).

    An input whose last axis is not ``fan_in`` but whose non-batch size is (a conv output)
    is flattened first, in torch's ``nn.Flatten`` order.
    """

    name: str
    weight: Array
    bias: Array | None = None


@dataclass(frozen=True, eq=False)
class Conv:
    """torch's ``nn.ConvNd`` (zero padding): weight (out, in/groups, *kernel), bias (out,).

    Empty ``stride``/``dilation`` mean 1 and empty ``padding`` 0 on every spatial axis.
    """

    name: str
    weight: Array
    bias: Array | None = None
    stride: tuple[int, ...] = ()
    padding: tuple[int, ...] = ()
    dilation: tuple[int, ...] = ()
    groups: int = 1

    def geometry(self) -> ConvGeometry:
        nd = self.weight.ndim - 2
        return ConvGeometry(
            kernel=tuple(int(k) for k in self.weight.shape[2:]),
            stride=self.stride or (1,) * nd,
            padding=self.padding or (0,) * nd,
            dilation=self.dilation or (1,) * nd,
            groups=self.groups,
        )


@dataclass(frozen=True, eq=False)
class Embedding:
    """A lookup ``weight[ids]``, weight (num_embeddings, dim); only as the first link, whose
    inputs are then integer token ids."""

    name: str
    weight: Array


@dataclass(frozen=True, eq=False)
class Attention:
    """Self-attention (torch's ``nn.MultiheadAttention(x, x, x)``, no mask) on (batch, seq, E):
    projections q, k, v, out as (in, out) = (E, E) matrices, biases (E,) or None."""

    name: str
    q: Array
    k: Array
    v: Array
    out: Array
    num_heads: int
    q_bias: Array | None = None
    k_bias: Array | None = None
    v_bias: Array | None = None
    out_bias: Array | None = None

    def weights(self) -> AttentionWeights:
        return AttentionWeights(
            self.q,
            self.k,
            self.v,
            self.q_bias,
            self.k_bias,
            self.v_bias,
            self.out,
            self.out_bias,
            self.num_heads,
        )


@dataclass(frozen=True, eq=False)
class Norm:
    """A norm with batch statistics: ``kind`` in :data:`NORM_KINDS`.

    layer_norm / rms_norm average over the trailing ``normalized_ndim`` axes (default: the
    scale's ndim, else 1: torch's ``normalized_shape``); batch_norm over batch and spatial
    axes per channel (axis 1); group_norm over each group of ``num_groups`` channels and the
    spatial axes. scale/shift: the normalised shape (layer/rms) or (channels,).
    """

    name: str
    kind: str
    scale: Array | None = None
    shift: Array | None = None
    eps: float = 1e-5
    num_groups: int = 1
    normalized_ndim: int | None = None

    def trailing(self) -> int:
        if self.normalized_ndim is not None:
            return self.normalized_ndim
        return self.scale.ndim if self.scale is not None else 1


Step = Dense | Conv | Embedding | Attention | Norm


@dataclass(frozen=True, eq=False)
class Link:
    """One layer of the chain: a step, then its activation.

    ``weight_std_theory``: the scheme's std of the main weight (None: unknown), and
    ``weight_mean_theory`` its mean (the recursion needs the second moment, std^2 + mean^2);
    ``output_multiplier`` (dense and conv): ``h = mult * (x W) + b`` (muP's readout).
    """

    step: Step
    activation: str
    activation_param: float | None = None
    weight_std_theory: float | None = None
    output_multiplier: float = 1.0
    weight_mean_theory: float = 0.0  # the scheme's mean (a constant init's value)


@dataclass(frozen=True)
class LayerStats:
    """Per-link statistics; population (ddof = 0) over all elements, Python floats.

    ``dead_fraction``: units whose ``f'(h) == 0`` on every sample (and position);
    ``saturated_fraction``: elements in the activation's saturated region
    (:data:`activations.SATURATING`), None if it has none; ``gradient_std``: std of dL/dh;
    ``symmetric``: two or more units and every unit's activation equals unit 0's on every
    sample (within ``SYMMETRY_RTOL`` of the largest ``|a|``); ``weight_histogram``: (33
    edges, 32 counts) of the main weight's finite values (numpy's bins; all-equal values get
    the bins of ``[v - 0.5, v + 0.5]``), None without a main weight; ``overflow``: a
    statistic is not finite (the chain overflowed float64).
    """

    name: str
    kind: str
    activation: str
    fan_in: int | None
    preactivation_std: float
    activation_mean: float
    activation_std: float
    activation_squared_mean: float
    dead_fraction: float
    saturated_fraction: float | None
    gradient_std: float
    weight_std: float | None
    weight_std_theory: float | None
    symmetric: bool
    weight_histogram: tuple[tuple[float, ...], tuple[int, ...]] | None
    overflow: bool


# ----------------------------------------------------------------------- descriptions


def kind_of(step: Step) -> str:
    """dense, conv1d/conv2d/conv3d, embedding, multihead_attention or the norm's kind."""
    if isinstance(step, Dense):
        return "dense"
    if isinstance(step, Conv):
        return f"conv{step.weight.ndim - 2}d"
    if isinstance(step, Embedding):
        return "embedding"
    if isinstance(step, Attention):
        return "multihead_attention"
    return step.kind


def main_weight(step: Step) -> Array | None:
    """The weight the scheme initialises: dense/conv/embedding weight, attention's q, k, v
    projections (torch's ``in_proj_weight``), a norm's scale (None without one)."""
    if isinstance(step, Dense | Conv | Embedding):
        return step.weight
    if isinstance(step, Attention):
        return np.concatenate([step.q.ravel(), step.k.ravel(), step.v.ravel()])
    return step.scale


def fan_in(step: Step) -> int | None:
    if isinstance(step, Dense):
        return int(step.weight.shape[0])
    if isinstance(step, Conv):
        return int(math.prod(step.weight.shape[1:]))
    if isinstance(step, Attention):
        return int(step.q.shape[0])
    return None


# --------------------------------------------------------------------------- checking


class _Bad(Exception):
    """A shape problem, turned into InvalidParameterError naming the link."""


def _need(condition: bool, message: str) -> None:
    if not condition:
        raise _Bad(message)


def _vector(array: Array | None, size: int, what: str) -> None:
    _need(
        array is None or array.shape == (size,),
        f"{what} must have shape ({size},), got {None if array is None else array.shape}",
    )


def _dense_shape(step: Dense, shape: Shape) -> Shape:
    _need(step.weight.ndim == 2, f"a dense weight is (fan_in, fan_out), got {step.weight.shape}")
    fan, out = step.weight.shape
    _vector(step.bias, out, "the bias")
    _need(len(shape) >= 2, f"a dense layer needs (batch, ..., {fan}) inputs, got {shape}")
    if shape[-1] == fan:
        return (*shape[:-1], out)
    _need(
        len(shape) >= 3 and math.prod(shape[1:]) == fan,
        f"expects {fan} input features, got input of shape {shape}",
    )
    return (shape[0], out)


def _conv_shape(step: Conv, shape: Shape) -> Shape:
    nd = step.weight.ndim - 2
    _need(nd >= 1, f"a conv weight is (out, in/groups, *kernel), got {step.weight.shape}")
    geo = step.geometry()
    sizes = (len(geo.stride), len(geo.padding), len(geo.dilation))
    _need(sizes == (nd,) * 3, f"stride, padding and dilation need {nd} entries each")
    _need(min(geo.stride + geo.dilation) >= 1 and min(geo.padding) >= 0, "bad conv geometry")
    out, per_group = step.weight.shape[:2]
    _need(step.groups >= 1 and out % step.groups == 0, f"groups={step.groups} must divide {out}")
    _vector(step.bias, out, "the bias")
    _need(
        len(shape) == nd + 2 and shape[1] == per_group * step.groups,
        f"expects (batch, {per_group * step.groups}, {nd} spatial axes) inputs, got {shape}",
    )
    spatial = geo.output_spatial(shape[2:])
    _need(min(spatial) >= 1, f"input spatial size {shape[2:]} is smaller than the kernel")
    return (shape[0], out, *spatial)


def _attention_shape(step: Attention, shape: Shape) -> Shape:
    e = step.q.shape[0]
    for what in ("q", "k", "v", "out"):
        _need(getattr(step, what).shape == (e, e), f"{what} must be ({e}, {e})")
    for what in ("q_bias", "k_bias", "v_bias", "out_bias"):
        _vector(getattr(step, what), e, what)
    _need(step.num_heads >= 1 and e % step.num_heads == 0, f"num_heads must divide {e}")
    _need(len(shape) == 3 and shape[2] == e, f"expects (batch, seq, {e}) inputs, got {shape}")
    return shape


def _norm_shape(step: Norm, shape: Shape) -> Shape:
    _need(step.kind in NORM_KINDS, f"unknown norm kind {step.kind!r}; valid: {NORM_KINDS}")
    _need(len(shape) >= 2, f"a norm needs (batch, ...) inputs, got {shape}")
    _need(step.eps >= 0, "eps must be >= 0")
    if step.kind == "group_norm":
        g = step.num_groups
        _need(g >= 1 and shape[1] % g == 0, f"num_groups={g} must divide {shape[1]} channels")
    trailing = step.trailing()
    _need(1 <= trailing < len(shape), f"cannot normalise {trailing} trailing axes of {shape}")
    want = affine_shape(step.kind, shape, trailing)
    if step.kind in ("batch_norm", "group_norm"):
        want = (shape[1],)
    for what, array in (("scale", step.scale), ("shift", step.shift)):
        _need(array is None or array.shape == want, f"{what} must have shape {want}")
    return shape


def _step_shape(step: Step, shape: Shape, first: bool, ids: bool) -> Shape:
    if isinstance(step, Embedding):
        _need(first and ids, "an embedding must be the first link, fed integer token ids")
        _need(step.weight.ndim == 2, "an embedding weight is (num_embeddings, dim)")
        return (*shape, step.weight.shape[1])
    _need(not (first and ids), "integer token ids need an embedding as the first link")
    if isinstance(step, Dense):
        return _dense_shape(step, shape)
    if isinstance(step, Conv):
        return _conv_shape(step, shape)
    if isinstance(step, Attention):
        return _attention_shape(step, shape)
    return _norm_shape(step, shape)


def chain_shapes(links: Sequence[Link], input_shape: Shape, token_ids: bool) -> list[Shape]:
    """Every link's output shape; :class:`InvalidParameterError` (``field="layers[i]"``)
    naming the first link whose shapes do not chain, or whose activation is unknown."""
    if not links:
        raise InvalidParameterError("the chain has no layers.", field="layers")
    shapes: list[Shape] = []
    shape = tuple(int(s) for s in input_shape)
    for i, link in enumerate(links):
        where = f"layers[{i}]"
        try:
            check(link.activation, link.activation_param)
        except InvalidParameterError as error:
            raise InvalidParameterError(f"{where}: {error.message}", field=where) from None
        try:
            _need(
                link.output_multiplier == 1.0 or isinstance(link.step, Dense | Conv),
                "only dense and conv layers take an output multiplier",
            )
            shape = _step_shape(link.step, shape, i == 0, token_ids and i == 0)
        except _Bad as bad:
            message = f"{where} ({link.step.name!r}, {kind_of(link.step)}): {bad}."
            raise InvalidParameterError(message, field=where) from None
        shapes.append(shape)
    return shapes


# ---------------------------------------------------------------------------- forward

_Back = Callable[[Array], Array]


def _dense_step(step: Dense, x: Array, mult: float) -> tuple[Array, _Back]:
    flat = x if x.shape[-1] == step.weight.shape[0] else x.reshape(x.shape[0], -1)
    h = dense_forward(flat, step.weight, step.bias, mult)

    def back(dh: Array) -> Array:
        dx = dh @ step.weight.T
        if mult != 1.0:
            dx *= mult
        return dx.reshape(x.shape)

    return h, back


def _conv_step(step: Conv, x: Array, mult: float) -> tuple[Array, _Back]:
    geo = step.geometry()
    h, _ = conv_forward(x, step.weight, step.bias, geo, mult)
    return h, lambda dh: conv_input_gradient(dh, x.shape, step.weight, geo, mult)


def _norm_step(step: Norm, x: Array) -> tuple[Array, _Back]:
    trailing = step.trailing()
    y, cache = norm_forward(
        x,
        step.kind,
        (step.scale, step.shift),
        eps=step.eps,
        num_groups=step.num_groups,
        normalized_ndim=trailing,
    )
    return y, lambda dy: norm_backward(dy, cache, step.scale, step.kind, trailing)


def _attention_step(step: Attention, x: Array) -> tuple[Array, _Back]:
    aw = step.weights()
    y, cache = attention_forward(x, aw)
    return y, lambda dy: attention_backward(dy, cache, aw)


def _no_input_gradient(dh: Array) -> Array:
    raise AssertionError("an embedding has no input gradient")  # pragma: no cover


def step_forward(step: Step, x: NDArray[Any], mult: float = 1.0) -> tuple[Array, _Back]:
    """(h, backward) of one step: backward maps dL/dh to dL/dx."""
    if isinstance(step, Embedding):
        return np.asarray(step.weight[x], dtype=np.float64), _no_input_gradient
    if isinstance(step, Dense):
        return _dense_step(step, x, mult)
    if isinstance(step, Conv):
        return _conv_step(step, x, mult)
    if isinstance(step, Norm):
        return _norm_step(step, x)
    return _attention_step(step, x)


# ------------------------------------------------------------------------- statistics


def _unit_view(t: Array, channels_first: bool) -> Array:
    """(samples, units, rest) view of t with units on axis 1."""
    if channels_first and t.ndim > 2:
        return t.reshape(t.shape[0], t.shape[1], -1)
    return t.reshape(-1, t.shape[-1], 1)


def _dead_fraction(fprime: Array, channels_first: bool) -> float:
    alive = np.any(_unit_view(fprime, channels_first) != 0, axis=(0, 2))
    return float(1.0 - np.count_nonzero(alive) / alive.size) if alive.size else 0.0


def _symmetric(a: Array, channels_first: bool) -> bool:
    units = _unit_view(a, channels_first)
    if units.shape[1] < 2 or not np.all(np.isfinite(units)):
        return False
    spread = float(np.max(np.abs(units - units[:, :1, :]))) if units.size else 0.0
    return spread <= SYMMETRY_RTOL * float(np.max(np.abs(units)))


def _histogram(w: Array | None) -> tuple[tuple[float, ...], tuple[int, ...]] | None:
    """numpy.histogram(finite values, bins=32), computed as numpy does for equal bins
    (index = floor((w - lo) * bins / (hi - lo)), then corrected against the edges) with
    fewer temporaries; all-equal values get the bins of [v - 0.5, v + 0.5], as in numpy."""
    if w is None or w.size == 0:
        return None
    flat = w.ravel()
    finite = flat if np.isfinite(flat).all() else flat[np.isfinite(flat)]
    if finite.size == 0:
        return None
    lo, hi = float(finite.min()), float(finite.max())
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    bins = HISTOGRAM_BINS
    edges = np.linspace(lo, hi, bins + 1)
    scaled = finite - lo
    scaled *= bins / (hi - lo)
    index = scaled.astype(np.intp)
    np.clip(index, 0, bins - 1, out=index)
    index -= finite < edges[index]
    index += (finite >= edges[index + 1]) & (index != bins - 1)
    counts = np.bincount(index, minlength=bins)
    return tuple(float(e) for e in edges), tuple(int(c) for c in counts)


@dataclass(frozen=True, eq=False)
class Pass:
    """One link's arrays from :func:`passes`: pre-activation ``h``, activation ``a = f(h)``,
    ``fprime = f'(h)``, ``dh = dL/dh``; ``channels_first``: units on axis 1."""

    h: Array
    a: Array
    fprime: Array
    dh: Array
    channels_first: bool


def _mean_std(x: Array) -> tuple[float, float, float]:
    """(mean, std, mean of squares) of all elements; two passes, one temporary."""
    flat = x.reshape(-1)
    n = max(flat.size, 1)
    mean = float(flat.sum()) / n
    centred = flat - mean
    return mean, math.sqrt(float(np.dot(centred, centred)) / n), float(np.dot(flat, flat)) / n


def _stats(link: Link, trace: Pass) -> LayerStats:
    h, a, fprime, dh = trace.h, trace.a, trace.fprime, trace.dh
    w = main_weight(link.step)
    a_mean, a_std, a_square = _mean_std(a)
    numbers = {
        "preactivation_std": _mean_std(h)[1],
        "activation_mean": a_mean,
        "activation_std": a_std,
        "activation_squared_mean": a_square,
        "gradient_std": _mean_std(dh)[1],
    }
    weight_std = None if w is None or w.size == 0 else _mean_std(w)[1]
    finite = all(math.isfinite(v) for v in numbers.values())
    return LayerStats(
        name=link.step.name,
        kind=kind_of(link.step),
        activation=link.activation,
        fan_in=fan_in(link.step),
        dead_fraction=_dead_fraction(fprime, trace.channels_first),
        saturated_fraction=saturated_fraction(link.activation, a),
        weight_std=weight_std,
        weight_std_theory=link.weight_std_theory,
        symmetric=_symmetric(a, trace.channels_first),
        weight_histogram=_histogram(w),
        overflow=not finite or (weight_std is not None and not math.isfinite(weight_std)),
        **numbers,
    )


def link_stats(link: Link, trace: Pass) -> LayerStats:
    """The :class:`LayerStats` of one link from its arrays (what :func:`forward_backward`
    reports per link; other passes, such as a residual network's sublayers, reuse it)."""
    with np.errstate(all="ignore"):
        return _stats(link, trace)


def channels_first(step: Step, before: bool, ndim: int) -> bool:
    """Whether a link's output keeps channels on axis 1 (a conv's, and a norm's after one)."""
    if isinstance(step, Conv):
        return True
    if isinstance(step, Norm):
        return before or (step.kind in ("batch_norm", "group_norm") and ndim > 2)
    return False


def _check_inputs(
    links: Sequence[Link], inputs: NDArray[Any], upstream: NDArray[Any]
) -> list[Shape]:
    ids = np.issubdtype(inputs.dtype, np.integer)
    shapes = chain_shapes(links, inputs.shape, bool(ids))
    first = links[0].step
    if ids and isinstance(first, Embedding) and inputs.size:
        n = first.weight.shape[0]
        if int(inputs.min()) < 0 or int(inputs.max()) >= n:
            raise InvalidParameterError(f"token ids must be in [0, {n}).", field="inputs")
    if upstream.shape != shapes[-1]:
        raise InvalidParameterError(
            f"upstream has shape {upstream.shape}, the chain's output {shapes[-1]}.",
            field="upstream",
        )
    return shapes


def passes(links: Sequence[Link], inputs: NDArray[Any], upstream: NDArray[Any]) -> list[Pass]:
    """The forward and backward arrays of every link (what :func:`forward_backward`
    summarises); same arguments and errors."""
    _check_inputs(links, inputs, upstream)
    forward: list[tuple[Array, Array, bool]] = []
    backs: list[_Back] = []
    x: NDArray[Any] = inputs if inputs.dtype.kind in "iu" else inputs.astype(np.float64)
    units_on_1 = False  # units (channels) on axis 1 rather than last
    with np.errstate(all="ignore"):
        for link in links:
            units_on_1 = channels_first(link.step, units_on_1, x.ndim)
            h, back = step_forward(link.step, x, link.output_multiplier)
            a = apply(link.activation, h, link.activation_param)
            forward.append((h, a, units_on_1))
            backs.append(back)
            x = a
        out: list[Pass] = []
        grad = np.asarray(upstream, dtype=np.float64)
        for i in range(len(links) - 1, -1, -1):
            link, (h, a, first) = links[i], forward[i]
            fprime = derivative(link.activation, h, link.activation_param)
            dh = grad * fprime
            out.append(Pass(h, a, fprime, dh, first))
            if i:
                grad = backs[i](dh)
    return out[::-1]


def forward_backward(
    links: Sequence[Link], inputs: NDArray[Any], upstream: NDArray[Any]
) -> list[LayerStats]:
    """One forward and one backward pass; :class:`LayerStats` per link (module docstring).

    ``inputs``: (batch, features), (batch, channels, *spatial) or (batch, seq, E) floats, or
    integer token ids for a first embedding; ``upstream``: dL/d(output of the last link),
    the final output's shape. Deterministic: plain numpy, fixed operation order.
    """
    traced = passes(links, inputs, upstream)
    with np.errstate(all="ignore"):
        return [_stats(link, trace) for link, trace in zip(links, traced, strict=True)]
