"""Gains: the factor that multiplies the std of a variance-scaling initializer.

Two separate rules, never mixed:

``GainRule.TORCH``
    ``torch.nn.init.calculate_gain`` of torch 2.13, value for value (source:
    ``torch/nn/init.py``)::

        linear, conv{1,2,3}d, conv_transpose{1,2,3}d, sigmoid -> 1
        tanh        -> 5.0 / 3                      = 1.6666666666666667
        relu        -> math.sqrt(2.0)               = 1.4142135623730951
        leaky_relu  -> math.sqrt(2.0 / (1 + a**2))  a = param, default 0.01
        selu        -> 3.0 / 4   (empirical; pytorch/pytorch#24991, PR #50664)

    Names are case-sensitive, as in torch. As in torch, ``param`` only matters for
    ``leaky_relu``; unlike torch, a bool, NaN, infinite or non-numeric ``param`` is always
    rejected. One deliberate deviation: torch squares the slope with ``a**2``, which CPython
    evaluates with the C library's ``pow()``; glibc's ``pow(a, 2.0)`` is not correctly
    rounded (glibc 2.36: ~0.1% of slopes in [0, 1] get a square 1 ulp off ``a*a``, ~0.01% a
    different gain), so torch's own value can differ between machines. We square with
    ``a * a`` (one correctly rounded IEEE product), so the result is what torch returns on
    a libm with a correctly rounded ``pow``, and is the same on every machine. The
    operation order is otherwise torch's.
    torch returns the int ``1`` for the linear names; we always return a float (``1.0``).

``GainRule.VARIANCE_PRESERVING``
    weightinit's own rule: ``g = 1 / sqrt(E[f(z)**2])`` with ``z ~ N(0, 1)``, i.e. the
    He et al. (2015) second-moment argument applied to any activation ``f``: with weight
    variance ``g**2 / fan_in`` a layer keeps ``E[x**2]`` of its inputs. It uses the raw
    second moment, not ``Var[f(z)]`` (NF-Nets, Brock et al. 2021, use the latter). It
    gives relu -> sqrt(2) and linear -> 1 like torch, but differs elsewhere (tanh ~ 1.5925,
    not 5/3; selu -> 1.0, not 3/4: SELU's constants make ``E[selu(z)**2] = 1``, here to
    the 31 digits the constants are given with).
    ``E[f(z)**2]`` is computed in mpmath at 50 significant digits and the gain is rounded
    once, to the nearest float64:

    * piecewise-polynomial activations (linear, relu, leaky_relu, relu6, hard_tanh,
      hard_sigmoid, hard_swish): exactly, as sums of truncated Gaussian moments
      ``M_k(a, b) = int_a^b z**k phi(z) dz`` (``M_0 = Phi(b) - Phi(a)``,
      ``M_1 = phi(a) - phi(b)``, ``M_k = a**(k-1) phi(a) - b**(k-1) phi(b) + (k-1) M_{k-2}``);
    * the ELU family (elu, celu, selu): exactly, with
      ``int_-inf^0 (exp(t z) - 1)**2 phi(z) dz
      = exp(2 t**2) Phi(-2t) - 2 exp(t**2 / 2) Phi(-t) + 1/2``;
    * sin: exactly, ``E[sin(z)**2] = (1 - exp(-2)) / 2``;
    * smooth activations (gelu, gelu_tanh, silu, mish, softplus, tanh, sigmoid):
      Gauss-Hermite quadrature, 150 nodes, computed in mpmath at 50 digits, after the
      substitution ``z = x * 3/4``::

          E[f(z)**2] = 3/(4 sqrt(2 pi)) * int exp(-x**2) [f(3x/4)**2 exp(23 x**2 / 32)] dx
                    ~= 3/(4 sqrt(2 pi)) * sum_i w_i f(3 x_i/4)**2 exp(23 x_i**2 / 32)

      The scaling moves the integrand's complex singularities (tanh: poles at z = +-i pi/2)
      farther from the real x axis than the usual ``z = sqrt(2) x``, which is what limits
      Gauss-Hermite convergence; relative error < 1e-28 for every activation here
      (checked against mpmath.quad at 60 digits).

    The kinks of relu-like activations are why those use closed forms: plain
    Gauss-Hermite converges only algebraically across a kink. The gains at default
    parameters are frozen below as float64 literals (``_FROZEN_VARIANCE_PRESERVING``),
    so importing this module runs no mpmath (precision.py imports it on first use);
    ``python -m app.core.gains`` regenerates the table with
    :func:`compute_variance_preserving_gain`, and the tests check it bit for bit.
    A non-default parameter (leaky_relu slope, elu/celu alpha) is computed on demand
    from its closed form in mpmath (~0.3 ms, after mpmath's one-off ~30 ms import) and
    cached. All mpmath work runs in :func:`app.core.precision.exact` (a private context
    under one process-wide lock) and is rounded with :func:`app.core.precision.round_once`.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction

from app.core.errors import InvalidParameterError, UnknownNameError
from app.core.precision import MPContext, MPReal, exact, round_once

__all__ = [
    "TORCH_NONLINEARITIES",
    "VARIANCE_PRESERVING_ACTIVATIONS",
    "GainEntry",
    "GainRule",
    "calculate_gain",
    "compute_variance_preserving_gain",
    "gain_table",
    "torch_gain",
    "variance_preserving_gain",
]


class GainRule(StrEnum):
    """Which rule turns a nonlinearity into a gain."""

    TORCH = "torch"
    VARIANCE_PRESERVING = "variance_preserving"


@dataclass(frozen=True)
class GainEntry:
    """One row of :func:`gain_table`: ``value`` is the gain at ``default_param``."""

    name: str
    rule: GainRule
    param_name: str | None
    default_param: float | None
    value: float
    formula: str
    reference: str


# --------------------------------------------------------------------------- torch

_TORCH_LINEAR = (
    "linear",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
)
TORCH_NONLINEARITIES: tuple[str, ...] = (
    *_TORCH_LINEAR,
    "sigmoid",
    "tanh",
    "relu",
    "leaky_relu",
    "selu",
)
_TORCH_REF = "torch.nn.init.calculate_gain (torch 2.13, torch/nn/init.py)"
_TORCH_DEFAULT_SLOPE = 0.01


def _check_name(name: object, choices: tuple[str, ...]) -> str:
    if not isinstance(name, str) or name not in choices:
        raise UnknownNameError("nonlinearity", str(name), choices)
    return name


def _check_param(param: object) -> int | float:
    """A real number that is not a bool and is finite; ints stay ints (as in torch)."""
    if isinstance(param, bool) or not isinstance(param, int | float):
        raise InvalidParameterError(
            f"param must be a real number, not {type(param).__name__} {param!r}.", field="param"
        )
    if isinstance(param, int):
        return int(param)
    value = float(param)
    if not math.isfinite(value):
        raise InvalidParameterError(f"param must be finite, got {value!r}.", field="param")
    return value


def torch_gain(nonlinearity: str, param: float | None = None) -> float:
    """torch's ``calculate_gain(nonlinearity, param)`` as a float (see the module docstring).

    ``leaky_relu``: ``math.sqrt(2.0 / (1 + a * a))`` with ``a = param`` (default 0.01); any
    finite slope is accepted, as in torch (negative slopes give the gain of ``|a|``).
    """
    name = _check_name(nonlinearity, TORCH_NONLINEARITIES)
    checked = None if param is None else _check_param(param)
    if name in _TORCH_LINEAR or name == "sigmoid":
        return 1.0
    if name == "tanh":
        return 5.0 / 3
    if name == "relu":
        return math.sqrt(2.0)
    if name == "selu":
        return 3.0 / 4
    slope = _TORCH_DEFAULT_SLOPE if checked is None else checked
    try:
        gain = math.sqrt(2.0 / (1 + slope * slope))
    except OverflowError:  # an int slope too large for a float
        gain = 0.0
    if not gain > 0.0:  # slope * slope overflowed: torch would raise OverflowError
        raise InvalidParameterError(
            f"leaky_relu negative_slope {param!r} is too large (its square overflows).",
            field="param",
        )
    return gain


# ------------------------------------------------------------- variance preserving

_DPS = 50  # mpmath working precision, significant decimal digits
_GH_NODES = 150  # Gauss-Hermite rule size for the smooth activations
_GH_SCALE = Fraction(3, 4)  # z = x * _GH_SCALE
_SELU_ALPHA = "1.6732632423543772848170429916717"  # Klambauer et al. 2017; torch's literals
_SELU_LAMBDA = "1.0507009873554804934193349852946"
_PARAM_LIMIT = 1e6  # |alpha| bound for elu/celu, keeps the mpmath work small and exact

_ALIASES = {"identity": "linear", "swish": "silu"}


@dataclass(frozen=True)
class _Activation:
    formula: str  # f(z)
    method: str  # how E[f(z)^2] is computed
    reference: str
    param_name: str | None = None
    default_param: float | None = None


_CLOSED = "closed form (truncated Gaussian moments), mpmath at 50 digits"
_ELU = (
    "closed form, int_-inf^0 (e^(tz)-1)^2 phi = e^(2t^2) Phi(-2t) - 2 e^(t^2/2) Phi(-t) + 1/2,"
    " mpmath at 50 digits"
)
_GH = "Gauss-Hermite quadrature, 150 nodes, z = 3x/4, computed in mpmath at 50 digits"
_HE = "He et al. 2015, arXiv:1502.01852"

_ACTIVATIONS: dict[str, _Activation] = {
    "linear": _Activation("z", "exact: E = 1", "identity; " + _HE),
    "relu": _Activation("max(z, 0)", "exact: E = 1/2", _HE),
    "leaky_relu": _Activation(
        "z if z >= 0 else a*z",
        "exact: E = (1 + a^2)/2",
        "Maas et al. 2013; " + _HE,
        "negative_slope",
        0.01,
    ),
    "elu": _Activation(
        "z if z > 0 else alpha*(exp(z) - 1)",
        _ELU,
        "Clevert et al. 2015, arXiv:1511.07289",
        "alpha",
        1.0,
    ),
    "celu": _Activation(
        "max(0, z) + min(0, alpha*(exp(z/alpha) - 1))",
        _ELU,
        "Barron 2017, arXiv:1704.07483",
        "alpha",
        1.0,
    ),
    "selu": _Activation(
        f"{_SELU_LAMBDA} * elu(z, alpha={_SELU_ALPHA})",
        _ELU,
        "Klambauer et al. 2017, arXiv:1706.02515 (E[selu(z)^2] = 1, so the gain is 1)",
    ),
    "gelu": _Activation("z * Phi(z) (erf form)", _GH, "Hendrycks & Gimpel 2016, arXiv:1606.08415"),
    "gelu_tanh": _Activation(
        "z/2 * (1 + tanh(sqrt(2/pi) * (z + 0.044715 z^3)))",
        _GH,
        "Hendrycks & Gimpel 2016, arXiv:1606.08415 (tanh approximation)",
    ),
    "silu": _Activation(
        "z * sigmoid(z)", _GH, "Elfwing et al. 2017, arXiv:1702.03118; Ramachandran et al. 2017"
    ),
    "mish": _Activation("z * tanh(softplus(z))", _GH, "Misra 2019, arXiv:1908.08681"),
    "softplus": _Activation("log(1 + exp(z))", _GH, "torch.nn.Softplus (beta=1)"),
    "tanh": _Activation("tanh(z)", _GH, "torch.nn.Tanh"),
    "sigmoid": _Activation("1 / (1 + exp(-z))", _GH, "torch.nn.Sigmoid"),
    "hard_tanh": _Activation("clamp(z, -1, 1)", _CLOSED, "torch.nn.Hardtanh"),
    "hard_sigmoid": _Activation("clamp(z/6 + 1/2, 0, 1)", _CLOSED, "torch.nn.Hardsigmoid"),
    "hard_swish": _Activation(
        "z * clamp(z/6 + 1/2, 0, 1)", _CLOSED, "Howard et al. 2019, arXiv:1905.02244"
    ),
    "relu6": _Activation("clamp(z, 0, 6)", _CLOSED, "torch.nn.ReLU6"),
    "sin": _Activation("sin(z)", "exact: E = (1 - exp(-2))/2", "Sitzmann et al. 2020 (SIREN)"),
}

VARIANCE_PRESERVING_ACTIVATIONS: tuple[str, ...] = (*_ACTIVATIONS, *_ALIASES)

# Generated by `python -m app.core.gains` (compute_variance_preserving_gain at the default
# param); tests/core/test_gains.py recomputes every value and compares the bits.
_FROZEN_VARIANCE_PRESERVING: dict[str, float] = {
    "linear": 1.0,
    "relu": 1.4142135623730951,
    "leaky_relu": 1.4141428569978354,
    "elu": 1.2451983007007066,
    "celu": 1.2451983007007066,
    "selu": 1.0,
    "gelu": 1.5335304411955353,
    "gelu_tanh": 1.533580521666147,
    "silu": 1.676532470331091,
    "mish": 1.486847581273208,
    "softplus": 1.0418668355353018,
    "tanh": 1.5925374197228315,
    "sigmoid": 1.8462285453386054,
    "hard_tanh": 1.3920361404483097,
    "hard_sigmoid": 1.897840424729559,
    "hard_swish": 1.7366572127665416,
    "relu6": 1.4142135650950736,
    "sin": 1.5208666231788148,
}

# ``Piece``: (a, b, polynomial coefficients c0, c1, ... of f on [a, b]); None is infinity.
_Piece = tuple[Fraction | None, Fraction | None, tuple[Fraction, ...]]


def _pieces(name: str, param: Fraction) -> list[_Piece]:
    """The piecewise-polynomial activations, piece by piece (zero pieces omitted)."""
    one, half, sixth = Fraction(1), Fraction(1, 2), Fraction(1, 6)
    z: tuple[Fraction, ...] = (Fraction(0), one)
    three, six = Fraction(3), Fraction(6)
    table: dict[str, list[_Piece]] = {
        "linear": [(None, None, z)],
        "relu": [(Fraction(0), None, z)],
        "leaky_relu": [(None, Fraction(0), (Fraction(0), param)), (Fraction(0), None, z)],
        "relu6": [(Fraction(0), six, z), (six, None, (six,))],
        "hard_tanh": [(None, -one, (-one,)), (-one, one, z), (one, None, (one,))],
        "hard_sigmoid": [(-three, three, (half, sixth)), (three, None, (one,))],
        "hard_swish": [(-three, three, (Fraction(0), half, sixth)), (three, None, z)],
    }
    return table[name]


def _mpq(ctx: MPContext, q: Fraction) -> MPReal:
    return ctx.mpf(q.numerator) / q.denominator


def _piecewise_second_moment(ctx: MPContext, pieces: list[_Piece]) -> MPReal:
    """sum over pieces of int_a^b P(z)^2 phi(z) dz, via truncated moments M_k(a, b)."""
    total = ctx.mpf(0)
    for a, b, coeffs in pieces:
        square = [Fraction(0)] * (2 * len(coeffs) - 1)
        for i, ci in enumerate(coeffs):
            for j, cj in enumerate(coeffs):
                square[i + j] += ci * cj
        lo = ctx.ninf if a is None else _mpq(ctx, a)
        hi = ctx.inf if b is None else _mpq(ctx, b)
        pa = ctx.zero if a is None else ctx.npdf(lo)
        pb = ctx.zero if b is None else ctx.npdf(hi)
        moments = [ctx.ncdf(hi) - ctx.ncdf(lo), pa - pb]
        for k in range(2, len(square)):
            ta = ctx.zero if a is None else lo ** (k - 1) * pa
            tb = ctx.zero if b is None else hi ** (k - 1) * pb
            moments.append(ta - tb + (k - 1) * moments[k - 2])
        total += ctx.fsum(
            _mpq(ctx, c) * m for c, m in zip(square, moments[: len(square)], strict=True)
        )
    return total


def _elu_negative_part(ctx: MPContext, t: MPReal) -> MPReal:
    """int_-inf^0 (exp(t z) - 1)^2 phi(z) dz = e^(2t^2) Phi(-2t) - 2 e^(t^2/2) Phi(-t) + 1/2."""
    return (
        ctx.exp(2 * t * t) * ctx.ncdf(-2 * t)
        - 2 * ctx.exp(t * t / 2) * ctx.ncdf(-t)
        + ctx.mpf(1) / 2
    )


def _gelu_tanh(ctx: MPContext, z: MPReal) -> MPReal:
    inner = ctx.sqrt(2 / ctx.pi) * (z + ctx.mpf("0.044715") * z**3)
    return z / 2 * (1 + ctx.tanh(inner))


# f(z) for the activations integrated by Gauss-Hermite quadrature.
_SMOOTH: dict[str, Callable[[MPContext, MPReal], MPReal]] = {
    "gelu": lambda ctx, z: z * ctx.ncdf(z),
    "gelu_tanh": _gelu_tanh,
    "silu": lambda ctx, z: z / (1 + ctx.exp(-z)),
    "mish": lambda ctx, z: z * ctx.tanh(ctx.log1p(ctx.exp(z))),
    "softplus": lambda ctx, z: ctx.log1p(ctx.exp(z)),
    "tanh": lambda ctx, z: ctx.tanh(z),
    "sigmoid": lambda ctx, z: 1 / (1 + ctx.exp(-z)),
}


def _hermite_evaluator(ctx: MPContext, n: int) -> Callable[[MPReal], tuple[MPReal, MPReal]]:
    """x -> (p_n(x), p_n'(x)) of the orthonormal Hermite polynomial, by the recurrence."""
    c1 = [ctx.zero] + [ctx.sqrt(ctx.mpf(2) / j) for j in range(1, n + 1)]
    c2 = [ctx.zero] + [ctx.sqrt(ctx.mpf(j - 1) / j) for j in range(1, n + 1)]
    p0 = 1 / ctx.root(ctx.pi, 4)
    derivative_factor = ctx.sqrt(2 * n)

    def evaluate(x: MPReal) -> tuple[MPReal, MPReal]:
        p, q = p0, ctx.zero
        for j in range(1, n + 1):
            p, q = x * c1[j] * p - c2[j] * q, p
        return p, derivative_factor * q

    return evaluate


def _initial_guess(ctx: MPContext, n: int, i: int, x: MPReal, nodes: list[MPReal]) -> MPReal:
    """Numerical Recipes' starting guess for node i (``x``: node i - 1, nodes: the others)."""
    if i == 0:
        return ctx.sqrt(2 * n + 1) - ctx.mpf("1.85575") * ctx.power(2 * n + 1, ctx.mpf(-1) / 6)
    if i == 1:
        return x - ctx.mpf("1.14") * ctx.power(n, ctx.mpf("0.426")) / x
    if i == 2:
        return ctx.mpf("1.86") * x - ctx.mpf("0.86") * nodes[0]
    if i == 3:
        return ctx.mpf("1.91") * x - ctx.mpf("0.91") * nodes[1]
    return 2 * x - nodes[i - 2]


def _newton(
    evaluate: Callable[[MPReal], tuple[MPReal, MPReal]], x: MPReal, tolerance: MPReal, what: str
) -> MPReal:
    """A root of ``evaluate``'s polynomial by Newton's method from ``x`` (<= 100 steps)."""
    for _ in range(100):
        p, dp = evaluate(x)
        step = p / dp
        x -= step
        if abs(step) < tolerance:
            return x
    raise RuntimeError(f"{what} did not converge")


@functools.cache
def _gauss_hermite(n: int) -> tuple[tuple[MPReal, ...], tuple[MPReal, ...]]:
    """Nodes x_i >= 0 (descending) and weights of the n-point rule for weight exp(-x^2).

    Newton's method on the orthonormal Hermite recurrence
    ``p_j = x sqrt(2/j) p_(j-1) - sqrt((j-1)/j) p_(j-2)``, ``p_n' = sqrt(2n) p_(n-1)``,
    ``w_i = 2 / p_n'(x_i)^2``; starting guesses of Press et al., Numerical Recipes
    (3rd ed., section 4.6, gauher). Everything is mpmath at 50 digits, hence the same on
    every machine; the rule is checked (sum of weights = sqrt(pi), distinct nodes).
    The numbers belong to :func:`~app.core.precision.exact`'s context: use them in an
    ``exact(50)`` block.
    """
    with exact(_DPS) as ctx:
        evaluate = _hermite_evaluator(ctx, n)
        tolerance = ctx.mpf(10) ** (5 - _DPS)
        nodes: list[MPReal] = []
        weights: list[MPReal] = []
        x = ctx.zero
        for i in range((n + 1) // 2):
            x = _initial_guess(ctx, n, i, x, nodes)
            x = _newton(evaluate, x, tolerance, f"Gauss-Hermite node {i} of {n}")
            nodes.append(x)
            weights.append(2 / evaluate(x)[1] ** 2)
        total = 2 * ctx.fsum(weights) - (weights[-1] if n % 2 else 0)
        distinct = all(a > b for a, b in itertools.pairwise(nodes)) and nodes[-1] >= 0
        if not distinct or abs(total / ctx.sqrt(ctx.pi) - 1) > ctx.mpf(10) ** (10 - _DPS):
            raise RuntimeError(f"the {n}-point Gauss-Hermite rule failed its checks")
    return tuple(nodes), tuple(weights)


def _gauss_hermite_second_moment(ctx: MPContext, name: str) -> MPReal:
    """E[f(z)^2] ~= s/sqrt(2 pi) sum_i w_i f(s x_i)^2 exp((1 - s^2/2) x_i^2), s = 3/4."""
    nodes, weights = _gauss_hermite(_GH_NODES)
    f = _SMOOTH[name]
    s = _mpq(ctx, _GH_SCALE)
    c = 1 - s * s / 2
    terms = []
    for x, w in zip(nodes, weights, strict=True):
        mirrored = [x] if x == 0 else [x, -x]
        for y in mirrored:
            terms.append(w * f(ctx, s * y) ** 2 * ctx.exp(c * y * y))
    return s / ctx.sqrt(2 * ctx.pi) * ctx.fsum(terms)


def _second_moment(ctx: MPContext, name: str, param: int | float) -> MPReal:
    """E[f(z)^2], z ~ N(0, 1), at 50 digits (``param`` is ignored when f has none)."""
    if name in ("linear", "relu", "leaky_relu", "relu6", "hard_tanh", "hard_sigmoid", "hard_swish"):
        return _piecewise_second_moment(ctx, _pieces(name, Fraction(param)))
    half = ctx.mpf(1) / 2
    if name == "elu":
        alpha = _mpq(ctx, Fraction(param))
        return half + alpha**2 * _elu_negative_part(ctx, ctx.one)
    if name == "celu":
        alpha = _mpq(ctx, Fraction(param))
        return half + alpha**2 * _elu_negative_part(ctx, 1 / alpha)
    if name == "selu":
        alpha, scale = ctx.mpf(_SELU_ALPHA), ctx.mpf(_SELU_LAMBDA)
        return scale**2 * (half + alpha**2 * _elu_negative_part(ctx, ctx.one))
    if name == "sin":
        return (1 - ctx.exp(-2)) / 2
    return _gauss_hermite_second_moment(ctx, name)


def _canonical(activation: str) -> str:
    name = _check_name(activation, VARIANCE_PRESERVING_ACTIVATIONS)
    return _ALIASES.get(name, name)


def _check_vp_param(name: str, param: float | None) -> int | float | None:
    """The validated parameter, or None for the default."""
    spec = _ACTIVATIONS[name]
    if param is None:
        return None
    value = _check_param(param)
    if spec.param_name is None:
        raise InvalidParameterError(
            f"activation {name!r} takes no parameter, got param={param!r}.", field="param"
        )
    if name in ("elu", "celu") and not 0 < value <= _PARAM_LIMIT:
        raise InvalidParameterError(
            f"{name} alpha must be in (0, {_PARAM_LIMIT:g}], got {param!r}.", field="param"
        )
    return None if value == spec.default_param else value


@functools.lru_cache(maxsize=1024)
def _compute(name: str, param: int | float) -> float:
    with exact(_DPS) as ctx:
        return round_once(1 / ctx.sqrt(_second_moment(ctx, name, param)))


def compute_variance_preserving_gain(activation: str, param: float | None = None) -> float:
    """``1 / sqrt(E[f(z)^2])`` computed now in mpmath (see the module docstring), cached.

    This is the generator of the frozen table; :func:`variance_preserving_gain` is the
    fast entry point. Takes milliseconds for a closed form, ~0.3 s for the first
    Gauss-Hermite activation (building the 150-node rule), then milliseconds.
    """
    name = _canonical(activation)
    value = _check_vp_param(name, param)
    default = _ACTIVATIONS[name].default_param
    return _compute(name, value if value is not None else (default if default is not None else 0))


def variance_preserving_gain(activation: str, param: float | None = None) -> float:
    """weightinit's rule ``1 / sqrt(E[f(z)^2])``, z ~ N(0, 1) (see the module docstring).

    ``param``: the leaky_relu negative slope (default 0.01, any finite real), or the
    elu/celu alpha (default 1.0, in (0, 1e6]); other activations take none. The default
    parameter is served from the frozen table; any other value is computed on demand.
    """
    name = _canonical(activation)
    value = _check_vp_param(name, param)
    if value is None:
        return _FROZEN_VARIANCE_PRESERVING[name]
    return _compute(name, value)


def calculate_gain(
    nonlinearity: str, param: float | None = None, rule: GainRule = GainRule.TORCH
) -> float:
    """The gain of ``nonlinearity`` under ``rule``; always a Python float.

    ``GainRule.TORCH`` is :func:`torch_gain` (torch returns the int 1 for the linear
    names, we return 1.0); ``GainRule.VARIANCE_PRESERVING`` is
    :func:`variance_preserving_gain`.
    """
    try:
        chosen = GainRule(rule)
    except ValueError:
        raise UnknownNameError("gain rule", str(rule), [r.value for r in GainRule]) from None
    if chosen is GainRule.TORCH:
        return torch_gain(nonlinearity, param)
    return variance_preserving_gain(nonlinearity, param)


_TORCH_FORMULAS = {
    "sigmoid": "1",
    "tanh": "5.0 / 3",
    "relu": "math.sqrt(2.0)",
    "leaky_relu": "math.sqrt(2.0 / (1 + a * a)), a = negative_slope (torch writes a**2)",
    "selu": "3.0 / 4 (empirical; pytorch/pytorch#24991, PR #50664)",
}


def gain_table() -> list[GainEntry]:
    """Every name of both rules with its gain at the default parameter, formula and source."""
    entries = [
        GainEntry(
            name,
            GainRule.TORCH,
            "negative_slope" if name == "leaky_relu" else None,
            _TORCH_DEFAULT_SLOPE if name == "leaky_relu" else None,
            torch_gain(name),
            _TORCH_FORMULAS.get(name, "1"),
            _TORCH_REF,
        )
        for name in TORCH_NONLINEARITIES
    ]
    for name in VARIANCE_PRESERVING_ACTIVATIONS:
        spec = _ACTIVATIONS[_ALIASES.get(name, name)]
        alias = f" (alias of {_ALIASES[name]})" if name in _ALIASES else ""
        entries.append(
            GainEntry(
                name,
                GainRule.VARIANCE_PRESERVING,
                spec.param_name,
                spec.default_param,
                variance_preserving_gain(name),
                f"1/sqrt(E[f(z)^2]), z ~ N(0,1), f(z) = {spec.formula}{alias}; E: {spec.method}",
                spec.reference,
            )
        )
    return entries


if __name__ == "__main__":  # regenerate _FROZEN_VARIANCE_PRESERVING
    print("_FROZEN_VARIANCE_PRESERVING: dict[str, float] = {")
    for _name in _ACTIVATIONS:
        print(f'    "{_name}": {compute_variance_preserving_gain(_name)!r},')
    print("}")
