"""Whole architectures by config: a family, its Hugging Face (or torchvision) config and a class
become the class's named tensors, with roles, fans, block places and default inits.

:func:`build_architecture` checks the config (unknown fields are a 422 with a did-you-mean),
fills in the family's defaults and returns the tensors and an :class:`ArchitectureInfo`. The
names and shapes equal what ``save_pretrained`` of transformers 5.18.0 writes to
``model.safetensors`` (torchvision 0.29.1's ``state_dict`` for ResNet); the fixtures in
``tests/fixtures/architectures`` pin them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from ..errors import UnknownNameError
from ..types import Role
from .base import (
    TORCHVISION_VERSION,
    TRANSFORMERS_VERSION,
    Architecture,
    ArchitectureInfo,
    ArchTensor,
    ConfigField,
    read_config,
)
from .bert import BERT
from .gpt2 import GPT2
from .llama import LLAMA
from .resnet import RESNET
from .t5 import T5
from .vit import VIT

__all__ = [
    "ARCHITECTURES",
    "TORCHVISION_VERSION",
    "TRANSFORMERS_VERSION",
    "ArchTensor",
    "Architecture",
    "ArchitectureInfo",
    "ConfigField",
    "build_architecture",
]

ARCHITECTURES: Mapping[str, Architecture] = {
    a.name: a for a in (GPT2, LLAMA, BERT, T5, VIT, RESNET)
}


def build_architecture(
    family: str, config: Mapping[str, object], class_name: str | None = None
) -> tuple[list[ArchTensor], ArchitectureInfo]:
    """The tensors of ``class_name`` (default: the family's) for ``config``, and its info."""
    if family not in ARCHITECTURES:
        raise UnknownNameError("architecture", family, ARCHITECTURES, field="architecture")
    arch = ARCHITECTURES[family]
    chosen = class_name or arch.default_class
    if chosen not in arch.classes:
        raise UnknownNameError(
            "class", chosen, arch.classes, field="class", context=f"of architecture {family!r}"
        )
    resolved = read_config(arch.fields, arch.ignored, config, family)
    arch.check(resolved)
    tensors = arch.classes[chosen](resolved)
    layers, decoder, hidden, init_range, tied = arch.info(resolved)
    # A tied head is not returned (the embedding is saved once), so a readout that is returned
    # is the class's own matrix (GPT2ForSequenceClassification's score): nothing is tied.
    tied = tied and not any(t.spec.role is Role.READOUT for t in tensors)
    info = ArchitectureInfo(
        family=family,
        class_name=chosen,
        config=resolved,
        num_layers=layers,
        hidden_size=hidden,
        initializer_range=init_range,
        tie_word_embeddings=tied,
        num_decoder_layers=decoder,
        tensors={t.spec.name: t for t in tensors},
    )
    return tensors, replace(info)
