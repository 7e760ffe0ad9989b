"""The scheme registry as plain data, for GET /v1/schemes and ``weightinit schemes``."""

from __future__ import annotations

from typing import Any

from app.core.schemes import Scheme


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
