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
from typing import Annotated, Any, Optional, TypeVar, Union, get_args

from pydantic import BaseModel, ConfigDict, Field, StrictBool
from pydantic.config import JsonDict
from typing_extensions import TypeAliasType

from app.core.arguments import ARGUMENTS, Arguments, Use
from app.core.generated_block import GeneratedBlock
from app.core.types import Layout

M = TypeVar("M", bound=type[BaseModel])

# Every string of a body is text (app.api.json_guard), as in app.jobs.requests.
_TEXT: dict[str, Any] = {"pattern": r"^[^\x00-\x1f\x7f-\x9f]*$"}
_KEYS = Field(json_schema_extra={"propertyNames": _TEXT})
Text = Annotated[str, Field(json_schema_extra=_TEXT)]
# A framework argument's value, nested at most three deep (a Keras regularizer's or policy's
# serialised config is two): any JSON whose strings are text. Named, so the schema says it once.
JsonScalar = TypeAliasType("JsonScalar", Union[bool, int, float, Text, None])  # noqa: UP007
JsonValue1 = TypeAliasType(
    "JsonValue1",
    Union[JsonScalar, list[JsonScalar], Annotated[dict[str, JsonScalar], _KEYS]],  # noqa: UP007
)
JsonValue2 = TypeAliasType(
    "JsonValue2",
    Union[JsonScalar, list[JsonValue1], Annotated[dict[str, JsonValue1], _KEYS]],  # noqa: UP007
)
ArgumentValue = TypeAliasType(
    "ArgumentValue",
    Union[JsonScalar, list[JsonValue2], Annotated[dict[str, JsonValue2], _KEYS]],  # noqa: UP007
)
InitializerValue = (
    Annotated[str, Field(min_length=1, max_length=200, json_schema_extra=_TEXT)]
    | Annotated[dict[str, JsonValue2], _KEYS]
    | None
)
DtypeValue = (
    Annotated[str, Field(min_length=1, max_length=100, json_schema_extra=_TEXT)]
    | Annotated[dict[str, JsonValue2], _KEYS]
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
    others = [lay for lay, row in rows_of(kind) if lay is not Layout.TORCH]
    if any(name in row.uses() for lay, row in rows_of(kind) if lay is not Layout.TORCH):
        return "layout torch"
    if len(others) == len(Layout) - 1:
        return "every layout"
    return "layout " + " or ".join(lay.value for lay in (Layout.TORCH, *others))


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
    if use is Use.FOLLOWS:
        leader, default = row.follows[name]
        return (
            f"the output projection's bias scheme; weightinit names one scheme per role, so "
            f'only the scheme {leader} names (default "{default}")'
        )
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
    if uses <= {Use.INITIALIZER, Use.STATS, Use.FOLLOWS}:
        return InitializerValue
    if uses == {Use.DTYPE}:
        return DtypeValue
    return ArgumentValue  # accepted and ignored (under one layout at least)


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


# ---- the README's table ------------------------------------------------------------------------

START = "<!-- arguments:start (generated by `make readme`; do not edit) -->"
END = "<!-- arguments:end -->"


def _code(names: list[str]) -> str:
    return ", ".join(f"`{n}`" for n in names) or "-"


def _read_otherwise(row: Arguments) -> str:
    parts = [f"`{row.dtype}` = the request's dtype"] if row.dtype else []
    parts += [f"`{n}` keeps the {part}" for n, part in row.norm_parts.items()]
    parts += [f"`{n}` = {str(v).lower()} only" for n, v in row.fixed.items()]
    parts += [f'`{n}` = "{v}" only' for n, v in row.stats.items()]
    parts += [f"`{row.forget_bias}`: forget gate bias 1"] if row.forget_bias else []
    parts += [f"`{n}` = `{leader}`'s scheme only" for n, (leader, _) in row.follows.items()]
    return ", ".join(parts) or "-"


def render_table() -> str:
    """One markdown row per framework class and layout: the kinds it is, the names of our
    fields, the initializer arguments and their roles, the rest it reads, what it ignores."""
    lines = [
        "| kinds | layout | framework class | our fields' names | initializers (roles) "
        "| read otherwise | accepted and ignored |",
        "|---|---|---|---|---|---|---|",
    ]
    rows: dict[tuple[Layout, int], tuple[Arguments, list[str]]] = {}
    for (layout, kind), row in ARGUMENTS.items():
        rows.setdefault((layout, id(row)), (row, []))[1].append(kind)
    for (layout, _), (row, kinds) in rows.items():
        aliases = ", ".join(f"`{a}` = `{t}`" for a, t in row.aliases.items()) or "-"
        inits = ", ".join(
            f"`{n}` ({', '.join(r.value for r in roles)})" for n, roles in row.initializers.items()
        )
        cells = (
            ", ".join(kinds),
            layout.value,
            f"`{row.source}`",
            aliases,
            inits or "-",
            _read_otherwise(row),
            _code(list(row.ignored)),
        )
        lines.append(f"| {' | '.join(cells)} |")
    return "\n".join(lines)


BLOCK = GeneratedBlock("framework-argument table", START, END, render_table)


def replace_block(text: str) -> str:
    """``text`` with the generated table between the markers."""
    return BLOCK.replace(text)


if __name__ == "__main__":  # python -m app.jobs.arguments [--write README.md]
    import sys

    raise SystemExit(BLOCK.main(sys.argv[1:]))
