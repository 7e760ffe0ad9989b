"""POST /v1/diagnostics with ``architecture``: a GPT-2, Llama, BERT or ViT model by config,
initialised as POST /v1/models initialises it (one :func:`app.jobs.job.model_job` per run),
pushed forward on seeded token ids (ViT: standard-normal images) and backward from a seeded
standard-normal gradient at the final hidden state (:mod:`app.core.diagnostics.residual`),
with Brock et al.'s statistics per block.

What the forward pass reads beyond the tensors comes from the request's ``config`` with
transformers 5.18.0's defaults: GPT-2's ``layer_norm_epsilon`` (1e-5), ``activation_function``
(``gelu_new``: the tanh approximation) and ``scale_attn_weights`` (true); Llama's
``rms_norm_eps`` (1e-6), ``hidden_act`` (``silu``) and ``rope_theta`` (10000, or
``rope_parameters.rope_theta``); BERT's ``layer_norm_eps`` (1e-12), ``hidden_act`` (``gelu``,
the erf form) and ``position_embedding_type`` (``absolute``); ViT's ``layer_norm_eps`` (1e-12)
and ``hidden_act`` (``gelu``). Anything that changes the
forward pass in a way not written here (``scale_attn_by_inverse_layer_idx``, rope scaling,
other activations, relative position embeddings) is a 422.

Recipes: ``mup`` is applied (attention scores ``q k^T / head_dim``; its readout multiplier
acts on the LM head's logits, after the final hidden state where the reported pass ends, so it
changes nothing reported); ``deepnet``, ``fixup`` and ``t_fixup`` change the forward pass in
ways this pass does not run (Post-LN with a scaled residual; removed norms and scalar biases)
and are refused.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from app.core import diagnostics as core
from app.core.architectures import ArchitectureInfo, build_architecture
from app.core.errors import InvalidParameterError

from . import limits
from .diagnostics_requests import DEFAULT_SEQUENCE, SUPPORTED_ARCHITECTURES, DiagnosticsRequest
from .limits import Settings

SUPPORTED = SUPPORTED_ARCHITECTURES
# Recipes whose forward pass this module does not run, and why.
REFUSED_RECIPES = {
    "deepnet": "DeepNet's forward is Post-LN with the residual scaled by alpha "
    "(x = LayerNorm(alpha x + f(x))), not the model's Pre-LN blocks",
    "fixup": "Fixup removes the norms and adds scalar biases and multipliers",
    "t_fixup": "T-Fixup removes the LayerNorms",
}
APPLIED_RECIPES = "mup (attention scores q k^T / head_dim; its readout multiplier acts on the "
APPLIED_RECIPES += "logits, after the final hidden state, so it changes nothing reported)"
UPSTREAM_DESCRIPTION = (
    "dL/d(final hidden state): the output of the final norm (ln_f, norm; BERT: the last "
    "block's output LayerNorm), before the LM head, pooler or classifier, which are not run; "
    "standard normal N(0, 1), float64, from the seed "
    "(stream 'diagnostics:upstream'); gradient_std is the std of dL/d(each sublayer's output)"
)
FLOPS_PER_MAC = 6  # as app.jobs.diagnostics: forward 2 flops per multiply-add, backward twice


@dataclass(frozen=True)
class DecoderPlan:
    """The decoder's dimensions and its forward-pass settings (from the resolved config)."""

    family: str
    prefix: str  # the class's module prefix: "transformer." (GPT2LMHeadModel), "model.", ""
    layers: int
    d: int
    heads: int
    kv_heads: int
    head_dim: int
    inner: int
    vocab: int
    positions: int  # T, the probe sequence's length
    eps: float
    activation: str  # an app.core.diagnostics activation name
    scale_attention: bool  # GPT-2's scale_attn_weights
    rope_theta: float | None
    forward: str  # the forward pass, described (echoed in the document's model)
    image: tuple[int, int, int] | None = None  # ViT: one probe image (channels, H, W)

    def macs(self) -> int:
        """Multiply-adds of one probe sequence (forward)."""
        block = core.decoder_macs(
            d=self.d,
            inner=self.inner,
            heads=self.heads,
            kv_heads=self.kv_heads,
            head_dim=self.head_dim,
            gated=self.family == "llama",
            positions=self.positions,
        )
        return self.positions * (self.layers * block + self.d)

    def memory(self, batch: int) -> int:
        """Bytes of the arrays one run keeps (float64): each block's cached activations, the
        backward's transient attention arrays, the stream and its gradient."""
        per_token = self.layers * (
            10 * self.d
            + 4 * self.heads * self.head_dim
            + 2 * self.kv_heads * self.head_dim
            + 3 * self.inner
            + self.heads * self.positions
        )
        transient = 4 * self.heads * self.positions * self.positions + 4 * self.inner
        images = 2 * math.prod(self.image) if self.image is not None else 0
        return 8 * batch * (self.positions * (per_token + 6 * self.d) + transient + images)


# ---- the request ---------------------------------------------------------------------------


def _unsupported(family: str) -> InvalidParameterError:
    return InvalidParameterError(
        f"Diagnostics runs the architectures {', '.join(SUPPORTED)} (their residual forward "
        f"pass, written out in numpy); {family!r} is not one of them. Initialise it through "
        "POST /v1/models, or describe a chain with 'layers' or 'mlp'.",
        field="architecture",
    )


def _number(config: Mapping[str, Any], key: str, default: float) -> float:
    value = config.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise InvalidParameterError(
            f"config.{key} must be a positive number; got {value!r}.", field=f"config.{key}"
        )
    return float(value)


def _choice(config: Mapping[str, Any], key: str, allowed: Mapping[str, str]) -> str:
    value = config.get(key, next(iter(allowed)))
    if not isinstance(value, str) or value not in allowed:
        raise InvalidParameterError(
            f"config.{key} {value!r}: diagnostics runs "
            + " or ".join(repr(a) for a in allowed)
            + " only.",
            field=f"config.{key}",
        )
    return allowed[str(value)]


def _flag(config: Mapping[str, Any], key: str, default: bool, supported: bool | None) -> bool:
    value = config.get(key, default)
    if not isinstance(value, bool):
        raise InvalidParameterError(f"config.{key} must be true or false.", field=f"config.{key}")
    if supported is not None and value is not supported:
        raise InvalidParameterError(
            f"config.{key}={str(value).lower()} changes GPT-2's attention in a way diagnostics "
            "does not run; leave it at its default.",
            field=f"config.{key}",
        )
    return value


def _rope_theta(config: Mapping[str, Any]) -> float:
    for key in ("rope_scaling", "rope_parameters"):
        given = config.get(key)
        if given is None:
            continue
        if not isinstance(given, dict) or given.get("rope_type", "default") != "default":
            raise InvalidParameterError(
                f"config.{key}: diagnostics runs the default rotary embedding only "
                "(rope_type 'default').",
                field=f"config.{key}",
            )
        if "rope_theta" in given:
            return _number(given, "rope_theta", 10000.0)
    return _number(config, "rope_theta", 10000.0)


def _prefix(info: ArchitectureInfo, embedding: str) -> str:
    name = next(n for n in info.tensors if n.endswith(embedding))
    return name[: -len(embedding)]


def _gpt2(info: ArchitectureInfo, given: Mapping[str, Any], positions: int) -> DecoderPlan:
    c = info.config
    if positions > c["n_positions"]:
        raise InvalidParameterError(
            f"input_shape: {positions} positions, but GPT-2's learned position embeddings hold "
            f"config.n_positions={c['n_positions']}.",
            field="input_shape",
        )
    _flag(given, "scale_attn_by_inverse_layer_idx", False, False)
    _flag(given, "reorder_and_upcast_attn", False, None)  # float64 here: no effect
    scale = _flag(given, "scale_attn_weights", True, None)
    act = _choice(
        given, "activation_function", {"gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh"}
    )
    d, heads = c["n_embd"], c["n_head"]
    return DecoderPlan(
        "gpt2",
        _prefix(info, "wte.weight"),
        c["n_layer"],
        d,
        heads,
        heads,
        d // heads,
        c["n_inner"] or 4 * d,
        c["vocab_size"],
        positions,
        _number(given, "layer_norm_epsilon", 1e-5),
        act,
        scale,
        None,
        "GPT-2 (transformers 5.18.0 GPT2Model, eval): x = wte[ids] + wpe[0..T-1]; per block "
        "x += c_proj(attn(ln_1(x))), x += mlp.c_proj(gelu_new(c_fc(ln_2(x)))); causal "
        "softmax(q k^T * scale) v per head, q, k, v from the fused c_attn (Conv1D, (in, out)); "
        "final ln_f",
    )


def _llama(info: ArchitectureInfo, given: Mapping[str, Any], positions: int) -> DecoderPlan:
    c = info.config
    heads = c["num_attention_heads"]
    kv = c["num_key_value_heads"] or heads
    hd = c["head_dim"] or c["hidden_size"] // heads
    if hd % 2:
        raise InvalidParameterError(
            f"The rotary embedding rotates pairs: head_dim {hd} must be even.",
            field="config.head_dim",
        )
    return DecoderPlan(
        "llama",
        _prefix(info, "embed_tokens.weight"),
        c["num_hidden_layers"],
        c["hidden_size"],
        heads,
        kv,
        hd,
        c["intermediate_size"],
        c["vocab_size"],
        positions,
        _number(given, "rms_norm_eps", 1e-6),
        _choice(given, "hidden_act", {"silu": "silu", "swish": "silu"}),
        True,
        _rope_theta(given),
        "Llama (transformers 5.18.0 LlamaModel, eval): x = embed_tokens[ids]; per block "
        "x += o_proj(attn(input_layernorm(x))), x += down_proj(silu(gate_proj(h)) * "
        "up_proj(h)) with h = post_attention_layernorm(x); RMSNorm; rotary embeddings on q and "
        "k (positions 0..T-1); grouped-query attention (each key/value head serves "
        "num_attention_heads / num_key_value_heads query heads); causal softmax(q k^T * "
        "scale) v; final norm",
    )


def _bert(info: ArchitectureInfo, given: Mapping[str, Any], positions: int) -> DecoderPlan:
    c = info.config
    if positions > c["max_position_embeddings"]:
        raise InvalidParameterError(
            f"input_shape: {positions} positions, but BERT's position embeddings hold "
            f"config.max_position_embeddings={c['max_position_embeddings']}.",
            field="input_shape",
        )
    _choice(given, "position_embedding_type", {"absolute": "absolute"})
    d, heads = c["hidden_size"], c["num_attention_heads"]
    act = _choice(
        given,
        "hidden_act",
        {"gelu": "gelu", "gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh"},
    )
    return DecoderPlan(
        "bert",
        _prefix(info, "embeddings.word_embeddings.weight"),
        c["num_hidden_layers"],
        d,
        heads,
        heads,
        d // heads,
        c["intermediate_size"],
        c["vocab_size"],
        positions,
        _number(given, "layer_norm_eps", 1e-12),
        act,
        True,
        None,
        "BERT (transformers 5.18.0 BertModel, eval, no attention mask, token_type_ids 0): "
        "x = LayerNorm(word_embeddings[ids] + position_embeddings[0..T-1] + "
        "token_type_embeddings[0]); per block (Post-LN) x = attention.output.LayerNorm(x + "
        "attention.output.dense(attn(x))), x = output.LayerNorm(x + output.dense(gelu("
        "intermediate.dense(x)))); bidirectional softmax(q k^T * scale) v per head; the last "
        "block's output is the final hidden state (the pooler is not run)",
    )


def _vit(info: ArchitectureInfo, given: Mapping[str, Any], image: tuple[int, ...]) -> DecoderPlan:
    c = info.config
    want = (c["num_channels"], c["image_size"], c["image_size"])
    if image and tuple(image) != want:
        raise InvalidParameterError(
            f"ViT embeds images of config.num_channels x image_size x image_size: give "
            f"input_shape as {list(want)} or leave it out (its position embeddings fit that "
            "size only).",
            field="input_shape",
        )
    d, heads = c["hidden_size"], c["num_attention_heads"]
    act = _choice(
        given,
        "hidden_act",
        {"gelu": "gelu", "gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh"},
    )
    return DecoderPlan(
        "vit",
        _prefix(info, "embeddings.cls_token"),
        c["num_hidden_layers"],
        d,
        heads,
        heads,
        d // heads,
        c["intermediate_size"],
        0,
        (c["image_size"] // c["patch_size"]) ** 2 + 1,
        _number(given, "layer_norm_eps", 1e-12),
        act,
        True,
        None,
        "ViT (transformers 5.18.0 ViTModel, eval, no interpolation): x = cat(cls_token, "
        "patch_embeddings.projection(images) as patches in row-major order) + "
        "position_embeddings; per block (Pre-LN) x += attention.output.dense(attn("
        "layernorm_before(x))), x += output.dense(gelu(intermediate.dense(layernorm_after(x))))"
        "; bidirectional softmax(q k^T * scale) v per head; final layernorm (the pooler and "
        "classifier are not run)",
        want,
    )


PLANS = {"gpt2": _gpt2, "llama": _llama, "bert": _bert}


def _positions(req: DiagnosticsRequest) -> int:
    if req.input_shape is None:
        return DEFAULT_SEQUENCE
    if len(req.input_shape) != 1:
        raise InvalidParameterError(
            "An architecture's probe sample is a sequence of token ids: give input_shape as "
            "[positions].",
            field="input_shape",
        )
    return int(req.input_shape[0])


def check_recipe(name: str) -> None:
    if name in REFUSED_RECIPES:
        raise InvalidParameterError(
            f"Recipe {name!r} changes the forward pass and diagnostics does not run that "
            f"forward: {REFUSED_RECIPES[name]}. Recipes applied to the forward pass here: "
            f"{APPLIED_RECIPES}; the others only choose weights.",
            field="recipe",
        )


def decoder_plan(
    req: DiagnosticsRequest, settings: Settings, runs: int
) -> tuple[DecoderPlan, dict[str, Any]]:
    """The architecture's decoder, its cost checked against the limits (before any work), and
    the model as resolved (the document's ``model``)."""
    family = str(req.architecture)
    if family not in SUPPORTED:
        raise _unsupported(family)
    for other in ("mlp", "layers", "widths"):
        if getattr(req, other) is not None:
            raise InvalidParameterError(
                f"Give 'architecture' without '{other}': diagnostics runs one model, and the "
                "coordinate check ('widths') varies an 'mlp' only.",
                field=other,
            )
    given = req.config or {}
    class_name = req.class_.value if req.class_ is not None else None
    _, info = build_architecture(family, given, class_name)
    if family == "vit":
        plan = _vit(info, given, tuple(req.input_shape or ()))
    else:
        plan = PLANS[family](info, given, _positions(req))
    limits.check_diagnostics(*cost(plan, req.batch, runs), settings)
    model = {
        "architecture": family,
        "class": info.class_name,
        "config": {k: list(v) if isinstance(v, tuple) else v for k, v in info.config.items()},
        "forward": plan.forward,
        "positions": plan.positions,
        "recipes_applied": APPLIED_RECIPES,
    }
    return plan, model


def cost(plan: DecoderPlan, batch: int, runs: int) -> tuple[int, int]:
    """(flops, bytes) of ``runs`` passes of the batch (the weights' bytes not included)."""
    return FLOPS_PER_MAC * batch * plan.macs() * runs, plan.memory(batch)


# ---- the run --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Weights:
    """A run's tensors by name (float64), and each one's theoretical std from its plan."""

    get: Callable[[str], NDArray[np.float64] | None]
    theory: Callable[[str], float | None]

    def need(self, name: str) -> NDArray[np.float64]:
        a = self.get(name)
        assert a is not None, name
        return a

    def linear(self, module: str, transpose: bool) -> core.Projection:
        """A module's projection as (in, out): torch Linear (out, in) transposed, GPT-2's
        Conv1D (in, out) as stored."""
        w = self.need(module + ".weight")
        return core.Projection(
            module,
            np.ascontiguousarray(w.T) if transpose else w,
            _ravel(self.get(module + ".bias")),
            self.theory(module + ".weight"),
        )

    def norm(self, module: str) -> core.NormWeights:
        return core.NormWeights(
            module,
            self.get(module + ".weight"),
            _ravel(self.get(module + ".bias")),
            self.theory(module + ".weight"),
        )


def _ravel(a: NDArray[np.float64] | None) -> NDArray[np.float64] | None:
    return None if a is None else a.ravel()


def _gpt2_block(plan: DecoderPlan, i: int, w: Weights) -> core.DecoderBlock:
    p, d = f"{plan.prefix}h.{i}.", plan.d
    fused = w.linear(p + "attn.c_attn", transpose=False)
    qkv = [
        core.Projection(
            f"{fused.name}[{part}]",
            np.ascontiguousarray(fused.weight[:, j * d : (j + 1) * d]),
            None if fused.bias is None else fused.bias[j * d : (j + 1) * d],
            fused.weight_std_theory,
        )
        for j, part in enumerate("qkv")
    ]
    return core.DecoderBlock(
        p[:-1],
        w.norm(p + "ln_1"),
        qkv[0],
        qkv[1],
        qkv[2],
        w.linear(p + "attn.c_proj", transpose=False),
        w.norm(p + "ln_2"),
        w.linear(p + "mlp.c_fc", transpose=False),
        w.linear(p + "mlp.c_proj", transpose=False),
    )


def _llama_block(plan: DecoderPlan, i: int, w: Weights) -> core.DecoderBlock:
    p = f"{plan.prefix}layers.{i}."
    return core.DecoderBlock(
        p[:-1],
        w.norm(p + "input_layernorm"),
        w.linear(p + "self_attn.q_proj", transpose=True),
        w.linear(p + "self_attn.k_proj", transpose=True),
        w.linear(p + "self_attn.v_proj", transpose=True),
        w.linear(p + "self_attn.o_proj", transpose=True),
        w.norm(p + "post_attention_layernorm"),
        w.linear(p + "mlp.up_proj", transpose=True),
        w.linear(p + "mlp.down_proj", transpose=True),
        w.linear(p + "mlp.gate_proj", transpose=True),
    )


def _bert_block(plan: DecoderPlan, i: int, w: Weights) -> core.DecoderBlock:
    p = f"{plan.prefix}encoder.layer.{i}."
    return core.DecoderBlock(
        p[:-1],
        w.norm(p + "attention.output.LayerNorm"),
        w.linear(p + "attention.self.query", transpose=True),
        w.linear(p + "attention.self.key", transpose=True),
        w.linear(p + "attention.self.value", transpose=True),
        w.linear(p + "attention.output.dense", transpose=True),
        w.norm(p + "output.LayerNorm"),
        w.linear(p + "intermediate.dense", transpose=True),
        w.linear(p + "output.dense", transpose=True),
    )


def _bert_embeddings(plan: DecoderPlan, w: Weights) -> dict[str, Any]:
    """word_embeddings[ids] + position_embeddings[0..T-1] + token_type_embeddings[0] (BertModel
    without token_type_ids: all zeros), then embeddings.LayerNorm."""
    e = plan.prefix + "embeddings."
    positions = w.need(e + "position_embeddings.weight")[: plan.positions]
    return {
        "embedding": _table(e + "word_embeddings", w),
        "positions": positions + w.need(e + "token_type_embeddings.weight")[0],
        "embedding_name": e + "word_embeddings+position_embeddings+token_type_embeddings[0]",
        "embedding_norm": w.norm(e + "LayerNorm"),
        "final_norm": None,
        "post_norm": True,
        "causal": False,
    }


def _vit_block(plan: DecoderPlan, i: int, w: Weights) -> core.DecoderBlock:
    p = f"{plan.prefix}encoder.layer.{i}."
    return core.DecoderBlock(
        p[:-1],
        w.norm(p + "layernorm_before"),
        w.linear(p + "attention.attention.query", transpose=True),
        w.linear(p + "attention.attention.key", transpose=True),
        w.linear(p + "attention.attention.value", transpose=True),
        w.linear(p + "attention.output.dense", transpose=True),
        w.norm(p + "layernorm_after"),
        w.linear(p + "intermediate.dense", transpose=True),
        w.linear(p + "output.dense", transpose=True),
    )


def _vit_embeddings(plan: DecoderPlan, w: Weights) -> dict[str, Any]:
    """The patch projection as the embedding row's weight (its statistics); the embeddings
    themselves are :func:`embed_images`'s."""
    e = plan.prefix + "embeddings."
    conv = e + "patch_embeddings.projection"
    return {
        "embedding": core.Projection(
            conv, w.need(conv + ".weight"), None, w.theory(conv + ".weight")
        ),
        "positions": None,
        "embedding_name": e + "cls_token+patch_embeddings.projection+position_embeddings",
        "final_norm": w.norm(plan.prefix + "layernorm"),
        "causal": False,
    }


def embed_images(plan: DecoderPlan, w: Weights, images: NDArray[np.float64]) -> NDArray[np.float64]:
    e = plan.prefix + "embeddings."
    conv = e + "patch_embeddings.projection"
    return core.patch_embed(
        images,
        w.need(conv + ".weight"),
        _ravel(w.get(conv + ".bias")),
        w.need(e + "cls_token"),
        w.need(e + "position_embeddings"),
    )


def _table(module: str, w: Weights) -> core.Projection:
    return core.Projection(module, w.need(module + ".weight"), None, w.theory(module + ".weight"))


def _decoder_embeddings(plan: DecoderPlan, w: Weights) -> dict[str, Any]:
    if plan.family == "bert":
        return _bert_embeddings(plan, w)
    if plan.family == "vit":
        return _vit_embeddings(plan, w)
    gpt2 = plan.family == "gpt2"
    embedding = plan.prefix + ("wte" if gpt2 else "embed_tokens")
    return {
        "embedding": _table(embedding, w),
        "positions": w.need(plan.prefix + "wpe.weight") if gpt2 else None,
        "embedding_name": embedding + ("+wpe" if gpt2 else ""),
        "final_norm": w.norm(plan.prefix + ("ln_f" if gpt2 else "norm")),
    }


BLOCKS = {"gpt2": _gpt2_block, "llama": _llama_block, "bert": _bert_block, "vit": _vit_block}


def build_decoder(plan: DecoderPlan, w: Weights, mup: bool) -> core.Decoder:
    """The run's decoder; ``mup``: the recipe's attention scale 1/head_dim."""
    block = BLOCKS[plan.family]
    scale = core.attention_scale(plan.head_dim, mup) if plan.scale_attention else 1.0
    return core.Decoder(
        blocks=tuple(block(plan, i, w) for i in range(plan.layers)),
        norm="rms_norm" if plan.family == "llama" else "layer_norm",
        eps=plan.eps,
        num_heads=plan.heads,
        num_kv_heads=plan.kv_heads,
        head_dim=plan.head_dim,
        activation=plan.activation,
        attention_scale=scale,
        rope_theta=plan.rope_theta,
        **_decoder_embeddings(plan, w),
    )


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def block_document(b: core.BlockStats) -> dict[str, Any]:
    return {
        "index": b.index,
        "name": b.name,
        "squared_mean": _finite(b.squared_mean),
        "variance": _finite(b.variance),
        "attention_variance": _finite(b.attention_variance),
        "mlp_variance": _finite(b.mlp_variance),
        "gradient_std": _finite(b.gradient_std),
    }


def trace_run(
    plan: DecoderPlan,
    w: Weights,
    mup: bool,
    inputs: NDArray[Any],
    upstream: NDArray[np.float64],
) -> core.DecoderTrace:
    """``inputs``: token ids (batch, positions), or ViT's images (batch, C, H, W)."""
    decoder = build_decoder(plan, w, mup)
    x0 = core.embed(decoder, inputs) if plan.image is None else embed_images(plan, w, inputs)
    return core.decoder_trace(decoder, x0, upstream)
