"""POST /v1/models with ``architecture``: a family's config and class become plans.

The core builds the class's tensors (:func:`app.core.architectures.build_architecture`); each
is planned under the request's choices first (``role_schemes``, ``scheme``, ``bias_scheme``),
then the family's default init for that tensor (its ``_init_weights``), then the torch
layout's default (norm scales 1, shifts 0, running statistics and counters fixed). The
:class:`ArchitectureInfo` rides on the job for recipes and the manifest.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from app.core.architectures import ArchitectureInfo, ArchTensor, build_architecture
from app.core.errors import InvalidParameterError, LimitExceededError
from app.core.planning import SchemeChoice, plan_tensor
from app.core.plans import TensorPlan
from app.core.recipes import RecipeContext, RecipeRun
from app.core.schemes import ResolvedScheme, resolve_scheme
from app.core.types import Algorithm, Layout

from . import limits
from .limits import Settings
from .requests import ModelRequest

DEFAULTS_FIELD = "architecture"


def _default_level(tensor: ArchTensor, cache: dict[str, ResolvedScheme]) -> SchemeChoice | None:
    """The family's default init of ``tensor`` as the last level of scheme choices."""
    if tensor.init is None:
        return None
    name, params = tensor.init
    key = repr((name, sorted(params.items())))
    if key not in cache:
        cache[key] = resolve_scheme(name, dict(params), field=DEFAULTS_FIELD)
    return SchemeChoice(role_schemes={tensor.spec.role: cache[key]}, where="architecture.")


def recipe_context(info: ArchitectureInfo) -> RecipeContext:
    """The model values a recipe reads, from the architecture's resolved config (a recipe's
    own parameters in the request still win: :meth:`RecipeContext.merged`)."""
    config = info.config
    heads = next(
        (config[k] for k in ("n_head", "num_attention_heads", "num_heads") if k in config), None
    )
    d_ff = next(
        (config[k] for k in ("n_inner", "intermediate_size", "d_ff") if config.get(k)), None
    )
    if d_ff is None and info.family == "gpt2":
        d_ff = 4 * info.hidden_size  # GPT2MLP: n_inner None means 4 * n_embd
    d_kv = config.get("d_kv") or config.get("head_dim")
    if d_kv is None and heads:
        d_kv = info.hidden_size // int(heads)
    return RecipeContext(
        family=info.family if info.family != "resnet" else None,
        n_layer=info.num_layers,
        d_model=info.hidden_size,
        n_heads=int(heads) if heads else None,
        d_kv=int(d_kv) if d_kv else None,
        d_ff=int(d_ff) if d_ff else None,
        initializer_range=config.get("initializer_range"),
        initializer_factor=config.get("initializer_factor"),
        tie_word_embeddings=info.tie_word_embeddings,
        pad_token_id=config.get("pad_token_id"),
        block=config.get("block") if info.family == "resnet" else None,
    )


def architecture_plans(
    req: ModelRequest,
    settings: Settings,
    choice: SchemeChoice,
    recipe_of: Callable[[RecipeContext], RecipeRun | None] = lambda base: None,
) -> tuple[list[TensorPlan], dict[str, Any], ArchitectureInfo, RecipeRun | None]:
    """The plans of the requested class, its canonical entry, its :class:`ArchitectureInfo`
    and the request's recipe resolved over the architecture's values (``recipe_of``). A
    recipe replaces the family defaults: the request's own schemes, then the recipe."""
    if req.layout is not Layout.TORCH:
        raise InvalidParameterError(
            "An architecture has the torch layout of its library (Hugging Face / torchvision "
            f"names and shapes); got layout {req.layout.value!r}: use layout 'torch'.",
            field="layout",
        )
    if req.algorithm is Algorithm.TORCH_CPU:
        raise InvalidParameterError(
            "Algorithm torch-cpu reproduces torch.nn modules built one by one, not a "
            "transformers or torchvision class's construction; use blocks-v1 or numpy-legacy.",
            field="algorithm",
        )
    family = str(req.architecture.value) if req.architecture is not None else ""
    class_name = req.class_.value if req.class_ is not None else None
    tensors, info = build_architecture(family, req.config or {}, class_name)
    if len(tensors) > settings.max_layers:
        raise LimitExceededError(
            "WEIGHTINIT_MAX_LAYERS",
            settings.max_layers,
            len(tensors),
            unit="tensors",
            hint="Each tensor of an architecture counts as one layer.",
            field="config",
        )
    limits.check_elements(sum(_numel(t) for t in tensors), settings)
    recipe = recipe_of(recipe_context(info))
    cache: dict[str, ResolvedScheme] = {}
    plans = []
    for tensor in tensors:
        default = None if recipe is not None else _default_level(tensor, cache)
        levels = (choice,) if default is None else (choice, default)
        plans.append(
            plan_tensor(
                tensor.spec,
                layout=req.layout,
                dtype=req.dtype,
                algorithm=req.algorithm,
                levels=levels,
                recipe=recipe,
            )
        )
    canonical = {
        "architecture": family,
        "class": info.class_name,
        "config": {k: list(v) if isinstance(v, tuple) else v for k, v in info.config.items()},
    }
    return plans, canonical, info, recipe


def _numel(tensor: ArchTensor) -> int:
    n = 1
    for d in tensor.spec.shape:
        n *= d
    return n
