"""The scheme vocabulary: a registry row, its parameters, its engine and the tensor it sees.

A :class:`Scheme` is one row of a table (``canonical.py``, ``frameworks.py``): a name, its
aliases, an :class:`Engine` (a law-building function with some keyword arguments fixed by the
row, like ``functools.partial(jax.nn.initializers.variance_scaling, 2.0, "fan_in", ...)``),
the caller's parameters (typed, with defaults and ranges), a formula, a reference and the
framework whose semantics the row follows. ``resolve`` validates a caller's parameters once,
eagerly, and returns a :class:`ResolvedScheme` that echoes every resolved parameter; the
engine receives the fixed arguments plus the resolved parameters.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum

from ..errors import InvalidParameterError, ShapeError, UnknownNameError, WeightInitError
from ..fans import Fans
from ..laws import Law
from ..types import Algorithm, DType, Family, Layout, Role

Shape = tuple[int, ...]
Checker = Callable[["Params"], None]  # validates resolved parameters together (a < b, ...)


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


def number(
    name: str,
    default: object,
    description: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    exclusive_minimum: bool = False,
) -> Param:
    """A real-valued parameter (finite; optional bounds)."""
    return Param(
        name,
        ParamKind.NUMBER,
        default,
        description,
        minimum=minimum,
        maximum=maximum,
        exclusive_minimum=exclusive_minimum,
    )


def positive(name: str, default: object, description: str) -> Param:
    """A real-valued parameter > 0 (a std, a scale, a gain)."""
    return number(name, default, description, minimum=0.0, exclusive_minimum=True)


def integer(name: str, default: object, description: str, *, minimum: int | None = None) -> Param:
    """An integer parameter (optional lower bound)."""
    return Param(name, ParamKind.INTEGER, default, description, minimum=minimum)


def choice(name: str, default: str, choices: tuple[str, ...], description: str) -> Param:
    return Param(name, ParamKind.CHOICE, default, description, choices=choices)


def check_less(low: str, high: str) -> Checker:
    """A check that parameter ``low`` is less than parameter ``high`` (bounds of an interval)."""

    def check(p: Params) -> None:
        if not p.num(low) < p.num(high):
            raise InvalidParameterError(
                f"{low} must be less than {high}; "
                f"got {low}={p.num(low)!r}, {high}={p.num(high)!r}.",
                field=low,
            )

    return check


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
    fill: float | None = None  # the constant a default starts it at (PReLU's init), if given
    in1_features: int | None = None  # Bilinear: torch's default bound is 1/sqrt(in1_features)
    algorithm: Algorithm = Algorithm.BLOCKS_V1
    name: str = "weight"
    scheme: str = ""  # the canonical name of the scheme at work, for its error messages

    def require_fans(self) -> Fans:
        if self.fans is None:
            raise ShapeError(
                f"Scheme {self.scheme!r} needs fans, and tensor {self.name!r} of shape "
                f"{list(self.shape)} has none under the {self.layout.value} layout: give "
                "fan_in/fan_out (or in_axes/out_axes) explicitly, or pick a scheme without fans."
            )
        return self.fans

    def require_rank(self, low: int, high: int | None = None) -> None:
        rank = len(self.shape)
        if rank < low or (high is not None and rank > high):
            span = f"{low}" if high == low else f"{low}..{high}" if high else f">= {low}"
            raise ShapeError(
                f"Scheme {self.scheme!r} needs a tensor of rank {span}; tensor {self.name!r} has "
                f"shape {list(self.shape)} (rank {rank})."
            )


@dataclass(frozen=True, eq=False)
class Engine:
    """A law-building function with some of its keyword arguments fixed by a registry row.

    ``function(ctx, **fixed, **arguments)`` builds the law, where ``arguments`` are the
    caller's resolved parameters, each renamed by ``renamed`` where the row's public name
    differs from the function's (Keras calls the std ``stddev``). A test checks, for every
    row, that fixed and parameter names together are exactly the function's keywords.
    """

    function: Callable[..., Law]
    fixed: Mapping[str, object] = field(default_factory=dict)
    renamed: Mapping[str, str] = field(default_factory=dict)

    def __call__(self, params: Params, ctx: TensorContext) -> Law:
        arguments = {self.renamed.get(key, key): value for key, value in params.items()}
        return self.function(ctx, **self.fixed, **arguments)

    def describe(self) -> str:
        """``function(name=value, ..., argument=parameter)``: the fixed arguments, then the
        renamed parameters (``normal(mean=0, std=scale)``), as the README shows them."""
        fixed = [f"{key}={_show(value)}" for key, value in self.fixed.items()]
        renamed = [f"{argument}={param}" for param, argument in self.renamed.items()]
        return f"{self.function.__name__}({', '.join(fixed + renamed)})"


def _show(value: object) -> str:
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


@dataclass(frozen=True)
class Scheme:
    """One registry row: name, aliases, engine (with fixed arguments), parameters, docs."""

    name: str
    summary: str
    formula: str
    reference: str
    engine: Engine
    params: tuple[Param, ...] = ()
    aliases: tuple[str, ...] = ()
    uses_fans: bool = False
    framework: str | None = None
    check: Checker | None = None
    random: bool = True

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
            except WeightInitError as exc:
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
        return self.scheme.engine(self.params, replace(ctx, scheme=self.scheme.name))

    def describe(self) -> dict[str, object]:
        """The canonical name plus every resolved parameter."""
        return {"name": self.scheme.name, **dict(self.values)}
