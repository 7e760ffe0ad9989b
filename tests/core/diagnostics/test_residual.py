"""The decoder pass (app.core.diagnostics.residual) against a straightforward reference written
here (loops over samples, heads and positions, formulas as transformers 5.18.0's GPT-2 and
Llama write them), its backward against central finite differences, and Brock et al.'s block
statistics against their definition."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.typing import NDArray

from app.core.diagnostics import (
    Decoder,
    DecoderBlock,
    NormWeights,
    Projection,
    attention_scale,
    decoder_trace,
    embed,
    patch_embed,
)
from app.core.diagnostics.ops import norm_backward, norm_forward
from app.core.diagnostics.residual import _block_backward, _forward, rotary_tables

Array = NDArray[np.float64]
SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


def _proj(rng: np.random.Generator, name: str, n_in: int, n_out: int, bias: bool) -> Projection:
    w = rng.normal(0.0, 1.0 / math.sqrt(n_in), (n_in, n_out))
    b = rng.normal(0.0, 0.1, n_out) if bias else None
    return Projection(name, w, b)


def _norm(rng: np.random.Generator, name: str, d: int, shift: bool) -> NormWeights:
    return NormWeights(
        name, 1.0 + 0.1 * rng.normal(size=d), 0.1 * rng.normal(size=d) if shift else None
    )


def tiny(
    family: str, *, layers: int = 2, d: int = 8, heads: int = 2, kv: int = 2, mup: bool = False
) -> Decoder:
    rng = np.random.default_rng(7)
    gpt2 = family in ("gpt2", "bert")  # biases, LayerNorm, learned positions
    bert = family == "bert"
    hd = d // heads
    inner = 4 * d if gpt2 else 12
    blocks = []
    for i in range(layers):
        blocks.append(
            DecoderBlock(
                f"h.{i}",
                _norm(rng, f"h.{i}.ln_1", d, gpt2),
                _proj(rng, f"h.{i}.q", d, heads * hd, gpt2),
                _proj(rng, f"h.{i}.k", d, kv * hd, gpt2),
                _proj(rng, f"h.{i}.v", d, kv * hd, gpt2),
                _proj(rng, f"h.{i}.o", heads * hd, d, gpt2),
                _norm(rng, f"h.{i}.ln_2", d, gpt2),
                _proj(rng, f"h.{i}.fc", d, inner, gpt2),
                _proj(rng, f"h.{i}.proj", inner, d, gpt2),
                None if gpt2 else _proj(rng, f"h.{i}.gate", d, inner, False),
            )
        )
    return Decoder(
        embedding=Projection("wte", rng.normal(size=(11, d))),
        positions=rng.normal(size=(9, d)) if gpt2 else None,
        blocks=tuple(blocks),
        final_norm=None if bert else _norm(rng, "ln_f", d, gpt2),
        norm="layer_norm" if gpt2 else "rms_norm",
        eps=1e-5 if gpt2 else 1e-6,
        num_heads=heads,
        num_kv_heads=kv,
        head_dim=hd,
        activation="gelu" if bert else "gelu_tanh" if gpt2 else "silu",
        attention_scale=attention_scale(hd, mup),
        rope_theta=None if gpt2 else 10000.0,
        post_norm=bert,
        causal=not bert,
        embedding_norm=_norm(rng, "embeddings.LayerNorm", d, True) if bert else None,
    )


# ---- the reference: one sample, one vector at a time -------------------------------------


def ref_norm(v: Array, w: NormWeights, kind: str, eps: float) -> Array:
    if kind == "layer_norm":
        mu = sum(v) / len(v)
        var = sum((x - mu) ** 2 for x in v) / len(v)
        out = (v - mu) / math.sqrt(var + eps)
    else:
        out = v / math.sqrt(sum(x * x for x in v) / len(v) + eps)
    out = out * w.scale
    return out + w.shift if w.shift is not None else out


def ref_linear(v: Array, p: Projection) -> Array:
    out = np.array(
        [sum(v[i] * p.weight[i, j] for i in range(len(v))) for j in range(p.weight.shape[1])]
    )
    return out + p.bias if p.bias is not None else out


def ref_rope(v: Array, pos: int, theta: float) -> Array:
    """Llama's apply_rotary_pos_emb on one head vector: pairs (i, i + hd/2) rotate by
    pos * theta^(-2i/hd)."""
    hd = len(v)
    out = np.empty(hd)
    for i in range(hd // 2):
        angle = pos * theta ** (-2.0 * i / hd)
        c, s = math.cos(angle), math.sin(angle)
        out[i] = v[i] * c - v[i + hd // 2] * s
        out[i + hd // 2] = v[i + hd // 2] * c + v[i] * s
    return out


def ref_head(
    qs: list[Array], ks: list[Array], vs: list[Array], t: int, h: int, d: Decoder
) -> Array:
    """Query head h at position t (causal: it reads positions 0..t)."""
    hd = d.head_dim
    g = h // (d.num_heads // d.num_kv_heads)  # repeat_kv: head h reads key/value head g
    q = qs[t][h * hd : (h + 1) * hd]
    if d.rope_theta is not None:
        q = ref_rope(q, t, d.rope_theta)
    scores = []
    seen = t + 1 if d.causal else len(ks)  # causal: positions 0..t; an encoder: all
    for s in range(seen):
        k = ks[s][g * hd : (g + 1) * hd]
        if d.rope_theta is not None:
            k = ref_rope(k, s, d.rope_theta)
        scores.append(sum(q[i] * k[i] for i in range(hd)) * d.attention_scale)
    top = max(scores)
    e = [math.exp(x - top) for x in scores]
    z = sum(e)
    return np.asarray(sum((e[s] / z) * vs[s][g * hd : (g + 1) * hd] for s in range(seen)))


def ref_attention(seq: list[Array], blk: DecoderBlock, d: Decoder) -> list[Array]:
    qs = [ref_linear(x, blk.q) for x in seq]
    ks = [ref_linear(x, blk.k) for x in seq]
    vs = [ref_linear(x, blk.v) for x in seq]
    return [
        ref_linear(
            np.concatenate([ref_head(qs, ks, vs, t, h, d) for h in range(d.num_heads)]), blk.out
        )
        for t in range(len(seq))
    ]


def ref_mlp(x: Array, blk: DecoderBlock, d: Decoder) -> Array:
    h = ref_linear(x, blk.mlp_in)
    if d.activation == "gelu":  # BERT's gelu: the erf form
        a = np.array([0.5 * z * (1 + math.erf(z / math.sqrt(2))) for z in h])
    elif blk.mlp_gate is None:  # gelu_new
        a = np.array([0.5 * z * (1 + math.tanh(SQRT_2_OVER_PI * (z + 0.044715 * z**3))) for z in h])
    else:  # silu(gate) * up
        g = ref_linear(x, blk.mlp_gate)
        a = np.array([gz / (1 + math.exp(-gz)) * hz for gz, hz in zip(g, h, strict=True)])
    return ref_linear(a, blk.mlp_out)


def ref_forward(d: Decoder, ids: NDArray[np.int64]) -> Array:
    out = []
    for sample in ids:
        seq = [d.embedding.weight[t].copy() for t in sample]
        if d.positions is not None:
            seq = [x + d.positions[i] for i, x in enumerate(seq)]
        if d.embedding_norm is not None:
            seq = [ref_norm(x, d.embedding_norm, d.norm, d.eps) for x in seq]
        for blk in d.blocks:
            seq = (ref_post_block if d.post_norm else ref_pre_block)(seq, blk, d)
        if d.final_norm is not None:
            seq = [ref_norm(x, d.final_norm, d.norm, d.eps) for x in seq]
        out.append(seq)
    return np.array(out)


def ref_pre_block(seq: list[Array], blk: DecoderBlock, d: Decoder) -> list[Array]:
    """GPT-2, Llama: x + attn(norm1(x)), then x + mlp(norm2(x))."""
    attn = ref_attention([ref_norm(x, blk.norm1, d.norm, d.eps) for x in seq], blk, d)
    seq = [x + a for x, a in zip(seq, attn, strict=True)]
    return [x + ref_mlp(ref_norm(x, blk.norm2, d.norm, d.eps), blk, d) for x in seq]


def ref_post_block(seq: list[Array], blk: DecoderBlock, d: Decoder) -> list[Array]:
    """BERT: norm1(x + attn(x)), then norm2(x + mlp(x))."""
    attn = ref_attention(seq, blk, d)
    seq = [ref_norm(x + a, blk.norm1, d.norm, d.eps) for x, a in zip(seq, attn, strict=True)]
    return [ref_norm(x + ref_mlp(x, blk, d), blk.norm2, d.norm, d.eps) for x in seq]


# ---- tests ----------------------------------------------------------------------------------

CASES = {
    "gpt2": {"family": "gpt2"},
    "llama": {"family": "llama"},
    "llama-gqa": {"family": "llama", "d": 16, "heads": 4, "kv": 2},
    "llama-mqa-mup": {"family": "llama", "d": 12, "heads": 3, "kv": 1, "mup": True},
    "gpt2-mup": {"family": "gpt2", "mup": True},
    "bert": {"family": "bert"},
}


def _inputs(d: Decoder, batch: int = 2, positions: int = 5) -> tuple[NDArray[np.int64], Array]:
    rng = np.random.default_rng(3)
    ids = rng.integers(0, d.embedding.weight.shape[0], (batch, positions))
    width = d.embedding.weight.shape[1]
    return ids, rng.normal(size=(batch, positions, width))


@pytest.mark.parametrize("case", CASES)
def test_forward_matches_the_per_head_reference(case: str) -> None:
    d = tiny(**CASES[case])  # type: ignore[arg-type]
    ids, upstream = _inputs(d)
    trace = decoder_trace(d, embed(d, ids), upstream)
    # float64 throughout; the two differ only in summation order (a few ulps per op)
    np.testing.assert_allclose(trace.output, ref_forward(d, ids), rtol=1e-10, atol=1e-11)


@pytest.mark.parametrize("case", CASES)
def test_backward_matches_finite_differences(case: str) -> None:
    """dL/d(embedding output) of L = sum(upstream * final hidden state) against central
    differences along random directions: the error of a central difference is O(eps^2 f''')
    plus rounding O(ulp * |L| / eps); eps = 1e-5 keeps both near 1e-9 relative."""
    d = tiny(**CASES[case])  # type: ignore[arg-type]
    ids, upstream = _inputs(d)
    x0 = embed(d, ids)
    trace = decoder_trace(d, x0, upstream)
    rng = np.random.default_rng(11)
    eps = 1e-5
    for _ in range(4):
        u = rng.normal(size=x0.shape)
        plus = float(np.sum(upstream * decoder_trace(d, x0 + eps * u, upstream).output))
        minus = float(np.sum(upstream * decoder_trace(d, x0 - eps * u, upstream).output))
        numeric = (plus - minus) / (2 * eps)
        analytic = float(np.sum(trace.input_gradient * u))
        assert math.isclose(numeric, analytic, rel_tol=1e-6, abs_tol=1e-8), (numeric, analytic)


def test_sublayer_gradients_match_finite_differences() -> None:
    """dL/d(q projection output) of block 0 (the reported gradient_std's array), through the
    rotary embedding, by perturbing q's bias (dL/db = sum over rows of dL/dq)."""
    base = tiny("llama", d=16, heads=4, kv=2)
    ids, upstream = _inputs(base)
    x0 = embed(base, ids)
    blk = base.blocks[0]
    u = np.random.default_rng(5).normal(size=blk.q.weight.shape[1])

    def loss(shift: float) -> float:
        q = Projection("q", blk.q.weight, shift * u)
        blocks = (
            DecoderBlock(
                blk.name,
                blk.norm1,
                q,
                blk.k,
                blk.v,
                blk.out,
                blk.norm2,
                blk.mlp_in,
                blk.mlp_out,
                blk.mlp_gate,
            ),
            *base.blocks[1:],
        )
        d = Decoder(**{**base.__dict__, "blocks": blocks})
        return float(np.sum(upstream * decoder_trace(d, x0, upstream).output))

    numeric = (loss(1e-5) - loss(-1e-5)) / 2e-5
    # the analytic slope: sum over rows of the core's dL/dq (its private backward, whose
    # arrays the statistics summarise), dotted with the bias direction u
    tables = rotary_tables(x0.shape[1], base.head_dim, 10000.0)
    caches = _forward(base, x0, tables)
    _, cf = norm_forward(
        caches[-1].out, "rms_norm", (base.final_norm.scale, None), eps=base.eps, normalized_ndim=1
    )
    grad = norm_backward(upstream, cf, base.final_norm.scale, "rms_norm", 1)
    grads = _block_backward(base.blocks[1], caches[1], grad, base, tables)
    grads = _block_backward(base.blocks[0], caches[0], grads.dx, base, tables)
    analytic = float(grads.dq.reshape(-1, u.size).sum(axis=0) @ u)
    assert math.isclose(numeric, analytic, rel_tol=1e-6), (numeric, analytic)


def test_block_statistics_follow_their_definition() -> None:
    d = tiny("gpt2", layers=3)
    ids, upstream = _inputs(d, batch=3, positions=6)
    trace = decoder_trace(d, embed(d, ids), upstream)
    assert [b.index for b in trace.blocks] == [0, 1, 2]
    assert [b.name for b in trace.blocks] == ["h.0", "h.1", "h.2"]
    # the last block's residual stream is the final norm's input: recompute it by hand
    last = _forward(d, embed(d, ids), None)[-1]
    rows = last.out.reshape(-1, last.out.shape[-1])
    channel_mean = rows.mean(axis=0)
    block = trace.blocks[-1]
    assert math.isclose(block.squared_mean, float(np.mean(channel_mean**2)), rel_tol=1e-12)
    assert math.isclose(block.variance, float(np.mean(rows.var(axis=0))), rel_tol=1e-12)
    mlp_rows = last.mlp.out.reshape(-1, rows.shape[1])
    assert math.isclose(block.mlp_variance, float(np.mean(mlp_rows.var(axis=0))), rel_tol=1e-12)


def test_layers_are_the_sublayers_in_order_with_their_block() -> None:
    d = tiny("llama", layers=2, d=16, heads=4, kv=2)
    ids, upstream = _inputs(d)
    trace = decoder_trace(d, embed(d, ids), upstream)
    names = [(s.name, b) for s, b in trace.layers]
    assert names[0] == ("embeddings", None) and names[-1] == ("ln_f", None)
    per_block = [n for n, b in names if b == 1]
    assert per_block == [
        "h.1.ln_1",
        "h.1.q",
        "h.1.k",
        "h.1.v",
        "h.1.o",
        "h.1.ln_2",
        "h.1.gate",
        "h.1.fc",
        "h.1.proj",
    ]
    gate = next(s for s, _ in trace.layers if s.name == "h.1.gate")
    assert gate.activation == "silu" and gate.fan_in == 16 and gate.kind == "dense"
    k = next(s for s, _ in trace.layers if s.name == "h.0.k")
    assert k.fan_in == 16 and not k.overflow and k.dead_fraction == 0.0


def test_patch_embedding_is_a_stride_p_convolution_with_cls_and_positions() -> None:
    """ViT's embeddings against the convolution written out: patch (i, j) of channel-first
    images is the dot product of the kernel with image[:, i p:(i+1) p, j p:(j+1) p], patches
    row-major, the cls token first; a remainder beyond whole patches is dropped."""
    rng = np.random.default_rng(2)
    b, c, p, d = 2, 3, 2, 5
    images = rng.normal(size=(b, c, 5, 7))  # 2 x 3 whole patches; row 4 and column 6 dropped
    weight, bias = rng.normal(size=(d, c, p, p)), rng.normal(size=d)
    cls, positions = rng.normal(size=(1, 1, d)), rng.normal(size=(1, 7, d))
    out = patch_embed(images, weight, bias, cls, positions)
    assert out.shape == (b, 7, d)
    for n in range(b):
        np.testing.assert_allclose(out[n, 0], cls[0, 0] + positions[0, 0], rtol=1e-12)
        for i in range(2):
            for j in range(3):
                window = images[n, :, i * p : (i + 1) * p, j * p : (j + 1) * p]
                want = [float(np.sum(weight[k] * window)) + bias[k] for k in range(d)]
                got = out[n, 1 + i * 3 + j] - positions[0, 1 + i * 3 + j]
                np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
