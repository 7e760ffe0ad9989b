"""POST /v1/models with a shape map (``tensors``): entries, their roles and fans, then plans.

Limits come first (the number of tensors, counted against ``WEIGHTINIT_MAX_LAYERS``, and the
total elements), then the core infers roles, families and fans
(:func:`app.core.shape_maps.expand_shape_map`), then each tensor is planned under its own
scheme (the object form's ``scheme``) and the request's choices. Nothing is generated here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.core.errors import InvalidParameterError, LimitExceededError, ShapeError, WeightInitError
from app.core.layers import TensorSpec
from app.core.planning import SchemeChoice, plan_tensor
from app.core.plans import TensorPlan
from app.core.recipes import RecipeRun
from app.core.schemes import ResolvedScheme, resolve_scheme
from app.core.shape_maps import MapEntry, count_map_elements, expand_shape_map, field_of
from app.core.types import FIXED_ROLES, Layout, Role

from . import limits
from .limits import Settings
from .requests import MapTensor, ModelRequest, scheme_parts

TensorValue = list[int] | MapTensor


def _entry(name: str, value: TensorValue) -> MapEntry:
    if isinstance(value, MapTensor):
        role = None if value.role is None else Role(str(value.role.value))
        return MapEntry(name, tuple(value.shape), role, value.fan_in, value.fan_out)
    return MapEntry(name, tuple(value))


def _own_scheme(name: str, value: TensorValue) -> ResolvedScheme | None:
    parts = scheme_parts(value.scheme) if isinstance(value, MapTensor) else None
    if parts is None:
        return None
    scheme, params = parts
    return resolve_scheme(scheme, params, field=f"{field_of(name)}.scheme")


def _check_size(tensors: Mapping[str, TensorValue], entries: list[MapEntry], s: Settings) -> None:
    if not tensors:
        raise InvalidParameterError("'tensors' needs at least one tensor.", field="tensors")
    if len(tensors) > s.max_layers:
        raise LimitExceededError(
            "WEIGHTINIT_MAX_LAYERS",
            s.max_layers,
            len(tensors),
            unit="tensors",
            hint="Each tensor of a shape map counts as one layer.",
            field="tensors",
        )
    limits.check_elements(count_map_elements(entries), s)


def _no_fans(spec: TensorSpec, layout: Layout) -> ShapeError:
    beside = " and no weight beside it to take them from" if spec.role is Role.BIAS else ""
    shape = list(spec.shape)
    return ShapeError(
        f"Tensor {spec.name!r} (shape {shape}) has no fans under the {layout.value} layout"
        f"{beside}, and the scheme chosen for it needs them: give it as "
        f'{{"shape": {shape}, "fan_in": ..., "fan_out": ...}}, or name a scheme without fans '
        '(e.g. "bias_scheme": "zeros").',
        field=field_of(spec.name),
    )


def _plan(
    spec: TensorSpec,
    own: ResolvedScheme | None,
    req: ModelRequest,
    choice: SchemeChoice,
    recipe: RecipeRun | None = None,
) -> TensorPlan:
    """One tensor's plan: its own scheme first, then the request's choices."""
    where = f"{field_of(spec.name)}."
    levels: tuple[SchemeChoice, ...] = (choice,)
    if own is not None:
        if spec.role in FIXED_ROLES:
            raise InvalidParameterError(
                f"Tensor {spec.name!r} is a {spec.role.value} and always takes its fixed value "
                "(running means 0, running variances 1, counters 0); remove its scheme.",
                field=f"{where}scheme",
            )
        shift = spec.role in (Role.BIAS, Role.NORM_SHIFT)
        level = SchemeChoice(None if shift else own, own if shift else None, where=where)
        levels = (level, choice)
    try:
        return plan_tensor(
            spec,
            layout=req.layout,
            dtype=req.dtype,
            algorithm=req.algorithm,
            levels=levels,
            norm_layer=own is not None,  # its own scheme names a norm's scale or shift too
            recipe=recipe,
        )
    except WeightInitError as exc:
        if exc.field == f"{where}bias_scheme":  # the object form's field is "scheme"
            exc.field = f"{where}scheme"
        if spec.fans is None and "needs fans" in exc.message:
            raise _no_fans(spec, req.layout) from exc
        raise


def _described(scheme: ResolvedScheme | None) -> dict[str, Any] | None:
    return None if scheme is None else scheme.describe()


def shape_map_plans(
    req: ModelRequest, settings: Settings, choice: SchemeChoice, recipe: RecipeRun | None = None
) -> tuple[list[TensorPlan], list[list[Any]]]:
    """The plans of a shape map, in its order, and the map as the canonical request has it."""
    tensors: Mapping[str, TensorValue] = req.tensors or {}
    entries = [_entry(name, value) for name, value in tensors.items()]
    _check_size(tensors, entries, settings)
    own = {name: _own_scheme(name, value) for name, value in tensors.items()}
    specs = expand_shape_map(entries, req.layout)
    plans = [_plan(spec, own[spec.name], req, choice, recipe) for spec in specs]
    described = [
        [
            e.name,
            list(e.shape),
            e.role.value if e.role is not None else None,
            _described(own[e.name]),
            e.fan_in,
            e.fan_out,
        ]
        for e in entries
    ]
    return plans, described
