"""GPT-2 (transformers ``GPT2Config``, ``modeling_gpt2.py``): GPT2LMHeadModel, GPT2Model,
GPT2ForSequenceClassification.

``Conv1D`` stores ``weight (in, out)`` (fan_in = in); ``c_attn`` holds Q, K and V side by
side along dim 1 (its bias along dim 0): fused, 3 parts. ``lm_head.weight`` is tied to
``wte.weight`` (``tie_word_embeddings`` true by default) and then saved once, as ``wte``.
Default init (``GPT2PreTrainedModel._init_weights``): N(0, initializer_range) for every
Linear, Conv1D and Embedding weight, zero biases, LayerNorm 1/0, and both ``c_proj`` weights
N(0, initializer_range / sqrt(2 n_layer)).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ..types import Role
from .base import Architecture, ArchTensor, Builder, ConfigField, divisible, normal

FIELDS = {
    "vocab_size": ConfigField(50257),
    "n_positions": ConfigField(1024),
    "n_embd": ConfigField(768),
    "n_layer": ConfigField(12),
    "n_head": ConfigField(12),
    "n_inner": ConfigField(None, "int?"),
    "initializer_range": ConfigField(0.02, "float"),
    "tie_word_embeddings": ConfigField(True, "bool"),
    "num_labels": ConfigField(2),
}
IGNORED = frozenset(
    {
        "activation_function",
        "resid_pdrop",
        "embd_pdrop",
        "attn_pdrop",
        "layer_norm_epsilon",
        "summary_type",
        "summary_use_proj",
        "summary_activation",
        "summary_proj_to_labels",
        "summary_first_dropout",
        "scale_attn_weights",
        "scale_attn_by_inverse_layer_idx",
        "reorder_and_upcast_attn",
        "pad_token_id",
        "n_ctx",
    }
)


def _body(b: Builder, c: Mapping[str, Any], prefix: str) -> None:
    e, std = c["n_embd"], c["initializer_range"]
    inner = c["n_inner"] or 4 * e
    scaled = normal(std / math.sqrt(2 * c["n_layer"]))
    b.embedding(
        f"{prefix}wte.weight", c["vocab_size"], e, Role.EMBEDDING, normal(std), padding=None
    )
    b.embedding(
        f"{prefix}wpe.weight",
        c["n_positions"],
        e,
        Role.POSITION_EMBEDDING,
        normal(std),
        padding=None,
    )
    for i in range(c["n_layer"]):
        b.block, b.stack = i, "h"
        p = f"{prefix}h.{i}."
        b.norm(f"{p}ln_1", e)
        b.conv1d_hf(f"{p}attn.c_attn", e, 3 * e, Role.ATTENTION_QKV, normal(std), fused=3)
        b.conv1d_hf(f"{p}attn.c_proj", e, e, Role.ATTENTION_OUTPUT, scaled)
        b.norm(f"{p}ln_2", e)
        b.conv1d_hf(f"{p}mlp.c_fc", e, inner, Role.MLP_IN, normal(std))
        b.conv1d_hf(f"{p}mlp.c_proj", inner, e, Role.MLP_OUT, scaled)
    b.block = b.stack = None
    b.norm(f"{prefix}ln_f", e)


def _model(c: Mapping[str, Any]) -> list[ArchTensor]:
    b = Builder()
    _body(b, c, "")
    return b.tensors


def _lm_head(c: Mapping[str, Any]) -> list[ArchTensor]:
    b = Builder()
    _body(b, c, "transformer.")
    if not c["tie_word_embeddings"]:
        b.linear(
            "lm_head",
            (c["n_embd"], c["vocab_size"]),
            Role.READOUT,
            normal(c["initializer_range"]),
            bias=False,
        )
    return b.tensors


def _classifier(c: Mapping[str, Any]) -> list[ArchTensor]:
    b = Builder()
    _body(b, c, "transformer.")
    b.linear(
        "score",
        (c["n_embd"], c["num_labels"]),
        Role.READOUT,
        normal(c["initializer_range"]),
        bias=False,
    )
    return b.tensors


def _check(c: Mapping[str, Any]) -> None:
    divisible(c, "n_embd", "n_head")


GPT2 = Architecture(
    name="gpt2",
    title="GPT-2 (transformers GPT2Config)",
    fields=FIELDS,
    ignored=IGNORED,
    classes={
        "GPT2LMHeadModel": _lm_head,
        "GPT2Model": _model,
        "GPT2ForSequenceClassification": _classifier,
    },
    info=lambda c: (
        c["n_layer"],
        None,
        c["n_embd"],
        c["initializer_range"],
        c["tie_word_embeddings"],
    ),
    check=_check,
    notes="n_inner null = 4 n_embd; Conv1D weights are (in, out); c_attn is fused (3 parts)",
)
