"""Tests for app/core/plans.py: what a plan knows about its tensor, and the core size guard."""

from __future__ import annotations

import pytest

from app.core.errors import LimitExceededError
from app.core.laws import ConstantLaw, CounterLaw, NormalLaw, OrthogonalLaw, SparseLaw
from app.core.plans import MAX_CORE_ELEMENTS, TensorPlan, check_size
from app.core.types import DType

# ---- TensorPlan ---------------------------------------------------------------------------------


def test_a_plan_knows_its_size_and_kind() -> None:
    normal = TensorPlan("w", (3, 4, 5), DType.FLOAT32, NormalLaw(0.0, 1.0))
    assert normal.numel == 60 and not normal.is_integer and not normal.is_whole_matrix
    scalar = TensorPlan("n", (), DType.FLOAT32, CounterLaw())
    assert scalar.numel == 1 and scalar.is_integer
    for law in (OrthogonalLaw(1.0, 3, 4), SparseLaw(0.1, 1, 3)):
        assert TensorPlan("w", (3, 4), DType.FLOAT32, law).is_whole_matrix


def _zeros(shape: tuple[int, ...]) -> TensorPlan:
    return TensorPlan("weight", shape, DType.FLOAT32, ConstantLaw(0.0))


def test_check_size_allows_exactly_the_core_maximum() -> None:
    check_size(_zeros((MAX_CORE_ELEMENTS,)))
    with pytest.raises(LimitExceededError):
        check_size(_zeros((MAX_CORE_ELEMENTS + 1,)))
