"""Statistics of the per-layer framework defaults: torch.default, keras.default, flax.default.

A default looks at the tensor's layer and role: torch's Linear weight is
kaiming_uniform_(a=sqrt(5)) = U(+-1/sqrt(fan_in)) and so is its bias, torch's RNN tensors are
U(+-1/sqrt(hidden)), Keras kernels glorot_uniform and recurrent kernels orthogonal, Keras' LSTM
bias the unit forget bias, Flax kernels lecun_normal (truncated) and embeddings N(0, 1/d).
Tolerances: see ``tests/core/stats_helpers.py``.
"""

from __future__ import annotations

import numpy as np
import pytest

from app.core.generate import generate_tensor
from app.core.laws import NormalLaw, SegmentsLaw, TruncatedNormalLaw, UniformLaw
from app.core.layers import make_layer
from app.core.planning import plan_layer
from app.core.types import DType, Layout
from tests.core.stats_helpers import (
    ALL_DTYPES,
    FI,
    FO,
    LOW_DTYPES,
    MAIN_DTYPES,
    SEED,
    Case,
    OrthoCase,
    bounded,
    check_distinct_and_serially_uncorrelated,
    check_gram_matrix_is_gain_squared_identity,
    check_samples_follow_exact_law,
    check_within_bounds_in_half_precision,
)

U, N, T = UniformLaw, NormalLaw, TruncatedNormalLaw
K, J = Layout.KERAS, Layout.JAX

DENSE_SMALL_IN = {"in_features": 5, "out_features": 40000}
DENSE = {"in_features": 500, "out_features": 400}
EMB = {"num_embeddings": 400, "embedding_dim": 500}
LSTM = {"input_size": 500, "hidden_size": 100}

CASES = [
    # torch: kaiming_uniform_(a=sqrt(5)) = U(+-1/sqrt(fan_in)), the bias the same bound
    Case("torch.default", {}, U, 1 / (3 * 5), kind="dense", fields=DENSE_SMALL_IN),
    Case("torch.default", {}, U, 1 / (3 * 5), kind="dense", fields=DENSE_SMALL_IN, tensor="bias"),
    Case("torch.default", {}, N, 1.0, kind="embedding", fields=EMB),
    Case("torch.default", {}, U, 1 / (3 * 100), kind="lstm", fields=LSTM, tensor="weight_ih_l0"),
    Case(
        "keras.default",
        {},
        U,
        2 / (FI + FO),
        layout=K,
        kind="dense",
        fields=DENSE,
        tensor="kernel",
    ),
    Case(
        "keras.default",
        {},
        U,
        0.1**2 / 12,
        layout=K,
        kind="embedding",
        fields=EMB,
        tensor="embeddings",
    ),
    Case("flax.default", {}, T, 1 / FI, layout=J, kind="dense", fields=DENSE, tensor="kernel"),
    Case(
        "flax.default",
        {},
        N,
        1 / 500,
        layout=J,
        kind="embedding",
        fields=EMB,
        tensor="embedding",
    ),
]


@pytest.mark.parametrize("dtype", MAIN_DTYPES, ids=str)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_layer_default_samples_follow_the_frameworks_law(case: Case, dtype: DType) -> None:
    check_samples_follow_exact_law(case, dtype)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_layer_default_float64_values_are_distinct_and_serially_uncorrelated(
    case: Case,
) -> None:
    check_distinct_and_serially_uncorrelated(case)


@pytest.mark.parametrize("dtype", LOW_DTYPES, ids=str)
@pytest.mark.parametrize("case", bounded(CASES), ids=lambda c: c.id)
def test_bounded_layer_defaults_stay_within_bounds_in_half_precision(
    case: Case, dtype: DType
) -> None:
    check_within_bounds_in_half_precision(case, dtype)


# ---- recurrent kernels: orthogonal in Keras and Flax ------------------------------------------

ORTHO_CASES = [
    OrthoCase(
        "keras.default",
        1.0,
        (),
        Layout.KERAS,
        32,
        128,
        "lstm",
        {"input_size": 8, "hidden_size": 32},
        "recurrent_kernel",
    ),
    OrthoCase(
        "flax.default",
        1.0,
        (),
        Layout.JAX,
        32,
        32,
        "lstm",
        {"input_size": 8, "hidden_size": 32},
        "hi.kernel",
    ),
]


@pytest.mark.parametrize("dtype", MAIN_DTYPES, ids=str)
@pytest.mark.parametrize("case", ORTHO_CASES, ids=lambda c: c.id)
def test_default_recurrent_kernel_gram_matrix_is_the_identity(
    case: OrthoCase, dtype: DType
) -> None:
    check_gram_matrix_is_gain_squared_identity(case, dtype)


# ---- Keras' LSTM bias ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
@pytest.mark.parametrize("hidden", [1, 5, 32])
def test_keras_lstm_default_bias_is_unit_forget_bias(hidden: int, dtype: DType) -> None:
    """Keras LSTM bias: [0]*u + [1]*u + [0]*2u (gates i, f, c, o; unit_forget_bias=True)."""
    plans = plan_layer(
        make_layer("lstm", {"input_size": 3, "hidden_size": hidden}),
        layout=Layout.KERAS,
        dtype=dtype,
    )
    bias = next(p for p in plans if p.name == "bias")
    assert isinstance(bias.law, SegmentsLaw)
    values = generate_tensor(bias, SEED).astype(np.float64)
    expected = [0.0] * hidden + [1.0] * hidden + [0.0] * (2 * hidden)
    np.testing.assert_array_equal(values, expected)
