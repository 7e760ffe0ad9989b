"""Layer kinds, forward against straightforward loop references and backward against central
finite differences (float64, tiny cases)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import numpy as np
import pytest
from numpy.typing import NDArray

from app.core.diagnostics import Attention, Dense, Embedding, Link, Norm, ops
from app.core.diagnostics.chain import passes, step_forward
from app.core.diagnostics.ops import AttentionWeights, ConvGeometry

Array = NDArray[np.float64]


def numeric_gradient(f: Callable[[Array], float], x: Array, step: float = 1e-6) -> Array:
    """Central differences of the scalar f at x, element by element."""
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        keep = x[idx]
        x[idx] = keep + step
        up = f(x)
        x[idx] = keep - step
        down = f(x)
        x[idx] = keep
        grad[idx] = (up - down) / (2 * step)
    return grad


def naive_conv(x: Array, w: Array, b: Array | None, geo: ConvGeometry) -> Array:
    """The definition, one output element at a time (torch's cross-correlation)."""
    nd = len(geo.kernel)
    batch, channels = x.shape[:2]
    out_ch, per_group = w.shape[:2]
    out_sp = geo.output_spatial(x.shape[2:])
    y = np.zeros((batch, out_ch, *out_sp))
    per_out = out_ch // geo.groups
    for n, o in itertools.product(range(batch), range(out_ch)):
        g = o // per_out
        for pos in itertools.product(*(range(s) for s in out_sp)):
            total = 0.0 if b is None else b[o]
            for c, tap in itertools.product(
                range(per_group), itertools.product(*(range(k) for k in geo.kernel))
            ):
                src = [
                    p * s + t * d - pad
                    for p, s, t, d, pad in zip(
                        pos, geo.stride, tap, geo.dilation, geo.padding, strict=True
                    )
                ]
                if all(0 <= i < size for i, size in zip(src, x.shape[2:], strict=True)):
                    total += x[(n, g * per_group + c, *src)] * w[(o, c, *tap)]
            y[(n, o, *pos)] = total
    assert len(out_sp) == nd and channels == per_group * geo.groups
    return y


CONV_CASES = [
    # (input shape, weight shape, stride, padding, dilation, groups)
    ((2, 3, 7), (4, 3, 3), (1,), (0,), (1,), 1),
    ((2, 4, 9), (6, 2, 3), (2,), (1,), (2,), 2),
    ((2, 3, 6, 5), (4, 3, 3, 3), (1, 1), (1, 1), (1, 1), 1),
    ((1, 4, 7, 6), (6, 2, 3, 2), (2, 1), (1, 0), (1, 2), 2),
    ((2, 4, 5, 5), (4, 1, 3, 3), (2, 2), (2, 1), (1, 1), 4),  # depthwise
]


@pytest.mark.parametrize(("xs", "ws", "stride", "padding", "dilation", "groups"), CONV_CASES)
def test_conv_matches_the_loop_definition_and_its_gradients_match_finite_differences(
    xs: tuple[int, ...],
    ws: tuple[int, ...],
    stride: tuple[int, ...],
    padding: tuple[int, ...],
    dilation: tuple[int, ...],
    groups: int,
) -> None:
    rng = np.random.default_rng(len(xs) * 10 + groups)
    x, w, b = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[0])
    geo = ConvGeometry(ws[2:], stride, padding, dilation, groups)
    y, cols = ops.conv_forward(x, w, b, geo, 1.0)
    np.testing.assert_allclose(y, naive_conv(x, w, b, geo), rtol=1e-12, atol=1e-12)

    up = rng.standard_normal(y.shape)
    dx, dw, db = ops.conv_backward(up, cols, x.shape, w, geo, multiplier=0.7)
    loss_x = lambda v: float(np.sum(up * ops.conv_forward(v, w, b, geo, 0.7)[0]))  # noqa: E731
    loss_w = lambda v: float(np.sum(up * ops.conv_forward(x, v, b, geo, 0.7)[0]))  # noqa: E731
    loss_b = lambda v: float(np.sum(up * ops.conv_forward(x, w, v, geo, 0.7)[0]))  # noqa: E731
    np.testing.assert_allclose(dx, numeric_gradient(loss_x, x.copy()), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(dw, numeric_gradient(loss_w, w.copy()), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(db, numeric_gradient(loss_b, b.copy()), rtol=1e-6, atol=1e-8)


def test_dense_gradients_match_finite_differences() -> None:
    rng = np.random.default_rng(1)
    x, w, b = rng.standard_normal((3, 2, 4)), rng.standard_normal((4, 5)), rng.standard_normal(5)
    up = rng.standard_normal((3, 2, 5))
    dx, dw, db = ops.dense_backward(up, x, w, 0.5)
    assert dx is not None
    loss = lambda xv, wv, bv: float(np.sum(up * ops.dense_forward(xv, wv, bv, 0.5)))  # noqa: E731
    np.testing.assert_allclose(dx, numeric_gradient(lambda v: loss(v, w, b), x.copy()), rtol=1e-7)
    np.testing.assert_allclose(dw, numeric_gradient(lambda v: loss(x, v, b), w.copy()), rtol=1e-7)
    np.testing.assert_allclose(db, numeric_gradient(lambda v: loss(x, w, v), b.copy()), rtol=1e-7)


def _attention(rng: np.random.Generator, e: int, heads: int, bias: bool) -> AttentionWeights:
    mats = [rng.standard_normal((e, e)) / math.sqrt(e) for _ in range(4)]
    biases = [rng.standard_normal(e) * 0.1 if bias else None for _ in range(4)]
    return AttentionWeights(
        mats[0], mats[1], mats[2], biases[0], biases[1], biases[2], mats[3], biases[3], heads
    )


def reference_attention(x: Array, aw: AttentionWeights) -> Array:
    """Per sample and head, with a plain softmax: the textbook formula."""
    batch, _, e = x.shape
    d = e // aw.num_heads
    out = np.zeros_like(x)
    for n in range(batch):
        q, k, v = (
            x[n] @ m + (0 if bb is None else bb)
            for m, bb in ((aw.q, aw.q_bias), (aw.k, aw.k_bias), (aw.v, aw.v_bias))
        )
        heads = []
        for h in range(aw.num_heads):
            sl = slice(h * d, (h + 1) * d)
            scores = q[:, sl] @ k[:, sl].T / math.sqrt(d)
            p = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
            heads.append(p @ v[:, sl])
        out[n] = np.concatenate(heads, axis=1) @ aw.out + (
            0 if aw.out_bias is None else aw.out_bias
        )
    return out


@pytest.mark.parametrize(("heads", "bias"), [(1, False), (2, True), (4, True)])
def test_attention_matches_the_per_head_reference_and_finite_differences(
    heads: int, bias: bool
) -> None:
    rng = np.random.default_rng(heads)
    aw = _attention(rng, 8, heads, bias)
    x = rng.standard_normal((2, 5, 8))
    y, cache = ops.attention_forward(x, aw)
    np.testing.assert_allclose(y, reference_attention(x, aw), rtol=1e-12, atol=1e-13)
    up = rng.standard_normal(y.shape)
    dx = ops.attention_backward(up, cache, aw)
    numeric = numeric_gradient(
        lambda v: float(np.sum(up * ops.attention_forward(v, aw)[0])), x.copy()
    )
    np.testing.assert_allclose(dx, numeric, rtol=1e-6, atol=1e-9)


def reference_norm(
    x: Array, kind: str, scale: Array | None, shift: Array | None, groups: int
) -> Array:
    """torch's definitions, written per normalisation group with explicit loops/reshapes."""
    eps = 1e-5
    if kind == "layer_norm":
        mu = x.mean(axis=-1, keepdims=True)
        y = (x - mu) / np.sqrt(((x - mu) ** 2).mean(axis=-1, keepdims=True) + eps)
        return y * (1 if scale is None else scale) + (0 if shift is None else shift)
    if kind == "rms_norm":
        y = x / np.sqrt((x**2).mean(axis=-1, keepdims=True) + eps)
        return y * (1 if scale is None else scale) + (0 if shift is None else shift)
    y = np.zeros_like(x)
    c = x.shape[1]
    if kind == "batch_norm":
        for ch in range(c):
            v = x[:, ch]
            y[:, ch] = (v - v.mean()) / np.sqrt(v.var() + eps)
    else:
        per = c // groups
        for n, g in itertools.product(range(x.shape[0]), range(groups)):
            v = x[n, g * per : (g + 1) * per]
            y[n, g * per : (g + 1) * per] = (v - v.mean()) / np.sqrt(v.var() + eps)
    shape = (1, c, *([1] * (x.ndim - 2)))
    return y * (1 if scale is None else scale.reshape(shape)) + (
        0 if shift is None else shift.reshape(shape)
    )


NORM_CASES = [
    ("layer_norm", (3, 6), True),
    ("layer_norm", (2, 3, 6), False),
    ("rms_norm", (2, 3, 6), True),
    ("batch_norm", (5, 6), True),
    ("batch_norm", (3, 6, 4), True),
    ("group_norm", (2, 6, 4), True),
    ("group_norm", (2, 6, 3, 2), False),
]


@pytest.mark.parametrize(("kind", "shape", "affine"), NORM_CASES)
def test_norms_match_their_definitions_and_finite_differences(
    kind: str, shape: tuple[int, ...], affine: bool
) -> None:
    rng = np.random.default_rng(len(shape))
    channels = shape[-1] if kind in ("layer_norm", "rms_norm") else shape[1]
    scale = rng.uniform(0.5, 1.5, channels) if affine else None
    shift = rng.standard_normal(channels) if affine else None
    groups = 3 if kind == "group_norm" else 1
    step = Norm("n", kind, scale, shift, num_groups=groups)
    x = rng.standard_normal(shape) * 2 + 0.3
    y, back = step_forward(step, x)
    np.testing.assert_allclose(
        y, reference_norm(x, kind, scale, shift, groups), rtol=1e-12, atol=1e-12
    )
    up = rng.standard_normal(y.shape)
    numeric = numeric_gradient(lambda v: float(np.sum(up * step_forward(step, v)[0])), x.copy())
    np.testing.assert_allclose(back(up), numeric, rtol=1e-6, atol=1e-8)


def _tail(links: list[Link], start: int, a: Array) -> Array:
    """Run links[start:] on the activation a of link start - 1."""
    for link in links[start:]:
        from app.core.diagnostics.activations import apply

        h, _ = step_forward(link.step, a, link.output_multiplier)
        a = apply(link.activation, h, link.activation_param)
    return a


def test_a_mixed_chains_gradients_at_every_link_match_finite_differences() -> None:
    """embedding -> attention -> layer_norm -> dense (a multiplier) -> rms_norm, with
    nonlinear activations: dL/dh of every link, L = sum(upstream * output)."""
    from app.core.diagnostics.activations import apply

    rng = np.random.default_rng(7)
    e = 8
    aw = _attention(rng, e, 2, True)
    links = [
        Link(Embedding("emb", rng.standard_normal((11, e))), "tanh"),
        Link(
            Attention(
                "att", aw.q, aw.k, aw.v, aw.out, 2, aw.q_bias, aw.k_bias, aw.v_bias, aw.out_bias
            ),
            "gelu",
        ),
        Link(Norm("ln", "layer_norm", rng.uniform(0.5, 1.5, e), rng.standard_normal(e)), "silu"),
        Link(
            Dense("fc", rng.standard_normal((e, 5)), rng.standard_normal(5)),
            "elu",
            output_multiplier=0.5,
        ),
        Link(Norm("rms", "rms_norm", rng.uniform(0.5, 1.5, 5)), "linear"),
    ]
    ids = rng.integers(0, 11, size=(2, 4))
    up = rng.standard_normal((2, 4, 5))
    traced = passes(links, ids, up)
    for i, link in enumerate(links):
        h = traced[i].h.copy()

        def loss(v: Array, i: int = i, link: Link = link) -> float:
            a = apply(link.activation, v, link.activation_param)
            return float(np.sum(up * _tail(links, i + 1, a)))

        np.testing.assert_allclose(traced[i].dh, numeric_gradient(loss, h), rtol=1e-6, atol=1e-8)
