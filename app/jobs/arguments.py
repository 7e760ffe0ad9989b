"""The layer models' framework arguments, generated from the core's one table.

Every name a layout's row of :data:`app.core.arguments.ARGUMENTS` reads for a layer kind
becomes an optional field of that kind's request model (:func:`framework_arguments`), so
``openapi.json`` publishes it with what it does, and a generated client can send ``units`` or
``kernel_initializer``. The model only checks the value's JSON type; the core reads it
(:mod:`app.core.layer_values`): which names a layout accepts, aliases, initializers, dtypes.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Annotated, Any, Optional, TypeVar, get_args

from pydantic import BaseModel, ConfigDict, Field, StrictBool
from pydantic.config import JsonDict

from app.core.arguments import ARGUMENTS, Arguments, Use
from app.core.types import Layout

M = TypeVar("M", bound=type[BaseModel])

# Every string of a body is text (app.api.json_guard), as in app.jobs.requests.
_TEXT: dict[str, Any] = {"pattern": r"^[^\x00-\x1f\x7f-\x9f]*$"}
InitializerValue = (
    Annotated[str, Field(min_length=1, max_length=200, json_schema_extra=_TEXT)]
    | Annotated[dict[str, Any], Field(json_schema_extra={"propertyNames": _TEXT})]
    | None
)
DtypeValue = (
    Annotated[str, Field(min_length=1, max_length=100, json_schema_extra=_TEXT)]
    | Annotated[dict[str, Any], Field(json_schema_extra={"propertyNames": _TEXT})]
    | None
)
_FRAMEWORK = {Layout.TORCH: "torch", Layout.KERAS: "Keras", Layout.JAX: "Flax"}


def rows_of(kind: str) -> list[tuple[Layout, Arguments]]:
    """The framework rows of one layer kind, torch's first."""
    return [(layout, row) for (layout, k), row in ARGUMENTS.items() if k == kind]


def _where(layout: Layout, kind: str, name: str) -> str:
    """Torch's names are read under every layout whose framework does not read them too."""
    if layout is not Layout.TORCH:
        return f"layout {layout.value}"
    shared = any(name in row.uses() for lay, row in rows_of(kind) if lay is not Layout.TORCH)
    return "layout torch" if shared else "every layout"


def _roles(row: Arguments, name: str) -> str:
    return " and ".join(role.value for role in row.initializers[name])


def _what(layout: Layout, row: Arguments, name: str, use: Use) -> str:
    """What ``name`` does under ``row``, in words."""
    if use is Use.ALIAS:
        return f"its name of {row.aliases[name]}"
    if use is Use.INITIALIZER:
        return (
            f"the scheme of the {_roles(row, name)} tensors: a {_FRAMEWORK[layout]} initializer "
            "name or object (or a weightinit scheme name)"
        )
    words = {
        Use.DTYPE: "the parameters' dtype; must equal the request's dtype",
        Use.NORM_PART: f"keep the {row.norm_parts.get(name)} (default true)",
        Use.FIXED: f"only {str(row.fixed.get(name)).lower()}, its default (other values are "
        "not built)",
        Use.STATS: f'only "{row.stats.get(name)}" (running statistics take fixed values)',
        Use.FORGET_BIAS: "true (default) starts the forget gate's bias at 1",
    }
    return words.get(use, "accepted and ignored (changes no parameter)")


def describe(kind: str, name: str) -> str:
    """The description of a framework argument of ``kind``, for every row that reads it
    (rows that read it alike share one sentence)."""
    said: dict[str, list[str]] = {}
    for layout, row in rows_of(kind):
        if name in row.uses():
            what = _what(layout, row, name, row.uses()[name])
            said.setdefault(what, []).append(f"{row.source} ({_where(layout, kind, name)})")
    return "; ".join(f"{', '.join(whose)}: {what}" for what, whose in said.items()) + "."


def alias_description(kind: str, ours: str, text: str = "") -> str:
    """A field of ours that frameworks name otherwise: which names, under which layout."""
    names = [
        f"{name} ({row.source}, {_where(layout, kind, name)})"
        for layout, row in rows_of(kind)
        for name, target in row.aliases.items()
        if target == ours
    ]
    return (text + " " if text else "") + "Also given as " + ", ".join(names) + "."


def _annotation(model: type[BaseModel], kind: str, name: str) -> Any:
    """The field's type: its target's for an alias, a boolean for flags, an initializer's
    name or object, a dtype, else any JSON value."""
    uses = {row.uses()[name] for _, row in rows_of(kind) if name in row.uses()}
    targets = {row.aliases[name] for _, row in rows_of(kind) if name in row.aliases}
    if uses == {Use.ALIAS} and len(targets) == 1:
        info = model.model_fields[targets.pop()]
        same: Any = info.annotation
        if info.metadata:
            same = Annotated[same, *info.metadata]
        return Optional[same]  # noqa: UP045 (a runtime type, not an annotation)
    if uses <= {Use.NORM_PART, Use.FIXED, Use.FORGET_BIAS}:
        return StrictBool | None
    if uses <= {Use.INITIALIZER, Use.STATS}:
        return InitializerValue
    if uses == {Use.DTYPE}:
        return DtypeValue
    return Any  # accepted and ignored (under one layout at least): any JSON value


def _none_of(kind: str, ours: str) -> JsonDict:
    """JSON Schema for "none of our field's names is given" (absent or null)."""
    names = [ours] + [
        name for _, row in rows_of(kind) for name, target in row.aliases.items() if target == ours
    ]
    return {"properties": {name: {"type": "null"} for name in dict.fromkeys(names)}}


def framework_arguments(*, required: tuple[str, ...] = ()) -> Callable[[M], M]:
    """Add a layer model's framework arguments as optional fields.

    ``required`` names our fields that a framework's alias may give instead (so the model
    declares them optional); the schema says one of each field's names is required.
    """

    def decorate(model: M) -> M:
        fields = model.__pydantic_fields__
        (kind,) = get_args(fields["kind"].annotation)
        names = dict.fromkeys(n for _, row in rows_of(kind) for n in row.uses())
        clash = [n for n in names if n in fields]
        assert not clash, f"{kind}: framework arguments shadow fields {clash}"
        for ours in required:
            assert not fields[ours].is_required(), f"{kind}.{ours} must be optional"
        annotations = {
            name: Annotated[_annotation(model, kind, name), Field(description=describe(kind, name))]
            for name in names
        }
        extra: JsonDict | None = None
        if required:  # each of them under one of its names
            extra = {"not": {"anyOf": [_none_of(kind, ours) for ours in required]}}
        namespace: dict[str, Any] = {
            "__annotations__": annotations,
            "__module__": model.__module__,
            "__qualname__": model.__qualname__,
            "__doc__": model.__doc__,
            "model_config": ConfigDict(extra="forbid", json_schema_extra=extra),
            **dict.fromkeys(names),
        }
        built = types.new_class(model.__name__, (model,), exec_body=lambda ns: ns.update(namespace))
        return built  # type: ignore[return-value]

    return decorate
