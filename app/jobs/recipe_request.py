"""The ``recipe`` field of POST /v1/models: a recipe's name, or an object with its parameters.

The schema lists the names; the core (:mod:`app.core.recipes`) validates each recipe's own
parameters and names the field of anything wrong. An unknown name is refused here with the
nearest valid one.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, WrapValidator
from pydantic_core import PydanticCustomError

from app.core.errors import nearest_name
from app.core.recipes import recipe_names

from .named_spec import named_spec_name

RecipeName = StrEnum("RecipeName", {n: n for n in recipe_names()})  # type: ignore[misc]
RecipeName.__doc__ = "A recipe's name (GET /v1/recipes lists them with their references)."

RECIPE_DESCRIPTION = (
    'An initialization recipe: a name ("gpt2") or {"name": ..., parameters} (e.g. '
    '{"name": "gpt2", "n_layer": 12}). It chooses the scheme of every tensor the request '
    "names none for (role_schemes and a layer's or tensor's own scheme still win; the "
    "request-wide scheme and bias_scheme cannot be given with it), by the tensor's role, name "
    "and block index; each tensor reports the rule that chose it, and the response's top-level "
    "`recipe` says what else to apply (DeepNet's alpha, muP's multipliers and learning-rate "
    "scales). GET /v1/recipes lists recipes, parameters and references. Default: none."
)


class RecipeObject(BaseModel):
    """A recipe with parameters: ``{"name": "megatron", "n_layer": 24}``."""

    model_config = ConfigDict(extra="allow")
    name: Annotated[RecipeName, Field(description="The recipe's name; parameters beside it.")]


def _recipe(value: object, handler: Any) -> object:
    if value is None:
        return None
    name = named_spec_name(value, "recipe")
    names = recipe_names()
    if name not in names:
        hint = nearest_name(name, names)
        raise PydanticCustomError(
            "unknown_recipe",
            "Unknown recipe '{name}'.{hint} Valid recipes: {valid}.",
            {
                "name": name,
                "hint": f" Did you mean {hint!r}?" if hint else "",
                "valid": ", ".join(names),
            },
        )
    return handler(value)


RecipeField = Annotated[
    RecipeName | RecipeObject | None,
    WrapValidator(_recipe),
    Field(description=RECIPE_DESCRIPTION),
]


def recipe_parts(spec: object) -> tuple[str, dict[str, Any]] | None:
    """(name, params) of a validated recipe spec."""
    if spec is None:
        return None
    if isinstance(spec, RecipeObject):
        return str(spec.name.value), dict(spec.model_extra or {})
    return str(getattr(spec, "value", spec)), {}
