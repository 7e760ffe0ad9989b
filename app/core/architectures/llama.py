"""Llama (transformers ``LlamaConfig``, ``modeling_llama.py``): LlamaForCausalLM, LlamaModel,
LlamaForSequenceClassification.

Separate ``q_proj (heads*head_dim, hidden)``, ``k_proj``/``v_proj (kv_heads*head_dim,
hidden)``, ``o_proj (hidden, heads*head_dim)``, biases with ``attention_bias``; SwiGLU
``gate_proj``/``up_proj (intermediate, hidden)``, ``down_proj``, biases with ``mlp_bias``;
RMSNorm scales only. The rotary ``inv_freq`` is a non-persistent buffer: not returned.
``lm_head`` is tied only with ``tie_word_embeddings`` (default false). Default init (the
``PreTrainedModel._init_weights`` base): N(0, initializer_range) for Linear and Embedding
weights, zero biases, norms 1, the ``pad_token_id`` row of ``embed_tokens`` zero.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import InvalidParameterError
from ..types import Role
from .base import Architecture, ArchTensor, Builder, ConfigField, divisible, normal

FIELDS = {
    "vocab_size": ConfigField(32000),
    "hidden_size": ConfigField(4096),
    "intermediate_size": ConfigField(11008),
    "num_hidden_layers": ConfigField(32),
    "num_attention_heads": ConfigField(32),
    "num_key_value_heads": ConfigField(None, "int?"),
    "head_dim": ConfigField(None, "int?"),
    "initializer_range": ConfigField(0.02, "float"),
    "tie_word_embeddings": ConfigField(False, "bool"),
    "attention_bias": ConfigField(False, "bool"),
    "mlp_bias": ConfigField(False, "bool"),
    "pad_token_id": ConfigField(None, "int0"),
    "num_labels": ConfigField(2),
}
IGNORED = frozenset(
    {
        "hidden_act",
        "max_position_embeddings",
        "rms_norm_eps",
        "pretraining_tp",
        "rope_theta",
        "rope_scaling",
        "rope_parameters",
        "attention_dropout",
    }
)


def _dims(c: Mapping[str, Any]) -> tuple[int, int, int]:
    heads = c["num_attention_heads"]
    kv = c["num_key_value_heads"] or heads
    hd = c["head_dim"] or divisible(c, "hidden_size", "num_attention_heads")
    return heads, kv, hd


def _body(b: Builder, c: Mapping[str, Any], prefix: str) -> None:
    h, std = c["hidden_size"], c["initializer_range"]
    heads, kv, hd = _dims(c)
    ab, mb, inter = c["attention_bias"], c["mlp_bias"], c["intermediate_size"]
    b.embedding(
        f"{prefix}embed_tokens.weight",
        c["vocab_size"],
        h,
        Role.EMBEDDING,
        normal(std),
        padding=c["pad_token_id"],
    )
    for i in range(c["num_hidden_layers"]):
        b.block, b.stack = i, "layers"
        p = f"{prefix}layers.{i}."
        b.linear(f"{p}self_attn.q_proj", (h, heads * hd), Role.ATTENTION_QKV, normal(std), ab)
        b.linear(f"{p}self_attn.k_proj", (h, kv * hd), Role.ATTENTION_QKV, normal(std), ab)
        b.linear(f"{p}self_attn.v_proj", (h, kv * hd), Role.ATTENTION_QKV, normal(std), ab)
        b.linear(f"{p}self_attn.o_proj", (heads * hd, h), Role.ATTENTION_OUTPUT, normal(std), ab)
        b.linear(f"{p}mlp.gate_proj", (h, inter), Role.MLP_IN, normal(std), mb)
        b.linear(f"{p}mlp.up_proj", (h, inter), Role.MLP_IN, normal(std), mb)
        b.linear(f"{p}mlp.down_proj", (inter, h), Role.MLP_OUT, normal(std), mb)
        b.norm(f"{p}input_layernorm", h, bias=False)
        b.norm(f"{p}post_attention_layernorm", h, bias=False)
    b.block = b.stack = None
    b.norm(f"{prefix}norm", h, bias=False)


def _model(c: Mapping[str, Any]) -> list[ArchTensor]:
    b = Builder()
    _body(b, c, "")
    return b.tensors


def _causal_lm(c: Mapping[str, Any]) -> list[ArchTensor]:
    b = Builder()
    _body(b, c, "model.")
    if not c["tie_word_embeddings"]:
        b.linear(
            "lm_head",
            (c["hidden_size"], c["vocab_size"]),
            Role.READOUT,
            normal(c["initializer_range"]),
            bias=False,
        )
    return b.tensors


def _classifier(c: Mapping[str, Any]) -> list[ArchTensor]:
    b = Builder()
    _body(b, c, "model.")
    b.linear(
        "score",
        (c["hidden_size"], c["num_labels"]),
        Role.READOUT,
        normal(c["initializer_range"]),
        bias=False,
    )
    return b.tensors


def _check(c: Mapping[str, Any]) -> None:
    heads, kv, _ = _dims(c)
    if heads % kv:
        raise InvalidParameterError(
            f"config.num_attention_heads={heads} must be divisible by "
            f"config.num_key_value_heads={kv}.",
            field="config.num_key_value_heads",
        )


LLAMA = Architecture(
    name="llama",
    title="Llama (transformers LlamaConfig)",
    fields=FIELDS,
    ignored=IGNORED,
    classes={
        "LlamaForCausalLM": _causal_lm,
        "LlamaModel": _model,
        "LlamaForSequenceClassification": _classifier,
    },
    info=lambda c: (
        c["num_hidden_layers"],
        None,
        c["hidden_size"],
        c["initializer_range"],
        c["tie_word_embeddings"],
    ),
    check=_check,
    notes="num_key_value_heads null = num_attention_heads; head_dim null = hidden_size / heads",
)
