"""Gains: torch's table bit for bit, and the variance-preserving rule against independent
high-precision integrals, a Monte Carlo estimate and a correctly rounded oracle."""

from __future__ import annotations

import math
import subprocess
import sys
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import mpmath  # type: ignore[import-untyped, unused-ignore]
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.special import ndtr  # type: ignore[import-untyped, unused-ignore]

from app.core import gains
from app.core.errors import InvalidParameterError, UnknownNameError
from app.core.gains import (
    TORCH_NONLINEARITIES,
    VARIANCE_PRESERVING_ACTIVATIONS,
    GainEntry,
    GainRule,
    calculate_gain,
    compute_variance_preserving_gain,
    gain_table,
    torch_gain,
    variance_preserving_gain,
)

REPO = Path(__file__).resolve().parents[2]
CANONICAL = [n for n in VARIANCE_PRESERVING_ACTIVATIONS if n not in ("identity", "swish")]

# ----------------------------------------------------------------------------- torch

TORCH_VALUES = {
    "linear": 1.0,
    "conv1d": 1.0,
    "conv2d": 1.0,
    "conv3d": 1.0,
    "conv_transpose1d": 1.0,
    "conv_transpose2d": 1.0,
    "conv_transpose3d": 1.0,
    "sigmoid": 1.0,
    "tanh": 1.6666666666666667,
    "relu": 1.4142135623730951,
    "leaky_relu": 1.4141428569978354,
    "selu": 0.75,
}


def test_torch_names() -> None:
    assert set(TORCH_NONLINEARITIES) == set(TORCH_VALUES)


@pytest.mark.parametrize("name", list(TORCH_VALUES))
def test_torch_values_exact(name: str) -> None:
    value = torch_gain(name)
    assert value == TORCH_VALUES[name]
    assert type(value) is float
    assert type(calculate_gain(name)) is float  # torch returns int 1 for the linear names
    assert calculate_gain(name, rule=GainRule.TORCH) == value


@pytest.mark.parametrize(
    ("param", "expected"),
    [
        (None, 1.4141428569978354),
        (0.01, 1.4141428569978354),
        (0.0, 1.4142135623730951),
        (0, 1.4142135623730951),
        (0.2, 1.3867504905630728),
        (-0.2, 1.3867504905630728),
        (math.sqrt(5), 0.5773502691896257),
        (1, 1.0),
        (3, math.sqrt(2.0 / 10)),
    ],
)
def test_torch_leaky_relu(param: float | None, expected: float) -> None:
    assert torch_gain("leaky_relu", param) == expected
    assert calculate_gain("leaky_relu", param) == expected
    if param is not None:  # torch's own expression, where this libm's pow(a, 2) is exact
        assert expected == math.sqrt(2.0 / (1 + param**2))


def test_torch_ignores_param_except_leaky_relu() -> None:
    # torch's kaiming_* passes its `a` for every nonlinearity; only leaky_relu reads it.
    assert torch_gain("relu", 0.5) == math.sqrt(2.0)
    assert torch_gain("tanh", 3) == 5.0 / 3


@pytest.mark.parametrize("name", ["ReLU", "Tanh", "relu ", "gelu", "swish", "", "LeakyReLU"])
def test_torch_unknown_names(name: str) -> None:
    with pytest.raises(UnknownNameError) as info:
        torch_gain(name)
    assert info.value.what == "nonlinearity"
    assert info.value.choices == sorted(TORCH_NONLINEARITIES)


def test_torch_case_sensitive_with_suggestion() -> None:
    with pytest.raises(UnknownNameError) as info:
        calculate_gain("ReLU")
    assert info.value.suggestion == "relu"
    assert "'relu'" in str(info.value)


@pytest.mark.parametrize(
    "param", [True, False, math.nan, math.inf, -math.inf, "0.1", [0.1], 1e200, 10**400]
)
def test_torch_bad_params(param: Any) -> None:
    with pytest.raises(InvalidParameterError) as info:
        torch_gain("leaky_relu", param)
    assert info.value.field == "param"


def test_bad_rule() -> None:
    assert calculate_gain("tanh", rule="variance_preserving") == variance_preserving_gain("tanh")  # type: ignore[arg-type]
    with pytest.raises(UnknownNameError):
        calculate_gain("relu", rule="keras")  # type: ignore[arg-type]


# ---------------------------------------------------------------- variance preserving

SELU_ALPHA = mpmath.mpf("1.6732632423543772848170429916717")
SELU_LAMBDA = mpmath.mpf("1.0507009873554804934193349852946")
GELU_KAPPA = mpmath.mpf("0.044715")


def _clamp(z: Any, lo: Any, hi: Any) -> Any:
    return min(max(z, lo), hi)


def _elu(alpha: Any) -> Callable[[Any], Any]:
    return lambda z: z if z > 0 else alpha * mpmath.expm1(z)


def _celu(alpha: Any) -> Callable[[Any], Any]:
    return lambda z: z if z > 0 else alpha * mpmath.expm1(z / alpha)


def _leaky(a: Any) -> Callable[[Any], Any]:
    return lambda z: z if z >= 0 else a * z


# Independent definitions (the mathematical activations, not the module's formulas) and
# their kinks, where mpmath.quad splits the integral.
REFERENCE: dict[str, tuple[Callable[[Any], Any], list[int]]] = {
    "linear": (lambda z: z, []),
    "relu": (lambda z: max(z, 0), [0]),
    "leaky_relu": (_leaky(mpmath.mpf(0.01)), [0]),
    "elu": (_elu(1), [0]),
    "celu": (_celu(1), [0]),
    "selu": (lambda z: SELU_LAMBDA * (z if z > 0 else SELU_ALPHA * mpmath.expm1(z)), [0]),
    "gelu": (lambda z: z * (1 + mpmath.erf(z / mpmath.sqrt(2))) / 2, []),
    "gelu_tanh": (
        lambda z: z / 2 * (1 + mpmath.tanh(mpmath.sqrt(2 / mpmath.pi) * (z + GELU_KAPPA * z**3))),
        [],
    ),
    "silu": (lambda z: z / (1 + mpmath.exp(-z)), []),
    "mish": (lambda z: z * mpmath.tanh(mpmath.log(1 + mpmath.exp(z))), []),
    "softplus": (lambda z: mpmath.log(1 + mpmath.exp(z)), []),
    "tanh": (mpmath.tanh, []),
    "sigmoid": (lambda z: 1 / (1 + mpmath.exp(-z)), []),
    "hard_tanh": (lambda z: _clamp(z, -1, 1), [-1, 1]),
    "hard_sigmoid": (lambda z: _clamp(z / 6 + mpmath.mpf(1) / 2, 0, 1), [-3, 3]),
    "hard_swish": (lambda z: z * _clamp(z / 6 + mpmath.mpf(1) / 2, 0, 1), [-3, 3]),
    "relu6": (lambda z: _clamp(z, 0, 6), [0, 6]),
    "sin": (mpmath.sin, []),
}


def _quad_gain(f: Callable[[Any], Any], kinks: list[int]) -> Any:
    """1/sqrt(int f(z)^2 phi(z) dz) by tanh-sinh quadrature, split at kinks, 30 digits."""
    with mpmath.workdps(30):
        points = [-mpmath.inf, *sorted({-8, -3, 0, 3, 8, *kinks}), mpmath.inf]
        second_moment = mpmath.quad(lambda z: f(z) ** 2 * mpmath.npdf(z), points)
        return 1 / mpmath.sqrt(second_moment)


def test_activation_names() -> None:
    assert set(REFERENCE) == set(CANONICAL)
    assert {"identity", "swish"} <= set(VARIANCE_PRESERVING_ACTIVATIONS)


@pytest.mark.parametrize("name", CANONICAL)
def test_frozen_equals_fresh_mpmath_bit_for_bit(name: str) -> None:
    frozen = variance_preserving_gain(name)
    fresh = compute_variance_preserving_gain(name)
    assert frozen.hex() == fresh.hex()


@pytest.mark.parametrize("name", CANONICAL)
def test_frozen_matches_independent_quad(name: str) -> None:
    f, kinks = REFERENCE[name]
    reference = _quad_gain(f, kinks)
    assert abs(variance_preserving_gain(name) / reference - 1) < 1e-13


@pytest.mark.parametrize(
    ("name", "param", "f", "kinks"),
    [
        ("leaky_relu", 0.2, _leaky(mpmath.mpf(0.2)), [0]),
        ("leaky_relu", 3.0, _leaky(3), [0]),
        ("elu", 0.5, _elu(mpmath.mpf(0.5)), [0]),
        ("celu", 2.0, _celu(2), [0]),
        ("celu", 0.25, _celu(mpmath.mpf(0.25)), [0]),
    ],
)
def test_non_default_params_match_quad(
    name: str, param: float, f: Callable[[Any], Any], kinks: list[int]
) -> None:
    assert abs(variance_preserving_gain(name, param) / _quad_gain(f, kinks) - 1) < 1e-13


def test_variance_preserving_known_values() -> None:
    assert variance_preserving_gain("relu") == math.sqrt(2.0)
    assert variance_preserving_gain("linear") == 1.0
    assert variance_preserving_gain("identity") == 1.0
    assert variance_preserving_gain("swish") == variance_preserving_gain("silu")
    assert variance_preserving_gain("selu") == 1.0  # SELU is self-normalizing: E[f^2] = 1
    assert variance_preserving_gain("celu") == variance_preserving_gain("elu")  # alpha = 1
    assert variance_preserving_gain("leaky_relu", 0.0) == math.sqrt(2.0)
    assert variance_preserving_gain("leaky_relu", 1.0) == 1.0
    assert 1 < variance_preserving_gain("tanh") < 5 / 3
    assert variance_preserving_gain("sigmoid") > 1
    # E[sin^2] = (1 - e^-2)/2 and relu6 is relu up to a tail of mass Phi(-6) ~ 1e-9.
    assert variance_preserving_gain("sin") == pytest.approx(math.sqrt(2 / -math.expm1(-2)))
    assert 0 < variance_preserving_gain("relu6") - math.sqrt(2) < 1e-8


def _correctly_rounded_sqrt(q: Fraction) -> float:
    """The float nearest sqrt(q), decided exactly with rationals."""
    guess = math.sqrt(float(q))
    for candidate in (math.nextafter(guess, 0), guess, math.nextafter(guess, math.inf)):
        below = (Fraction(candidate) + Fraction(math.nextafter(candidate, 0))) / 2
        above = (Fraction(candidate) + Fraction(math.nextafter(candidate, math.inf))) / 2
        if below**2 < q < above**2:
            return candidate
    raise AssertionError(q)


@pytest.mark.parametrize("slope", [0.01, 0.1, 0.2, 0.3, 1 / 3, 0.5, math.sqrt(5), 5.5, 1e-8])
def test_leaky_relu_is_correctly_rounded(slope: float) -> None:
    a = Fraction(slope)
    expected = _correctly_rounded_sqrt(2 / (1 + a * a))
    assert variance_preserving_gain("leaky_relu", slope) == expected
    assert abs(expected - torch_gain("leaky_relu", slope)) <= math.ulp(expected)


def test_gauss_hermite_rule() -> None:
    # The 150-node rule built in mpmath agrees with numpy's (LAPACK, float64) rule.
    nodes, weights = gains._gauss_hermite(150)
    x, w = np.polynomial.hermite.hermgauss(150)
    positive = slice(75, None)
    np.testing.assert_allclose([float(v) for v in reversed(nodes)], x[positive], rtol=1e-12)
    np.testing.assert_allclose([float(v) for v in reversed(weights)], w[positive], rtol=1e-9)


NUMPY_ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "relu": lambda z: np.maximum(z, 0.0),
    "tanh": np.tanh,
    "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
    "gelu": lambda z: z * ndtr(z),
    "silu": lambda z: z / (1 + np.exp(-z)),
    "elu": lambda z: np.where(z > 0, z, np.expm1(np.minimum(z, 0.0))),
    "softplus": lambda z: np.logaddexp(0.0, z),
    "hard_swish": lambda z: z * np.clip(z / 6 + 0.5, 0.0, 1.0),
}


def test_monte_carlo_agreement() -> None:
    n = 10**6
    z = np.random.default_rng(20240611).standard_normal(n)
    for name, f in NUMPY_ACTIVATIONS.items():
        y = f(z) ** 2
        m = y.mean()
        # delta method: g = m^(-1/2), se(g) = (1/2) m^(-3/2) sd(y) / sqrt(n)
        se = 0.5 * m**-1.5 * y.std(ddof=1) / math.sqrt(n)
        assert abs(m**-0.5 - variance_preserving_gain(name)) < 5 * se, name


@given(st.floats(0.0, 1.0), st.floats(0.0, 1.0))
def test_leaky_relu_monotone(a: float, b: float) -> None:
    lo, hi = sorted((a, b))
    for gain in (torch_gain, variance_preserving_gain):
        g_lo, g_hi = gain("leaky_relu", lo), gain("leaky_relu", hi)
        assert math.isfinite(g_lo) and math.isfinite(g_hi)
        assert g_lo >= g_hi > 0
        assert 1.0 <= g_hi <= g_lo <= math.sqrt(2.0)


@pytest.mark.parametrize(
    ("name", "param"),
    [
        ("relu", 0.1),
        ("tanh", 1.0),
        ("leaky_relu", True),
        ("leaky_relu", math.nan),
        ("leaky_relu", math.inf),
        ("leaky_relu", "0.1"),
        ("elu", 0.0),
        ("elu", -1.0),
        ("celu", 0.0),
        ("celu", 1e7),
        ("celu", math.nan),
    ],
)
def test_variance_preserving_bad_params(name: str, param: Any) -> None:
    with pytest.raises(InvalidParameterError) as info:
        variance_preserving_gain(name, param)
    assert info.value.field == "param"


def test_variance_preserving_unknown_names() -> None:
    for name, suggestion in [("ReLU", "relu"), ("Swish", "swish"), ("gelu_erf", "gelu")]:
        with pytest.raises(UnknownNameError) as info:
            calculate_gain(name, rule=GainRule.VARIANCE_PRESERVING)
        assert info.value.suggestion == suggestion
    with pytest.raises(UnknownNameError):
        variance_preserving_gain("conv2d")  # torch's linear names are not activations


def test_gain_table() -> None:
    table = gain_table()
    assert all(isinstance(e, GainEntry) for e in table)
    torch_rows = {e.name: e for e in table if e.rule is GainRule.TORCH}
    vp_rows = {e.name: e for e in table if e.rule is GainRule.VARIANCE_PRESERVING}
    assert set(torch_rows) == set(TORCH_NONLINEARITIES)
    assert set(vp_rows) == set(VARIANCE_PRESERVING_ACTIVATIONS)
    for name, row in torch_rows.items():
        assert row.value == TORCH_VALUES[name]
    for name, row in vp_rows.items():
        assert row.value == variance_preserving_gain(name)
        assert row.formula and row.reference
    assert torch_rows["leaky_relu"].param_name == "negative_slope"
    assert torch_rows["leaky_relu"].default_param == 0.01
    assert vp_rows["elu"].param_name == "alpha" and vp_rows["elu"].default_param == 1.0
    assert vp_rows["relu"].param_name is None and vp_rows["relu"].default_param is None
    assert "Gauss-Hermite quadrature, 150 nodes" in vp_rows["tanh"].formula
    with pytest.raises(AttributeError):
        table[0].value = 2.0  # type: ignore[misc]


def test_import_runs_no_mpmath() -> None:
    code = (
        "import sys, app.core.gains as g;"
        "v = g.gain_table(), g.variance_preserving_gain('leaky_relu', 0.01);"
        "assert 'mpmath' not in sys.modules, 'mpmath imported'; print(v)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
