"""BERT (transformers ``BertConfig``, ``modeling_bert.py``): BertModel, BertForMaskedLM,
BertForSequenceClassification.

``position_ids`` and ``token_type_ids`` are non-persistent buffers: not returned.
BertForMaskedLM has no pooler; its decoder is tied to ``word_embeddings`` (saved once) and its
decoder bias is ``cls.predictions.bias``. Default init (``BertPreTrainedModel._init_weights``):
N(0, initializer_range) for Linear and Embedding weights, zero biases (``cls.predictions.bias``
too), LayerNorm 1/0, the ``pad_token_id`` row (0) of ``word_embeddings`` zero.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..tensor_spec import TensorSpec
from ..types import Family, Role
from .base import ZEROS, Architecture, ArchTensor, Builder, ConfigField, divisible, normal

FIELDS = {
    "vocab_size": ConfigField(30522),
    "hidden_size": ConfigField(768),
    "num_hidden_layers": ConfigField(12),
    "num_attention_heads": ConfigField(12),
    "intermediate_size": ConfigField(3072),
    "max_position_embeddings": ConfigField(512),
    "type_vocab_size": ConfigField(2),
    "initializer_range": ConfigField(0.02, "float"),
    "pad_token_id": ConfigField(0, "int0"),
    "tie_word_embeddings": ConfigField(True, "bool"),
    "num_labels": ConfigField(2),
}
IGNORED = frozenset(
    {
        "hidden_act",
        "hidden_dropout_prob",
        "attention_probs_dropout_prob",
        "layer_norm_eps",
        "position_embedding_type",
        "gradient_checkpointing",
    }
)


def _body(b: Builder, c: Mapping[str, Any], prefix: str, pooler: bool) -> None:
    h, std, inter = c["hidden_size"], c["initializer_range"], c["intermediate_size"]
    e = f"{prefix}embeddings."
    b.embedding(
        f"{e}word_embeddings.weight",
        c["vocab_size"],
        h,
        Role.EMBEDDING,
        normal(std),
        padding=c["pad_token_id"],
    )
    b.embedding(
        f"{e}position_embeddings.weight",
        c["max_position_embeddings"],
        h,
        Role.POSITION_EMBEDDING,
        normal(std),
        padding=None,
    )
    b.embedding(
        f"{e}token_type_embeddings.weight",
        c["type_vocab_size"],
        h,
        Role.EMBEDDING,
        normal(std),
        padding=None,
    )
    b.norm(f"{e}LayerNorm", h)
    for i in range(c["num_hidden_layers"]):
        b.block, b.stack = i, "encoder"
        p = f"{prefix}encoder.layer.{i}."
        for qkv in ("query", "key", "value"):
            b.linear(f"{p}attention.self.{qkv}", (h, h), Role.ATTENTION_QKV, normal(std))
        b.linear(f"{p}attention.output.dense", (h, h), Role.ATTENTION_OUTPUT, normal(std))
        b.norm(f"{p}attention.output.LayerNorm", h)
        b.linear(f"{p}intermediate.dense", (h, inter), Role.MLP_IN, normal(std))
        b.linear(f"{p}output.dense", (inter, h), Role.MLP_OUT, normal(std))
        b.norm(f"{p}output.LayerNorm", h)
    b.block = b.stack = None
    if pooler:
        b.linear(f"{prefix}pooler.dense", (h, h), Role.WEIGHT, normal(std))


def _model(c: Mapping[str, Any]) -> list[ArchTensor]:
    b = Builder()
    _body(b, c, "", pooler=True)
    return b.tensors


def _masked_lm(c: Mapping[str, Any]) -> list[ArchTensor]:
    b = Builder()
    h, std = c["hidden_size"], c["initializer_range"]
    _body(b, c, "bert.", pooler=False)
    b.linear("cls.predictions.transform.dense", (h, h), Role.WEIGHT, normal(std))
    b.norm("cls.predictions.transform.LayerNorm", h)
    decoder_fans = None
    if not c["tie_word_embeddings"]:
        b.linear("cls.predictions.decoder", (h, c["vocab_size"]), Role.READOUT, normal(std), False)
        decoder_fans = b.tensors[-1].spec.fans
    # the decoder's bias is this parameter (BertLMPredictionHead.bias), zeroed by _init_weights
    bias = TensorSpec(
        "cls.predictions.bias", (c["vocab_size"],), Role.BIAS, Family.DENSE, decoder_fans
    )
    b.add(bias, ZEROS)
    return b.tensors


def _classifier(c: Mapping[str, Any]) -> list[ArchTensor]:
    b = Builder()
    _body(b, c, "bert.", pooler=True)
    b.linear(
        "classifier",
        (c["hidden_size"], c["num_labels"]),
        Role.READOUT,
        normal(c["initializer_range"]),
    )
    return b.tensors


BERT = Architecture(
    name="bert",
    title="BERT (transformers BertConfig)",
    fields=FIELDS,
    ignored=IGNORED,
    classes={
        "BertModel": _model,
        "BertForMaskedLM": _masked_lm,
        "BertForSequenceClassification": _classifier,
    },
    info=lambda c: (
        c["num_hidden_layers"],
        None,
        c["hidden_size"],
        c["initializer_range"],
        c["tie_word_embeddings"],
    ),
    check=lambda c: (divisible(c, "hidden_size", "num_attention_heads"), None)[1],
    notes="BertForMaskedLM's decoder is tied to word_embeddings (saved once)",
)
