"""The ``numpy-legacy`` stream algorithm: textbook and notebook code, reproduced bit for bit.

One ``numpy.random.RandomState(seed)`` is drawn sequentially, in request order:

* normal laws:  ``rs.randn(*shape) * std`` (``+ mean`` when mean != 0), so
  ``np.random.seed(3); W1 = np.random.randn(10, 2) * 0.01`` is reproduced exactly;
* uniform laws: ``rs.uniform(low, high, shape)`` (``low + (high - low) * random_sample``);
* constant and other deterministic laws draw nothing.

It is sequential by nature (a tensor's values depend on every tensor before it), computes in
float64 like numpy (other dtypes are casts of the float64 values), accepts seeds 0..2**32-1
as ``RandomState`` does, and promises numpy's own bits on the machine at hand: ``randn`` calls
libm, so this algorithm is outside blocks-v1's cross-machine guarantee. Truncated, orthogonal
and sparse schemes have no textbook form and are refused.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from .deterministic import deterministic_values
from .dtypes import cast_output
from .errors import InvalidParameterError
from .laws import (
    ConstantLaw,
    CounterLaw,
    DiracLaw,
    IdentityLaw,
    NormalLaw,
    SegmentsLaw,
    UniformLaw,
)
from .plans import TensorPlan, check_size
from .streams import check_seed

LEGACY_MAX_SEED = (1 << 32) - 1


def _draw(plan: TensorPlan, rs: np.random.RandomState) -> NDArray[np.generic]:
    law = plan.law
    if isinstance(law, CounterLaw):
        return np.zeros(plan.shape, dtype=np.int64)
    values: NDArray[np.float64]
    if isinstance(law, NormalLaw):
        values = np.asarray(rs.randn(*plan.shape), dtype=np.float64) * law.std
        if law.mean != 0.0:
            values = values + law.mean
    elif isinstance(law, UniformLaw):
        values = np.asarray(rs.uniform(law.low, law.high, plan.shape), dtype=np.float64)
    elif isinstance(law, ConstantLaw):
        values = np.full(plan.shape, law.value, dtype=np.float64)
    elif isinstance(law, IdentityLaw | DiracLaw | SegmentsLaw):
        exact = deterministic_values(plan.shape, law, np.float64)  # draws nothing
        assert exact is not None
        values = np.asarray(exact, dtype=np.float64)
    else:  # pragma: no cover - check_supported refuses these first
        raise TypeError(f"no numpy-legacy form for {law!r}")
    if plan.zero_row is not None:
        values[plan.zero_row] = 0
    return cast_output(values, plan.dtype)


def generate_sequential(plans: list[TensorPlan], seed: int) -> list[NDArray[np.generic]]:
    """All tensors from one RandomState, drawn in order."""
    check_seed(seed, LEGACY_MAX_SEED)
    check_supported(plans)
    for plan in plans:
        check_size(plan)
    rs = np.random.RandomState(seed)
    return [_draw(plan, rs) for plan in plans]


def check_supported(plans: list[TensorPlan]) -> None:
    """Refuse, before drawing anything, plans numpy-legacy cannot produce."""
    allowed = (NormalLaw, UniformLaw, ConstantLaw, CounterLaw, IdentityLaw, DiracLaw, SegmentsLaw)
    for plan in plans:
        if not isinstance(plan.law, allowed):
            raise InvalidParameterError(
                f"Tensor {plan.name!r}: its scheme has no numpy-legacy form (only normal, "
                "uniform and constant schemes do); use algorithm 'blocks-v1'.",
                field="algorithm",
            )
