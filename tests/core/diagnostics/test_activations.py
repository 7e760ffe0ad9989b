"""Activations: values as torch defines them, derivatives (torch's at kinks), and Gaussian
moments against QUADPACK integrals, the closed forms and app.core.gains' exact second moments."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy.integrate import quad  # type: ignore[import-untyped, unused-ignore]
from scipy.special import ndtr  # type: ignore[import-untyped, unused-ignore]

from app.core.diagnostics import activations
from app.core.diagnostics.activations import (
    ACTIVATIONS,
    SATURATING,
    apply,
    derivative,
    gaussian_moments,
)
from app.core.errors import InvalidParameterError, UnknownNameError
from app.core.gains import variance_preserving_gain

Z = np.linspace(-7.31, 7.13, 277)  # no point within 0.01 of a kink (0, +-1, +-3, 6)
SELU_A, SELU_L = activations.SELU_ALPHA, activations.SELU_SCALE

REFERENCE = {
    "linear": lambda z: z,
    "relu": lambda z: np.maximum(z, 0),
    "leaky_relu": lambda z: np.where(z >= 0, z, 0.01 * z),
    "elu": lambda z: np.where(z > 0, z, np.exp(z) - 1),
    "celu": lambda z: np.where(z > 0, z, np.exp(z) - 1),
    "selu": lambda z: SELU_L * np.where(z > 0, z, SELU_A * (np.exp(z) - 1)),
    "gelu": lambda z: z * ndtr(z),
    "gelu_tanh": lambda z: 0.5 * z * (1 + np.tanh(math.sqrt(2 / math.pi) * (z + 0.044715 * z**3))),
    "silu": lambda z: z / (1 + np.exp(-z)),
    "mish": lambda z: z * np.tanh(np.log1p(np.exp(z))),
    "softplus": lambda z: np.log1p(np.exp(z)),
    "tanh": np.tanh,
    "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
    "hard_tanh": lambda z: np.clip(z, -1, 1),
    "hard_sigmoid": lambda z: np.clip(z / 6 + 0.5, 0, 1),
    "hard_swish": lambda z: z * np.clip(z + 3, 0, 6) / 6,
    "relu6": lambda z: np.clip(z, 0, 6),
    "sin": np.sin,
}


def test_the_contracts_activations_are_all_there() -> None:
    required = {"linear", "relu", "leaky_relu", "elu", "selu", "gelu", "gelu_tanh", "silu"}
    required |= {"tanh", "sigmoid", "softplus", "hard_tanh", "relu6", "sin"}
    assert required <= set(ACTIVATIONS)
    assert set(REFERENCE) == set(ACTIVATIONS)


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_values_match_the_textbook_formulas(name: str) -> None:
    np.testing.assert_allclose(apply(name, Z), REFERENCE[name](Z), rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_derivatives_match_central_differences_away_from_kinks(name: str) -> None:
    step = 1e-6
    numeric = (apply(name, Z + step) - apply(name, Z - step)) / (2 * step)
    np.testing.assert_allclose(derivative(name, Z), numeric, rtol=1e-7, atol=1e-8)


def test_derivatives_at_kinks_are_torchs() -> None:
    at = {
        ("relu", 0.0): 0.0,
        ("leaky_relu", 0.0): 0.01,
        ("elu", 0.0): 1.0,
        ("selu", 0.0): SELU_L * SELU_A,
        ("hard_tanh", 1.0): 0.0,
        ("hard_tanh", -1.0): 0.0,
        ("relu6", 0.0): 0.0,
        ("relu6", 6.0): 0.0,
        ("hard_sigmoid", 3.0): 0.0,
        ("hard_swish", -3.0): -0.5,
        ("hard_swish", 3.0): 1.5,
    }
    for (name, z), want in at.items():
        assert derivative(name, np.array([z]))[0] == pytest.approx(want, rel=1e-15), name


def test_parameters_change_the_slope_and_are_checked() -> None:
    assert apply("leaky_relu", np.array([-2.0]), 0.2)[0] == pytest.approx(-0.4)
    assert apply("elu", np.array([-1.0]), 2.0)[0] == pytest.approx(2 * math.expm1(-1))
    with pytest.raises(InvalidParameterError, match="takes no parameter"):
        apply("relu", Z, 0.5)
    with pytest.raises(InvalidParameterError, match="> 0"):
        apply("elu", Z, -1.0)
    with pytest.raises(UnknownNameError, match="Did you mean 'relu'"):
        apply("relu_", Z)


def test_extreme_inputs_do_not_overflow() -> None:
    z = np.array([-1e308, -800.0, 800.0, 1e308])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        for name in ("sigmoid", "softplus", "elu", "selu", "silu", "tanh", "gelu"):
            assert np.all(np.isfinite(apply(name, z)) | (np.abs(z) > 1e300)), name


def _expectation(name: str, q: float, power: int, of_derivative: bool = False) -> float:
    """E[g(z)^power], z ~ N(0, q), by QUADPACK (scipy.integrate.quad) between the kinks."""
    fn = derivative if of_derivative else apply
    s = math.sqrt(q)

    def integrand(z: float) -> float:
        value = float(fn(name, np.array([z]))[0])
        return value**power * math.exp(-0.5 * z * z / q) / math.sqrt(2 * math.pi * q)

    kinks = [k for k in (-3.0, -1.0, 0.0, 1.0, 3.0, 6.0) if abs(k) < 12 * s]
    cuts = [-12 * s, *kinks, 12 * s]
    return sum(
        quad(integrand, a, b, epsabs=0, epsrel=1e-13, limit=200)[0]
        for a, b in itertools.pairwise(cuts)
    )


@pytest.mark.parametrize("name", ACTIVATIONS)
@pytest.mark.parametrize("q", [0.05, 1.0, 16.0])
def test_gaussian_moments_match_quadpack_integrals(name: str, q: float) -> None:
    m = gaussian_moments(name, q)
    assert m.second == pytest.approx(_expectation(name, q, 2), rel=1e-10)
    assert m.fourth == pytest.approx(_expectation(name, q, 4), rel=1e-10)
    assert m.mean == pytest.approx(_expectation(name, q, 1), rel=1e-9, abs=1e-12)
    assert m.derivative_second == pytest.approx(_expectation(name, q, 2, True), rel=1e-9)


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_second_moment_at_q1_is_the_exact_one_behind_the_variance_preserving_gain(
    name: str,
) -> None:
    # gains.py computes E[f(z)^2], z ~ N(0,1), in mpmath at 50 digits (closed forms or
    # 150-node Gauss-Hermite): an independent method.
    exact = 1.0 / variance_preserving_gain(name) ** 2
    assert gaussian_moments(name, 1.0).second == pytest.approx(exact, rel=1e-12)


@pytest.mark.parametrize("name", ["linear", "relu", "leaky_relu"])
@pytest.mark.parametrize("q", [0.3, 2.0])
def test_closed_forms_agree_with_the_quadrature(name: str, q: float) -> None:
    closed = gaussian_moments(name, q)
    quad = activations._quadrature(name, q, None)
    for field in ("mean", "second", "fourth", "derivative_second", "derivative_fourth"):
        assert getattr(closed, field) == pytest.approx(getattr(quad, field), rel=1e-12, abs=1e-15)
    assert quad.second_slope == pytest.approx(1.0, rel=1e-10)
    assert quad.derivative_slope == pytest.approx(0.0, abs=1e-10)


@pytest.mark.parametrize("name", ["tanh", "gelu", "selu", "sigmoid", "sin", "hard_tanh"])
def test_slopes_are_log_derivatives_in_q(name: str) -> None:
    q, h = 0.7, 1e-5
    up, down, at = (gaussian_moments(name, q * math.exp(e)) for e in (h, -h, 0.0))
    numeric = (math.log(up.second) - math.log(down.second)) / (2 * h)
    numeric_d = (math.log(up.derivative_second) - math.log(down.derivative_second)) / (2 * h)
    assert at.second_slope == pytest.approx(numeric, rel=1e-6, abs=1e-9)
    assert at.derivative_slope == pytest.approx(numeric_d, rel=1e-6, abs=1e-9)


def test_q_zero_is_the_value_at_zero() -> None:
    assert gaussian_moments("relu", 0.0).second == 0.0
    assert gaussian_moments("relu", 0.0).derivative_second == 0.0  # relu'(0) = 0
    sig = gaussian_moments("sigmoid", 0.0)
    assert (sig.mean, sig.second, sig.derivative_second) == (0.5, 0.25, 0.0625)
    with pytest.raises(InvalidParameterError):
        gaussian_moments("tanh", -1.0)
    assert math.isnan(gaussian_moments("tanh", math.inf).second)


def test_moments_are_deterministic_and_cached() -> None:
    a = activations._quadrature("gelu", 0.37, None)
    b = activations._quadrature("gelu", 0.37, None)
    assert a == b
    assert gaussian_moments("gelu", 0.37) is gaussian_moments("gelu", 0.37)


def test_saturated_fraction_uses_each_activations_region() -> None:
    a = np.array([-1.0, -0.995, 0.0, 0.5, 0.991, 1.0])
    assert activations.saturated_fraction("tanh", a) == pytest.approx(4 / 6)
    assert activations.saturated_fraction("hard_tanh", a) == pytest.approx(2 / 6)
    assert activations.saturated_fraction("sigmoid", np.array([0.005, 0.5, 0.999])) == 2 / 3
    assert activations.saturated_fraction("relu6", np.array([0.0, 3.0, 6.0, 6.0])) == 0.5
    assert activations.saturated_fraction("relu", a) is None
    assert set(SATURATING) <= set(ACTIVATIONS)
