"""Forward and backward of each layer kind on float64 arrays (no autograd: written out).

Conventions are torch's: a dense weight is stored here as ``(fan_in, fan_out)`` (canonical
orientation, ``h = x @ W``), a conv weight as ``(out, in/groups, *kernel)`` on
``(batch, channels, *spatial)`` inputs (cross-correlation, zero padding), attention is
``nn.MultiheadAttention``'s self-attention without mask or dropout, the norms use the
biased variance and batch statistics (training mode).

The conv is im2col: a strided view of the padded input
(:func:`numpy.lib.stride_tricks.sliding_window_view`) copied into columns once, then one
matmul per group; its backward scatters the column gradients back with one strided add per
kernel tap (never a loop over pixels).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import NDArray

__all__ = [
    "Array",
    "AttentionWeights",
    "ConvGeometry",
    "NormCache",
    "Shape",
    "affine_shape",
    "attention_backward",
    "attention_forward",
    "conv_backward",
    "conv_forward",
    "conv_input_gradient",
    "dense_backward",
    "dense_forward",
    "norm_axes",
    "norm_backward",
    "norm_forward",
]

Array = NDArray[np.float64]
Shape = tuple[int, ...]


# ------------------------------------------------------------------------------ dense


def dense_forward(x: Array, weight: Array, bias: Array | None, multiplier: float) -> Array:
    """``h = multiplier * (x @ W) + b`` over the last axis of ``x``."""
    h = x @ weight
    if multiplier != 1.0:
        h *= multiplier
    if bias is not None:
        h += bias
    return h


def dense_backward(
    dh: Array, x: Array, weight: Array, multiplier: float, *, need_input: bool = True
) -> tuple[Array | None, Array, Array]:
    """(dL/dx or None, dL/dW, dL/db) of :func:`dense_forward`."""
    dh2 = dh.reshape(-1, dh.shape[-1])
    dw = x.reshape(-1, x.shape[-1]).T @ dh2
    if multiplier != 1.0:
        dw *= multiplier
    db = dh2.sum(axis=0)
    if not need_input:
        return None, dw, db
    dx = dh @ weight.T
    if multiplier != 1.0:
        dx *= multiplier
    return dx, dw, db


# ------------------------------------------------------------------------------- conv


@dataclass(frozen=True)
class ConvGeometry:
    """Kernel, stride, padding, dilation (one entry per spatial axis) and groups."""

    kernel: Shape
    stride: Shape
    padding: Shape
    dilation: Shape
    groups: int

    def output_spatial(self, spatial: Shape) -> Shape:
        """torch's ``floor((S + 2p - d (k - 1) - 1) / s) + 1`` per axis (may be <= 0)."""
        return tuple(
            (size + 2 * p - d * (k - 1) - 1) // s + 1
            for size, k, s, p, d in zip(
                spatial, self.kernel, self.stride, self.padding, self.dilation, strict=True
            )
        )


def _windows(x: Array, geo: ConvGeometry) -> Array:
    """A view (B, C, *out_spatial, *kernel) of the zero-padded input's receptive fields."""
    nd = len(geo.kernel)
    xp = np.pad(x, [(0, 0), (0, 0), *((p, p) for p in geo.padding)])
    span = tuple((k - 1) * d + 1 for k, d in zip(geo.kernel, geo.dilation, strict=True))
    view = sliding_window_view(xp, span, axis=tuple(range(2, 2 + nd)))
    picks = (
        slice(None),
        slice(None),
        *(slice(None, None, s) for s in geo.stride),
        *(slice(None, None, d) for d in geo.dilation),
    )
    return view[picks]


def conv_forward(
    x: Array, weight: Array, bias: Array | None, geo: ConvGeometry, multiplier: float
) -> tuple[Array, Array]:
    """(h, columns): ``h`` (B, out, *out_spatial); columns (G, B*P, C/G*K) for the backward."""
    batch, channels = x.shape[:2]
    nd = len(geo.kernel)
    g = geo.groups
    out = weight.shape[0]
    win = _windows(x, geo)  # (B, C, *O, *K)
    out_spatial = win.shape[2 : 2 + nd]
    positions = math.prod(out_spatial)
    taps = math.prod(geo.kernel)
    # (B, *O, C, *K) -> (B*P, G, C/G * K) -> (G, B*P, C/G * K)
    order = (0, *range(2, 2 + nd), 1, *range(2 + nd, 2 + 2 * nd))
    cols = np.ascontiguousarray(win.transpose(order)).reshape(
        batch * positions, g, (channels // g) * taps
    )
    cols = np.ascontiguousarray(cols.transpose(1, 0, 2))
    w = weight.reshape(g, out // g, -1).transpose(0, 2, 1)  # (G, C/G*K, out/G)
    h = np.matmul(cols, w)  # (G, B*P, out/G)
    if multiplier != 1.0:
        h *= multiplier
    h = h.transpose(1, 0, 2).reshape(batch, *out_spatial, out)
    h = np.moveaxis(h, -1, 1)
    if bias is not None:
        h = h + bias.reshape(1, out, *([1] * nd))
    return np.ascontiguousarray(h), cols


def conv_input_gradient(
    dh: Array, x_shape: Shape, weight: Array, geo: ConvGeometry, multiplier: float
) -> Array:
    """dL/dx of :func:`conv_forward` (a transposed conv: one strided add per kernel tap)."""
    batch, channels = x_shape[:2]
    nd = len(geo.kernel)
    g = geo.groups
    out = weight.shape[0]
    out_spatial = dh.shape[2:]
    dh_g = np.moveaxis(dh, 1, -1).reshape(-1, g, out // g).transpose(1, 0, 2)  # (G, B*P, out/G)
    dcols = np.matmul(dh_g, weight.reshape(g, out // g, -1))  # (G, B*P, C/G*K)
    if multiplier != 1.0:
        dcols *= multiplier
    # (G, B, *O, C/G, *K) -> (B, C, *K, *O)
    dcols = dcols.reshape(g, batch, *out_spatial, channels // g, *geo.kernel)
    order = (1, 0, 2 + nd, *range(3 + nd, 3 + 2 * nd), *range(2, 2 + nd))
    dcols = dcols.transpose(order).reshape(batch, channels, *geo.kernel, *out_spatial)
    padded = tuple(s + 2 * p for s, p in zip(x_shape[2:], geo.padding, strict=True))
    dxp = np.zeros((batch, channels, *padded))
    for tap in itertools.product(*(range(k) for k in geo.kernel)):
        where = tuple(
            slice(t * d, t * d + s * (o - 1) + 1, s)
            for t, d, s, o in zip(tap, geo.dilation, geo.stride, out_spatial, strict=True)
        )
        dxp[(slice(None), slice(None), *where)] += dcols[(slice(None), slice(None), *tap)]
    inner = tuple(slice(p, p + s) for p, s in zip(geo.padding, x_shape[2:], strict=True))
    return dxp[(slice(None), slice(None), *inner)]


def conv_backward(
    dh: Array,
    cols: Array,
    x_shape: Shape,
    weight: Array,
    geo: ConvGeometry,
    *,
    multiplier: float = 1.0,
) -> tuple[Array, Array, Array]:
    """(dL/dx, dL/dW, dL/db) of :func:`conv_forward` (``cols``: its columns)."""
    g = geo.groups
    out = weight.shape[0]
    dh_g = np.moveaxis(dh, 1, -1).reshape(-1, g, out // g).transpose(1, 0, 2)
    dw = np.matmul(cols.transpose(0, 2, 1), dh_g)  # (G, C/G*K, out/G)
    dw = dw.transpose(0, 2, 1).reshape(weight.shape)
    if multiplier != 1.0:
        dw *= multiplier
    db = dh.sum(axis=(0, *range(2, dh.ndim)))
    return conv_input_gradient(dh, x_shape, weight, geo, multiplier), dw, db


# -------------------------------------------------------------------------- attention


@dataclass(frozen=True)
class AttentionWeights:
    """Self-attention projections as (in, out) matrices, biases (E,) or None."""

    q: Array
    k: Array
    v: Array
    q_bias: Array | None
    k_bias: Array | None
    v_bias: Array | None
    out: Array
    out_bias: Array | None
    num_heads: int


@dataclass(frozen=True)
class _AttentionCache:
    x: Array
    q: Array  # (B, H, T, d)
    k: Array
    v: Array
    p: Array  # (B, H, T, T) softmax
    o: Array  # (B, T, E) heads concatenated


def _heads(t: Array, heads: int) -> Array:
    b, n, e = t.shape
    return t.reshape(b, n, heads, e // heads).transpose(0, 2, 1, 3)


def _merge(t: Array) -> Array:
    b, h, n, d = t.shape
    return t.transpose(0, 2, 1, 3).reshape(b, n, h * d)


def _project(x: Array, w: Array, b: Array | None) -> Array:
    return dense_forward(x, w, b, 1.0)


def attention_forward(x: Array, aw: AttentionWeights) -> tuple[Array, _AttentionCache]:
    """``softmax(Q K^T / sqrt(d)) V`` per head, heads concatenated, then ``@ out + out_bias``."""
    q = _heads(_project(x, aw.q, aw.q_bias), aw.num_heads)
    k = _heads(_project(x, aw.k, aw.k_bias), aw.num_heads)
    v = _heads(_project(x, aw.v, aw.v_bias), aw.num_heads)
    scores = np.matmul(q, k.transpose(0, 1, 3, 2)) / math.sqrt(q.shape[-1])
    scores -= scores.max(axis=-1, keepdims=True)
    p = np.exp(scores)
    p /= p.sum(axis=-1, keepdims=True)
    o = _merge(np.matmul(p, v))
    return _project(o, aw.out, aw.out_bias), _AttentionCache(x, q, k, v, p, o)


def attention_backward(dy: Array, cache: _AttentionCache, aw: AttentionWeights) -> Array:
    """dL/dx of :func:`attention_forward` (through the three projections)."""
    heads = aw.num_heads
    do = _heads(dy @ aw.out.T, heads)  # (B, H, T, d)
    dp = np.matmul(do, cache.v.transpose(0, 1, 3, 2))
    dv = np.matmul(cache.p.transpose(0, 1, 3, 2), do)
    ds = cache.p * (dp - (dp * cache.p).sum(axis=-1, keepdims=True))
    ds /= math.sqrt(cache.q.shape[-1])
    dq = np.matmul(ds, cache.k)
    dk = np.matmul(ds.transpose(0, 1, 3, 2), cache.q)
    dx: Array = _merge(dq) @ aw.q.T + _merge(dk) @ aw.k.T + _merge(dv) @ aw.v.T
    return dx


# ------------------------------------------------------------------------------ norms


@dataclass(frozen=True)
class NormCache:
    xhat: Array  # normalised input, in the grouped shape for group_norm
    rstd: Array
    axes: tuple[int, ...]
    centered: bool
    grouped: Shape | None  # group_norm: the (B, G, C/G, *S) shape


def norm_axes(kind: str, ndim: int, normalized_ndim: int) -> tuple[int, ...]:
    """Axes a norm averages over (group_norm: of the grouped (B, G, C/G, *S) array)."""
    if kind in ("layer_norm", "rms_norm"):
        return tuple(range(ndim - normalized_ndim, ndim))
    if kind == "batch_norm":
        return (0, *range(2, ndim))
    return tuple(range(2, ndim + 1))  # group_norm


def affine_shape(kind: str, shape: Shape, normalized_ndim: int) -> Shape:
    """The broadcast shape of scale/shift for an input of ``shape``."""
    if kind in ("layer_norm", "rms_norm"):
        return shape[len(shape) - normalized_ndim :]
    return (1, shape[1], *([1] * (len(shape) - 2)))


def norm_forward(
    x: Array,
    kind: str,
    affine: tuple[Array | None, Array | None],
    *,
    eps: float,
    num_groups: int = 1,
    normalized_ndim: int = 1,
) -> tuple[Array, NormCache]:
    """``y = scale * (x - mean) / sqrt(var + eps) + shift`` over the kind's axes (rms_norm:
    ``x / sqrt(mean(x^2) + eps)``)."""
    scale, shift = affine
    grouped: Shape | None = None
    xg = x
    if kind == "group_norm":
        grouped = (x.shape[0], num_groups, x.shape[1] // num_groups, *x.shape[2:])
        xg = x.reshape(grouped)
    axes = norm_axes(kind, x.ndim, normalized_ndim)
    centered = kind != "rms_norm"
    xc = xg - xg.mean(axis=axes, keepdims=True) if centered else xg
    rstd = 1.0 / np.sqrt((xc * xc).mean(axis=axes, keepdims=True) + eps)
    xhat = xc * rstd
    y = xhat.reshape(x.shape)
    shape = affine_shape(kind, x.shape, normalized_ndim)
    if scale is not None:
        y = y * scale.reshape(shape)
    if shift is not None:
        y = y + shift.reshape(shape)
    return y, NormCache(xhat, rstd, axes, centered, grouped)


def norm_backward(
    dy: Array, cache: NormCache, scale: Array | None, kind: str, normalized_ndim: int
) -> Array:
    """dL/dx: ``rstd (g - mean(g) - xhat mean(g xhat))`` with ``g = dy * scale`` (rms_norm
    drops the ``mean(g)`` term)."""
    g = dy if scale is None else dy * scale.reshape(affine_shape(kind, dy.shape, normalized_ndim))
    if cache.grouped is not None:
        g = g.reshape(cache.grouped)
    proj = (g * cache.xhat).mean(axis=cache.axes, keepdims=True)
    inner = g - cache.xhat * proj
    if cache.centered:
        inner -= g.mean(axis=cache.axes, keepdims=True)
    dx: Array = (inner * cache.rstd).reshape(dy.shape)
    return dx
