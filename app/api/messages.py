"""Validation errors in words: what pydantic reports, said for people.

No message names a pydantic type, a regex or a validator: a type or range error says what was
expected and what came (``Expected an integer; got the string "4".``), a pattern names the
form in words (:data:`FORMS`), an unknown field names the nearest valid one and the valid
fields, an unknown layer kind points a framework's class name at its kind
(``Linear`` -> ``dense``). Messages our own validators raise pass through as they are.
"""

from __future__ import annotations

import json
import typing
from collections.abc import Callable, Sequence
from typing import Any, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import core_schema

from app.core.errors import nearest_name
from app.core.layer_values import unknown_kind
from app.core.layers import LAYER_KINDS
from app.jobs.arguments import rows_of
from app.jobs.names import NAME_RULE
from app.jobs.requests import SEED_RULE, seed_problem

SEED_MISSING = f"seed is required: {SEED_RULE} (the same seed gives the same weights)."

# What a query or name field must look like, in words (instead of pydantic's regex).
FORMS = {
    "shape": "at most 8 comma-separated positive integers, e.g. 256,784",
    "seed": "a decimal integer 0..18446744073709551615",
    "shard": "DIM,INDEX,COUNT (integers, DIM may be negative, COUNT 1..1048576), e.g. 0,3,8",
    "in_axes": "1 to 8 comma-separated integers, e.g. 0 or -2,-1",
    "out_axes": "1 to 8 comma-separated integers, e.g. 0 or -2,-1",
    "name": NAME_RULE,
    "format": "one of json, npz, safetensors",
}
# pydantic's error types, each as what was expected ({...} from the error's ctx).
EXPECTED = {
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "finite_number": "a finite number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "string_type": "a string",
    "string_too_short": "at least {min_length} characters",
    "string_too_long": "at most {max_length} characters",
    "list_type": "a list",
    "too_short": "at least {min_length} items",
    "too_long": "at most {max_length} items",
    "dict_type": "an object",
    "model_type": "an object",
    "model_attributes_type": "an object",
    "greater_than": "a value > {gt}",
    "greater_than_equal": "a value >= {ge}",
    "less_than": "a value < {lt}",
    "less_than_equal": "a value <= {le}",
    "none_required": "null",
}
PYDANTIC_TYPES = frozenset(get_args(core_schema.ErrorType)) - {"value_error", "assertion_error"}
# Body fields that are query parameters of the routes (a common slip).
QUERY_NAMES = frozenset({"format", "tensor", "json_layout", "encoding", "blocks", "manifest"})
_TYPE_WORDS = {"int", "str", "float", "bool", "list", "dict", "none", "enum", "literal"}


def shown(value: object) -> str:
    """A received value, briefly, in JSON's words."""
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, int | float):
        text = repr(value)
        return text if len(text) <= 40 else text[:37] + "..."
    if isinstance(value, str):
        text = json.dumps(value)
        return "the string " + (text if len(text) <= 60 else text[:56] + '..."')
    if isinstance(value, list | tuple):
        return f"a list of {len(value)} item{'' if len(value) == 1 else 's'}"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _is_union_tag(item: str) -> bool:
    """pydantic names union members in ``loc`` ('constrained-int', 'SchemeObject', ...)."""
    return any(c in item for c in "-[](") or item[:1].isupper() or item in _TYPE_WORDS


def _body_loc(loc: Sequence[int | str]) -> list[int | str]:
    items = list(loc)
    if items and items[0] in ("body", "query", "path", "header"):
        items = items[1:]
    return items


def field_path(loc: Sequence[int | str]) -> str:
    """pydantic's loc as a dotted path: ('body', 'layer', 'dense', 'x') -> 'layer.x';
    ('body', 'tensors', 'fc.weight', 'role') -> 'tensors[fc.weight].role'."""
    parts: list[str] = []
    items = _body_loc(loc)
    for i, item in enumerate(items):
        if isinstance(item, int) or (i == 1 and items[0] == "tensors"):
            parts.append(f"[{item}]")  # an index, or a shape map's tensor name (holds dots)
            continue
        previous = items[i - 1] if i else None
        if previous == "layer" and item in LAYER_KINDS:
            continue  # the discriminated union's tag is not a field
        if _is_union_tag(item):
            continue
        parts.append(("." if parts else "") + item)
    return "".join(parts) or "body"


# ---- the model at a loc, for the fields an unknown one could have been ----------------------


def _members(annotation: Any) -> list[Any]:
    """The types a field's annotation admits (Annotated, Optional and unions unwrapped)."""
    origin = get_origin(annotation)
    if origin is typing.Annotated:
        return _members(get_args(annotation)[0])
    if origin is typing.Union or str(origin) == "<class 'types.UnionType'>":
        return [m for arg in get_args(annotation) for m in _members(arg)]
    return [] if annotation is type(None) else [annotation]


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _tag(model: type[BaseModel]) -> str | None:
    field = model.model_fields.get("kind")
    tags = get_args(field.annotation) if field is not None else ()
    return str(tags[0]) if len(tags) == 1 else None


def _step(annotation: Any, item: int | str) -> Any:
    for member in _members(annotation):
        if _is_model(member) and isinstance(item, str) and item in member.model_fields:
            return member.model_fields[item].annotation
        if _is_model(member) and _tag(member) == item:
            return member
        origin = get_origin(member)
        if origin is list and isinstance(item, int):
            return get_args(member)[0]
        if origin is dict and isinstance(item, str):
            return get_args(member)[1]
    return None


def model_at(root: type[BaseModel], loc: Sequence[int | str]) -> type[BaseModel] | None:
    """The request model found at ``loc`` (a body error's loc, minus the 'body' prefix)."""
    current: Any = root
    for item in loc:
        current = _step(current, item)
        if current is None:
            return None
    members = [m for m in _members(current) if _is_model(m)]
    return members[0] if len(members) == 1 else None


def unknown_field(root: type[BaseModel] | None, loc: Sequence[int | str]) -> str:
    """An unknown field, named with the nearest valid one and the valid ones."""
    items = _body_loc(loc)
    name = str(items[-1]) if items else ""
    model = model_at(root, items[:-1]) if root is not None else None
    if model is None:
        return f"Unknown field {name!r}: remove it (unknown fields are rejected, never ignored)."
    kind = _tag(model)
    framework = {n for _, row in rows_of(kind) for n in row.uses()} if kind else set()
    ours = [f for f in model.model_fields if f not in framework]
    hint = nearest_name(name, ours) or nearest_name(name, list(model.model_fields))
    parent = field_path(items[:-1]) if items[:-1] else ""
    where = f" of a {kind} layer" if kind else (f" in {parent}" if parent else "")
    said = f" Did you mean {hint!r}?" if hint else ""
    if not parent and name in QUERY_NAMES:
        said = f" {name!r} is a query parameter: send it as ?{name}=..."
    valid = ", ".join(ours)
    also = " (and the torch, Keras and Flax arguments the API schema lists)" if framework else ""
    return f"Unknown field {name!r}{where}.{said} Valid fields: {valid}{also}."


# ---- one error --------------------------------------------------------------------------------


def expected(err: dict[str, Any]) -> str | None:
    """What the value should have been, for pydantic's own type and range errors."""
    kind = str(err.get("type", ""))
    if kind == "string_pattern_mismatch":
        last = next((p for p in reversed(err.get("loc", ())) if isinstance(p, str)), "")
        return FORMS.get(str(last), "a value of the documented form")
    literal = str((err.get("ctx") or {}).get("expected", "'"))
    if kind == "literal_error" and "'" not in literal:  # a number, such as num_groups' -1
        return literal
    phrase = EXPECTED.get(kind)
    if phrase is None:
        return None
    try:
        return phrase.format(**(err.get("ctx") or {}))
    except (KeyError, IndexError):
        return phrase.split(" {")[0]


def _unknown_value(err: dict[str, Any]) -> str:
    value = err.get("input")
    wanted = err.get("ctx", {}).get("expected", "")
    choices = [c.strip(" '") for c in str(wanted).replace(" or ", ",").split(",")]
    hint = nearest_name(str(value), choices)
    suggestion = f" Did you mean {hint!r}?" if hint else ""
    return f"Unknown value {value!r}.{suggestion} Valid values: {', '.join(choices)}."


def message(err: dict[str, Any], root: type[BaseModel] | None = None) -> str:
    """One error in words (for the errors :func:`expected` does not cover)."""
    kind = str(err.get("type", ""))
    value = err.get("input")
    special: dict[str, Callable[[], str]] = {
        "union_tag_invalid": lambda: str(unknown_kind(str(err.get("ctx", {}).get("tag")), "")),
        "union_tag_not_found": lambda: f"Missing 'kind'. Valid kinds: {', '.join(LAYER_KINDS)}.",
        "missing": lambda: "This field is required.",
        "extra_forbidden": lambda: unknown_field(root, err.get("loc", ())),
    }
    if kind in special:
        return special[kind]()
    if kind in ("literal_error", "enum") and isinstance(value, str):
        return _unknown_value(err)
    if kind in PYDANTIC_TYPES:  # pydantic's words, which name its types: ours instead
        return f"This value is not valid here; got {shown(value)}."
    # Our validators' own words (value_error and our custom types), without the prefix.
    return str(err.get("msg", "Invalid value.")).removeprefix("Value error, ")


def validation_errors(
    errors: Sequence[Any], root: type[BaseModel] | None = None
) -> list[dict[str, str]]:
    """One entry per field; what a union's members expected is said once ("an integer or a
    string"), other messages follow it."""
    wanted: dict[str, list[str]] = {}
    said: dict[str, list[str]] = {}
    received: dict[str, object] = {}
    for err in errors:
        field = field_path(err.get("loc", ()))
        if err.get("type") in ("union_tag_invalid", "union_tag_not_found"):
            field += ".kind"  # the discriminator is the offending field
        said.setdefault(field, [])
        if field == "seed":  # every bad seed, in the body or the GET query: one message
            missing = err.get("type") == "missing"
            said[field] = [SEED_MISSING if missing else seed_problem(err.get("input"))]
            continue
        phrase = expected(err)
        if phrase is not None:
            wanted.setdefault(field, [])
            if phrase not in wanted[field]:
                wanted[field].append(phrase)
            received.setdefault(field, err.get("input"))
            continue
        text = message(err, root)
        if text not in said[field]:
            said[field].append(text)
    out = []
    for field, texts in said.items():
        if field in wanted:
            texts = [
                f"Expected {' or '.join(wanted[field])}; got {shown(received[field])}.",
                *texts,
            ]
        out.append({"field": field, "message": " ".join(texts)})
    return out
