"""variance_scaling and its presets (Glorot/Xavier, He/Kaiming, LeCun), in four operation orders.

One mechanism, as ``jax.nn.initializers.variance_scaling(scale, mode, distribution)``:
``var = scale / n`` with ``n`` = fan_in, fan_out, (fan_in + fan_out) / 2 or sqrt(fan_in * fan_out),
then

* ``normal``:            N(0, var)
* ``uniform``:           U(-sqrt(3 var), sqrt(3 var))
* ``truncated_normal``:  N(0, sigma^2) cut at +-2 sigma, sigma = sqrt(var) / c with
  c = 0.8796256610342398..., the std of N(0, 1) truncated to (-2, 2), so the result has
  variance ``var`` exactly (Keras and JAX; keras-team/keras#8048).

The same numbers can be computed in different operation orders, which changes the last bit
of a float64 constant (../shared/reference/initializers.md §1.5). Each order is explicit:

* ``exact`` (weightinit's canonical names): the real number, rounded once (mpmath, 50 digits);
  ``scale`` is carried as an exact rational (gain**2 of torch's table is 2/(1+a^2), 25/9...).
* ``torch``: ``gain * math.sqrt(2.0 / float(fi + fo))``, ``gain / math.sqrt(fan)``,
  ``bound = math.sqrt(3.0) * std`` (torch/nn/init.py).
* ``keras``: ``scale /= max(1.0, n)``; ``math.sqrt(scale) / 0.87962566103423978``,
  ``math.sqrt(scale)``, ``math.sqrt(3.0 * scale)`` (keras/src/initializers/random_initializers.py).
* ``jax``: ``variance = dtype(scale / n)``; ``sqrt(variance) / dtype(.87962566103423978)``,
  ``sqrt(variance)``, ``sqrt(3 * variance)`` all in the weight's dtype
  (jax/_src/nn/initializers.py).
* ``textbook`` (what the numpy-legacy algorithm uses for ``exact`` rows):
  ``math.sqrt(float(scale) / n)``, so ``he`` is ``randn(...) * sqrt(2 / n)`` exactly as
  written in textbooks.

Only ``+ - * /`` and ``sqrt`` (IEEE, correctly rounded) appear: every constant is the same
double on every machine.

The registry's variance rows name one of three engines, each with its ``order`` fixed by the
row: :func:`variance_scaling` (scale given), :func:`variance_scaling_with_gain` (scale =
gain^2: Glorot/Xavier) and :func:`variance_scaling_for_activation` (scale = gain(activation)^2:
He/Kaiming).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from fractions import Fraction
from typing import Any

import ml_dtypes
import numpy as np

from ..errors import InvalidParameterError, WeightInitError
from ..fans import Fans
from ..gains import TORCH_NONLINEARITIES, torch_gain, variance_preserving_gain
from ..laws import Law, NormalLaw, UniformLaw, truncated_law
from ..precision import MPContext, MPReal, exact, round_once
from ..types import Algorithm, Distribution, DType, Mode
from .base import Params, TensorContext

# The literal Keras and JAX use: std of N(0, 1) truncated to (-2, 2).
KERAS_JAX_TRUNC_STD_2SIGMA = 0.87962566103423978
_DPS = 50


class Order(StrEnum):
    EXACT = "exact"
    TORCH = "torch"
    KERAS = "keras"
    JAX = "jax"
    TEXTBOOK = "textbook"


def _trunc_std_2sigma_mp(mp: MPContext) -> MPReal:
    """std of N(0,1) truncated to (-2, 2): sqrt(1 - 4 phi(2) / (2 Phi(2) - 1)), in mpmath."""
    two = mp.mpf(2)
    return mp.sqrt(1 - 2 * two * mp.npdf(two) / (2 * mp.ncdf(two) - 1))


def _denominator_mp(mp: MPContext, fans: Fans, mode: Mode) -> MPReal:
    if mode is Mode.FAN_GEO_AVG:
        return mp.sqrt(mp.mpf(fans.fan_in) * fans.fan_out)
    return mp.mpf(_denominator_float(fans, mode))  # exact: a fan or half a sum of fans


def _denominator_float(fans: Fans, mode: Mode) -> float:
    fi, fo = fans.fan_in, fans.fan_out
    if mode is Mode.FAN_IN:
        return fi
    if mode is Mode.FAN_OUT:
        return fo
    if mode is Mode.FAN_AVG:
        return (fi + fo) / 2
    return math.sqrt(fi * fo)  # JAX writes ** 0.5; sqrt is the correctly rounded equivalent


def _truncated(sigma: float) -> Law:
    return truncated_law(0.0, sigma, -2.0 * sigma, 2.0 * sigma)


def exact_law(scale: Fraction, fans: Fans, mode: Mode, distribution: Distribution) -> Law:
    """The ``exact`` order: each constant is the real value rounded once."""
    with exact(_DPS) as mp:
        var = mp.mpf(scale.numerator) / scale.denominator / _denominator_mp(mp, fans, mode)
        if distribution is Distribution.UNIFORM:
            bound = round_once(mp.sqrt(3 * var))
            return UniformLaw(-bound, bound)
        if distribution is Distribution.NORMAL:
            return NormalLaw(0.0, round_once(mp.sqrt(var)))
        sigma = round_once(mp.sqrt(var) / _trunc_std_2sigma_mp(mp))
    return _truncated(sigma)


def textbook_law(scale: Fraction, fans: Fans, mode: Mode, distribution: Distribution) -> Law:
    """The ``textbook`` order: ``math.sqrt(float(scale) / n)`` (numpy-legacy)."""
    var = float(scale) / _denominator_float(fans, mode)
    if distribution is Distribution.UNIFORM:
        bound = math.sqrt(3.0 * var)
        return UniformLaw(-bound, bound)
    if distribution is Distribution.NORMAL:
        return NormalLaw(0.0, math.sqrt(var))
    return _truncated(math.sqrt(var) / KERAS_JAX_TRUNC_STD_2SIGMA)


def keras_law(scale: float, fans: Fans, mode: Mode, distribution: Distribution) -> Law:
    """Keras 3 ``VarianceScaling.__call__`` order, with its ``max(1, n)`` guard."""
    scale /= max(1.0, _denominator_float(fans, mode))
    if distribution is Distribution.UNIFORM:
        limit = math.sqrt(3.0 * scale)
        return UniformLaw(-limit, limit)
    if distribution is Distribution.NORMAL:
        return NormalLaw(0.0, math.sqrt(scale))
    return _truncated(math.sqrt(scale) / KERAS_JAX_TRUNC_STD_2SIGMA)


_JAX_SCALAR_TYPES: dict[DType, type[np.generic]] = {
    DType.FLOAT32: np.float32,
    DType.FLOAT64: np.float64,
    DType.FLOAT16: np.float16,
    DType.BFLOAT16: ml_dtypes.bfloat16,
}


def jax_law(scale: float, fans: Fans, mode: Mode, distribution: Distribution, dtype: DType) -> Law:
    """JAX ``variance_scaling`` order: the variance and its square root in the weight dtype."""
    t: Any = _JAX_SCALAR_TYPES[dtype]
    with np.errstate(over="ignore"):  # a variance past the dtype's range is inf, as in JAX
        variance = t(scale / _denominator_float(fans, mode))
    if distribution is Distribution.UNIFORM:
        bound = float(np.sqrt(t(3) * variance))
        return UniformLaw(-bound, bound)
    if distribution is Distribution.NORMAL:
        return NormalLaw(0.0, float(np.sqrt(variance)))
    stddev = np.sqrt(variance) / t(KERAS_JAX_TRUNC_STD_2SIGMA)
    return _truncated(float(stddev))


def torch_xavier_law(gain: float, fans: Fans, distribution: Distribution) -> Law:
    """torch.nn.init.xavier_{uniform,normal}_: ``std = gain * math.sqrt(2.0 / float(fi + fo))``."""
    std = gain * math.sqrt(2.0 / float(fans.fan_in + fans.fan_out))
    if distribution is Distribution.UNIFORM:
        bound = math.sqrt(3.0) * std
        return UniformLaw(-bound, bound)
    return NormalLaw(0.0, std)


def torch_kaiming_law(
    a: float, mode: Mode, nonlinearity: str, fans: Fans, distribution: Distribution
) -> Law:
    """torch.nn.init.kaiming_{uniform,normal}_: ``std = gain / math.sqrt(fan)``."""
    fan = fans.fan_in if mode is Mode.FAN_IN else fans.fan_out
    gain = torch_gain(nonlinearity, a)
    std = gain / math.sqrt(fan)
    if distribution is Distribution.UNIFORM:
        bound = math.sqrt(3.0) * std
        return UniformLaw(-bound, bound)
    return NormalLaw(0.0, std)


def torch_gain_squared(nonlinearity: str, param: float | None) -> Fraction:
    """gain**2 of torch's table as an exact rational (validates like calculate_gain)."""
    torch_gain(nonlinearity, param)
    if nonlinearity == "tanh":
        return Fraction(25, 9)
    if nonlinearity == "relu":
        return Fraction(2)
    if nonlinearity == "leaky_relu":
        slope = Fraction(0.01) if param is None else Fraction(param)
        return 2 / (1 + slope * slope)
    if nonlinearity == "selu":
        return Fraction(9, 16)
    return Fraction(1)


def he_scale(a: float, nonlinearity: str, gain_rule: str) -> Fraction:
    """scale = gain(nonlinearity, a)**2; ``a`` is the leaky_relu slope (torch's meaning)."""
    param = a if nonlinearity == "leaky_relu" else None
    if gain_rule == "torch":
        if nonlinearity not in TORCH_NONLINEARITIES:
            raise InvalidParameterError(
                f"nonlinearity {nonlinearity!r} is not in torch's gain table "
                f"({', '.join(TORCH_NONLINEARITIES)}); set gain_rule='variance_preserving' "
                "for a gain computed from the activation itself.",
                field="nonlinearity",
            )
        return torch_gain_squared(nonlinearity, param)
    return Fraction(variance_preserving_gain(nonlinearity, param)) ** 2


def variance_law(
    order: Order,
    scale: Fraction,
    fans: Fans,
    mode: Mode,
    distribution: Distribution,
    *,
    dtype: DType,
    algorithm: Algorithm,
) -> Law:
    """Dispatch to one operation order; numpy-legacy always uses the textbook order."""
    if algorithm is Algorithm.NUMPY_LEGACY and order is Order.EXACT:
        return textbook_law(scale, fans, mode, distribution)
    if order is Order.EXACT:
        return exact_law(scale, fans, mode, distribution)
    if order is Order.KERAS:
        return keras_law(float(scale), fans, mode, distribution)
    if order is Order.JAX:
        return jax_law(float(scale), fans, mode, distribution, dtype)
    if order is Order.TEXTBOOK:
        return textbook_law(scale, fans, mode, distribution)
    raise ValueError("torch order has its own functions")  # pragma: no cover


# ---- engines (the registry rows fix ``order`` and some of the other arguments) ---------------

KERAS_DISTRIBUTIONS = {
    # Keras's names; its normal is truncated (silently in Keras; documented here).
    Distribution.TRUNCATED_NORMAL.value: Distribution.TRUNCATED_NORMAL,
    "untruncated_normal": Distribution.NORMAL,
    Distribution.NORMAL.value: Distribution.TRUNCATED_NORMAL,
    Distribution.UNIFORM.value: Distribution.UNIFORM,
}


def variance_scaling(
    ctx: TensorContext,
    *,
    order: Order,
    scale: Fraction | float,
    mode: Mode | str,
    distribution: Distribution | str,
) -> Law:
    """``var = scale / n`` (n from ``mode``), sampled as ``distribution``, in ``order``.

    jax.nn.initializers.variance_scaling; keras.initializers.VarianceScaling. A float
    ``scale`` is converted to a rational exactly."""
    if _torch_cpu_exact(ctx, order, distribution) and Fraction(scale) == 1:
        mode = Mode(mode)
        if mode in (Mode.FAN_IN, Mode.FAN_OUT):  # LeCun: kaiming_*_(nonlinearity='linear')
            dist = Distribution(distribution)
            return torch_kaiming_law(0.0, mode, "linear", ctx.require_fans(), dist)
    return variance_law(
        order,
        Fraction(scale),
        ctx.require_fans(),
        Mode(mode),
        Distribution(distribution),
        dtype=ctx.dtype,
        algorithm=ctx.algorithm,
    )


def variance_scaling_with_gain(
    ctx: TensorContext,
    *,
    order: Order,
    gain: float,
    mode: Mode | str,
    distribution: Distribution | str,
) -> Law:
    """Glorot/Xavier: ``scale = gain^2``. In torch's order this is ``xavier_*_``, which only
    exists for ``fan_avg``: ``std = gain * math.sqrt(2.0 / float(fan_in + fan_out))``."""
    if _torch_cpu_exact(ctx, order, distribution) and Mode(mode) is Mode.FAN_AVG:
        order = Order.TORCH
    if order is Order.TORCH:
        assert Mode(mode) is Mode.FAN_AVG, "torch's xavier_*_ divide by fan_avg only"
        return torch_xavier_law(gain, ctx.require_fans(), Distribution(distribution))
    return variance_scaling(
        ctx, order=order, scale=Fraction(gain) ** 2, mode=mode, distribution=distribution
    )


def variance_scaling_for_activation(
    ctx: TensorContext,
    *,
    order: Order,
    a: float,
    nonlinearity: str,
    gain_rule: str,
    mode: Mode | str,
    distribution: Distribution | str,
) -> Law:
    """He/Kaiming: ``scale = gain(nonlinearity, a)^2`` (:func:`he_scale`). In torch's order this
    is ``kaiming_*_``: ``std = calculate_gain(nonlinearity, a) / math.sqrt(fan)``."""
    torch_mode = Mode(mode) in (Mode.FAN_IN, Mode.FAN_OUT)
    if _torch_cpu_exact(ctx, order, distribution) and gain_rule == "torch" and torch_mode:
        order = Order.TORCH
    if order is Order.TORCH:
        assert gain_rule == "torch", "torch's kaiming_*_ use torch's gain table"
        fans = ctx.require_fans()
        return torch_kaiming_law(a, Mode(mode), nonlinearity, fans, Distribution(distribution))
    scale = he_scale(a, nonlinearity, gain_rule)
    return variance_scaling(ctx, order=order, scale=scale, mode=mode, distribution=distribution)


def _torch_cpu_exact(ctx: TensorContext, order: Order, distribution: object) -> bool:
    """A canonical (``exact``-order) row under torch-cpu that has a torch.nn.init function:
    Glorot/He/LeCun uniform and normal compute their constants in torch's order, so they give
    the bytes of ``xavier_*_``/``kaiming_*_`` (truncated rows keep the exact order)."""
    return (
        ctx.algorithm is Algorithm.TORCH_CPU
        and order is Order.EXACT
        and Distribution(str(distribution)) in (Distribution.UNIFORM, Distribution.NORMAL)
    )


def keras_variance_scaling(
    ctx: TensorContext, *, scale: float, mode: Mode | str, distribution: str
) -> Law:
    """keras.initializers.VarianceScaling, with Keras's distribution names
    (:data:`KERAS_DISTRIBUTIONS`: its ``normal`` is truncated)."""
    return variance_scaling(
        ctx,
        order=Order.KERAS,
        scale=scale,
        mode=mode,
        distribution=KERAS_DISTRIBUTIONS[distribution],
    )


def check_activation_gain(p: Params) -> None:
    """At resolve time: the activation has a gain under ``gain_rule`` (a 422 names ``a`` or
    ``nonlinearity``, not a 500 when the first tensor is built)."""
    with _gain_fields():
        he_scale(p.num("a"), p.text("nonlinearity"), p.text("gain_rule"))


def check_torch_gain(p: Params) -> None:
    """At resolve time: torch's ``calculate_gain(nonlinearity, a)`` exists (torch.kaiming_*_)."""
    with _gain_fields():
        torch_gain(p.text("nonlinearity"), p.num("a"))


@contextmanager
def _gain_fields() -> Iterator[None]:
    """The gain functions' own field names, as the scheme's parameters: ``param`` is ``a``."""
    try:
        yield
    except WeightInitError as exc:
        if exc.field == "param":
            exc.field = "a"
        elif exc.field is None:
            exc.field = "nonlinearity"
        raise
