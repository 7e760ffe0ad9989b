"""T5 (transformers ``T5Config``, ``modeling_t5.py``): T5ForConditionalGeneration, T5Model,
T5EncoderModel.

``shared.weight`` is the one embedding: the encoder's and decoder's ``embed_tokens`` are tied
to it, and so is ``lm_head`` always: transformers 5.18.0's T5Config forces
``tie_word_embeddings = True`` and reads a false one only as "do not scale the decoder
output" (T5 v1.1), so no ``lm_head.weight`` is saved. Block 0 of each stack holds the
``relative_attention_bias (buckets, heads)``. ``feed_forward_proj`` ``gated-*`` has
``wi_0`` and ``wi_1`` instead of ``wi``. No biases anywhere. Default init
(``T5PreTrainedModel._init_weights``, factor = ``initializer_factor``): ``shared`` N(0, factor),
``q`` N(0, factor (d_model d_kv)^-1/2), ``k``/``v`` N(0, factor d_model^-1/2), ``o``
N(0, factor (num_heads d_kv)^-1/2), ``relative_attention_bias`` N(0, factor d_model^-1/2),
``wi*`` N(0, factor d_model^-1/2), ``wo`` N(0, factor d_ff^-1/2), layer norms ``factor``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..tensor_spec import TensorSpec
from ..types import Family, Role
from .base import Architecture, ArchTensor, Builder, ConfigField, Init, normal

FIELDS = {
    "vocab_size": ConfigField(32128),
    "d_model": ConfigField(512),
    "d_kv": ConfigField(64),
    "d_ff": ConfigField(2048),
    "num_layers": ConfigField(6),
    "num_decoder_layers": ConfigField(None, "int?"),
    "num_heads": ConfigField(8),
    "relative_attention_num_buckets": ConfigField(32),
    "initializer_factor": ConfigField(1.0, "float"),
    "feed_forward_proj": ConfigField(
        "relu",
        "str",
        ("relu", "gelu", "gated-gelu", "gated-relu", "gated-silu", "silu", "gelu_new"),
    ),
    "tie_word_embeddings": ConfigField(True, "bool"),
}
IGNORED = frozenset(
    {
        "relative_attention_max_distance",
        "dropout_rate",
        "layer_norm_epsilon",
        "is_encoder_decoder",
        "pad_token_id",
        "n_positions",
        "output_past",
    }
)


def _stack(b: Builder, c: Mapping[str, Any], stack: str, layers: int) -> None:
    d, kv, heads, ff, f = (
        c["d_model"],
        c["d_kv"],
        c["num_heads"],
        c["d_ff"],
        c["initializer_factor"],
    )
    inner = heads * kv
    gated = c["feed_forward_proj"].startswith("gated-")
    for i in range(layers):
        b.block, b.stack = i, stack
        p = f"{stack}.block.{i}.layer."
        attentions = ["SelfAttention"] + (["EncDecAttention"] if stack == "decoder" else [])
        for j, name in enumerate(attentions):
            a = f"{p}{j}.{name}."
            b.linear(
                f"{a}q", (d, inner), Role.ATTENTION_QKV, normal(f * (d * kv) ** -0.5), bias=False
            )
            b.linear(f"{a}k", (d, inner), Role.ATTENTION_QKV, normal(f * d**-0.5), bias=False)
            b.linear(f"{a}v", (d, inner), Role.ATTENTION_QKV, normal(f * d**-0.5), bias=False)
            b.linear(
                f"{a}o", (inner, d), Role.ATTENTION_OUTPUT, normal(f * inner**-0.5), bias=False
            )
            if i == 0 and name == "SelfAttention":
                b.embedding(
                    f"{a}relative_attention_bias.weight",
                    c["relative_attention_num_buckets"],
                    heads,
                    Role.POSITION_EMBEDDING,
                    normal(f * d**-0.5),
                    padding=None,
                )
            b.add(_scale(f"{p}{j}.layer_norm.weight", d), _factor(f))
        m = f"{p}{len(attentions)}."
        for wi in ("wi_0", "wi_1") if gated else ("wi",):
            b.linear(
                f"{m}DenseReluDense.{wi}", (d, ff), Role.MLP_IN, normal(f * d**-0.5), bias=False
            )
        b.linear(f"{m}DenseReluDense.wo", (ff, d), Role.MLP_OUT, normal(f * ff**-0.5), bias=False)
        b.add(_scale(f"{m}layer_norm.weight", d), _factor(f))
    b.block = b.stack = None
    b.add(_scale(f"{stack}.final_layer_norm.weight", d), _factor(f))


def _scale(name: str, d: int) -> TensorSpec:
    return TensorSpec(name, (d,), Role.NORM_SCALE, Family.NORM, None)


def _factor(f: float) -> Init | None:
    return None if f == 1.0 else ("constant", {"value": f})


def _build(c: Mapping[str, Any], decoder: bool) -> list[ArchTensor]:
    b = Builder()
    b.embedding(
        "shared.weight",
        c["vocab_size"],
        c["d_model"],
        Role.EMBEDDING,
        normal(c["initializer_factor"]),
        padding=None,
    )
    _stack(b, c, "encoder", c["num_layers"])
    if decoder:
        _stack(b, c, "decoder", c["num_decoder_layers"] or c["num_layers"])
    return b.tensors


T5 = Architecture(
    name="t5",
    title="T5 (transformers T5Config)",
    fields=FIELDS,
    ignored=IGNORED,
    classes={
        "T5ForConditionalGeneration": lambda c: _build(c, True),
        "T5Model": lambda c: _build(c, True),
        "T5EncoderModel": lambda c: _build(c, False),
    },
    info=lambda c: (
        c["num_layers"],
        c["num_decoder_layers"] or c["num_layers"],
        c["d_model"],
        c["initializer_factor"],
        True,
    ),
    notes="num_decoder_layers null = num_layers; lm_head is always tied to shared (5.18.0)",
)
