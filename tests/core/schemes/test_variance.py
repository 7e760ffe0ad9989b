"""variance_scaling in its five operation orders, and the engines the rows name."""

from __future__ import annotations

import math
from decimal import Decimal, getcontext
from fractions import Fraction

import numpy as np
import pytest

from app.core.errors import InvalidParameterError, ShapeError
from app.core.fans import Fans
from app.core.laws import NormalLaw, TruncatedNormalLaw, UniformLaw
from app.core.schemes.base import Params, TensorContext
from app.core.schemes.variance import (
    KERAS_JAX_TRUNC_STD_2SIGMA,
    Order,
    check_activation_gain,
    he_scale,
    keras_variance_scaling,
    variance_scaling,
    variance_scaling_for_activation,
    variance_scaling_with_gain,
)
from app.core.types import Algorithm, Distribution, DType, Mode

FANS = Fans(fan_in=784, fan_out=256)
N, U, T = Distribution.NORMAL, Distribution.UNIFORM, Distribution.TRUNCATED_NORMAL


def ctx(
    fans: Fans | None = FANS,
    dtype: DType = DType.FLOAT32,
    algorithm: Algorithm = Algorithm.BLOCKS_V1,
) -> TensorContext:
    return TensorContext(
        shape=(256, 784), fans=fans, dtype=dtype, algorithm=algorithm, name="w", scheme="demo"
    )


def rounded_once(numerator: int, denominator: int) -> float:
    """sqrt(numerator / denominator) as the nearest double, via 60-digit decimals."""
    getcontext().prec = 60
    return float((Decimal(numerator) / Decimal(denominator)).sqrt())


def test_exact_order_rounds_the_real_std_once() -> None:
    law = variance_scaling(
        ctx(), order=Order.EXACT, scale=Fraction(2), mode=Mode.FAN_IN, distribution=N
    )
    assert law == NormalLaw(0.0, rounded_once(2, 784))


def test_exact_uniform_bound_is_sqrt_of_three_var_rounded_once() -> None:
    law = variance_scaling(ctx(), order=Order.EXACT, scale=1, mode=Mode.FAN_AVG, distribution=U)
    bound = rounded_once(3 * 2, 784 + 256)  # 3 * 1 / ((784 + 256) / 2)
    assert law == UniformLaw(-bound, bound)


def test_truncated_sigma_is_corrected_so_the_variance_is_the_target() -> None:
    law = variance_scaling(
        ctx(), order=Order.EXACT, scale=2, mode="fan_in", distribution="truncated_normal"
    )
    assert isinstance(law, TruncatedNormalLaw)
    assert law.std == pytest.approx(math.sqrt(2 / 784), rel=1e-15)
    assert law.truncation == (-2 * law.sigma, 2 * law.sigma)


def test_numpy_legacy_uses_the_textbook_order() -> None:
    legacy = ctx(algorithm=Algorithm.NUMPY_LEGACY)
    law = variance_scaling(legacy, order=Order.EXACT, scale=2, mode=Mode.FAN_IN, distribution=N)
    assert law == NormalLaw(0.0, math.sqrt(2.0 / 784))


def test_keras_order_divides_by_at_least_one() -> None:
    law = variance_scaling(
        ctx(Fans(0, 0)), order=Order.KERAS, scale=2.0, mode=Mode.FAN_IN, distribution=U
    )
    assert law == UniformLaw(-math.sqrt(6.0), math.sqrt(6.0))
    trunc = variance_scaling(ctx(), order=Order.KERAS, scale=2.0, mode=Mode.FAN_IN, distribution=T)
    assert isinstance(trunc, TruncatedNormalLaw)
    assert trunc.sigma == math.sqrt(2.0 / 784) / KERAS_JAX_TRUNC_STD_2SIGMA


def test_jax_order_computes_in_the_weight_dtype() -> None:
    law = variance_scaling(
        ctx(dtype=DType.FLOAT16), order=Order.JAX, scale=2.0, mode=Mode.FAN_IN, distribution=N
    )
    assert law == NormalLaw(0.0, float(np.sqrt(np.float16(2.0 / 784))))


def test_torch_xavier_is_gain_times_sqrt_two_over_fan_sum() -> None:
    law = variance_scaling_with_gain(
        ctx(), order=Order.TORCH, gain=1.5, mode=Mode.FAN_AVG, distribution=U
    )
    std = 1.5 * math.sqrt(2.0 / float(784 + 256))
    assert law == UniformLaw(-math.sqrt(3.0) * std, math.sqrt(3.0) * std)


def test_glorot_in_exact_order_is_variance_scaling_with_scale_gain_squared() -> None:
    by_gain = variance_scaling_with_gain(
        ctx(), order=Order.EXACT, gain=1.5, mode=Mode.FAN_AVG, distribution=N
    )
    by_scale = variance_scaling(
        ctx(), order=Order.EXACT, scale=Fraction(9, 4), mode=Mode.FAN_AVG, distribution=N
    )
    assert by_gain == by_scale


def test_torch_kaiming_is_gain_over_sqrt_fan() -> None:
    law = variance_scaling_for_activation(
        ctx(),
        order=Order.TORCH,
        a=math.sqrt(5),
        nonlinearity="leaky_relu",
        gain_rule="torch",
        mode=Mode.FAN_IN,
        distribution=U,
    )
    gain = math.sqrt(2.0 / (1 + math.sqrt(5) ** 2))
    bound = math.sqrt(3.0) * (gain / math.sqrt(784))
    assert law == UniformLaw(-bound, bound)


def test_he_in_exact_order_uses_the_exact_gain_squared() -> None:
    law = variance_scaling_for_activation(
        ctx(),
        order=Order.EXACT,
        a=0.0,
        nonlinearity="tanh",
        gain_rule="torch",
        mode="fan_in",
        distribution=N,
    )
    assert law == NormalLaw(0.0, rounded_once(25, 9 * 784))


@pytest.mark.parametrize(
    ("nonlinearity", "a", "scale"),
    [
        ("relu", 0.0, Fraction(2)),
        ("tanh", 0.0, Fraction(25, 9)),
        ("selu", 0.0, Fraction(9, 16)),
        ("leaky_relu", 0.5, Fraction(8, 5)),
        ("linear", 3.0, Fraction(1)),
    ],
)
def test_he_scale_is_torchs_gain_squared_as_a_rational(
    nonlinearity: str, a: float, scale: Fraction
) -> None:
    assert he_scale(a, nonlinearity, "torch") == scale


def test_he_scale_refuses_an_activation_outside_torchs_table() -> None:
    with pytest.raises(InvalidParameterError, match="variance_preserving") as info:
        he_scale(0.0, "gelu", "torch")
    assert info.value.field == "nonlinearity"


def test_an_invalid_slope_is_reported_as_the_schemes_a() -> None:
    params = Params(a=1e200, nonlinearity="leaky_relu", gain_rule="torch")
    with pytest.raises(InvalidParameterError, match="too large") as info:
        check_activation_gain(params)
    assert info.value.field == "a"


def test_keras_distribution_names_map_normal_to_truncated() -> None:
    law = keras_variance_scaling(ctx(), scale=1.0, mode="fan_in", distribution="normal")
    assert isinstance(law, TruncatedNormalLaw)
    plain = keras_variance_scaling(
        ctx(), scale=1.0, mode="fan_in", distribution="untruncated_normal"
    )
    assert plain == NormalLaw(0.0, math.sqrt(1.0 / 784))


def test_fan_based_engines_need_fans() -> None:
    with pytest.raises(ShapeError, match="'demo' needs fans"):
        variance_scaling(ctx(None), order=Order.EXACT, scale=1, mode=Mode.FAN_IN, distribution=N)
