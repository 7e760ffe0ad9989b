"""A spec given as a name or as ``{"name": ..., parameters}``: schemes and recipes alike."""

from __future__ import annotations

from pydantic_core import PydanticCustomError


def named_spec_name(value: object, kind: str) -> str:
    """The name of a ``kind`` spec given as a name or ``{"name": ..., parameters}`` (schemes,
    recipes); a custom error ``<kind>_type`` or ``<kind>_name`` otherwise."""
    name = (
        value if isinstance(value, str) else value.get("name") if isinstance(value, dict) else None
    )
    if not isinstance(value, str | dict):
        raise PydanticCustomError(
            f"{kind}_type", f"a {kind} is a name or an object with 'name' and its parameters"
        )
    if not isinstance(name, str):
        raise PydanticCustomError(f"{kind}_name", f"the {kind} object needs a string 'name'")
    return name
