"""Activations for the diagnostics: values, derivatives and Gaussian moments, in float64 numpy.

``apply(name, z)`` and ``derivative(name, z)`` follow torch's functions
(``torch.nn.functional``) and torch's autograd convention at kinks: the derivative at a
kink is the one torch's backward returns (``relu'(0) = 0``, ``leaky_relu'(0) = slope``,
``hard_tanh'(+-1) = 0``, ``elu'(0) = alpha``, ``hard_swish'(+-3)`` from the middle piece).
``gelu`` is the erf form, evaluated with the C library's ``erfc`` (exact to libm, one
Python call per element: ~0.1 us each); ``gelu_tanh`` is torch's ``approximate="tanh"``.
``softplus`` is ``log(1 + e^z)`` without torch's ``threshold=20`` switch to ``z`` (the two
differ by ``log1p(e^-z) < 2.1e-9`` there).

:func:`gaussian_moments` gives, for ``z ~ N(mean, q)`` (mean 0 by default), ``E[f]``,
``E[f^2]``, ``E[f^3]``, ``E[f^4]``, ``E[f'^2]``, ``E[f'^4]`` and the log-slopes
``d log E[f^2] / d log q`` and ``d log E[f'^2] / d log q`` that the variance recursion
(``propagation``) needs:

* sin at mean 0: closed form (``E cos(kz) = exp(-k^2 q / 2)``);
* linear, relu, leaky_relu at mean 0: closed forms (``E[z^k; z > 0]``; the slopes are 1 and
  0: ``f`` is positively homogeneous);
* everything else: composite Gauss-Legendre quadrature, 16 nodes per panel, panels bounded
  by ``sqrt(q) * {-10, -9, ..., 10}`` (the Gaussian, in standard deviations) and by
  ``{-8, -7.5, ..., 8} - mean`` (the activation's own scale, where every kink of the
  piecewise activations lies: 0, +-1, +-3, 6), clipped to ``|z| < 10 sqrt(q)``. Each
  panel's integrand is smooth, so the rule converges exponentially: relative error below
  1e-10 against adaptive quadrature for q from 1e-4 to 1e3
  (tests/core/diagnostics/test_activations.py checks q = 0.05, 1, 16, and q = 1 against
  app.core.gains' 50-digit values). Plain Gauss-Hermite with a fixed node count
  (``hermegauss``) converges only algebraically across a kink and loses accuracy when ``q``
  is large (``tanh'(z)^2`` is then a spike of width
  ``1/sqrt(q)`` in Hermite's variable), which is why it is not used. The slopes use
  ``d/dq N(z; 0, q) = N(z; 0, q) (z^2 - q) / (2 q^2)``:
  ``d log E[g] / d log q = E[g (z^2/q - 1)] / (2 E[g])``, which needs no derivative of ``g``.

At ``q == 0`` everything is ``f(mean)``, ``f'(mean)`` (torch's value at a kink) and the slopes
are 0.
All of it is deterministic: fixed nodes, fixed panels, numpy reductions in a fixed order.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from app.core.errors import InvalidParameterError, UnknownNameError

__all__ = [
    "ACTIVATIONS",
    "SATURATING",
    "Moments",
    "apply",
    "derivative",
    "gaussian_moments",
    "saturated_fraction",
]

Array = NDArray[np.float64]
_Fn = Callable[[Array, float], Array]

SELU_ALPHA = 1.6732632423543772848170429916717  # Klambauer et al. 2017; torch's literals
SELU_SCALE = 1.0507009873554804934193349852946
_GELU_TANH_C = math.sqrt(2.0 / math.pi)
_GELU_TANH_A = 0.044715
_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)

_erfc = np.frompyfunc(math.erfc, 1, 1)


def _ndtr(z: Array) -> Array:
    """Phi(z) = erfc(-z / sqrt 2) / 2 (libm's erfc: accurate in the lower tail too)."""
    return np.asarray(0.5 * _erfc(-z * _INV_SQRT2), dtype=np.float64)


def _sigmoid(z: Array) -> Array:
    """1 / (1 + e^-z) as (1 + tanh(z/2)) / 2: no overflow for any z."""
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def _softplus(z: Array) -> Array:
    return np.logaddexp(0.0, z)


def _elu(z: Array, alpha: float) -> Array:
    return np.where(z > 0, z, alpha * np.expm1(np.minimum(z, 0.0)))


def _elu_d(z: Array, alpha: float) -> Array:
    return np.where(z > 0, 1.0, alpha * np.exp(np.minimum(z, 0.0)))


def _celu(z: Array, alpha: float) -> Array:
    return np.where(z > 0, z, alpha * np.expm1(np.minimum(z, 0.0) / alpha))


def _celu_d(z: Array, alpha: float) -> Array:
    return np.where(z > 0, 1.0, np.exp(np.minimum(z, 0.0) / alpha))


def _gelu_tanh(z: Array, _: float) -> Array:
    return 0.5 * z * (1.0 + np.tanh(_GELU_TANH_C * (z + _GELU_TANH_A * z**3)))


def _gelu_tanh_d(z: Array, _: float) -> Array:
    t = np.tanh(_GELU_TANH_C * (z + _GELU_TANH_A * z**3))
    inner = _GELU_TANH_C * (1.0 + 3.0 * _GELU_TANH_A * z * z)
    return 0.5 * (1.0 + t) + 0.5 * z * (1.0 - t * t) * inner


def _silu_d(z: Array, _: float) -> Array:
    s = _sigmoid(z)
    return s * (1.0 + z * (1.0 - s))


def _mish(z: Array, _: float) -> Array:
    return z * np.tanh(_softplus(z))


def _mish_d(z: Array, _: float) -> Array:
    t = np.tanh(_softplus(z))
    return t + z * (1.0 - t * t) * _sigmoid(z)


def _tanh_d(z: Array, _: float) -> Array:
    t = np.tanh(z)
    return 1.0 - t * t


def _sigmoid_d(z: Array, _: float) -> Array:
    s = _sigmoid(z)
    return s * (1.0 - s)


def _inside(z: Array, lo: float, hi: float, value: float = 1.0) -> Array:
    """``value`` on the open interval (lo, hi), 0 elsewhere: torch's hardtanh_backward."""
    return np.where((z > lo) & (z < hi), value, 0.0)


def _hard_swish(z: Array, _: float) -> Array:
    return z * np.clip(z + 3.0, 0.0, 6.0) / 6.0


def _hard_swish_d(z: Array, _: float) -> Array:
    # torch hardswish_backward: 0 below -3, z/3 + 1/2 on [-3, 3], 1 above
    return np.where(z < -3.0, 0.0, np.where(z <= 3.0, z / 3.0 + 0.5, 1.0))


@dataclass(frozen=True)
class _Activation:
    f: _Fn
    d: _Fn
    default_param: float | None = None  # the parameter (slope / alpha) and its default


_TABLE: dict[str, _Activation] = {
    "linear": _Activation(lambda z, _: z.copy(), lambda z, _: np.ones_like(z)),
    "relu": _Activation(lambda z, _: np.maximum(z, 0.0), lambda z, _: np.where(z > 0, 1.0, 0.0)),
    "leaky_relu": _Activation(
        lambda z, a: np.where(z > 0, z, a * z), lambda z, a: np.where(z > 0, 1.0, a), 0.01
    ),
    "elu": _Activation(_elu, _elu_d, 1.0),
    "celu": _Activation(_celu, _celu_d, 1.0),
    "selu": _Activation(
        lambda z, _: SELU_SCALE * _elu(z, SELU_ALPHA),
        lambda z, _: SELU_SCALE * _elu_d(z, SELU_ALPHA),
    ),
    "gelu": _Activation(
        lambda z, _: z * _ndtr(z),
        lambda z, _: _ndtr(z) + z * _INV_SQRT_2PI * np.exp(-0.5 * z * z),
    ),
    "gelu_tanh": _Activation(_gelu_tanh, _gelu_tanh_d),
    "silu": _Activation(lambda z, _: z * _sigmoid(z), _silu_d),
    "mish": _Activation(_mish, _mish_d),
    "softplus": _Activation(lambda z, _: _softplus(z), lambda z, _: _sigmoid(z)),
    "tanh": _Activation(lambda z, _: np.tanh(z), _tanh_d),
    "sigmoid": _Activation(lambda z, _: _sigmoid(z), _sigmoid_d),
    "hard_tanh": _Activation(
        lambda z, _: np.clip(z, -1.0, 1.0), lambda z, _: _inside(z, -1.0, 1.0)
    ),
    "hard_sigmoid": _Activation(
        lambda z, _: np.clip(z / 6.0 + 0.5, 0.0, 1.0),
        lambda z, _: _inside(z, -3.0, 3.0, 1.0 / 6.0),
    ),
    "hard_swish": _Activation(_hard_swish, _hard_swish_d),
    "relu6": _Activation(lambda z, _: np.clip(z, 0.0, 6.0), lambda z, _: _inside(z, 0.0, 6.0)),
    "sin": _Activation(lambda z, _: np.sin(z), lambda z, _: np.cos(z)),
}

ACTIVATIONS: tuple[str, ...] = tuple(_TABLE)

# Saturated region of the activation's *output* a: a <= lo or a >= hi.
# tanh |a| >= 0.99 and sigmoid a <= 0.01 or >= 0.99 (the boundaries have probability 0);
# the clamping activations: a value at its clamp (hard_tanh +-1, hard_sigmoid 0 or 1, relu6 6;
# relu6's 0 is relu's dead side, counted by dead_fraction, not here).
SATURATING: dict[str, tuple[float, float]] = {
    "tanh": (-0.99, 0.99),
    "sigmoid": (0.01, 0.99),
    "hard_tanh": (-1.0, 1.0),
    "hard_sigmoid": (0.0, 1.0),
    "relu6": (-math.inf, 6.0),
}


def takes_param(name: str) -> bool:
    """Whether ``name`` has a parameter (leaky_relu's slope, elu's and celu's alpha)."""
    spec = _TABLE.get(name)
    return spec is not None and spec.default_param is not None


def _lookup(name: str, param: float | None) -> tuple[_Activation, float]:
    spec = _TABLE.get(name)
    if spec is None:
        raise UnknownNameError("activation", str(name), ACTIVATIONS, field="activation")
    if param is None:
        return spec, spec.default_param if spec.default_param is not None else 0.0
    if spec.default_param is None:
        raise InvalidParameterError(
            f"activation {name!r} takes no parameter, got {param!r}.", field="activation_param"
        )
    value = float(param)
    if not math.isfinite(value) or (name in ("elu", "celu") and value <= 0):
        raise InvalidParameterError(
            f"{name}'s parameter must be finite{' and > 0' if name != 'leaky_relu' else ''},"
            f" got {param!r}.",
            field="activation_param",
        )
    return spec, value


def check(name: str, param: float | None = None) -> None:
    """Raise the error :func:`apply` would raise for this name and parameter."""
    _lookup(name, param)


def apply(name: str, z: Array, param: float | None = None) -> Array:
    """f(z) elementwise, float64 (a new array).

    ``param``: leaky_relu's negative slope (default 0.01), elu's and celu's alpha (default 1).
    """
    spec, p = _lookup(name, param)
    return np.asarray(spec.f(np.asarray(z, dtype=np.float64), p), dtype=np.float64)


def derivative(name: str, z: Array, param: float | None = None) -> Array:
    """f'(z) elementwise, with torch's backward value at a kink (module docstring)."""
    spec, p = _lookup(name, param)
    return np.asarray(spec.d(np.asarray(z, dtype=np.float64), p), dtype=np.float64)


def saturated_fraction(name: str, a: Array) -> float | None:
    """Fraction of the elements of ``a = f(h)`` in ``name``'s saturated region
    (:data:`SATURATING`); None for an activation that does not saturate."""
    region = SATURATING.get(name)
    if region is None:
        return None
    lo, hi = region
    if a.size == 0:
        return 0.0
    return float(np.count_nonzero((a <= lo) | (a >= hi)) / a.size)


@dataclass(frozen=True)
class Moments:
    """Gaussian moments of an activation, ``z ~ N(mean, q)``.

    ``second_slope = d log E[f^2] / d log q`` and ``derivative_slope = d log E[f'^2] / d log q``
    (how a relative change of the variance ``q`` moves them, the mean held; 1 and 0 for
    relu-like activations at mean 0).
    """

    mean: float
    second: float
    fourth: float
    derivative_second: float
    third: float = math.nan
    derivative_fourth: float = math.nan
    second_slope: float = math.nan
    derivative_slope: float = math.nan

    @property
    def centred_kurtosis(self) -> float:
        """``E[(f - E f)^4] / Var(f)^2 - 1`` (0 when f is constant)."""
        mu = self.mean
        var = self.second - mu * mu
        if not var > 1e-300 * max(self.second, 1e-300):
            return 0.0
        central = self.fourth - 4 * mu * self.third + 6 * mu * mu * self.second - 3 * mu**4
        return max(central / (var * var) - 1.0, 0.0)


# Composite Gauss-Legendre rule (module docstring).
_GL_X, _GL_W = np.polynomial.legendre.leggauss(16)
_SIGMAS = np.arange(-10.0, 11.0)  # panel edges in standard deviations
_FEATURES = np.arange(-16.0, 17.0) / 2.0  # panel edges on the activation's scale


def _rule(q: float, shift: float) -> tuple[Array, Array]:
    """Nodes z and weights w with sum w g(z) ~= E[g(z)], z ~ N(0, q), q > 0; the
    activation is evaluated at ``shift + z``, so its features sit at ``_FEATURES - shift``."""
    s = math.sqrt(q)
    reach = 10.0 * s
    features = _FEATURES - shift
    inner = features[np.abs(features) < reach]
    edges = np.unique(np.concatenate([_SIGMAS * s, inner]))
    a, b = edges[:-1], edges[1:]
    half = 0.5 * (b - a)
    z = (0.5 * (a + b))[None, :] + half[None, :] * _GL_X[:, None]
    density = np.exp(-0.5 * z * z / q) / math.sqrt(2.0 * math.pi * q)
    w = half[None, :] * _GL_W[:, None] * density
    return z.ravel(), w.ravel()


def _slope(w: Array, z: Array, q: float, g: Array, total: float) -> float:
    if total == 0.0:
        return 0.0
    return float(np.dot(w, g * (z * z / q - 1.0)) / (2.0 * total))


def _quadrature(name: str, q: float, param: float | None, shift: float = 0.0) -> Moments:
    z, w = _rule(q, shift)
    with np.errstate(all="ignore"):
        f = apply(name, shift + z, param)
        d = derivative(name, shift + z, param)
        f2, d2 = f * f, d * d
        second, derivative_second = float(np.dot(w, f2)), float(np.dot(w, d2))
        return Moments(
            mean=float(np.dot(w, f)),
            second=second,
            third=float(np.dot(w, f2 * f)),
            fourth=float(np.dot(w, f2 * f2)),
            derivative_second=derivative_second,
            derivative_fourth=float(np.dot(w, d2 * d2)),
            second_slope=_slope(w, z, q, f2, second),
            derivative_slope=_slope(w, z, q, d2, derivative_second),
        )


def _closed(name: str, q: float, slope: float) -> Moments:
    """linear (slope 1), relu (slope 0), leaky_relu: f(z) = z for z > 0, slope * z else;
    ``E[z^k; z > 0] = q^(k/2) (1/sqrt(2 pi), 1/2, 2/sqrt(2 pi), 3/2)`` for k = 1..4."""
    a = 1.0 if name == "linear" else slope
    upper = 1.0 + a**2
    s = math.sqrt(q)
    return Moments(
        mean=s * _INV_SQRT_2PI * (1.0 - a),
        second=0.5 * q * upper,
        third=2.0 * q * s * _INV_SQRT_2PI * (1.0 - a**3),
        fourth=1.5 * q * q * (1.0 + a**4),
        derivative_second=0.5 * upper,
        derivative_fourth=0.5 * (1.0 + a**4),
        second_slope=1.0,
        derivative_slope=0.0,
    )


def _sin(q: float) -> Moments:
    """E cos(kz) = exp(-k^2 q / 2): sin^2 = (1 - cos 2z)/2, sin^4 = (3 - 4 cos 2z + cos 4z)/8,
    cos^2 = (1 + cos 2z)/2, cos^4 = (3 + 4 cos 2z + cos 4z)/8; odd moments of sin vanish."""
    e2, e8 = math.exp(-2.0 * q), math.exp(-8.0 * q)
    second, derivative_second = 0.5 * (1.0 - e2), 0.5 * (1.0 + e2)
    return Moments(
        mean=0.0,
        second=second,
        third=0.0,
        fourth=(3.0 - 4.0 * e2 + e8) / 8.0,
        derivative_second=derivative_second,
        derivative_fourth=(3.0 + 4.0 * e2 + e8) / 8.0,
        second_slope=q * e2 / second,
        derivative_slope=-q * e2 / derivative_second,
    )


def _at(name: str, x: float, param: float | None) -> Moments:
    """Every moment of the point mass at x (variance 0)."""
    point = np.array([x])
    f = float(apply(name, point, param)[0])
    d = float(derivative(name, point, param)[0])
    return Moments(f, f * f, f**4, d * d, f**3, d**4, 0.0, 0.0)


@functools.lru_cache(maxsize=4096)
def _moments(name: str, q: float, param: float | None, mean: float) -> Moments:
    if not (math.isfinite(q) and math.isfinite(mean)):
        nan = math.nan
        return Moments(nan, nan, nan, nan, nan, nan, nan, nan)
    if q == 0.0:
        return _at(name, mean, param)
    if mean != 0.0:
        return _quadrature(name, q, param, mean)
    if name in ("linear", "relu", "leaky_relu"):
        return _closed(name, q, _lookup(name, param)[1])
    if name == "sin":  # oscillates: no fixed panel rule fits every q
        return _sin(q)
    return _quadrature(name, q, param)


def gaussian_moments(
    name: str, q: float, param: float | None = None, *, mean: float = 0.0
) -> Moments:
    """Moments of ``f(z)``, ``z ~ N(mean, q)`` (module docstring); cached.

    ``q`` (the variance) must be >= 0; a non-finite ``q`` or ``mean`` (an overflowed
    recursion) gives NaNs. A nonzero ``mean`` always uses the quadrature.
    """
    _lookup(name, param)
    value = float(q)
    if value < 0:
        raise InvalidParameterError(f"q must be >= 0, got {q!r}.", field="q")
    return _moments(name, value, None if param is None else float(param), float(mean))
