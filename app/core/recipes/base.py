"""The recipe vocabulary: a registry row, its parameters, and one request's run of it.

A :class:`Recipe` is one literal row (``registry.py``): a name, the parameters it takes (model
values that land in the :class:`~.context.RecipeContext`, and the recipe's own knobs), a
``rule`` function from one tensor to a :class:`Pick` (a scheme of the scheme registry, its
parameters and the name of the rule that chose it), and a ``report`` function for what the
user must apply beyond the weights (DeepNet's alpha, muP's multipliers). :class:`RecipeRun`
is a row resolved for one request: planning asks it for each tensor that the request names
no scheme for.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from ..errors import InvalidParameterError, UnknownNameError
from ..precision import exact, round_once
from ..schemes import ResolvedScheme, resolve_scheme
from ..types import Role
from .context import CONTEXT_FIELDS, RecipeContext, RecipeTensor

FIELD = "recipe"
KINDS = ("integer", "number", "boolean", "choice", "widths")


@dataclass(frozen=True)
class RecipeParam:
    """One parameter: a model value (a :class:`RecipeContext` field) or the recipe's own."""

    name: str
    kind: str  # one of KINDS; "widths" is an object of model values (muP's base_config)
    description: str
    default: object = None  # None: optional (a model value: needed only where a rule reads it)
    choices: tuple[str, ...] = ()
    positive: bool = True

    def validate(self, value: object, where: str) -> object:
        if self.kind == "boolean":
            if not isinstance(value, bool):
                raise InvalidParameterError(f"{where} must be true or false.", field=where)
            return value
        if self.kind == "choice":
            if not isinstance(value, str) or value not in self.choices:
                raise UnknownNameError(
                    "value", str(value), self.choices, field=where, context=f"for {self.name}"
                )
            return value
        if self.kind == "widths":
            if not isinstance(value, dict) or set(value) != {"d_model"}:
                raise InvalidParameterError(
                    f'{where} must be an object {{"d_model": <base width>}}.', field=where
                )
            return {"d_model": _number(value["d_model"], f"{where}.d_model", integer=True)}
        return _number(value, where, integer=self.kind == "integer", positive=self.positive)


def _number(value: object, where: str, *, integer: bool, positive: bool = True) -> int | float:
    kind = "an integer" if integer else "a number"
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidParameterError(f"{where} must be {kind}, got {value!r}.", field=where)
    if integer and not isinstance(value, int):
        if not (isinstance(value, float) and value.is_integer()):
            raise InvalidParameterError(f"{where} must be {kind}, got {value!r}.", field=where)
        value = int(value)
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidParameterError(f"{where} must be finite, got {value!r}.", field=where)
    if positive and not value > 0:
        raise InvalidParameterError(f"{where} must be > 0, got {value!r}.", field=where)
    return value if integer else float(value)


@dataclass(frozen=True)
class Pick:
    """A rule's answer for one tensor: a registry scheme, its parameters, the rule's name."""

    scheme: str
    params: Mapping[str, object]
    rule: str
    zero_row: int | None = None  # an embedding's padding row, zeroed
    init_multiplier: float | None = None  # muP: the std relative to the base model's
    lr_scale: float | None = None  # muP: the learning-rate multiplier of this tensor


def real(expression: Callable[[Any], Any]) -> float:
    """``expression(mp)`` computed at 60 digits and rounded once to float64."""
    with exact(60) as mp:
        return round_once(expression(mp))


@dataclass(frozen=True)
class RecipeValues:
    """A request's resolved values: the model values and the recipe's own parameters."""

    recipe: str
    context: RecipeContext
    own: Mapping[str, object]

    def need(self, name: str) -> Any:
        """A model value the rule reads, or a 422 naming the recipe, the field and the fix."""
        value = getattr(self.context, name)
        if value is None:
            raise InvalidParameterError(
                f"Recipe {self.recipe!r} needs the model's {name}: give it as "
                f'{{"name": "{self.recipe}", "{name}": ...}} (or use an architecture, whose '
                "config supplies it).",
                field=f"{FIELD}.{name}",
            )
        return value

    def get(self, name: str) -> Any:
        return self.own.get(name)


Rule = Callable[[RecipeTensor, RecipeValues], Pick]
Report = Callable[[RecipeValues], dict[str, Any]]


def no_report(values: RecipeValues) -> dict[str, Any]:
    return {}


@dataclass(frozen=True)
class Recipe:
    """One registry row.

    ``architectures`` are the architectures (``"architecture"`` of POST /v1/models) the recipe
    is made for; ``also`` says which other models it takes (any whose tensors carry roles, or
    the names its rules read). ``applies_to`` joins the two for the README and the API.
    """

    name: str
    summary: str
    formula: str
    reference: str
    architectures: tuple[str, ...]
    also: str
    rule: Rule
    params: tuple[RecipeParam, ...] = ()
    report: Report = no_report
    changes_forward: bool = False

    @property
    def applies_to(self) -> str:
        return "; ".join(part for part in (", ".join(self.architectures), self.also) if part)

    def resolve(self, given: Mapping[str, object], base: RecipeContext) -> RecipeRun:
        """This recipe with the request's parameters checked, over ``base`` model values."""
        known = {p.name: p for p in self.params}
        for key in given:
            if key not in known:
                raise UnknownNameError(
                    "parameter",
                    key,
                    known,
                    field=f"{FIELD}.{key}",
                    context=f"of recipe {self.name!r}",
                )
        model, own = self._split(given, base)
        context = base.merged(RecipeContext(**model))
        values = RecipeValues(self.name, context, own)
        return RecipeRun(self, values)

    def _split(
        self, given: Mapping[str, object], base: RecipeContext
    ) -> tuple[dict[str, Any], dict[str, object]]:
        """The validated values: model values (context fields) and the recipe's own."""
        model: dict[str, Any] = {}
        own: dict[str, object] = {}
        for param in self.params:
            if param.name in given:
                value = param.validate(given[param.name], f"{FIELD}.{param.name}")
            elif param.name in CONTEXT_FIELDS and getattr(base, param.name) is not None:
                continue
            else:
                value = param.default
            if param.kind == "widths":
                if value is not None:
                    assert isinstance(value, dict)
                    model["base_d_model"] = value["d_model"]
            elif param.name in CONTEXT_FIELDS:
                if value is not None:
                    model[param.name] = value
            elif value is not None:
                own[param.name] = value
        return model, own

    def echo_fields(self) -> list[str]:
        return [p.name for p in self.params]


@dataclass
class RecipeRun:
    """A recipe resolved for one request; collects what its rules chose per tensor."""

    recipe: Recipe
    values: RecipeValues
    rules: dict[str, str] = field(default_factory=dict)
    init_multipliers: dict[str, float] = field(default_factory=dict)
    lr_scales: dict[str, float] = field(default_factory=dict)

    def choose(self, tensor: RecipeTensor) -> tuple[ResolvedScheme, Pick]:
        """The scheme the recipe gives ``tensor`` (a 422 when it has no rule for it)."""
        pick = self.recipe.rule(tensor, self.values)
        scheme = resolve_scheme(pick.scheme, dict(pick.params), field=FIELD)
        self.rules[tensor.name] = pick.rule
        if pick.init_multiplier is not None:
            self.init_multipliers[tensor.name] = pick.init_multiplier
        if pick.lr_scale is not None:
            self.lr_scales[tensor.name] = pick.lr_scale
        return scheme, pick

    def describe(self) -> dict[str, Any]:
        """The recipe with every value it resolved (the canonical request, for the ETag)."""
        context = {
            f.name: getattr(self.values.context, f.name)
            for f in fields(self.values.context)
            if getattr(self.values.context, f.name) is not None
        }
        base = context.pop("base_d_model", None)
        widths = {} if base is None else {"base_config": {"d_model": base}}
        return {"name": self.recipe.name, **context, **widths, **dict(self.values.own)}

    def report(self) -> dict[str, Any]:
        """The response's top-level ``recipe`` object: the resolved recipe, its reference and
        whatever the user must apply beyond the weights."""
        out: dict[str, Any] = {**self.describe(), "reference": self.recipe.reference}
        out |= self.recipe.report(self.values)
        if self.init_multipliers:
            out["init_multipliers"] = dict(self.init_multipliers)
        if self.lr_scales:
            out["lr_scales"] = dict(self.lr_scales)
        return out


def no_rule(recipe: str, tensor: RecipeTensor, why: str = "") -> InvalidParameterError:
    """A 422 for a tensor the recipe has no rule for, with the fix."""
    detail = f" ({why})" if why else ""
    return InvalidParameterError(
        f"Recipe {recipe!r} has no rule for tensor {tensor.name!r} (role "
        f"{tensor.role.value}){detail}: name a scheme for it (role_schemes."
        f"{tensor.role.value}, or the tensor's or layer's own scheme), or give it the role the "
        "recipe expects.",
        field=FIELD,
    )


NORMS = {Role.NORM_SCALE: "ones", Role.NORM_SHIFT: "zeros"}
