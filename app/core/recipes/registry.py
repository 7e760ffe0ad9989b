"""The recipes: one literal row each (grep a name in double quotes to land on its row).

A row names its rule (``rules.py``), the parameters it takes (model values, which an
architecture's config also supplies, and its own knobs) with their defaults as in the cited
codebase, and what it reports beyond the weights. ``resolve_recipe`` turns a request's
``"gpt2"`` or ``{"name": "gpt2", ...params}`` into a :class:`~.base.RecipeRun`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..architectures.base import TRANSFORMERS_VERSION as TRANSFORMERS_VERSION
from ..errors import InvalidParameterError, UnknownNameError
from .base import FIELD, Recipe, RecipeParam, RecipeRun, RecipeValues, real
from .context import RecipeContext
from .rules import (
    deepnet,
    deepnet_beta,
    fixup,
    fixup_branch_layers,
    gpt2,
    hf_default,
    megatron,
    mup,
    olmo_full_megatron,
    olmo_mitchell,
    small_init,
    t5,
    t_fixup,
    t_fixup_scale,
    wang_init,
)

TRANSFORMERS = ("gpt2", "llama", "bert", "t5", "vit")
ROLE_FAMILIES = ("gpt2", "llama", "bert", "vit")  # the families without T5's own names
ROLES = "any model whose tensors carry roles"


def _int(name: str, description: str, default: int | None = None) -> RecipeParam:
    return RecipeParam(name, "integer", description, default)


def _num(name: str, description: str, default: float | None = None) -> RecipeParam:
    return RecipeParam(name, "number", description, default)


N_LAYER = _int("n_layer", "transformer blocks L (required where a rule reads it)")
D_MODEL = _int("d_model", "hidden width d")
TIE = RecipeParam("tie_word_embeddings", "boolean", "whether the head shares the embedding matrix")
RANGE_002 = _num("initializer_range", "the base std (initializer_range, init_std)", 0.02)
CUTOFF = _num("init_cutoff_factor", "truncation at +-cutoff std", 3.0)


def _deepnet_report(v: RecipeValues) -> dict[str, Any]:
    n = v.need("n_layer")
    return {
        "alpha": real(lambda mp: mp.power(2 * mp.mpf(n), mp.mpf(1) / 4)),
        "beta": deepnet_beta(v),
        "forward": "every sublayer (attention, FFN): x = LayerNorm(alpha * x + f(x)) (Post-LN "
        "with the residual scaled by alpha)",
    }


def _mup_report(v: RecipeValues) -> dict[str, Any]:
    d, base = v.need("d_model"), v.need("base_d_model")
    m = real(lambda mp: mp.mpf(d) / base)
    out = v.get("output_mult")
    return {
        "width_mult": m,
        "multipliers": {
            "readout": real(lambda mp: mp.mpf(out) / (mp.mpf(d) / base)),
        },
        "forward": "logits = readout(x * output_mult / width_mult) (MuReadout); attention "
        "scores scaled by 1/d_head instead of 1/sqrt(d_head); learning rates multiplied by "
        "lr_scales (MuAdam or MuSGD)",
    }


def _fixup_report(v: RecipeValues) -> dict[str, Any]:
    m = fixup_branch_layers(v)
    block = {f"bias{i}{ab}": 0.0 for i in range(1, m + 1) for ab in "ab"} | {"scale": 1.0}
    last = f"conv{m}"
    return {
        "branch_multiplier": real(lambda mp: mp.power(v.need("n_layer"), -1 / mp.mpf(2 * m - 2))),
        "scalars": {"model": {"bias1": 0.0, "bias2": 0.0}, "per_block": block},
        "forward": "Fixup's ResNet has no BatchNorm: remove every BatchNorm2d (bn1, the blocks' "
        "bn*, downsample.1; returned here at 1 and 0 with running mean 0 and variance 1, an "
        "identity at init, so torchvision's state_dict loads) and add scalar parameters, one "
        "each, initial values as in `scalars`. Model: x = relu(conv1(x) + bias1); ...; "
        "logits = fc(pool(x) + bias2). Each block: out = conv_i(out + bias_ia), then "
        "relu(out + bias_ib) for each conv before the last; the last conv: "
        f"out = {last}(out + bias{m}a) * scale + bias{m}b; shortcut = downsample(x + bias1a) "
        "(or x); x = relu(out + shortcut)",
    }


def _t_fixup_report(v: RecipeValues) -> dict[str, Any]:
    out: dict[str, Any] = {"encoder_scale": t_fixup_scale(v, decoder=False)}
    out["decoder_scale"] = t_fixup_scale(v, decoder=True)
    out["forward"] = (
        "T-Fixup removes LayerNorm: drop every LayerNorm of the encoder and decoder (layers' "
        "self_attn_layer_norm, encoder_attn_layer_norm, final_layer_norm and the stacks' "
        "layer_norm; any norm tensors here are returned at 1 and 0, an identity, so a "
        "state_dict loads); x = x + f(x) for every sublayer; trained without learning-rate "
        "warmup"
    )
    return out


RECIPES: tuple[Recipe, ...] = (
    Recipe(
        name="hf.default",
        summary=f"Hugging Face transformers {TRANSFORMERS_VERSION}: each family's _init_weights",
        formula="Linear, Conv, Embedding N(0, r^2); biases 0; norms 1, 0; gpt2: c_proj "
        "r/sqrt(2 n_layer); t5: as the t5 recipe; vit: position embeddings and cls_token "
        "trunc_normal_(std=r) cut at +-2 absolute; bert: the padding row of word_embeddings 0",
        reference=f"huggingface/transformers {TRANSFORMERS_VERSION}: modeling_utils.py "
        "PreTrainedModel._init_weights; models/{gpt2,llama,bert,t5,vit}/modeling_*.py",
        architectures=TRANSFORMERS,
        also=f"{ROLES}, given `family`",
        rule=hf_default,
        params=(
            RecipeParam("family", "choice", "the model family", choices=TRANSFORMERS),
            RANGE_002,
            _num("initializer_factor", "T5's factor f", 1.0),
            N_LAYER,
            D_MODEL,
            _int("n_heads", "T5: attention heads"),
            _int("d_kv", "T5: per-head size"),
            _int("d_ff", "T5: MLP inner size"),
            RecipeParam("pad_token_id", "integer", "BERT: the padding row", 0, positive=False),
            TIE,
        ),
    ),
    Recipe(
        name="gpt2",
        summary="GPT-2: N(0, 0.02^2), residual outputs / sqrt(2 n_layer)",
        formula="weights and embeddings N(0, r^2); attention_output, mlp_out "
        "N(0, (r/sqrt(2 n_layer))^2); biases 0; norms 1, 0",
        reference=f"huggingface/transformers {TRANSFORMERS_VERSION}: models/gpt2/modeling_gpt2.py "
        "_init_weights; karpathy/nanoGPT: model.py",
        architectures=ROLE_FAMILIES,
        also=ROLES,
        rule=gpt2,
        params=(N_LAYER, RANGE_002, TIE),
    ),
    Recipe(
        name="megatron",
        summary="Megatron-LM: init_method_normal(sigma), scaled_init_method_normal(sigma, L)",
        formula="weights, embeddings, head N(0, sigma^2); attention_output, mlp_out "
        "N(0, (sigma/sqrt(multiplier L))^2), multiplier 2; biases 0; norms 1, 0",
        reference="NVIDIA/Megatron-LM: megatron/core/utils.py init_method_normal, "
        "scaled_init_method_normal",
        architectures=ROLE_FAMILIES,
        also=ROLES,
        rule=megatron,
        params=(
            N_LAYER,
            RANGE_002,
            _num("multiplier", "residual outputs per layer (1.0 for hybrid models)", 2.0),
            TIE,
        ),
    ),
    Recipe(
        name="olmo.mitchell",
        summary="OLMo mitchell: 1/sqrt(d), residual outputs / sqrt(2 (layer_id+1)), cut at 3 std",
        formula="inputs, embeddings, head trunc N(0, 1/d); attn_out 1/sqrt(2 d (i+1)); ff_out "
        "1/sqrt(2 d_ff_in (i+1)) with i the block index; all cut at +-cutoff std",
        reference="allenai/OLMo: olmo/model.py reset_parameters (InitFnType.mitchell), "
        "olmo/initialization.py init_normal",
        architectures=("gpt2", "llama"),
        also=f"{ROLES} (block index in the names)",
        rule=olmo_mitchell,
        params=(D_MODEL, CUTOFF, TIE),
    ),
    Recipe(
        name="olmo.full_megatron",
        summary="OLMo full_megatron: init_std, residual outputs / sqrt(2L), head 1/sqrt(d)",
        formula="inputs, embeddings trunc N(0, s^2); attn_out, ff_out s/sqrt(2 n_layers); "
        "head 1/sqrt(d) (needs tie_word_embeddings false); all cut at +-cutoff std",
        reference="allenai/OLMo: olmo/model.py reset_parameters (InitFnType.full_megatron), "
        "olmo/initialization.py init_normal",
        architectures=("gpt2", "llama"),
        also=ROLES,
        rule=olmo_full_megatron,
        params=(N_LAYER, D_MODEL, RANGE_002, CUTOFF, TIE),
    ),
    Recipe(
        name="t5",
        summary="T5 / Mesh TensorFlow factors",
        formula="q f/sqrt(d d_kv); k, v f/sqrt(d); o f/sqrt(H d_kv); wi f/sqrt(d); wo "
        "f/sqrt(d_ff); relative_attention_bias f/sqrt(d); shared, lm_head f; norm scale f",
        reference=f"huggingface/transformers {TRANSFORMERS_VERSION}: models/t5/modeling_t5.py "
        "_init_weights",
        architectures=("t5",),
        also="any model whose projections are named q, k, v, o, wi, wo",
        rule=t5,
        params=(
            D_MODEL,
            _int("n_heads", "attention heads H"),
            _int("d_kv", "per-head size"),
            _int("d_ff", "MLP inner size"),
            _num("initializer_factor", "the factor f", 1.0),
            TIE,
        ),
    ),
    Recipe(
        name="small_init",
        summary="GPT-NeoX small_init on every weight: sqrt(2/(5d))",
        formula="every weight-like tensor N(0, 2/(5d)); biases 0; norms 1, 0",
        reference="EleutherAI/gpt-neox: megatron/model/init_functions.py small_init_init_method",
        architectures=ROLE_FAMILIES,
        also=ROLES,
        rule=small_init,
        params=(D_MODEL, TIE),
    ),
    Recipe(
        name="wang_init",
        summary="GPT-NeoX 20B: small_init, residual outputs wang_init 2/(L sqrt(d))",
        formula="attention_output, mlp_out N(0, (2/(L sqrt(d)))^2); other weights "
        "N(0, 2/(5d)); biases 0; norms 1, 0",
        reference="EleutherAI/gpt-neox: megatron/model/init_functions.py wang_init_method, "
        "small_init_init_method; configs/20B.yml",
        architectures=ROLE_FAMILIES,
        also=ROLES,
        rule=wang_init,
        params=(N_LAYER, D_MODEL, TIE),
    ),
    Recipe(
        name="deepnet",
        summary="DeepNet (DeepNorm), decoder-only: beta-scaled init, alpha residual",
        formula="alpha = (2N)^(1/4), beta = (8N)^(-1/4); q, k xavier_uniform(1/sqrt 2); v "
        "xavier_uniform(1/sqrt 2)*beta; out_proj xavier_uniform*beta; fc1, fc2 "
        "U(+-beta/sqrt(fan_in)); biases of fc1, fc2, v_proj U(+-beta/sqrt(fan_in)), of "
        "out_proj 0, others U(+-1/sqrt(fan_in))",
        reference="microsoft/torchscale: torchscale/architecture/decoder.py (deepnorm), "
        "torchscale/component/multihead_attention.py reset_parameters",
        architectures=(),
        also=f"{ROLES} with q, k, v apart (embeddings and head: role_schemes)",
        rule=deepnet,
        params=(N_LAYER,),
        report=_deepnet_report,
        changes_forward=True,
    ),
    Recipe(
        name="mup",
        summary="muP (microsoft/mup): width-scaled init, readout multiplier, per-tensor lr",
        formula="width_mult m = d_model/base d_model; matrix-like std sigma/sqrt(m), Adam lr "
        "/m; vector-like (embeddings, biases, norms, head) std sigma, SGD lr *m; readout "
        "multiplier output_mult/m",
        reference="microsoft/mup: mup/init.py, mup/optim.py (MuAdam, MuSGD), mup/layer.py "
        "(MuReadout)",
        architectures=ROLE_FAMILIES,
        also=ROLES,
        rule=mup,
        params=(
            D_MODEL,
            RecipeParam("base_config", "widths", 'the base model: {"d_model": ...}'),
            RecipeParam("optimizer", "choice", "adam or sgd", choices=("adam", "sgd")),
            RANGE_002,
            _num("output_mult", "MuReadout's output_mult", 1.0),
            RecipeParam("readout_zero_init", "boolean", "zero the readout", False),
            TIE,
        ),
        report=_mup_report,
        changes_forward=True,
    ),
    Recipe(
        name="fixup",
        summary="Fixup (ResNet without BatchNorm): scaled branches, last conv and fc 0",
        formula="branch convs N(0, 2/(c_out k^2)) * L^(-1/(2m-2)) (L = sum(layers); m = 2 "
        "basic: L^-1/2, 3 bottleneck: L^-1/4); last conv of each branch 0; downsample "
        "N(0, 2/(c_out k^2)); stem conv U(+-1/sqrt(fan_in)); fc weight and bias 0; BatchNorm "
        "removed (1, 0 here); scalar biases 0 and scale 1 in the report",
        reference="hongyi-zhang/Fixup: imagenet/models/fixup_resnet_imagenet.py "
        "FixupResNet.__init__, FixupBasicBlock, FixupBottleneck",
        architectures=("resnet",),
        also="torchvision-named ResNets (layer<s>.<j>.conv<i>) whose tensors carry roles",
        rule=fixup,
        params=(
            _int("n_layer", "residual blocks L (sum of layers)"),
            RecipeParam("block", "choice", "the block", choices=("basic", "bottleneck")),
        ),
        report=_fixup_report,
        changes_forward=True,
    ),
    Recipe(
        name="t_fixup",
        summary="T-Fixup: Xavier, scaled residual projections and embeddings, no LayerNorm",
        formula="q, k xavier_uniform(1/sqrt 2); encoder fc1, fc2, out_proj xavier_uniform * "
        "0.67 N^-1/4, v_proj xavier_uniform(1/sqrt 2) * sqrt 2 * 0.67 N^-1/4; decoder the same "
        "with (9N)^-1/4; token embeddings N(0, 1/d) * (9N)^-1/4, padding row 0; head "
        "N(0, 1/d); biases 0 (q, k, v: U(+-1/sqrt(fan_in))); LayerNorm removed (1, 0 here)",
        reference="layer6ai-labs/T-Fixup: fairseq/modules/transformer_layer.py "
        "TransformerEncoderLayer.fixup_initialization, "
        "TransformerDecoderLayer.fixup_initialization; fairseq/models/transformer.py "
        "TransformerEncoder.__init__, TransformerDecoder.__init__, Embedding, Linear; "
        "fairseq/modules/multihead_attention.py reset_parameters",
        architectures=(),
        also=f"{ROLES} with q, k, v apart (the decoder's tensors have a `decoder` part in "
        "their names)",
        rule=t_fixup,
        params=(
            _int("n_layer", "encoder layers N (and the decoder's unless decoder_layers)"),
            _int("decoder_layers", "decoder layers N of the decoder"),
            D_MODEL,
            RecipeParam(
                "pad_token_id", "integer", "the padding row (fairseq: 1)", 1, positive=False
            ),
            TIE,
        ),
        report=_t_fixup_report,
        changes_forward=True,
    ),
)

_BY_NAME = {recipe.name: recipe for recipe in RECIPES}


def recipe_names() -> list[str]:
    return list(_BY_NAME)


def get_recipe(name: str) -> Recipe:
    if name not in _BY_NAME:
        raise UnknownNameError("recipe", name, _BY_NAME, field=f"{FIELD}.name")
    return _BY_NAME[name]


def resolve_recipe(
    name: str, params: Mapping[str, object] | None = None, base: RecipeContext | None = None
) -> RecipeRun:
    """The recipe ``name`` with the request's ``params`` over ``base`` (an architecture's
    values, after the merge)."""
    recipe = get_recipe(name)
    run = recipe.resolve(dict(params or {}), base or RecipeContext())
    if recipe.name == "mup" and "optimizer" not in run.values.own:
        raise InvalidParameterError(
            'Recipe "mup" needs the optimizer (its learning-rate scales differ): give '
            '{"name": "mup", "optimizer": "adam"} or "sgd".',
            field=f"{FIELD}.optimizer",
        )
    return run
