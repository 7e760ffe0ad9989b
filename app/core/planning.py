"""From a layer spec and scheme choices to tensor plans (the core's request-level entry point).

Every tensor has a :class:`Role`. A request names schemes at up to three levels, most specific
first: the layer's own fields, the request's, then a shorthand's defaults (the ``mlp``
shorthand's zero biases). At each level, in order:

1. ``role_schemes[role]``, when the level names the tensor's role (a layer's framework
   arguments, such as Keras' ``kernel_initializer``, name roles at the layer's level and win
   over its own ``role_schemes``);
2. ``scheme`` for a weight-like role (``weight`` through ``readout``), ``bias_scheme`` for a
   ``bias``;
3. on a norm layer (a layer with no weight-like tensor) its own level's ``scheme`` and
   ``bias_scheme`` name the scale and the shift (a PReLU layer's ``scheme`` its slope); a
   request-wide scheme never reaches a norm or an activation's parameter.

The first choice found wins; with none, a request's recipe (``recipes/``) chooses, naming
the rule it applied (a tensor it has no rule for is a 422); with no recipe, the layout's
framework default (``torch.default``,
``keras.default``, ``flax.default``) initialises the tensor, which keeps norm scales at 1,
shifts at 0 and PReLU's slope at its framework's starting value. Running statistics (mean 0,
variance 1) and torch's ``num_batches_tracked`` (int64 0) always take their fixed values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from .errors import InvalidParameterError, WeightInitError
from .laws import ConstantLaw, CounterLaw, Law
from .layers import LayerSpec, TensorSpec, expand_layer
from .plans import TensorPlan
from .recipes import RecipeRun, RecipeTensor
from .schemes import LAYOUT_DEFAULT, ResolvedScheme, TensorContext, resolve_scheme
from .torch_modules import torch_step
from .torch_step import TorchStep
from .types import FIXED_ROLES, WEIGHT_ROLES, Algorithm, DType, Family, Layout, Role

TORCH_DEFAULT_NAME = LAYOUT_DEFAULT[Layout.TORCH]


@dataclass(frozen=True)
class SchemeChoice:
    """The schemes one level of a request names; ``where`` prefixes the fields it reports."""

    scheme: ResolvedScheme | None = None
    bias_scheme: ResolvedScheme | None = None
    role_schemes: Mapping[Role, ResolvedScheme] = field(default_factory=dict)
    where: str = ""
    # The field that named a role's scheme, when not role_schemes (a framework argument).
    fields: Mapping[Role, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for role in self.role_schemes:
            check_schemable(role, self.field_of(role))

    def field_of(self, role: Role) -> str:
        return self.fields.get(role) or f"{self.where}role_schemes.{role.value}"

    def overridden(
        self, schemes: Mapping[Role, ResolvedScheme], fields: Mapping[Role, str]
    ) -> SchemeChoice:
        """This level with ``schemes`` winning for their roles (a layer's framework
        arguments over its own fields, ``layer_values.py``); ``fields`` named them."""
        if not schemes:
            return self
        return replace(
            self,
            role_schemes={**self.role_schemes, **schemes},
            fields={**self.fields, **fields},
        )


def check_schemable(role: Role, where: str) -> None:
    """Running statistics and counters take fixed values: no scheme may name them."""
    if role in FIXED_ROLES:
        raise InvalidParameterError(
            f"Role {role.value!r} always takes its fixed value (running means 0, running "
            "variances 1, counters 0); remove it from role_schemes.",
            field=where,
        )


def _fixed(tensor: TensorSpec) -> tuple[ConstantLaw | CounterLaw, dict[str, object]] | None:
    if tensor.role is Role.COUNTER:
        return CounterLaw(), {"name": "zeros"}
    if tensor.role is Role.RUNNING_STAT:
        fill = 0.0 if tensor.fill is None else tensor.fill
        return ConstantLaw(fill), {"name": "ones" if fill == 1.0 else "zeros"}
    return None


def _choose(
    role: Role, levels: Sequence[SchemeChoice], norm_layer: bool
) -> tuple[ResolvedScheme, str] | None:
    """The first scheme the levels name for ``role``, and the field that named it."""
    for depth, level in enumerate(levels):
        named = level.role_schemes.get(role)
        if named is not None:
            return named, level.field_of(role)
        own_norm = norm_layer and depth == 0
        if level.scheme is not None and (
            role in WEIGHT_ROLES or (own_norm and role in (Role.NORM_SCALE, Role.ACTIVATION))
        ):
            return level.scheme, f"{level.where}scheme"
        if level.bias_scheme is not None and (
            role is Role.BIAS or (own_norm and role is Role.NORM_SHIFT)
        ):
            return level.bias_scheme, f"{level.where}bias_scheme"
    return None


def plan_tensor(
    tensor: TensorSpec,
    *,
    layout: Layout,
    dtype: DType,
    algorithm: Algorithm = Algorithm.BLOCKS_V1,
    prefix: str = "",
    levels: Sequence[SchemeChoice] = (),
    norm_layer: bool = False,
    recipe: RecipeRun | None = None,
) -> TensorPlan:
    """The plan of one tensor of a layer under the request's ``levels`` of scheme choices."""
    name = prefix + tensor.name
    if algorithm is Algorithm.TORCH_CPU and layout is not Layout.TORCH:
        raise InvalidParameterError(
            f"Algorithm torch-cpu reproduces torch modules, which have the torch layout; got "
            f"layout {layout.value!r}: use layout 'torch' (or algorithm 'blocks-v1').",
            field="layout",
        )
    fixed = _fixed(tensor)
    if fixed is not None:
        fixed_law, echo = fixed
        step = TorchStep(fixed_law) if algorithm is Algorithm.TORCH_CPU else None
        return TensorPlan(
            name, tensor.shape, dtype, fixed_law, None, echo, role=tensor.role, torch=step
        )
    found = _choose(tensor.role, levels, norm_layer)
    rule, zero_row = None, tensor.zero_row
    if found is None and recipe is not None:
        found, rule, zero_row = _by_recipe(recipe, tensor, name)
    if found is None:
        default_field = "bias_scheme" if tensor.role is Role.BIAS else "scheme"
        found = resolve_scheme(LAYOUT_DEFAULT[layout], field=default_field), default_field
    chosen, where = found
    ctx = TensorContext(
        shape=tensor.shape,
        fans=tensor.fans,
        layout=layout,
        dtype=dtype,
        role=tensor.role,
        family=tensor.family,
        cell=tensor.cell,
        hidden_size=tensor.hidden_size,
        fill=tensor.fill,
        in1_features=tensor.in1_features,
        algorithm=algorithm,
        name=name,
    )
    try:
        law = chosen.law(ctx)
    except WeightInitError as exc:
        if exc.field is None:
            exc.field = where
        raise
    fans = tensor.fans if chosen.scheme.uses_fans else None
    step = None
    if algorithm is Algorithm.TORCH_CPU:
        reinit = chosen.name != TORCH_DEFAULT_NAME and tensor.family is not Family.TENSOR
        step = torch_step(tensor, name, _torch_default(ctx) if reinit else law, law, reinit)
    return TensorPlan(
        name,
        tensor.shape,
        dtype,
        law,
        fans,
        chosen.describe(),
        zero_row,
        role=tensor.role,
        torch=step,
        rule=rule,
    )


def _by_recipe(
    recipe: RecipeRun, tensor: TensorSpec, name: str
) -> tuple[tuple[ResolvedScheme, str], str, int | None]:
    """The recipe's scheme for ``tensor``, the rule that chose it and its padding row."""
    chosen, pick = recipe.choose(RecipeTensor.of(name, tensor.role, tensor.shape, tensor.fans))
    zero_row = pick.zero_row if pick.zero_row is not None else tensor.zero_row
    return (chosen, "recipe"), pick.rule, zero_row


def _torch_default(ctx: TensorContext) -> Law:
    """What the tensor's torch constructor draws (torch-cpu builds the model first)."""
    return resolve_scheme(TORCH_DEFAULT_NAME, field="scheme").law(ctx)


def is_norm_layer(tensors: Sequence[TensorSpec]) -> bool:
    """A layer whose parameters are a norm's scale and shift or PReLU's slope (its own scheme
    names them)."""
    return not any(t.role in WEIGHT_ROLES for t in tensors)


def plan_layer(
    layer: LayerSpec,
    *,
    layout: Layout = Layout.TORCH,
    dtype: DType = DType.FLOAT32,
    algorithm: Algorithm = Algorithm.BLOCKS_V1,
    prefix: str = "",
    levels: Sequence[SchemeChoice] = (),
    weight_role: Role | None = None,
    recipe: RecipeRun | None = None,
) -> list[TensorPlan]:
    """Every tensor of ``layer``, named ``prefix + name``, with its law resolved.

    ``levels`` are the request's scheme choices, most specific first (none: every tensor
    takes the layout's default); ``weight_role`` gives the layer's plain ``weight``
    tensors another weight-like role (a dense layer that is a model's ``readout``).
    """
    if weight_role is not None and weight_role not in WEIGHT_ROLES:
        raise InvalidParameterError(
            f"A layer's role must be a weight-like role, got {weight_role.value!r}; one of "
            + ", ".join(sorted(r.value for r in WEIGHT_ROLES))
            + ".",
            field="role",
        )
    tensors = expand_layer(layer, layout)
    if weight_role is not None:
        tensors = [replace(t, role=weight_role) if t.role is Role.WEIGHT else t for t in tensors]
    norm = is_norm_layer(tensors)
    return [
        plan_tensor(
            tensor,
            layout=layout,
            dtype=dtype,
            algorithm=algorithm,
            prefix=prefix,
            levels=levels,
            norm_layer=norm,
            recipe=recipe,
        )
        for tensor in tensors
    ]
