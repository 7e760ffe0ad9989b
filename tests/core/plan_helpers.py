"""Plans of raw tensors for the core unit tests (through the public registry API)."""

from __future__ import annotations

from app.core.layers import make_layer
from app.core.planning import SchemeChoice, plan_layer
from app.core.plans import TensorPlan
from app.core.schemes import resolve_scheme
from app.core.streams import BLOCK_SIZE
from app.core.types import DType, Layout

SHAPE = (3 * BLOCK_SIZE // 256 + 7, 256)  # three blocks and a bit

# One scheme per elementwise sampler path (uniform, Box-Muller, each truncated-normal proposal).
SAMPLER_SCHEMES: list[tuple[str, dict[str, object]]] = [
    ("uniform", {}),
    ("normal", {}),
    ("truncated_normal", {}),
    ("truncated_normal", {"a": 0.5, "b": 0.7}),
    ("truncated_normal", {"a": 3.0, "b": 9.0}),
    ("he_uniform", {}),
]


def tensor_plan(
    scheme: str,
    shape: tuple[int, ...] = SHAPE,
    dtype: DType = DType.FLOAT32,
    layout: Layout = Layout.TORCH,
    **params: object,
) -> TensorPlan:
    """The plan of a raw tensor called ``weight`` initialised by ``scheme(**params)``."""
    (p,) = plan_layer(
        make_layer("tensor", {"shape": list(shape)}),
        layout=layout,
        dtype=dtype,
        levels=(SchemeChoice(scheme=resolve_scheme(scheme, params)),),
    )
    return p
