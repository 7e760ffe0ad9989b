"""Tests for app/core/deterministic.py: laws that draw nothing, built whole."""

from __future__ import annotations

import numpy as np
import pytest

from app.core.deterministic import deterministic_values, dirac
from app.core.laws import DiracLaw, IdentityLaw, NormalLaw, SegmentsLaw


@pytest.mark.parametrize(
    ("shape", "groups", "ones"),
    [
        ((2, 2, 3), 1, [(0, 0, 1), (1, 1, 1)]),
        ((4, 1, 2), 2, [(0, 0, 1), (2, 0, 1)]),  # depth min(out/g, in) = 1 per group
        ((1, 3, 3, 3), 1, [(0, 0, 1, 1)]),
    ],
)
def test_dirac_writes_torchs_ones(
    shape: tuple[int, ...], groups: int, ones: list[tuple[int, ...]]
) -> None:
    out = dirac(shape, DiracLaw(groups), np.float64)
    expected = np.zeros(shape)
    for index in ones:
        expected[index] = 1.0
    np.testing.assert_array_equal(out, expected)


def test_channels_last_dirac_is_torchs_with_the_axes_moved() -> None:
    torch_w = dirac((4, 2, 3, 5), DiracLaw(2), np.float32)
    last_w = dirac((3, 5, 2, 4), DiracLaw(2, channels_last=True), np.float32)
    np.testing.assert_array_equal(last_w, np.transpose(torch_w, (2, 3, 1, 0)))
    assert last_w.flags.c_contiguous


def test_identity_and_segments_are_built_in_the_working_precision() -> None:
    eye = deterministic_values((2, 3), IdentityLaw(0.1), np.float32)
    assert eye is not None and eye.dtype == np.float32 and eye[1, 1] == np.float32(0.1)
    bias = deterministic_values((6,), SegmentsLaw((0.0, 1.0), (2, 4)), np.float64)
    assert bias is not None and bias.tolist() == [0, 0, 1, 1, 1, 1]


def test_a_law_that_draws_is_not_deterministic() -> None:
    assert deterministic_values((2, 2), NormalLaw(0.0, 1.0), np.float64) is None
