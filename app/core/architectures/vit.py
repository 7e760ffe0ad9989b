"""ViT (transformers ``ViTConfig``, ``modeling_vit.py``): ViTModel, ViTForImageClassification.

Names are the checkpoint names ``save_pretrained`` writes (transformers 5 holds the blocks as
``layers.{i}.attention.q_proj`` in memory and saves them as
``encoder.layer.{i}.attention.attention.query``). ``cls_token (1, 1, hidden)`` and
``position_embeddings (1, (image_size/patch_size)^2 + 1, hidden)`` are bare parameters;
``patch_embeddings.projection`` is a Conv2d ``(hidden, num_channels, patch, patch)``. ViTModel
has a pooler (``pooler_output_size``, default hidden_size); ViTForImageClassification has
none, and a ``classifier (num_labels, hidden)``. Default init: N(0, initializer_range) for
Linear and Conv2d weights, zero biases, LayerNorm 1/0, and ``cls_token``,
``position_embeddings`` torch ``trunc_normal_(std=initializer_range)`` (absolute bounds +-2).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import InvalidParameterError
from ..types import Role
from .base import Architecture, ArchTensor, Builder, ConfigField, Init, divisible, normal

FIELDS = {
    "hidden_size": ConfigField(768),
    "num_hidden_layers": ConfigField(12),
    "num_attention_heads": ConfigField(12),
    "intermediate_size": ConfigField(3072),
    "image_size": ConfigField(224),
    "patch_size": ConfigField(16),
    "num_channels": ConfigField(3),
    "qkv_bias": ConfigField(True, "bool"),
    "pooler_output_size": ConfigField(None, "int?"),
    "initializer_range": ConfigField(0.02, "float"),
    "num_labels": ConfigField(2),
}
IGNORED = frozenset(
    {
        "hidden_act",
        "hidden_dropout_prob",
        "attention_probs_dropout_prob",
        "layer_norm_eps",
        "encoder_stride",
        "pooler_act",
        "tie_word_embeddings",
    }
)


def _trunc(std: float) -> Init:
    return (
        "truncated_normal",
        {"mean": 0.0, "std": std, "a": -2.0, "b": 2.0, "bounds": "absolute"},
    )


def _body(b: Builder, c: Mapping[str, Any], prefix: str, pooler: bool) -> None:
    h, std, inter = c["hidden_size"], c["initializer_range"], c["intermediate_size"]
    patches = (c["image_size"] // c["patch_size"]) ** 2
    e = f"{prefix}embeddings."
    b.parameter(f"{e}cls_token", (1, 1, h), Role.EMBEDDING, _trunc(std))
    b.parameter(
        f"{e}position_embeddings", (1, patches + 1, h), Role.POSITION_EMBEDDING, _trunc(std)
    )
    b.conv2d(
        f"{e}patch_embeddings.projection",
        c["num_channels"],
        h,
        c["patch_size"],
        normal(std),
        bias=True,
    )
    for i in range(c["num_hidden_layers"]):
        b.block, b.stack = i, "encoder"
        p = f"{prefix}encoder.layer.{i}."
        for qkv in ("query", "key", "value"):
            b.linear(
                f"{p}attention.attention.{qkv}",
                (h, h),
                Role.ATTENTION_QKV,
                normal(std),
                c["qkv_bias"],
            )
        b.linear(f"{p}attention.output.dense", (h, h), Role.ATTENTION_OUTPUT, normal(std))
        b.linear(f"{p}intermediate.dense", (h, inter), Role.MLP_IN, normal(std))
        b.linear(f"{p}output.dense", (inter, h), Role.MLP_OUT, normal(std))
        b.norm(f"{p}layernorm_before", h)
        b.norm(f"{p}layernorm_after", h)
    b.block = b.stack = None
    b.norm(f"{prefix}layernorm", h)
    if pooler:
        b.linear(
            f"{prefix}pooler.dense", (h, c["pooler_output_size"] or h), Role.WEIGHT, normal(std)
        )


def _model(c: Mapping[str, Any]) -> list[ArchTensor]:
    b = Builder()
    _body(b, c, "", pooler=True)
    return b.tensors


def _classifier(c: Mapping[str, Any]) -> list[ArchTensor]:
    b = Builder()
    _body(b, c, "vit.", pooler=False)
    b.linear(
        "classifier",
        (c["hidden_size"], c["num_labels"]),
        Role.READOUT,
        normal(c["initializer_range"]),
    )
    return b.tensors


def _check(c: Mapping[str, Any]) -> None:
    divisible(c, "hidden_size", "num_attention_heads")
    if c["image_size"] < c["patch_size"]:
        raise InvalidParameterError(
            f"config.image_size={c['image_size']} is smaller than one patch "
            f"(patch_size={c['patch_size']}).",
            field="config.image_size",
        )


VIT = Architecture(
    name="vit",
    title="ViT (transformers ViTConfig)",
    fields=FIELDS,
    ignored=IGNORED,
    classes={"ViTModel": _model, "ViTForImageClassification": _classifier},
    info=lambda c: (c["num_hidden_layers"], None, c["hidden_size"], c["initializer_range"], False),
    check=_check,
    notes="image_size and patch_size are integers (square images and patches)",
)
