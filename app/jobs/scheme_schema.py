"""The JSON Schema of a scheme object, generated from the one registry.

A scheme object (``{"name": "he_normal", "mode": "fan_out"}``) is one of a few shapes, one per
set of parameters: the schema is an ``anyOf`` of objects whose ``name`` is an ``enum`` of the
names (canonical and aliases) of the schemes taking exactly those parameters, with each
parameter's type, range or choices, the required ones listed, and no other property.

A scheme's own check may allow only some combinations of its choices (he_normal's
``nonlinearity`` must be in torch's gain table when ``gain_rule`` is ``torch``, its default):
the check is asked about every combination, and the allowed ones are said by one branch per
product of choices (:func:`choice_narrowing`). So a schema-valid scheme object is one the
core accepts, except for relations between numbers (``low < high``) and what depends on the
tensor or on floating-point limits (a scale so small the standard deviation rounds to zero):
the README lists those.

The form is chosen for generic client generators: ``anyOf`` without a ``discriminator``
(a discriminator's mapping must point at named component schemas, one per scheme), each
branch an inline object with a unique ``title``, which openapi-python-client turns into the
class name (``HeUniformParameters``) and openapi-typescript into one member of a union type.
The validation itself stays in the core (its messages name the parameter and the fix); this
module only states the same rules.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

from app.core.errors import WeightInitError
from app.core.schemes import SCHEMES, Param, ParamKind, Scheme

_Key = tuple[tuple[object, ...], ...]


def _param_key(param: Param) -> tuple[object, ...]:
    return (
        param.name,
        param.kind,
        param.required,
        param.minimum,
        param.maximum,
        param.exclusive_minimum,
        param.exclusive_maximum,
        param.choices,
    )


def param_schema(param: Param) -> dict[str, Any]:
    """One parameter: its JSON type, bounds (OpenAPI 3.1's numeric exclusive bounds) or
    choices."""
    if param.kind is ParamKind.CHOICE:
        return {"type": "string", "enum": list(param.choices)}
    schema: dict[str, Any] = {"type": "integer" if param.kind is ParamKind.INTEGER else "number"}
    if param.minimum is not None:
        schema["exclusiveMinimum" if param.exclusive_minimum else "minimum"] = param.minimum
    if param.maximum is not None:
        schema["exclusiveMaximum" if param.exclusive_maximum else "maximum"] = param.maximum
    return schema


def _groups() -> list[list[Scheme]]:
    """Schemes grouped by identical parameters and check, in registry order."""
    groups: dict[_Key, list[Scheme]] = {}
    for scheme in SCHEMES.values():
        check = getattr(scheme.check, "__qualname__", None)
        key = (*(_param_key(p) for p in scheme.params), (check,))
        groups.setdefault(key, []).append(scheme)
    return list(groups.values())


def _descriptions(group: list[Scheme], name: str) -> str | None:
    """A parameter's description when every scheme of the group says the same."""
    found = {p.description for s in group for p in s.params if p.name == name}
    return found.pop() if len(found) == 1 else None


def _accepts(scheme: Scheme, given: dict[str, object]) -> bool:
    try:
        scheme.resolve(given)
    except WeightInitError:
        return False
    return True


MAX_COMBINATIONS = 10_000  # of choices, asked of a scheme's check (he_normal: 208)


def _split_on(
    choices: list[Param], i: int, allowed: set[tuple[str, ...]]
) -> list[dict[str, list[str]]] | None:
    """The branches splitting ``allowed`` on ``choices[i]``: its values grouped by the
    product of the other choices they allow; None if some value allows no product."""
    by = choices[i]
    others = [p for j, p in enumerate(choices) if j != i]
    rows: dict[tuple[tuple[str, ...], ...], list[str]] = {}
    for value in by.choices:
        rest = [c[:i] + c[i + 1 :] for c in allowed if c[i] == value]
        if not rest:
            continue  # never allowed: in no branch
        sets = tuple(
            tuple(v for v in p.choices if any(c[j] == v for c in rest))
            for j, p in enumerate(others)
        )
        if len(rest) != math.prod(len(values) for values in sets):
            return None
        rows.setdefault(sets, []).append(value)
    branches = []
    for sets, values in rows.items():
        narrowed = {by.name: values}  # the parameter split on comes first
        for p, kept in zip(others, sets, strict=True):
            if len(kept) != len(p.choices):
                narrowed[p.name] = list(kept)
        branches.append(narrowed)
    return branches


def choice_narrowing(scheme: Scheme) -> list[dict[str, list[str]]] | None:
    """When the scheme's check allows only some combinations of its choice parameters (the
    others at their defaults): one narrowing per branch, choices by parameter, such that the
    allowed combinations are exactly the union of the branches' products. The branches split
    on one parameter (the one giving the fewest branches, the first of equals); None when
    every combination is allowed, or no single parameter splits them so."""
    choices = [p for p in scheme.params if p.kind is ParamKind.CHOICE]
    combos = list(itertools.product(*(p.choices for p in choices)))
    if (
        scheme.check is None
        or len(choices) < 2
        or len(combos) > MAX_COMBINATIONS
        or any(p.required for p in scheme.params)
    ):
        return None
    names = [p.name for p in choices]
    allowed = {c for c in combos if _accepts(scheme, dict(zip(names, c, strict=True)))}
    if len(allowed) == len(combos):
        return None
    splits = [_split_on(choices, i, allowed) for i in range(len(choices))]
    found = [split for split in splits if split is not None]
    return min(found, key=len) if found else None


def _branch(group: list[Scheme], title: str, narrowed: dict[str, list[str]]) -> dict[str, Any]:
    """One object: the group's names and parameters, choices narrowed to ``narrowed``."""
    names = [name for scheme in group for name in (scheme.name, *scheme.aliases)]
    first = group[0]
    properties: dict[str, Any] = {"name": {"type": "string", "enum": names}}
    required = ["name"]
    for param in first.params:
        schema = param_schema(param)
        if param.name in narrowed:
            schema["enum"] = narrowed[param.name]
            if param.default not in narrowed[param.name]:  # absent means the default
                required.append(param.name)
        description = _descriptions(group, param.name)
        if description:
            schema["description"] = description
        properties[param.name] = schema
        if param.required:
            required.append(param.name)
    return {
        "title": title,
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


def _branches(group: list[Scheme]) -> list[dict[str, Any]]:
    first = group[0]
    if not first.params:
        return [_branch(group, "scheme without parameters", {})]
    title = f"{first.name} parameters"
    narrowings = choice_narrowing(first)
    if narrowings is None:
        return [_branch(group, title, {})]
    branches = []
    for i, narrowed in enumerate(narrowings):
        by, values = next(iter(narrowed.items()))  # "he_normal parameters, gain_rule torch"
        named = f"{title}, {by} {' '.join(values)}"
        branches.append(_branch(group, named if len(named) <= 60 else f"{title} {i + 1}", narrowed))
    return branches


def scheme_object_branches() -> list[dict[str, Any]]:
    """The ``anyOf`` branches of a scheme object, one per set of parameters (and per set of
    allowed choices, where a check narrows them)."""
    return [branch for group in _groups() for branch in _branches(group)]


def names_alone() -> list[str]:
    """The names (canonical and aliases, sorted) of the schemes that need no parameter: the
    ones a bare name can give."""
    return sorted(
        name
        for scheme in SCHEMES.values()
        if not any(p.required for p in scheme.params)
        for name in (scheme.name, *scheme.aliases)
    )
