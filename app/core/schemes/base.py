"""The scheme vocabulary: parameters, the tensor context a scheme sees, and validation.

A :class:`Scheme` is data: a canonical name, aliases, typed parameters with defaults and
ranges, a formula and a reference, plus one ``build(params, context) -> Law`` function shared
by every row of its family. ``resolve`` validates a caller's parameters once, eagerly, and
returns a :class:`ResolvedScheme` that echoes every resolved parameter.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from ..errors import InvalidParameterError, ShapeError, UnknownNameError
from ..fans import Fans
from ..laws import Law
from ..types import Algorithm, DType, Family, Layout, Role

Shape = tuple[int, ...]


class ParamKind(StrEnum):
    NUMBER = "number"
    INTEGER = "integer"
    CHOICE = "choice"


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED = _Required()


@dataclass(frozen=True)
class Param:
    """One parameter of a scheme: type, default (or REQUIRED), range, choices."""

    name: str
    kind: ParamKind
    default: object
    description: str
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    exclusive_maximum: bool = False
    choices: tuple[str, ...] = ()

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    def range_text(self) -> str:
        parts = []
        if self.minimum is not None:
            parts.append(f"{'>' if self.exclusive_minimum else '>='} {self.minimum:g}")
        if self.maximum is not None:
            parts.append(f"{'<' if self.exclusive_maximum else '<='} {self.maximum:g}")
        return " and ".join(parts)

    def validate(self, value: object, where: str) -> object:
        """The value converted to its canonical type, or a typed error naming the field."""
        if self.kind is ParamKind.CHOICE:
            if not isinstance(value, str):
                raise InvalidParameterError(
                    f"{where} must be one of {', '.join(self.choices)}; got {value!r}.",
                    field=where,
                )
            if value not in self.choices:
                raise UnknownNameError(
                    "value", value, self.choices, field=where, context=f"for {self.name}"
                )
            return value
        if isinstance(value, bool) or not isinstance(value, int | float):
            kind = "an integer" if self.kind is ParamKind.INTEGER else "a number"
            raise InvalidParameterError(f"{where} must be {kind}, got {value!r}.", field=where)
        if self.kind is ParamKind.INTEGER:
            if not isinstance(value, int):
                raise InvalidParameterError(
                    f"{where} must be an integer, got {value!r}.", field=where
                )
            number: float = value
        else:
            try:
                number = float(value)
            except OverflowError:
                number = math.inf
            if not math.isfinite(number):
                raise InvalidParameterError(f"{where} must be finite, got {value!r}.", field=where)
        low_bad = self.minimum is not None and (
            number <= self.minimum if self.exclusive_minimum else number < self.minimum
        )
        high_bad = self.maximum is not None and (
            number >= self.maximum if self.exclusive_maximum else number > self.maximum
        )
        if low_bad or high_bad:
            raise InvalidParameterError(
                f"{where} must be {self.range_text()}, got {value!r}.", field=where
            )
        return value if self.kind is ParamKind.INTEGER else number


def number(name: str, default: object, description: str, **limits: object) -> Param:
    return Param(name, ParamKind.NUMBER, default, description, **limits)  # type: ignore[arg-type]


def integer(name: str, default: object, description: str, **limits: object) -> Param:
    return Param(name, ParamKind.INTEGER, default, description, **limits)  # type: ignore[arg-type]


def choice(name: str, default: str, choices: tuple[str, ...], description: str) -> Param:
    return Param(name, ParamKind.CHOICE, default, description, choices=choices)


class Params(dict[str, object]):
    """Resolved parameter values with typed accessors."""

    def num(self, name: str) -> float:
        value = self[name]
        assert isinstance(value, float)
        return value

    def int_(self, name: str) -> int:
        value = self[name]
        assert isinstance(value, int)
        return value

    def text(self, name: str) -> str:
        value = self[name]
        assert isinstance(value, str)
        return value


@dataclass(frozen=True)
class TensorContext:
    """What a scheme knows about the tensor it initialises."""

    shape: Shape
    fans: Fans | None
    layout: Layout = Layout.TORCH
    dtype: DType = DType.FLOAT32
    role: Role = Role.WEIGHT
    family: Family = Family.TENSOR
    cell: str | None = None
    hidden_size: int | None = None
    algorithm: Algorithm = Algorithm.BLOCKS_V1
    name: str = "weight"

    def require_fans(self, scheme: str) -> Fans:
        if self.fans is None:
            raise ShapeError(
                f"Scheme {scheme!r} needs fans, and tensor {self.name!r} of shape "
                f"{list(self.shape)} has none under the {self.layout.value} layout: give "
                "fan_in/fan_out (or in_axes/out_axes) explicitly, or pick a scheme without fans."
            )
        return self.fans

    def require_rank(self, scheme: str, low: int, high: int | None = None) -> None:
        rank = len(self.shape)
        if rank < low or (high is not None and rank > high):
            span = f"{low}" if high == low else f"{low}..{high}" if high else f">= {low}"
            raise ShapeError(
                f"Scheme {scheme!r} needs a tensor of rank {span}; tensor {self.name!r} has "
                f"shape {list(self.shape)} (rank {rank})."
            )


Builder = Callable[[Params, TensorContext], Law]
Checker = Callable[[Params], None]


@dataclass(frozen=True)
class Scheme:
    """One registry row."""

    name: str
    summary: str
    formula: str
    reference: str
    build: Builder
    params: tuple[Param, ...] = ()
    aliases: tuple[str, ...] = ()
    uses_fans: bool = False
    framework: str | None = None
    check: Checker | None = None
    random: bool = True
    legacy: bool = field(default=False)

    def resolve(self, given: Mapping[str, object] | None, where: str = "scheme") -> ResolvedScheme:
        given = dict(given or {})
        known = {p.name for p in self.params}
        for key in given:
            if key not in known:
                if not known:
                    raise InvalidParameterError(
                        f"Scheme {self.name!r} takes no parameters; got {key!r}.",
                        field=f"{where}.{key}",
                    )
                raise UnknownNameError(
                    "parameter",
                    key,
                    known,
                    field=f"{where}.{key}",
                    context=f"of scheme {self.name!r}",
                )
        values = Params()
        for param in self.params:
            if param.name in given:
                values[param.name] = param.validate(given[param.name], f"{where}.{param.name}")
            elif param.required:
                raise InvalidParameterError(
                    f"Scheme {self.name!r} needs parameter {param.name!r} ({param.description}).",
                    field=f"{where}.{param.name}",
                )
            else:
                values[param.name] = param.default
        if self.check is not None:
            try:
                self.check(values)
            except InvalidParameterError as exc:
                exc.field = f"{where}.{exc.field}" if exc.field else where
                raise
        return ResolvedScheme(self, tuple(values.items()))


@dataclass(frozen=True)
class ResolvedScheme:
    """A scheme with every parameter validated and defaulted."""

    scheme: Scheme
    values: tuple[tuple[str, object], ...]

    @property
    def name(self) -> str:
        return self.scheme.name

    @property
    def params(self) -> Params:
        return Params(self.values)

    def law(self, ctx: TensorContext) -> Law:
        return self.scheme.build(self.params, ctx)

    def describe(self) -> dict[str, object]:
        """The canonical name plus every resolved parameter."""
        return {"name": self.scheme.name, **dict(self.values)}
