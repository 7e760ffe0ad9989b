"""From a layer spec and scheme choices to tensor plans (the core's request-level entry point).

``scheme`` initialises the weights of a layer (kernels, embeddings, recurrent kernels, norm
scales), ``bias_scheme`` its biases; each, when None, is the layout's framework default
(torch.default, keras.default, flax.default). Running statistics and torch's
``num_batches_tracked`` always take their fixed values (zeros, ones, int64 zero).
"""

from __future__ import annotations

from .errors import WeightInitError
from .laws import ConstantLaw, CounterLaw
from .layers import LayerSpec, TensorSpec, expand_layer
from .plans import TensorPlan
from .schemes import LAYOUT_DEFAULT, ResolvedScheme, TensorContext, resolve_scheme
from .types import Algorithm, DType, Layout, Role

_WEIGHT_ROLES = (Role.WEIGHT, Role.RECURRENT_WEIGHT)


def _fixed(tensor: TensorSpec) -> tuple[ConstantLaw | CounterLaw, dict[str, object]] | None:
    if tensor.role is Role.RUNNING_MEAN:
        return ConstantLaw(0.0), {"name": "zeros"}
    if tensor.role is Role.RUNNING_VAR:
        return ConstantLaw(1.0), {"name": "ones"}
    if tensor.role is Role.COUNTER:
        return CounterLaw(), {"name": "zeros"}
    return None


def plan_tensor(
    tensor: TensorSpec,
    *,
    layout: Layout,
    dtype: DType,
    scheme: ResolvedScheme | None,
    bias_scheme: ResolvedScheme | None,
    algorithm: Algorithm = Algorithm.BLOCKS_V1,
    prefix: str = "",
) -> TensorPlan:
    """The plan of one tensor of a layer."""
    name = prefix + tensor.name
    fixed = _fixed(tensor)
    if fixed is not None:
        fixed_law, echo = fixed
        return TensorPlan(name, tensor.shape, dtype, fixed_law, None, echo)
    is_weight = tensor.role in _WEIGHT_ROLES
    chosen = scheme if is_weight else bias_scheme
    field = "scheme" if is_weight else "bias_scheme"
    if chosen is None:
        chosen = resolve_scheme(LAYOUT_DEFAULT[layout], field=field)
    ctx = TensorContext(
        shape=tensor.shape,
        fans=tensor.fans,
        layout=layout,
        dtype=dtype,
        role=tensor.role,
        family=tensor.family,
        cell=tensor.cell,
        hidden_size=tensor.hidden_size,
        algorithm=algorithm,
        name=name,
    )
    try:
        law = chosen.law(ctx)
    except WeightInitError as exc:
        if exc.field is None:
            exc.field = field
        raise
    fans = tensor.fans if chosen.scheme.uses_fans else None
    return TensorPlan(name, tensor.shape, dtype, law, fans, chosen.describe(), tensor.zero_row)


def plan_layer(
    layer: LayerSpec,
    *,
    layout: Layout = Layout.TORCH,
    dtype: DType = DType.FLOAT32,
    scheme: ResolvedScheme | None = None,
    bias_scheme: ResolvedScheme | None = None,
    algorithm: Algorithm = Algorithm.BLOCKS_V1,
    prefix: str = "",
) -> list[TensorPlan]:
    """Every tensor of ``layer``, named ``prefix + name``, with its law resolved."""
    return [
        plan_tensor(
            tensor,
            layout=layout,
            dtype=dtype,
            scheme=scheme,
            bias_scheme=bias_scheme,
            algorithm=algorithm,
            prefix=prefix,
        )
        for tensor in expand_layer(layer, layout)
    ]
