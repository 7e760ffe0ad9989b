"""Thread counts never change blocks-v1 bytes: the claim deploy/README.md cites this file for.

The rest of what used to live here moved to the module each test pins: test_generate.py
(seed/name dependence, common random numbers, prefix stability), test_reading.py (ranges
stitch into the whole tensor), test_planning.py (a layer's values depend on its name, not
its position), test_dtypes.py (half precisions rounded once, overflow), test_streams.py
(stream keys).
"""

from __future__ import annotations

import pytest

from app.core.generate import generate_tensor
from app.core.types import DType

from .plan_helpers import tensor_plan as plan

SCHEMES_UNDER_TEST = [
    ("uniform", {}),
    ("normal", {}),
    ("truncated_normal", {}),
    ("truncated_normal", {"a": 0.5, "b": 0.7}),
    ("truncated_normal", {"a": 3.0, "b": 9.0}),
    ("he_uniform", {}),
]


@pytest.mark.parametrize(("scheme", "params"), SCHEMES_UNDER_TEST)
@pytest.mark.parametrize("threads", [2, 4])
def test_thread_count_does_not_change_bytes(
    scheme: str, params: dict[str, object], threads: int
) -> None:
    p = plan(scheme, **params)
    one = generate_tensor(p, 99, threads=1)
    assert generate_tensor(p, 99, threads=threads).tobytes() == one.tobytes()


def test_thread_count_does_not_change_whole_matrix_schemes() -> None:
    p = plan("orthogonal", (300, 300), DType.FLOAT64)
    assert generate_tensor(p, 3, threads=1).tobytes() == generate_tensor(p, 3, threads=4).tobytes()
