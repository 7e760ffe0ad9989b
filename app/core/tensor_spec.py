"""One named tensor of a layer, before any scheme is chosen: shape, role, family and fans.

Layer kinds (``layers.py``, ``attention.py``) expand a layer spec into these; planning
(``planning.py``) turns each into a :class:`~app.core.plans.TensorPlan`. Besides the fans,
a tensor carries what its framework's default law reads from the layer: the recurrent
``cell`` and ``hidden_size`` (torch's U(+-1/sqrt(hidden))), a padding row, ``fill`` (a running
statistic's fixed value, or the constant PReLU's slope starts at) and ``in1_features``
(torch's Bilinear bound U(+-1/sqrt(in1_features))).
"""

from __future__ import annotations

from dataclasses import dataclass

from .fans import Fans
from .types import Family, Role

Shape = tuple[int, ...]


@dataclass(frozen=True)
class TensorSpec:
    """One tensor of a layer: name, shape, role, family, fans, and its layer's context."""

    name: str
    shape: Shape
    role: Role
    family: Family
    fans: Fans | None
    cell: str | None = None
    hidden_size: int | None = None
    zero_row: int | None = None
    fill: float | None = None  # a running statistic's fixed value; PReLU's initial slope
    in1_features: int | None = None  # Bilinear: torch's default bound is 1/sqrt(in1_features)


def bias_of(weight: TensorSpec, name: str, shape: Shape) -> TensorSpec:
    """A bias of ``weight``: it carries the weight's family, fans and layer context (torch's
    default bias bound is 1/sqrt of the weight's fan_in)."""
    return TensorSpec(
        name,
        shape,
        Role.BIAS,
        weight.family,
        weight.fans,
        weight.cell,
        weight.hidden_size,
        in1_features=weight.in1_features,
    )
