"""A tensor plan: everything that determines a tensor's bytes besides the seed and algorithm.

Its stream name, shape, output dtype and law, plus what a response reports (fans, the
resolved scheme) and an embedding's padding row. Planning (``planning.py``) makes plans; the
generators (``generate.py`` for blocks-v1, ``legacy.py`` for numpy-legacy) and the range
reader (``reading.py``) consume them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .errors import LimitExceededError
from .fans import Fans
from .laws import WHOLE_MATRIX_LAWS, CounterLaw, Law
from .torch_step import TorchStep
from .types import DType, Role

Shape = tuple[int, ...]

# Far above any configured service limit; guards library callers from absurd allocations.
MAX_CORE_ELEMENTS = 1 << 40


@dataclass(frozen=True)
class TensorPlan:
    """One tensor to produce: stream name, shape, output dtype, law, and what to report."""

    name: str
    shape: Shape
    dtype: DType
    law: Law
    fans: Fans | None = None
    scheme: dict[str, object] | None = None
    zero_row: int | None = None
    role: Role = Role.WEIGHT
    torch: TorchStep | None = None  # torch-cpu only: how construction draws it (torch_modules)
    rule: str | None = None  # the recipe rule that chose the scheme, when a recipe did

    @property
    def numel(self) -> int:
        return math.prod(self.shape)

    @property
    def is_integer(self) -> bool:
        return isinstance(self.law, CounterLaw)

    @property
    def is_whole_matrix(self) -> bool:
        return isinstance(self.law, WHOLE_MATRIX_LAWS)


def check_size(plan: TensorPlan) -> None:
    """Refuse tensors no machine could hold, before numpy tries to allocate them."""
    if plan.numel > MAX_CORE_ELEMENTS:
        raise LimitExceededError(
            "MAX_CORE_ELEMENTS", MAX_CORE_ELEMENTS, plan.numel, hint=f"Tensor {plan.name!r}."
        )
