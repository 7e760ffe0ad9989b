"""A pre-norm decoder-only transformer (GPT-2, Llama) pushed forward and backward once at init,
with the residual-network statistics of Brock et al. 2021 ("Characterizing signal propagation
to close the performance gap in unnormalized ResNets", arXiv:2101.08692) per block and the
chain's :class:`~app.core.diagnostics.chain.LayerStats` per sublayer.

The forward pass follows transformers 5.18.0's ``modeling_gpt2.py`` and ``modeling_llama.py``
in eval mode (no dropout), in float64, on token ids at positions ``0..T-1``:

- embeddings: ``x = wte[ids] + wpe[positions]`` (GPT-2), ``x = embed_tokens[ids]`` (Llama);
- each block: ``x = x + attn(norm1(x))``, then ``x = x + mlp(norm2(x))``;
- attention: q, k, v projections; Llama rotates q and k (rotary embeddings, ``rotate_half``
  on the two halves of each head, ``inv_freq = theta^(-2i/head_dim)``); grouped-query
  attention repeats each key/value head for ``num_heads / num_kv_heads`` query heads;
  ``softmax(scale * q k^T + causal mask) v``, heads concatenated, then the output projection;
- MLP: ``out(gelu_tanh(in(x)))`` (GPT-2's ``gelu_new``) or ``down(silu(gate(x)) * up(x))``
  (Llama's SwiGLU);
- the final norm (``ln_f``, ``norm``): its output is the final hidden state, where the
  backward pass starts with the caller's upstream gradient (the LM head is not run).

Norms are :func:`~app.core.diagnostics.ops.norm_forward`'s ``layer_norm`` (biased variance)
and ``rms_norm``. Projections are ``(in, out)`` matrices (``h = x @ W + b``).

Block statistics (:class:`BlockStats`) are over the ``batch * positions`` rows of the residual
stream at the block's output, per channel, then averaged over channels: the average channel
squared mean, the average channel variance, and each residual branch's (attention, MLP)
average channel variance (population, ddof 0).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from .activations import apply, derivative
from .chain import Dense, Embedding, LayerStats, Link, Norm, Pass, Step, link_stats
from .ops import Array, NormCache, norm_backward, norm_forward

__all__ = [
    "BlockStats",
    "Decoder",
    "DecoderBlock",
    "DecoderTrace",
    "NormWeights",
    "Projection",
    "attention_scale",
    "decoder_macs",
    "decoder_trace",
    "embed",
    "patch_embed",
    "rotary_tables",
]


@dataclass(frozen=True, eq=False)
class Projection:
    """``h = x @ weight + bias``: weight ``(in, out)``, bias ``(out,)`` or None."""

    name: str
    weight: Array
    bias: Array | None = None
    weight_std_theory: float | None = None

    def __call__(self, x: Array) -> Array:
        h = x @ self.weight
        if self.bias is not None:
            h += self.bias
        return h


@dataclass(frozen=True, eq=False)
class NormWeights:
    """A norm's scale and shift (None: absent, RMSNorm has no shift)."""

    name: str
    scale: Array | None
    shift: Array | None = None
    weight_std_theory: float | None = None


@dataclass(frozen=True, eq=False)
class DecoderBlock:
    """One block; ``mlp_gate`` is Llama's ``gate_proj`` (None: GPT-2's plain MLP)."""

    name: str
    norm1: NormWeights
    q: Projection
    k: Projection
    v: Projection
    out: Projection
    norm2: NormWeights
    mlp_in: Projection
    mlp_out: Projection
    mlp_gate: Projection | None = None


@dataclass(frozen=True, eq=False)
class Decoder:
    """A transformer's blocks: pre-norm (GPT-2, Llama) or post-norm (BERT), causal or not.

    ``norm``: ``layer_norm`` or ``rms_norm``; ``activation``: the MLP's (``gelu_tanh`` or
    ``silu``, an :data:`~app.core.diagnostics.ACTIVATIONS` name); ``attention_scale``: the
    score multiplier (``head_dim**-0.5``; muP: ``1/head_dim``); ``rope_theta``: None for no
    rotary embeddings; ``positions``: learned position embeddings (GPT-2's ``wpe``) or None.
    """

    embedding: Projection  # weight (vocab, d); bias unused
    positions: Array | None
    blocks: tuple[DecoderBlock, ...]
    final_norm: NormWeights | None  # None: the last block's output is the final hidden state
    norm: str
    eps: float
    num_heads: int
    num_kv_heads: int
    head_dim: int
    activation: str
    attention_scale: float
    rope_theta: float | None = None
    embedding_name: str = "embeddings"
    post_norm: bool = False  # BERT: x = norm1(x + attn(x)), x = norm2(x + mlp(x))
    causal: bool = True  # False: every position attends to every position (an encoder)
    embedding_norm: NormWeights | None = None  # BERT's embeddings.LayerNorm


@dataclass(frozen=True)
class BlockStats:
    """Brock et al.'s statistics of one block (module docstring); ``gradient_std``: std of
    dL/d(residual stream) at the block's output."""

    index: int
    name: str
    squared_mean: float
    variance: float
    attention_variance: float
    mlp_variance: float
    gradient_std: float


@dataclass(frozen=True, eq=False)
class DecoderTrace:
    """What one pass produces: the final hidden state, dL/d(embedding output), each
    sublayer's :class:`LayerStats` (with its block index, None outside blocks) and each
    block's :class:`BlockStats`."""

    output: Array
    input_gradient: Array
    layers: list[tuple[LayerStats, int | None]]
    blocks: list[BlockStats]


# ---------------------------------------------------------------------------- helpers


def rotary_tables(positions: int, head_dim: int, theta: float) -> tuple[Array, Array]:
    """(cos, sin), each (positions, head_dim): Llama's default rotary embedding,
    ``inv_freq[i] = theta^(-2i/head_dim)``, ``emb = cat(freqs, freqs)``."""
    inv_freq = 1.0 / theta ** (np.arange(0, head_dim, 2, dtype=np.float64) / head_dim)
    freqs = np.outer(np.arange(positions, dtype=np.float64), inv_freq)
    emb = np.concatenate([freqs, freqs], axis=-1)
    return np.cos(emb), np.sin(emb)


def _rotate_half(x: Array) -> Array:
    half = x.shape[-1] // 2
    return np.concatenate([-x[..., half:], x[..., :half]], axis=-1)


def _rotate_half_transposed(y: Array) -> Array:
    """The transpose of :func:`_rotate_half` (a rotation by -90 degrees per pair)."""
    half = y.shape[-1] // 2
    return np.concatenate([y[..., half:], -y[..., :half]], axis=-1)


def _heads(t: Array, heads: int) -> Array:
    b, n, e = t.shape
    return t.reshape(b, n, heads, e // heads).transpose(0, 2, 1, 3)


def _merge(t: Array) -> Array:
    b, h, n, d = t.shape
    return t.transpose(0, 2, 1, 3).reshape(b, n, h * d)


def _norm(x: Array, w: NormWeights, d: Decoder) -> tuple[Array, NormCache]:
    return norm_forward(x, d.norm, (w.scale, w.shift), eps=d.eps, normalized_ndim=1)


def _norm_back(dy: Array, cache: NormCache, w: NormWeights, d: Decoder) -> Array:
    return norm_backward(dy, cache, w.scale, d.norm, 1)


def _channel_stats(x: Array) -> tuple[float, float]:
    """(average channel squared mean, average channel variance) over all rows of x."""
    rows = x.reshape(-1, x.shape[-1])
    mean = rows.mean(axis=0)
    var = ((rows - mean) ** 2).mean(axis=0)
    return float(np.mean(mean * mean)), float(np.mean(var))


def _std(x: Array) -> float:
    return float(np.std(x))


def embed(decoder: Decoder, ids: NDArray[np.integer]) -> Array:
    """The embedding output ``(batch, T, d)`` of token ids ``(batch, T)``."""
    x = np.asarray(decoder.embedding.weight[ids], dtype=np.float64)
    if decoder.positions is not None:
        x = x + decoder.positions[: ids.shape[1]]
    return x


def patch_embed(
    images: Array, weight: Array, bias: Array | None, cls_token: Array, positions: Array
) -> Array:
    """ViT's embeddings (transformers ``ViTEmbeddings``, no interpolation): the patch Conv2d
    ``weight (d, C, p, p)`` with stride p on ``images (B, C, H, W)`` (the remainder of H, W
    beyond whole patches dropped, as the conv does), patches in row-major order, ``cls_token``
    (1, 1, d) in front, then ``+ positions`` (1, N + 1, d): ``(B, N + 1, d)``."""
    b, c, h, w = images.shape
    d, p = weight.shape[0], weight.shape[-1]
    rows, cols = h // p, w // p
    cut = images[:, :, : rows * p, : cols * p].reshape(b, c, rows, p, cols, p)
    patches = cut.transpose(0, 2, 4, 1, 3, 5).reshape(b, rows * cols, c * p * p)
    x = patches @ weight.reshape(d, c * p * p).T
    if bias is not None:
        x += bias
    cls = np.broadcast_to(cls_token.reshape(1, 1, d), (b, 1, d))
    out: Array = np.concatenate([cls, x], axis=1) + positions.reshape(1, -1, d)
    return out


def decoder_macs(
    *, d: int, inner: int, heads: int, kv_heads: int, head_dim: int, gated: bool, positions: int
) -> int:
    """Multiply-adds of one block for one token (forward): projections, scores and the
    probability-weighted values over all ``positions`` (the causal mask is applied, not
    skipped), and the MLP."""
    projections = d * head_dim * (2 * heads + 2 * kv_heads)
    attention = 2 * heads * head_dim * positions
    mlp = (3 if gated else 2) * d * inner
    return projections + attention + mlp


# ---------------------------------------------------------------------------- a block


@dataclass(eq=False)
class _Attn:
    q: Array  # projection outputs (B, T, heads * hd), before rotation
    k: Array
    v: Array
    qh: Array  # (B, H, T, hd), rotated
    kh: Array  # (B, H, T, hd), rotated and repeated to H heads
    vh: Array
    p: Array  # (B, H, T, T)
    out: Array  # the attention branch's output (B, T, d)


@dataclass(eq=False)
class _Mlp:
    h: Array  # the first projection: c_fc (GPT-2), up_proj (Llama)
    g: Array | None  # Llama's gate_proj output
    a: Array  # the activation of h (GPT-2) or of g (Llama)
    fprime: Array  # its derivative
    out: Array  # the MLP branch's output


@dataclass(eq=False)
class _BlockCache:
    n1: Array
    c1: NormCache
    attn: _Attn
    n2: Array
    c2: NormCache
    mlp: _Mlp
    out: Array


def _rotate(t: Array, tables: tuple[Array, Array] | None) -> Array:
    if tables is None:
        return t
    cos, sin = tables
    return t * cos + _rotate_half(t) * sin


def _unrotate(dt: Array, tables: tuple[Array, Array] | None) -> Array:
    if tables is None:
        return dt
    cos, sin = tables
    return dt * cos + _rotate_half_transposed(dt * sin)


def _softmax(scores: Array, causal: bool) -> Array:
    t = scores.shape[-1]
    masked = np.where(np.tril(np.ones((t, t), dtype=bool)), scores, -np.inf) if causal else scores
    masked = masked - masked.max(axis=-1, keepdims=True)
    p: Array = np.exp(masked)
    p /= p.sum(axis=-1, keepdims=True)
    return p


Tables = tuple[Array, Array] | None


def _attention(blk: DecoderBlock, n1: Array, d: Decoder, tables: Tables) -> _Attn:
    q, k, v = blk.q(n1), blk.k(n1), blk.v(n1)
    groups = d.num_heads // d.num_kv_heads
    qh = _rotate(_heads(q, d.num_heads), tables)
    kh = np.repeat(_rotate(_heads(k, d.num_kv_heads), tables), groups, axis=1)
    vh = np.repeat(_heads(v, d.num_kv_heads), groups, axis=1)
    p = _softmax(np.matmul(qh, kh.transpose(0, 1, 3, 2)) * d.attention_scale, d.causal)
    return _Attn(q, k, v, qh, kh, vh, p, blk.out(_merge(np.matmul(p, vh))))


def _mlp(blk: DecoderBlock, n2: Array, d: Decoder) -> _Mlp:
    h = blk.mlp_in(n2)
    g = None if blk.mlp_gate is None else blk.mlp_gate(n2)
    z = h if g is None else g
    a, fprime = apply(d.activation, z), derivative(d.activation, z)
    return _Mlp(h, g, a, fprime, blk.mlp_out(a if g is None else a * h))


def _block_forward(blk: DecoderBlock, x: Array, d: Decoder, tables: Tables) -> _BlockCache:
    if d.post_norm:  # n1 = norm1(x + attn(x)), out = n2 = norm2(n1 + mlp(n1))
        attn = _attention(blk, x, d, tables)
        n1, c1 = _norm(x + attn.out, blk.norm1, d)
        mlp = _mlp(blk, n1, d)
        n2, c2 = _norm(n1 + mlp.out, blk.norm2, d)
        return _BlockCache(n1, c1, attn, n2, c2, mlp, n2)
    n1, c1 = _norm(x, blk.norm1, d)
    attn = _attention(blk, n1, d, tables)
    mid = x + attn.out
    n2, c2 = _norm(mid, blk.norm2, d)
    mlp = _mlp(blk, n2, d)
    return _BlockCache(n1, c1, attn, n2, c2, mlp, mid + mlp.out)


def _fold(t: Array, kv_heads: int) -> Array:
    """Sum the repeated heads (B, H, T, hd) back onto their (B, KV, T, hd) key/value head."""
    b, h, n, hd = t.shape
    folded: Array = t.reshape(b, kv_heads, h // kv_heads, n, hd).sum(axis=2)
    return folded


@dataclass(eq=False)
class _BlockGrads:
    dx: Array  # dL/d(block input)
    dmid: Array  # dL/d(attention output)
    dmlp: Array  # dL/d(MLP output)
    dq: Array  # dL/d(q, k, v projection outputs)
    dk: Array
    dv: Array
    dn1: Array  # dL/d(norm outputs)
    dn2: Array
    dh: Array  # dL/d(mlp_in output)
    dg: Array | None  # dL/d(gate output)


def _mlp_backward(
    blk: DecoderBlock, m: _Mlp, dout: Array, d: Decoder
) -> tuple[Array, Array, Array | None]:
    """(dL/d(norm2 output), dL/d(mlp_in output), dL/d(gate output) or None)."""
    dhidden = dout @ blk.mlp_out.weight.T
    if m.g is None:
        dh = dhidden * m.fprime
        return dh @ blk.mlp_in.weight.T, dh, None
    assert blk.mlp_gate is not None
    dh = dhidden * m.a
    dg = dhidden * m.h * m.fprime
    return dh @ blk.mlp_in.weight.T + dg @ blk.mlp_gate.weight.T, dh, dg


def _attention_backward(
    blk: DecoderBlock, a: _Attn, dmid: Array, d: Decoder, tables: Tables
) -> tuple[Array, Array, Array]:
    """dL/d(q, k, v projection outputs) from dL/d(attention output)."""
    do = _heads(dmid @ blk.out.weight.T, d.num_heads)
    dp = np.matmul(do, a.vh.transpose(0, 1, 3, 2))
    dvh = np.matmul(a.p.transpose(0, 1, 3, 2), do)
    ds = a.p * (dp - (dp * a.p).sum(axis=-1, keepdims=True))
    ds *= d.attention_scale
    dq = _merge(_unrotate(np.matmul(ds, a.kh), tables))
    dk = _merge(_unrotate(_fold(np.matmul(ds.transpose(0, 1, 3, 2), a.qh), d.num_kv_heads), tables))
    dv = _merge(_fold(dvh, d.num_kv_heads))
    return dq, dk, dv


def _qkv_input(blk: DecoderBlock, dq: Array, dk: Array, dv: Array) -> Array:
    out: Array = dq @ blk.q.weight.T + dk @ blk.k.weight.T + dv @ blk.v.weight.T
    return out


def _post_backward(
    blk: DecoderBlock, c: _BlockCache, dout: Array, d: Decoder, tables: Tables
) -> _BlockGrads:
    dmlp = _norm_back(dout, c.c2, blk.norm2, d)  # dL/d(n1 + mlp): the MLP's and n1's share
    dn_mlp, dh, dg = _mlp_backward(blk, c.mlp, dmlp, d)
    dn1 = dmlp + dn_mlp
    dattn = _norm_back(dn1, c.c1, blk.norm1, d)
    dq, dk, dv = _attention_backward(blk, c.attn, dattn, d, tables)
    dx = dattn + _qkv_input(blk, dq, dk, dv)
    return _BlockGrads(dx, dattn, dmlp, dq, dk, dv, dn1, dout, dh, dg)


def _block_backward(
    blk: DecoderBlock, c: _BlockCache, dout: Array, d: Decoder, tables: Tables
) -> _BlockGrads:
    if d.post_norm:
        return _post_backward(blk, c, dout, d, tables)
    dn2, dh, dg = _mlp_backward(blk, c.mlp, dout, d)
    dmid = dout + _norm_back(dn2, c.c2, blk.norm2, d)
    dq, dk, dv = _attention_backward(blk, c.attn, dmid, d, tables)
    dn1 = _qkv_input(blk, dq, dk, dv)
    dx = dmid + _norm_back(dn1, c.c1, blk.norm1, d)
    return _BlockGrads(dx, dmid, dout, dq, dk, dv, dn1, dn2, dh, dg)


# ------------------------------------------------------------------------ statistics


def _trace_pass(h: Array, dh: Array) -> Pass:
    """A linear link's arrays: a = h, f' = 1 (no unit is dead)."""
    return Pass(h, h, np.ones((1,) * (h.ndim - 1) + h.shape[-1:]), dh, False)


def _dense_stats(
    p: Projection, h: Array, dh: Array, activated: tuple[str, Array, Array] | None = None
) -> LayerStats:
    """``activated``: (activation, f(h), f'(h)) when the projection is followed by one."""
    name, trace = "linear", _trace_pass(h, dh)
    if activated is not None:
        name, a, fprime = activated
        trace = Pass(h, a, fprime, dh, False)
    link = Link(Dense(p.name, p.weight, p.bias), name, None, p.weight_std_theory)
    return link_stats(link, trace)


def _norm_stats(w: NormWeights, d: Decoder, y: Array, dy: Array) -> LayerStats:
    step: Step = Norm(w.name, d.norm, w.scale, w.shift, d.eps, 1, 1)
    return link_stats(Link(step, "linear", None, w.weight_std_theory), _trace_pass(y, dy))


def _sublayer_stats(
    blk: DecoderBlock, c: _BlockCache, g: _BlockGrads, d: Decoder
) -> list[LayerStats]:
    rows = [
        _norm_stats(blk.norm1, d, c.n1, g.dn1),
        _dense_stats(blk.q, c.attn.q, g.dq),
        _dense_stats(blk.k, c.attn.k, g.dk),
        _dense_stats(blk.v, c.attn.v, g.dv),
        _dense_stats(blk.out, c.attn.out, g.dmid),
        _norm_stats(blk.norm2, d, c.n2, g.dn2),
    ]
    if blk.mlp_gate is None:
        rows.append(_dense_stats(blk.mlp_in, c.mlp.h, g.dh, (d.activation, c.mlp.a, c.mlp.fprime)))
    else:
        assert c.mlp.g is not None and g.dg is not None
        activated = (d.activation, c.mlp.a, c.mlp.fprime)
        rows.append(_dense_stats(blk.mlp_gate, c.mlp.g, g.dg, activated))
        rows.append(_dense_stats(blk.mlp_in, c.mlp.h, g.dh))
    rows.append(_dense_stats(blk.mlp_out, c.mlp.out, g.dmlp))
    if d.post_norm:  # in forward order: attention, norm1, MLP, norm2
        rows = [rows[1], rows[2], rows[3], rows[4], rows[0], *rows[6:], rows[5]]
    return rows


def _block_stats(index: int, name: str, c: _BlockCache, dout: Array) -> BlockStats:
    squared_mean, variance = _channel_stats(c.out)
    return BlockStats(
        index,
        name,
        squared_mean,
        variance,
        _channel_stats(c.attn.out)[1],
        _channel_stats(c.mlp.out)[1],
        _std(dout),
    )


def _forward(d: Decoder, x0: Array, tables: Tables) -> list[_BlockCache]:
    caches = []
    x = x0
    for blk in d.blocks:
        caches.append(_block_forward(blk, x, d, tables))
        x = caches[-1].out
    return caches


_Row = tuple[LayerStats, int | None]


def _final(d: Decoder, last: Array, upstream: Array) -> tuple[Array, Array, list[_Row]]:
    """(final hidden state, dL/d(last block's output), the final norm's row if any)."""
    if d.final_norm is None:
        return last, upstream, []
    y, cache = _norm(last, d.final_norm, d)
    grad = _norm_back(upstream, cache, d.final_norm, d)
    return y, grad, [(_norm_stats(d.final_norm, d, y, upstream), None)]


def decoder_trace(decoder: Decoder, x0: Array, upstream: Array) -> DecoderTrace:
    """One forward pass from the embedding output ``x0`` (batch, T, d) and one backward pass
    from ``upstream`` = dL/d(final hidden state) (batch, T, d); everything in float64.

    Overflow raises nothing: statistics become inf/nan and ``LayerStats.overflow`` is set.
    """
    d = decoder
    tables = None if d.rope_theta is None else rotary_tables(x0.shape[1], d.head_dim, d.rope_theta)
    with np.errstate(all="ignore"):
        x, embedding_cache = x0, None
        if d.embedding_norm is not None:
            x, embedding_cache = _norm(x0, d.embedding_norm, d)
        caches = _forward(d, x, tables)
        y, grad, tail = _final(d, caches[-1].out if caches else x, upstream)
        rows: list[_Row] = []
        blocks: list[BlockStats] = []
        for i in range(len(d.blocks) - 1, -1, -1):
            grads = _block_backward(d.blocks[i], caches[i], grad, d, tables)
            rows[:0] = [(row, i) for row in _sublayer_stats(d.blocks[i], caches[i], grads, d)]
            blocks.insert(0, _block_stats(i, d.blocks[i].name, caches[i], grad))
            grad = grads.dx
        if d.embedding_norm is not None and embedding_cache is not None:
            rows.insert(0, (_norm_stats(d.embedding_norm, d, x, grad), None))
            grad = _norm_back(grad, embedding_cache, d.embedding_norm, d)
        emb = Link(
            Embedding(d.embedding_name, d.embedding.weight),
            "linear",
            None,
            d.embedding.weight_std_theory,
        )
        rows.insert(0, (link_stats(emb, _trace_pass(x0, grad)), None))
    return DecoderTrace(y, grad, [*rows, *tail], blocks)


def attention_scale(head_dim: int, mup: bool) -> float:
    """``head_dim**-0.5`` (transformers' ``scaling``), or muP's ``1/head_dim``."""
    return 1.0 / head_dim if mup else 1.0 / math.sqrt(head_dim)
