"""What a recipe sees: the model-level values (:class:`RecipeContext`) and one tensor.

A :class:`RecipeContext` holds the values of the model a recipe's formulas read (depth,
widths, the initializer range...). Every field is optional: a request fills it from the
recipe's own parameters (``{"name": "gpt2", "n_layer": 12}``), and an architecture request
fills it from the model's config (:meth:`RecipeContext.merged`: the recipe's parameters win).
A recipe that needs a value nobody gave refuses with a message naming the field.

A :class:`RecipeTensor` is one tensor as a recipe sees it: name, role, shape, fans and the
index of its transformer block, read from the name (``h.3.``, ``layers.3.``, ``layer.3.``,
``block.3.``) when not given.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields, replace

from ..fans import Fans
from ..types import Role

Shape = tuple[int, ...]

# The first "<container>.<index>." of a name: GPT-2's h.3, Llama's layers.3, BERT's and ViT's
# layer.3, T5's block.3 (T5's block.0.layer.1 is block 0: the first match wins).
BLOCK_PATTERN = re.compile(r"(?:^|[./])(?:h|layers|layer|blocks|block)[./](\d+)(?=[./])")
_PARTS = re.compile(r"[./]")


def block_index(name: str) -> int | None:
    """The transformer block a tensor belongs to, from its name; None if the name has none."""
    match = BLOCK_PATTERN.search(name)
    return int(match.group(1)) if match else None


def module_of(name: str) -> str:
    """The module that owns a parameter: ``...SelfAttention.q.weight`` -> ``q``; a bare
    parameter (``vit.embeddings.cls_token``) is its own module."""
    parts = _PARTS.split(name)
    if len(parts) >= 2 and parts[-1] in ("weight", "bias", "kernel", "embedding", "scale"):
        return parts[-2]
    return parts[-1]


@dataclass(frozen=True)
class RecipeContext:
    """Model-level values a recipe may read; None means not known.

    Field names follow the Hugging Face configs where one exists (GPT-2's ``n_layer``, T5's
    ``d_kv`` and ``initializer_factor``), else torchvision's (ResNet's ``block``);
    ``base_d_model`` is muP's base width.
    """

    family: str | None = None  # hf.default: gpt2, llama, bert, t5, vit
    n_layer: int | None = None  # transformer blocks (num_hidden_layers, num_layers)
    d_model: int | None = None  # hidden size (n_embd, hidden_size)
    n_heads: int | None = None  # attention heads (n_head, num_attention_heads, num_heads)
    d_kv: int | None = None  # per-head size of q, k, v (T5's d_kv; else d_model / n_heads)
    d_ff: int | None = None  # MLP inner size (n_inner, intermediate_size)
    initializer_range: float | None = None
    initializer_factor: float | None = None  # T5
    tie_word_embeddings: bool | None = None
    pad_token_id: int | None = None  # an embedding's padding row (hf.default, BERT)
    base_d_model: int | None = None  # muP: the base model's width
    block: str | None = None  # Fixup: torchvision ResNet's block, basic or bottleneck

    def merged(self, given: RecipeContext) -> RecipeContext:
        """These values with every field ``given`` sets replacing ours."""
        changes = {
            f.name: getattr(given, f.name)
            for f in fields(given)
            if getattr(given, f.name) is not None
        }
        return replace(self, **changes)


CONTEXT_FIELDS = tuple(f.name for f in fields(RecipeContext))


@dataclass(frozen=True)
class RecipeTensor:
    """One tensor as a recipe sees it."""

    name: str
    role: Role
    shape: Shape
    fans: Fans | None
    block: int | None = None

    @property
    def module(self) -> str:
        return module_of(self.name)

    @classmethod
    def of(
        cls, name: str, role: Role, shape: Shape, fans: Fans | None, block: int | None = None
    ) -> RecipeTensor:
        return cls(name, role, shape, fans, block if block is not None else block_index(name))
