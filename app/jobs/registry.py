"""The registries as plain data: schemes (GET /v1/schemes, ``weightinit schemes``), recipes
(GET /v1/recipes) and architectures (GET /v1/architectures). GET /v1/schemes lists all three,
from these same functions."""

from __future__ import annotations

from typing import Any

from app.core.architectures import (
    ARCHITECTURES,
    TORCHVISION_VERSION,
    TRANSFORMERS_VERSION,
    Architecture,
)
from app.core.recipes import RECIPES, Recipe
from app.core.schemes import SCHEMES, Scheme


def scheme_out(scheme: Scheme) -> dict[str, Any]:
    return {
        "name": scheme.name,
        "aliases": list(scheme.aliases),
        "summary": scheme.summary,
        "formula": scheme.formula,
        "reference": scheme.reference,
        "framework": scheme.framework,
        "uses_fans": scheme.uses_fans,
        "random": scheme.random,
        "params": [
            {
                "name": p.name,
                "type": p.kind.value,
                "default": None if p.required else p.default,
                "required": p.required,
                "description": p.description,
                "minimum": p.minimum,
                "maximum": p.maximum,
                "exclusive_minimum": p.exclusive_minimum,
                "exclusive_maximum": p.exclusive_maximum,
                "choices": list(p.choices) or None,
            }
            for p in scheme.params
        ],
    }


def recipe_out(recipe: Recipe) -> dict[str, Any]:
    return {
        "name": recipe.name,
        "summary": recipe.summary,
        "formula": recipe.formula,
        "reference": recipe.reference,
        "applies_to": recipe.applies_to,
        "architectures": list(recipe.architectures),
        "changes_forward": recipe.changes_forward,
        "params": [
            {
                "name": p.name,
                "kind": p.kind,
                "description": p.description,
                "default": p.default,
                "choices": list(p.choices),
            }
            for p in recipe.params
        ],
    }


def architecture_reference(name: str) -> str:
    """The library and version whose names and shapes the architecture follows."""
    if name == "resnet":
        return f"torchvision {TORCHVISION_VERSION}"
    return f"transformers {TRANSFORMERS_VERSION}"


def architecture_out(arch: Architecture) -> dict[str, Any]:
    return {
        "name": arch.name,
        "title": arch.title,
        "default_class": arch.default_class,
        "classes": list(arch.classes),
        "config": [
            {
                "name": name,
                "kind": f.kind,
                "default": list(f.default) if isinstance(f.default, tuple) else f.default,
                "choices": list(f.choices),
            }
            for name, f in arch.fields.items()
        ],
        "ignored": sorted(arch.ignored),
        "reference": architecture_reference(arch.name),
        "recipes": [r.name for r in RECIPES if arch.name in r.architectures],
    }


def schemes_listing() -> dict[str, Any]:
    """GET /v1/schemes: every scheme, and every recipe and architecture with its reference."""
    return {
        "schemes": [scheme_out(s) for s in SCHEMES.values()],
        "recipes": recipes_listing()["recipes"],
        "architectures": architectures_listing()["architectures"],
    }


def recipes_listing() -> dict[str, Any]:
    """GET /v1/recipes."""
    return {"recipes": [recipe_out(r) for r in RECIPES]}


def architectures_listing() -> dict[str, Any]:
    """GET /v1/architectures."""
    return {"architectures": [architecture_out(a) for a in ARCHITECTURES.values()]}
