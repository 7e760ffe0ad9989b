"""Each recipe's rule: one tensor and the model values -> a scheme and the rule's name.

Every function follows the codebase line its registry row cites; the numbers are computed
exactly and rounded once (:func:`~.base.real`). Biases start at 0 and norm scales and shifts
at 1 and 0 in every codebase here unless a rule says otherwise.
"""

from __future__ import annotations

import dataclasses
import math
import re
from typing import Any

from ..errors import InvalidParameterError
from ..types import Role
from .base import FIELD, NORMS, Pick, RecipeValues, no_rule, real
from .context import RecipeTensor

RESIDUAL = (Role.ATTENTION_OUTPUT, Role.MLP_OUT)
INPUTS = (Role.ATTENTION_QKV, Role.MLP_IN, Role.WEIGHT)
EMBEDDINGS = (Role.EMBEDDING, Role.POSITION_EMBEDDING)


def normal(std: float, rule: str, **extra: Any) -> Pick:
    return Pick("normal", {"mean": 0.0, "std": std}, rule, **extra)


def truncated(std: float, cutoff: float, rule: str) -> Pick:
    """torch's ``trunc_normal_(std=s, a=-c*s, b=c*s)``: bounds in units of the std."""
    return Pick("truncated_normal", {"std": std, "a": -cutoff, "b": cutoff}, rule)


def constant(role: Role) -> Pick | None:
    """Biases 0, norm scales 1, norm shifts 0."""
    if role is Role.BIAS:
        return Pick("zeros", {}, "bias = 0")
    if role in NORMS:
        return Pick(NORMS[role], {}, f"{role.value} = {1 if role is Role.NORM_SCALE else 0}")
    return None


def untied(v: RecipeValues, t: RecipeTensor, readout: Pick, embedding: Pick) -> Pick:
    """The readout's own rule, which a tied head (one matrix with the embedding) cannot take."""
    if (readout.scheme, dict(readout.params)) == (embedding.scheme, dict(embedding.params)):
        return readout
    if v.context.tie_word_embeddings is not False:
        raise InvalidParameterError(
            f"Recipe {v.recipe!r} initialises the readout ({t.name!r}: {readout.rule}) unlike "
            f"the embedding ({embedding.rule}), which a tied head shares: give "
            f'"tie_word_embeddings": false in the recipe (the head is its own matrix), or drop '
            "the readout tensor (a tied model has only the embedding).",
            field=f"{FIELD}.tie_word_embeddings",
        )
    return readout


def block(v: RecipeValues, t: RecipeTensor) -> int:
    if t.block is None:
        raise InvalidParameterError(
            f"Recipe {v.recipe!r} scales {t.name!r} by its block index, and its name has none: "
            "name it inside its block (h.<i>., layers.<i>., layer.<i>. or block.<i>.).",
            field=FIELD,
        )
    return t.block


def fan_in(v: RecipeValues, t: RecipeTensor) -> float:
    if t.fans is None:
        raise no_rule(v.recipe, t, "it has no fan_in")
    return t.fans.fan_in


# ---- GPT-2 and Megatron ------------------------------------------------------------------------


def gpt2(t: RecipeTensor, v: RecipeValues) -> Pick:
    """huggingface/transformers (5.18.0) models/gpt2/modeling_gpt2.py ``_init_weights``;
    karpathy/nanoGPT model.py: N(0, r^2), c_proj weights N(0, (r/sqrt(2 n_layer))^2)."""
    r = v.need("initializer_range")
    if t.role in RESIDUAL:
        n = v.need("n_layer")
        return normal(real(lambda mp: mp.mpf(r) / mp.sqrt(2 * n)), "r/sqrt(2*n_layer)")
    if t.role in (*INPUTS, *EMBEDDINGS, Role.READOUT):
        return normal(r, "r")
    return constant(t.role) or _refuse(v, t)


def megatron(t: RecipeTensor, v: RecipeValues) -> Pick:
    """NVIDIA/Megatron-LM megatron/core/utils.py: init_method_normal(sigma) for every weight,
    scaled_init_method_normal(sigma, L, multiplier) = N(0, (sigma/sqrt(multiplier L))^2) for the
    output layers (attention's linear_proj, the MLP's linear_fc2)."""
    sigma = v.need("initializer_range")
    if t.role in RESIDUAL:
        n, m = v.need("n_layer"), v.get("multiplier")
        std = real(lambda mp: mp.mpf(sigma) / mp.sqrt(mp.mpf(m) * n))
        return normal(std, "scaled_init_method_normal: sigma/sqrt(multiplier*L)")
    if t.role in (*INPUTS, *EMBEDDINGS, Role.READOUT):
        return normal(sigma, "init_method_normal: sigma")
    return constant(t.role) or _refuse(v, t)


# ---- GPT-NeoX ----------------------------------------------------------------------------------


def _small(v: RecipeValues) -> Pick:
    d = v.need("d_model")
    return normal(real(lambda mp: mp.sqrt(mp.mpf(2) / (5 * d))), "small_init: sqrt(2/(5d))")


def small_init(t: RecipeTensor, v: RecipeValues) -> Pick:
    """EleutherAI/gpt-neox megatron/model/init_functions.py ``small_init_init_method``: every
    weight (init_method and output_layer_init_method both small_init)."""
    if t.role in (*INPUTS, *EMBEDDINGS, *RESIDUAL, Role.READOUT):
        return _small(v)
    return constant(t.role) or _refuse(v, t)


def wang_init(t: RecipeTensor, v: RecipeValues) -> Pick:
    """GPT-NeoX's 20B pairing (configs/20B.yml): init_method small_init, output_layer_init_method
    ``wang_init_method``: std 2/(L sqrt(d)) on the residual outputs."""
    if t.role in RESIDUAL:
        n, d = v.need("n_layer"), v.need("d_model")
        return normal(real(lambda mp: mp.mpf(2) / (n * mp.sqrt(d))), "wang_init: 2/(L*sqrt(d))")
    return small_init(t, v)


# ---- OLMo --------------------------------------------------------------------------------------


def olmo_mitchell(t: RecipeTensor, v: RecipeValues) -> Pick:
    """allenai/OLMo olmo/model.py ``reset_parameters`` (InitFnType.mitchell), init_normal of
    olmo/initialization.py: truncated at +-cutoff std (default 3)."""
    d, c = v.need("d_model"), v.get("init_cutoff_factor")
    inv_d = real(lambda mp: 1 / mp.sqrt(d))
    if t.role is Role.ATTENTION_OUTPUT:
        i = block(v, t)
        std = real(lambda mp: 1 / mp.sqrt(2 * d * (i + 1)))
        return truncated(std, c, "attn_out: 1/sqrt(2*d*(layer_id+1))")
    if t.role is Role.MLP_OUT:
        i, k = block(v, t), fan_in(v, t)
        std = real(lambda mp: 1 / mp.sqrt(2 * mp.mpf(k) * (i + 1)))
        return truncated(std, c, "ff_out: 1/sqrt(2*ff_out.in_features*(layer_id+1))")
    if t.role in (*INPUTS, *EMBEDDINGS, Role.READOUT):
        return truncated(inv_d, c, "1/sqrt(d)")
    return constant(t.role) or _refuse(v, t)


def olmo_full_megatron(t: RecipeTensor, v: RecipeValues) -> Pick:
    """allenai/OLMo olmo/model.py ``reset_parameters`` (InitFnType.full_megatron)."""
    s, c = v.need("initializer_range"), v.get("init_cutoff_factor")
    if t.role in RESIDUAL:
        n = v.need("n_layer")
        std = real(lambda mp: mp.mpf(s) / mp.sqrt(2 * mp.mpf(n)))
        return truncated(std, c, "init_std/sqrt(2*n_layers)")
    embedding = truncated(s, c, "init_std")
    if t.role is Role.READOUT:
        d = v.need("d_model")
        readout = truncated(real(lambda mp: 1 / mp.sqrt(d)), c, "ff_out: 1/sqrt(d)")
        return untied(v, t, readout, embedding)
    if t.role in (*INPUTS, *EMBEDDINGS):
        return embedding
    return constant(t.role) or _refuse(v, t)


# ---- T5 and the Hugging Face defaults ----------------------------------------------------------

# module -> (rule, the model values whose product is the variance's denominator)
T5_PROJECTIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "q": ("f/sqrt(d_model*d_kv)", ("d_model", "d_kv")),
    "k": ("f/sqrt(d_model)", ("d_model",)),
    "v": ("f/sqrt(d_model)", ("d_model",)),
    "o": ("f/sqrt(n_heads*d_kv)", ("n_heads", "d_kv")),
    "wi": ("f/sqrt(d_model)", ("d_model",)),
    "wi_0": ("f/sqrt(d_model)", ("d_model",)),
    "wi_1": ("f/sqrt(d_model)", ("d_model",)),
    "wo": ("f/sqrt(d_ff)", ("d_ff",)),
    "relative_attention_bias": ("f/sqrt(d_model)", ("d_model",)),
}


def t5(t: RecipeTensor, v: RecipeValues) -> Pick:
    """huggingface/transformers (5.18.0) models/t5/modeling_t5.py ``_init_weights`` (Mesh
    TensorFlow's factors); the projection is told by its module name (q, k, v, o, wi, wo)."""
    f = v.need("initializer_factor")
    module = t.module
    if module in T5_PROJECTIONS:
        rule, names = T5_PROJECTIONS[module]
        n = math.prod(int(v.need(name)) for name in names)
        return normal(real(lambda mp: mp.mpf(f) / mp.sqrt(n)), rule)
    if module in ("shared", "embed_tokens", "lm_head") or t.role in (Role.EMBEDDING, Role.READOUT):
        return normal(f, "shared/lm_head: f")
    if t.role is Role.NORM_SCALE:
        return Pick("constant", {"value": f}, "T5LayerNorm: f")
    if t.role in (Role.ATTENTION_QKV, Role.MLP_IN, Role.MLP_OUT, Role.ATTENTION_OUTPUT):
        raise no_rule(v.recipe, t, "T5 sets q, k, v, o, wi and wo apart by module name")
    return constant(t.role) or _refuse(v, t)


def hf_default(t: RecipeTensor, v: RecipeValues) -> Pick:
    """huggingface/transformers (5.18.0): PreTrainedModel._init_weights in modeling_utils.py
    (Linear, Conv, Embedding N(0, r^2), biases 0, norms 1 and 0) and each family's override."""
    family = v.need("family")
    if family == "gpt2":
        return gpt2(t, v)
    if family == "t5":
        return t5(t, v)
    r = v.need("initializer_range")
    vit = _vit_embeddings(t, r) if family == "vit" else None
    if vit is not None:
        return vit
    if t.role is Role.EMBEDDING and family == "bert" and t.module == "word_embeddings":
        pad = v.context.pad_token_id
        return normal(r, "nn.Embedding: r, padding row 0", zero_row=pad)
    if t.role in (*INPUTS, *EMBEDDINGS, *RESIDUAL, Role.READOUT):
        return normal(r, "r")
    return constant(t.role) or _refuse(v, t)


def _vit_embeddings(t: RecipeTensor, r: float) -> Pick | None:
    """models/vit/modeling_vit.py: ViTEmbeddings' position embeddings and cls_token take
    init.trunc_normal_(std=r) with torch's default bounds a=-2, b=2 (absolute values)."""
    if t.role is Role.POSITION_EMBEDDING or t.module == "cls_token":
        return Pick(
            "truncated_normal",
            {"std": r, "a": -2.0, "b": 2.0, "bounds": "absolute"},
            "ViTEmbeddings: trunc_normal_(std=r), a=-2, b=2 absolute",
        )
    if t.module == "mask_token":
        return Pick("zeros", {}, "ViTEmbeddings.mask_token = 0")
    return None


# ---- DeepNet and muP ---------------------------------------------------------------------------


def deepnet_beta(v: RecipeValues) -> float:
    n = v.need("n_layer")
    return real(lambda mp: mp.power(8 * mp.mpf(n), mp.mpf(-1) / 4))


def deepnet(t: RecipeTensor, v: RecipeValues) -> Pick:
    """microsoft/torchscale torchscale/architecture/decoder.py (deepnorm, decoder-only):
    fc1, fc2, out_proj, v_proj (weights and biases) divided by (8N)^(1/4) after
    component/multihead_attention.py's xavier_uniform_ (q, k, v gain 1/sqrt(2); out_proj 1)
    and torch's Linear default for fc1, fc2 (U(+-1/sqrt(fan_in)))."""
    beta = deepnet_beta(v)
    module = t.module
    if t.role is Role.ATTENTION_QKV:
        if module in ("q_proj", "k_proj", "q", "k", "query", "key"):
            return Pick(
                "glorot_uniform",
                {"gain": real(lambda mp: 1 / mp.sqrt(2))},
                "q, k: xavier_uniform(gain=1/sqrt(2))",
            )
        if module in ("v_proj", "v", "value"):
            gain = real(lambda mp: mp.mpf(beta) / mp.sqrt(2))
            return Pick("glorot_uniform", {"gain": gain}, "v_proj: xavier_uniform(1/sqrt(2))*beta")
        raise no_rule(v.recipe, t, "DeepNet scales v_proj but not q_proj, k_proj: give them apart")
    if t.role is Role.ATTENTION_OUTPUT:
        return Pick("glorot_uniform", {"gain": beta}, "out_proj: xavier_uniform*beta")
    if t.role in (Role.MLP_IN, Role.MLP_OUT):
        k = fan_in(v, t)
        bound = real(lambda mp: mp.mpf(beta) / mp.sqrt(k))
        return Pick("uniform", {"low": -bound, "high": bound}, "fc1, fc2: U(+-1/sqrt(fan_in))*beta")
    if t.role is Role.BIAS:
        return _deepnet_bias(t, v, beta)
    return constant(t.role) or _refuse(v, t)


def _deepnet_bias(t: RecipeTensor, v: RecipeValues, beta: float) -> Pick:
    """Biases by module name, as torchscale divides them: fc1, fc2, v_proj times beta (torch's
    Linear default), out_proj 0 (multihead_attention.py), the others torch's default."""
    if t.module == "out_proj":
        return Pick("zeros", {}, "out_proj.bias = 0")
    k = fan_in(v, t)
    if t.module in ("fc1", "fc2", "v_proj"):
        bound = real(lambda mp: mp.mpf(beta) / mp.sqrt(k))
        return Pick("uniform", {"low": -bound, "high": bound}, "bias: U(+-1/sqrt(fan_in))*beta")
    bound = real(lambda mp: 1 / mp.sqrt(k))
    return Pick("uniform", {"low": -bound, "high": bound}, "bias: U(+-1/sqrt(fan_in))")


def mup(t: RecipeTensor, v: RecipeValues) -> Pick:
    """microsoft/mup: mup/init.py (matrix-like std / sqrt(width_mult)), mup/optim.py (MuAdam:
    matrix-like lr / width_mult; MuSGD: vector-like lr * width_mult), mup/layer.py (MuReadout).
    Every hidden width scales by width_mult = d_model / base_config.d_model."""
    sigma, d = v.need("initializer_range"), v.need("d_model")
    base = v.need("base_d_model")
    adam = v.get("optimizer") == "adam"
    m = real(lambda mp: mp.mpf(d) / base)
    vector_lr = 1.0 if adam else m
    if t.role in (*INPUTS, *RESIDUAL):
        mult = real(lambda mp: mp.sqrt(mp.mpf(base) / d))
        std = real(lambda mp: mp.mpf(sigma) * mp.sqrt(mp.mpf(base) / d))
        lr = real(lambda mp: mp.mpf(base) / d) if adam else 1.0
        return normal(std, "matrix-like: sigma/sqrt(width_mult)", init_multiplier=mult, lr_scale=lr)
    if t.role in EMBEDDINGS:
        return normal(sigma, "vector-like: sigma", init_multiplier=1.0, lr_scale=vector_lr)
    if t.role is Role.READOUT:
        embedding = normal(sigma, "vector-like: sigma")
        if v.get("readout_zero_init"):
            readout = Pick(
                "zeros",
                {},
                "MuReadout(readout_zero_init=True): 0",
                init_multiplier=0.0,
                lr_scale=vector_lr,
            )
            return untied(v, t, readout, embedding)
        return normal(sigma, "MuReadout: sigma", init_multiplier=1.0, lr_scale=vector_lr)
    picked = constant(t.role)
    if picked is None:
        return _refuse(v, t)
    return Pick(picked.scheme, picked.params, picked.rule, lr_scale=vector_lr)


# ---- Fixup and T-Fixup -------------------------------------------------------------------------

FIXUP_BRANCH_LAYERS = {"basic": 2, "bottleneck": 3}
# torchvision ResNet's residual branch convs (layer2.0.conv1) and shortcut (layer2.0.downsample.0)
_RESNET_BLOCK = re.compile(r"(?:^|[./])layer\d+[./]\d+[./](?:conv(\d+)|(downsample))[./]")


def fixup_branch_layers(v: RecipeValues) -> int:
    return FIXUP_BRANCH_LAYERS[v.need("block")]


def fixup(t: RecipeTensor, v: RecipeValues) -> Pick:
    """hongyi-zhang/Fixup imagenet/models/fixup_resnet_imagenet.py ``FixupResNet.__init__``:
    a branch's convs N(0, 2/(c_out k^2)) * L^(-1/(2m-2)) (L = sum(layers), m = 2 for
    FixupBasicBlock, 3 for FixupBottleneck), its last conv 0, the downsample conv
    N(0, 2/(c_out k^2)), fc weight and bias 0; the stem conv keeps nn.Conv2d's default
    (kaiming_uniform_(a=sqrt 5): U(+-1/sqrt(fan_in))). Fixup has no BatchNorm: torchvision's
    BatchNorm tensors stay 1 and 0 (the report says to remove them)."""
    if t.role is Role.WEIGHT:
        return _fixup_conv(t, v)
    if t.role is Role.READOUT:
        return Pick("zeros", {}, "fc.weight = 0")
    if t.role is Role.BIAS:
        return Pick("zeros", {}, "bias = 0")
    return _removed_norm(t, "BatchNorm", "Fixup") or _refuse(v, t)


def _fixup_conv(t: RecipeTensor, v: RecipeValues) -> Pick:
    if t.fans is None or len(t.shape) < 3:
        raise no_rule(v.recipe, t, "Fixup sets only convolutions and the fc apart")
    c_out_k2 = t.fans.fan_out  # torch's fan_out of a conv: c_out * k_h * k_w
    match = _RESNET_BLOCK.search(t.name)
    if match is None:
        bound = real(lambda mp: 1 / mp.sqrt(mp.mpf(fan_in(v, t))))
        rule = "stem conv1: nn.Conv2d default, U(+-1/sqrt(fan_in))"
        return Pick("uniform", {"low": -bound, "high": bound}, rule)
    if match.group(2):
        he = real(lambda mp: mp.sqrt(2 / mp.mpf(c_out_k2)))
        return normal(he, "downsample: sqrt(2/(c_out*k^2))")
    m, i = fixup_branch_layers(v), int(match.group(1))
    if i == m:
        return Pick("zeros", {}, f"conv{m}: last conv of the branch = 0")
    if i > m:
        raise no_rule(v.recipe, t, f"a {v.need('block')} branch has conv1..conv{m}")
    n = v.need("n_layer")
    std = real(lambda mp: mp.sqrt(2 / mp.mpf(c_out_k2)) * mp.power(n, -1 / mp.mpf(2 * m - 2)))
    return normal(std, f"conv{i}: sqrt(2/(c_out*k^2)) * L^(-1/{2 * m - 2})")


def _removed_norm(t: RecipeTensor, norm: str, recipe: str) -> Pick | None:
    """A norm the recipe removes from the model: identity here (1, 0), the report says why."""
    if t.role not in NORMS:
        return None
    value = 1 if t.role is Role.NORM_SCALE else 0
    return Pick(NORMS[t.role], {}, f"{norm}: removed by {recipe} ({value} here)")


_Q_K = ("q_proj", "k_proj", "q", "k", "query", "key")
_V = ("v_proj", "v", "value")


def _decoder(t: RecipeTensor) -> bool:
    return "decoder" in re.split(r"[./]", t.name)


def _t_fixup_layers(v: RecipeValues, decoder: bool) -> int:
    n: int = v.need("n_layer")
    return int(v.get("decoder_layers") or n) if decoder else n


def t_fixup_scale(v: RecipeValues, decoder: bool) -> float:
    """0.67 N^(-1/4) in the encoder, (9 N)^(-1/4) in the decoder."""
    n = _t_fixup_layers(v, decoder)
    if decoder:
        return real(lambda mp: mp.power(9 * mp.mpf(n), mp.mpf(-1) / 4))
    return real(lambda mp: mp.mpf(67) / 100 * mp.power(n, mp.mpf(-1) / 4))


def t_fixup(t: RecipeTensor, v: RecipeValues) -> Pick:
    """layer6ai-labs/T-Fixup fairseq/modules/transformer_layer.py ``fixup_initialization`` of
    TransformerEncoderLayer (fc1, fc2, self_attn.out_proj * 0.67 N^(-1/4), v_proj also * sqrt 2)
    and TransformerDecoderLayer ((9 N)^(-1/4), encoder_attn too), over fairseq's bases
    (modules/multihead_attention.py reset_parameters: q, k, v xavier_uniform(1/sqrt 2),
    out_proj xavier_uniform, its bias 0; models/transformer.py Linear: xavier_uniform, bias 0;
    Embedding: N(0, 1/d) with the padding row 0), and models/transformer.py's
    TransformerEncoder and TransformerDecoder: embed_tokens * (9 N)^(-1/4). A tensor is the
    decoder's when a part of its name is ``decoder``."""
    decoder = _decoder(t)
    factor = ("(9N)^(-1/4)" if decoder else "0.67*N^(-1/4)") + (
        " (decoder)" if decoder else " (encoder)"
    )
    if t.role is Role.ATTENTION_QKV:
        if t.module in _Q_K:
            gain = real(lambda mp: 1 / mp.sqrt(2))
            return Pick("glorot_uniform", {"gain": gain}, "q, k: xavier_uniform(gain=1/sqrt(2))")
        if t.module in _V:
            # fairseq's gain 1/sqrt(2), times sqrt(2), times the factor
            rule = f"v_proj: xavier_uniform(1/sqrt(2))*sqrt(2)*{factor}"
            return Pick("glorot_uniform", {"gain": t_fixup_scale(v, decoder)}, rule)
        raise no_rule(v.recipe, t, "T-Fixup scales v_proj but not q_proj, k_proj: give them apart")
    if t.role in (Role.ATTENTION_OUTPUT, Role.MLP_IN, Role.MLP_OUT):
        rule = f"out_proj, fc1, fc2: xavier_uniform*{factor}"
        return Pick("glorot_uniform", {"gain": t_fixup_scale(v, decoder)}, rule)
    if t.role is Role.BIAS:
        if t.module in (*_Q_K, *_V):
            bound = real(lambda mp: 1 / mp.sqrt(mp.mpf(fan_in(v, t))))
            return Pick(
                "uniform", {"low": -bound, "high": bound}, "q, k, v bias: nn.Linear default"
            )
        return Pick("zeros", {}, "bias = 0")
    return (
        _t_fixup_embeddings(t, v, decoder)
        or _removed_norm(t, "LayerNorm", "T-Fixup")
        or (_refuse(v, t))
    )


def _t_fixup_embeddings(t: RecipeTensor, v: RecipeValues, decoder: bool) -> Pick | None:
    d = v.need("d_model")
    pad = v.context.pad_token_id
    if t.role is Role.EMBEDDING:
        n = _t_fixup_layers(v, decoder)
        std = real(lambda mp: mp.power(d, mp.mpf(-1) / 2) * mp.power(9 * mp.mpf(n), mp.mpf(-1) / 4))
        where = "decoder" if decoder else "encoder"
        rule = f"embed_tokens: N(0, 1/d)*(9N)^(-1/4) ({where}), padding row 0"
        return normal(std, rule, zero_row=pad)
    base = real(lambda mp: 1 / mp.sqrt(d))
    if t.role is Role.POSITION_EMBEDDING:
        return normal(base, "LearnedPositionalEmbedding: N(0, 1/d), padding row 0", zero_row=pad)
    if t.role is Role.READOUT:
        embedding = _t_fixup_embeddings(dataclasses.replace(t, role=Role.EMBEDDING), v, decoder)
        assert embedding is not None
        return untied(v, t, normal(base, "embed_out: N(0, 1/d)"), embedding)
    return None


def _refuse(v: RecipeValues, t: RecipeTensor) -> Pick:
    raise no_rule(v.recipe, t)
