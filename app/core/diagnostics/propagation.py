r"""Mean-field prediction of a chain's signal propagation, with a derived finite-width tolerance.

The variance recursion of Poole et al. 2016 ("Exponential expressivity in deep neural
networks through transient chaos", arXiv:1606.05340) and Schoenholz et al. 2017 ("Deep
information propagation", arXiv:1611.01232), per link ``l``, with ``s_w^2`` the main
weight's second moment per entry (``weight_std_theory^2``, or the weight's empirical
``mean(W^2)`` when the theory is unknown), ``s_b^2 = mean(b^2)`` of the actual bias,
``mu`` the output multiplier and ``m_{l-1} = E[a_{l-1}^2]``::

    dense   q_l = mu^2 s_w^2 fan_in m_{l-1} + s_b^2          (fan_in = weight rows)
    conv    q_l(p) = mu^2 s_w^2 (C_in / groups) sum_{taps in bounds} m_{l-1}(p + tap) + s_b^2
    norm    q_l(p) = mean(scale^2) v(p) / (mean_p v + eps) + mean(shift^2),
            v = m - E[a]^2 (rms_norm: v = m)
    then    m_l = E[f(z)^2], E[a_l] = E[f(z)], z ~ N(c_l, q_l - c_l^2)
            (activations.gaussian_moments; c_l = mean(b), or mean(shift) plus rms_norm's
            mean(scale) E[a]/rms: 0 for Poole's zero-mean biases, exact for a constant one)

and backward, with ``g`` the mean square of a gradient and the gradient-independence
assumption (Schoenholz et al. 2017, sec. 5; Yang 2019)::

    g(dL/dh_l) = E[f'(z_l)^2] g(dL/da_l)
    dense   g(dL/da_{l-1}) = mu^2 s_w^2 fan_out g(dL/dh_l)
    conv    g(dL/da_{l-1})(p) = mu^2 s_w^2 (C_out / groups) sum_{taps reaching p} g(dL/dh_l)
    norm    g(dL/da_{l-1}) = mean(scale^2) g(dL/dh_l) (1 - k/N) / (mean v + eps),
            k = 2 (centred) or 1 (rms), N elements per normalisation group

starting from ``input_second_moment`` and ``upstream_second_moment``. With ``input_shape``
the conv terms are resolved per spatial position ``p`` (a map over the spatial axes): zero
padding makes border positions see fewer taps, and a stride makes input positions receive
different numbers of taps; without it they are the interior values (``fan_in`` and
``C_out/groups * prod(kernel) / prod(stride)``).

Where the recursion stops: an attention link (softmax mixing has no closed-form second
moment here) and an embedding link (a lookup, not a sum of ``fan_in`` terms) get ``None``.
After an embedding the recursion continues from its table (``m = mean(f(W)^2)``, the
expectation over uniformly drawn ids); after an attention it stays unknown until a norm,
which restarts it assuming the unknown input's variance ``v`` is at least ``100 eps``
(``q = mean(scale^2) + mean(shift^2)``, off by at most ``log(1.01)``: :data:`RESTART_SD`).
A gradient has no prediction (``None``) when an attention link lies between it and the
output.

Tolerance (:func:`tolerance_from_log_variance`): see its docstring for the derivation.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .activations import Moments, apply, gaussian_moments
from .chain import (
    Attention,
    Conv,
    Dense,
    Embedding,
    Link,
    Norm,
    Step,
    chain_shapes,
)
from .chain import channels_first as _channels_first
from .ops import Array, ConvGeometry, Shape, conv_forward, conv_input_gradient

__all__ = [
    "Z_MULTIPLIER",
    "Prediction",
    "agrees",
    "predict",
    "tolerance_from_log_variance",
]

Z_MULTIPLIER = 4.0
# A norm after an unknown link: the input variance v is assumed >= 100 eps, so the unknown
# factor v / (v + eps) is within log(1 + 1/100) of 1; carried as a noise of this sd, which
# the tolerance's z = 4 turns back into log(1.01).
RESTART_SD = math.log1p(0.01) / Z_MULTIPLIER


@dataclass(frozen=True)
class Prediction:
    """Mean-field values of one link, beside LayerStats' empirical ones.

    ``tolerance``: allowed ``|log(empirical / predicted)|`` of ``activation_squared_mean``;
    ``preactivation_tolerance`` and ``gradient_tolerance`` the same for the mean squares of
    ``h`` and of ``dL/dh`` (``preactivation_std^2``, ``gradient_std^2``). A std's log-ratio
    is half its mean square's, so the same numbers bound the stds with a factor 2 to spare.
    ``gradient_std``/``gradient_tolerance`` are None when no gradient prediction exists.
    """

    preactivation_std: float
    activation_std: float
    activation_squared_mean: float
    gradient_std: float | None
    tolerance: float
    preactivation_tolerance: float
    gradient_tolerance: float | None


def tolerance_from_log_variance(log_variance: float, z: float = Z_MULTIPLIER) -> float:
    r"""``z sqrt(V) + V / 2``: the allowed ``|log(empirical / predicted)|`` of a mean square
    whose log has (at most) variance ``V``.

    Derivation (per link, conditionally on the previous layer; Gaussian weights, and the
    same argument with Poole et al.'s Gaussian approximation otherwise):

    * Given the layer's input ``x``, each of the ``n`` output units ``h_j = w_j . x + b_j``
      is an independent Gaussian with variance ``q_hat = s_w^2 |x|^2 + s_b^2`` (each unit
      has its own weights). The mean square of ``f(h_j)`` over the ``n`` units is then an
      average of ``n`` i.i.d. terms: its relative variance is
      ``kappa_f / n``, ``kappa_f = E[f^4] / E[f^2]^2 - 1`` (``kappa = 2`` for the
      pre-activations themselves, 5 for relu, whence Hanin's ``5/n`` per layer).
    * ``q_hat`` inherits the previous layer's relative fluctuation, scaled by the share of
      ``q`` that comes from the input, ``w = 1 - s_b^2 / q``; the activation's mean square
      then moves by ``chi = d log E[f^2] / d log q`` times that (1 for relu, < 1 for tanh).
      To first order the log-variances add over depth::

          V_h(l) = w^2 V_a(l-1) + 2 r / n_l
          V_a(l) = chi^2 w^2 V_a(l-1) + kappa_f r / n_l

      with ``V_a(0) = 2 / N`` for ``N`` i.i.d. standard-normal input elements (known from
      ``input_shape``), and 0 otherwise (the input's second moment taken as exact).
    * Batch (and spatial positions, which share a conv's filters): the reported numbers
      average over the batch, but the samples share the weights, so their fluctuations are
      correlated: for a pair of samples whose pre-activations have correlation ``rho``,
      ``Cov(g(h), g(h')) <= |rho| Var(g)`` (Hermite expansion), and deep networks align
      their inputs (``rho -> 1`` for relu). So ``r = 1`` (no credit for the batch: the
      bound ``Var(batch mean) <= Var(one sample)``), except for a first dense link fed
      i.i.d. rows, where ``E|rho| = sqrt(2 / (pi fan_in))`` and
      ``r = 1/B + (1 - 1/B) sqrt(2 / (pi fan_in))`` for ``B`` rows.
    * Gradients, from the output down: ``dL/dh = f'(h) u`` with ``u`` Gaussian given the
      layer above, so each link adds ``(3 E[f'^4] / E[f'^2]^2 - 1) / n_l`` to the log
      variance (5/n for relu again), the upstream's own sampling ``2 / N_out``, and the
      forward fluctuation of ``q`` through ``d log E[f'^2] / d log q`` (added to the
      standard deviation, not the variance: the two are correlated).
    * A norm's output mean square is set by the normalisation, not by sampling: it restarts
      ``V_h`` at ``(eps / (v + eps))^2`` times the input's.

    ``log(mean square)`` is then approximately ``N(log(predicted) - V/2, V)``: the ``V/2``
    is the log-normal's bias, and ``z = 4`` (two-sided Gaussian tail ``6.3e-5`` per
    comparison) keeps a report of a few hundred comparisons free of false alarms while
    ``V`` is itself an upper bound.
    """
    v = max(float(log_variance), 0.0)
    return z * math.sqrt(v) + 0.5 * v


def agrees(empirical: float, predicted: float, tolerance: float) -> bool:
    """``|log(empirical / predicted)| <= tolerance``; both exactly 0 also agree."""
    if empirical == 0.0 and predicted == 0.0:
        return True
    if not (empirical > 0.0 and predicted > 0.0):
        return False
    return abs(math.log(empirical / predicted)) <= tolerance


# ------------------------------------------------------------------------------ state


@dataclass(frozen=True, eq=False)
class _Signal:
    """The mean-field state of a link's output ``a`` (maps over spatial positions)."""

    m: Array  # E[a^2]
    mu: Array  # E[a]
    c: Array  # log(empirical mean square of a) - log(m): coefficients on independent noises
    kurtosis: tuple[float, float] = (2.0, 2.0)  # excess E[a^4]/E[a^2]^2 - 1: (raw, centred)


_Transfer = Callable[[Array], Array]  # g(dL/dh_l) map -> g(dL/da_{l-1}) map


@dataclass(frozen=True, eq=False)
class _Pre:
    """A link's pre-activation: q map, mean, and what the tolerance and backward need."""

    q: Array
    mean: float
    carried: Array  # coefficients of log(q_hat / q): w * c_{l-1}
    noise: float  # r / n_l
    pre_noise: float  # 2 r / n_l for sums of weights; 0 after a norm
    transfer: _Transfer
    back: Array  # coefficients the backward picks up here (a norm's -log v)


def _mean(a: Array) -> float:
    return float(np.mean(a))


def _weight_var(link: Link, weight: Array) -> float:
    if link.weight_std_theory is not None:  # the second moment: a constant's is value^2
        return float(link.weight_std_theory) ** 2 + float(link.weight_mean_theory) ** 2
    return float(np.mean(weight * weight))


def _bias_moments(bias: Array | None) -> tuple[float, float]:
    if bias is None or bias.size == 0:
        return 0.0, 0.0
    return float(np.mean(bias * bias)), float(np.mean(bias))


def _share(q: Array, sb2: float) -> float:
    total = _mean(q)
    return 0.0 if total <= 0.0 or not math.isfinite(total) else max(1.0 - sb2 / total, 0.0)


def _ones_kernel(geo: ConvGeometry) -> tuple[Array, ConvGeometry]:
    single = ConvGeometry(geo.kernel, geo.stride, geo.padding, geo.dilation, 1)
    return np.ones((1, 1, *geo.kernel)), single


def _tap_sum(m: Array, geo: ConvGeometry) -> Array:
    """sum over the kernel taps in bounds of m(p * stride + tap * dilation - padding)."""
    ones, single = _ones_kernel(geo)
    h, _ = conv_forward(m[None, None], ones, None, single, 1.0)
    out: Array = h[0, 0]
    return out


def _tap_sum_transposed(g: Array, geo: ConvGeometry, spatial: Shape) -> Array:
    ones, single = _ones_kernel(geo)
    dx = conv_input_gradient(g[None, None], (1, 1, *spatial), ones, single, 1.0)
    out: Array = dx[0, 0]
    return out


@dataclass(frozen=True)
class _Context:
    """What a link's handler knows besides the signal: shapes (None without input_shape)."""

    index: int
    shape_in: Shape | None
    shape_out: Shape | None
    first_rows: bool  # first link, float inputs: i.i.d. rows


def _units(shape: Shape | None, channels: int | None) -> int:
    if channels is not None:
        return channels
    return int(shape[-1]) if shape else 1


def _dense(link: Link, step: Dense, sig: _Signal, ctx: _Context) -> _Pre:
    fan, out = step.weight.shape
    mult2 = float(link.output_multiplier) ** 2
    sw2 = _weight_var(link, step.weight)
    sb2, bmean = _bias_moments(step.bias)
    q = np.asarray(mult2 * sw2 * fan * _mean(sig.m) + sb2)
    r = 1.0
    if ctx.first_rows and ctx.shape_in is not None:
        rows = math.prod(ctx.shape_in[:-1])
        r = 1.0 / rows + (1.0 - 1.0 / rows) * math.sqrt(2.0 / (math.pi * fan))
    in_map = sig.m.shape

    def transfer(g: Array) -> Array:
        return np.full(in_map, mult2 * sw2 * out * _mean(g))

    w = _share(q, sb2)
    return _Pre(q, bmean, w * sig.c, r / out, 2.0 * r / out, transfer, 0.0 * sig.c)


def _conv(link: Link, step: Conv, sig: _Signal, ctx: _Context) -> _Pre:
    geo = step.geometry()
    out, per_group = int(step.weight.shape[0]), int(step.weight.shape[1])
    mult2 = float(link.output_multiplier) ** 2
    sw2 = _weight_var(link, step.weight)
    sb2, bmean = _bias_moments(step.bias)
    spatial = None if ctx.shape_in is None else ctx.shape_in[2:]
    if spatial is not None:
        m = np.broadcast_to(sig.m, spatial) if sig.m.ndim == 0 else sig.m
        q = mult2 * sw2 * per_group * _tap_sum(np.ascontiguousarray(m), geo) + sb2
    else:
        q = np.asarray(mult2 * sw2 * per_group * math.prod(geo.kernel) * _mean(sig.m) + sb2)
    fan_out = out // step.groups

    def transfer(g: Array) -> Array:
        if spatial is None:
            coverage = math.prod(geo.kernel) / math.prod(geo.stride)
            return np.asarray(mult2 * sw2 * fan_out * coverage * _mean(g))
        g_map = np.broadcast_to(g, q.shape) if g.ndim == 0 else g
        return (
            mult2 * sw2 * fan_out * _tap_sum_transposed(np.ascontiguousarray(g_map), geo, spatial)
        )

    w = _share(q, sb2)
    return _Pre(q, bmean, w * sig.c, 1.0 / out, 2.0 / out, transfer, 0.0 * sig.c)


def _group_size(step: Norm, shape: Shape | None) -> int | None:
    if shape is None:
        return None
    if step.kind in ("layer_norm", "rms_norm"):
        return math.prod(shape[len(shape) - step.trailing() :])
    if step.kind == "batch_norm":
        return shape[0] * math.prod(shape[2:])
    return shape[1] // step.num_groups * math.prod(shape[2:])


def _norm_noise(step: Norm, sig: _Signal | None, size: int, q: float) -> float:
    """Relative variance of the norm output's mean square over one normalisation group of
    ``size`` elements: ``(Var_j(s_j^2) kappa + 4 mean(s^2 t^2)) / (size q^2)`` (scale s,
    shift t; the normalised x has mean square 1 exactly, so only the weighting by s_j^2 and
    the cross term fluctuate); 0 for batch_norm (exact per channel)."""
    if step.kind == "batch_norm" or q <= 0:
        return 0.0
    s2 = np.ones(1) if step.scale is None else step.scale * step.scale
    t = np.zeros(1) if step.shift is None else step.shift
    raw, centred = sig.kurtosis if sig is not None else (2.0, 2.0)
    kappa = raw if step.kind == "rms_norm" else centred
    spread = float(np.var(s2)) * kappa + 4.0 * float(np.mean(s2 * t * t))
    return spread / (max(size, 1) * q * q)


@dataclass(frozen=True, eq=False)
class _NormInput:
    v: Array  # the variance the norm divides by (rms_norm: the mean square), per position
    c: Array  # its log's noise coefficients
    centre: float  # mean of the normalised output before the affine (rms_norm: mu / rms)
    eps: float


def _norm_input(step: Norm, sig: _Signal | None, ctx: _Context, zero: Array) -> _NormInput:
    if sig is None:  # restart after an unknown link, assuming v >= 100 eps (module docstring)
        c = zero.copy()
        c[ctx.index + 1] = RESTART_SD
        return _NormInput(np.asarray(1.0), c, 0.0, 0.0)
    eps = float(step.eps)
    if step.kind == "rms_norm":  # keeps the input's mean
        return _NormInput(sig.m, sig.c, _mean(sig.mu) / math.sqrt(_mean(sig.m) + eps), eps)
    return _NormInput(np.maximum(sig.m - sig.mu * sig.mu, 0.0), sig.c, 0.0, eps)


def _norm(
    step: Norm, sig: _Signal | None, ctx: _Context, channels_first: bool, zero: Array
) -> _Pre:
    ss = 1.0 if step.scale is None else float(np.mean(step.scale * step.scale))
    sh2, shmean = _bias_moments(step.shift)
    got = _norm_input(step, sig, ctx, zero)
    denom = _mean(got.v) + got.eps
    q = ss * (got.v / denom if denom > 0 else np.zeros_like(got.v)) + sh2
    size = _group_size(step, ctx.shape_in)
    # the backward projects out the mean (centred kinds) and x_hat: 1 - k/N of the energy
    keep = 1.0 if size is None else max(1.0 - (1 if step.kind == "rms_norm" else 2) / size, 0.0)
    rel = got.eps / denom if denom > 0 else 0.0
    first = channels_first and ctx.shape_in is not None and len(ctx.shape_in) > 2
    n = _units(ctx.shape_in, ctx.shape_in[1] if first and ctx.shape_in else None)
    pre_noise = _norm_noise(step, sig, size if size is not None else n, _mean(q))

    def transfer(g: Array) -> Array:
        return ss * keep * g / denom if denom > 0 else np.zeros_like(g)

    carried = got.c if sig is None else rel * got.c
    # the backward divides by the empirical v: its log moves like the input's mean square
    back = -(1.0 - rel) * got.c if sig is not None else zero
    mean = shmean + (1.0 if step.scale is None else float(np.mean(step.scale))) * got.centre
    return _Pre(q, mean, carried, 1.0 / n, pre_noise, transfer, back)


# -------------------------------------------------------------------------- moments map


@dataclass(frozen=True, eq=False)
class _Act:
    second: Array
    mean: Array
    d2: Array
    kurtosis: tuple[float, float]  # of a: (raw, centred), from position-averaged moments
    kappa: float  # E[f^4]/E[f^2]^2 - 1 (position-averaged moments)
    kappa_grad: float  # 3 E[f'^4]/E[f'^2]^2 - 1
    chi: float  # d log E[f^2] / d log q
    chi_grad: float  # d log E[f'^2] / d log q


def _ratio(num: float, den: float) -> float:
    return num / (den * den) if den > 0 and math.isfinite(num / (den * den)) else 0.0


def _kurtosis(table: Callable[[Callable[[Moments], float]], Array]) -> tuple[float, float]:
    mu, m2 = _mean(table(lambda m: m.mean)), _mean(table(lambda m: m.second))
    m3, m4 = _mean(table(lambda m: m.third)), _mean(table(lambda m: m.fourth))
    merged = Moments(mean=mu, second=m2, fourth=m4, derivative_second=0.0, third=m3)
    return max(_ratio(m4, m2) - 1.0, 0.0), merged.centred_kurtosis


def _activation(link: Link, q: Array, mean: float) -> _Act:
    """Moments of f(h), h ~ N(mean, q - mean^2) at each position (q: E[h^2])."""
    values, inverse = np.unique(q, return_inverse=True)
    table = [
        gaussian_moments(
            link.activation, float(max(v - mean * mean, 0.0)), link.activation_param, mean=mean
        )
        for v in values
    ]

    def field(get: Callable[[Moments], float]) -> Array:
        return np.array([get(m) for m in table])[inverse].reshape(q.shape)

    second, d2 = field(lambda m: m.second), field(lambda m: m.derivative_second)
    fourth, d4 = _mean(field(lambda m: m.fourth)), _mean(field(lambda m: m.derivative_fourth))
    return _Act(
        second=second,
        mean=field(lambda m: m.mean),
        d2=d2,
        kurtosis=_kurtosis(field),
        kappa=max(_ratio(fourth, _mean(second)) - 1.0, 0.0),
        kappa_grad=max(3.0 * _ratio(d4, _mean(d2)) - 1.0, 0.0),
        chi=_mean(field(lambda m: m.second_slope)),
        chi_grad=_mean(field(lambda m: m.derivative_slope)),
    )


# ------------------------------------------------------------------------------ predict


@dataclass(frozen=True, eq=False)
class _Forward:
    pre: _Pre
    act: _Act
    c: Array  # the activation's coefficients
    units: int

    @property
    def v_pre(self) -> float:
        return float(np.dot(self.pre.carried, self.pre.carried)) + self.pre.pre_noise

    @property
    def v_act(self) -> float:
        return float(np.dot(self.c, self.c))


def _embedding_signal(link: Link, step: Embedding, shape: Shape | None, zero: Array) -> _Signal:
    with np.errstate(all="ignore"):
        a = apply(link.activation, step.weight, link.activation_param)
        rows = np.mean(a * a, axis=1)
    m = float(np.mean(rows))
    c = zero.copy()
    if shape is not None and m > 0:  # which rows the ids draw: the lookup's only randomness
        c[0] = math.sqrt(float(np.var(rows)) / (m * m) / max(math.prod(shape), 1))
    mu = float(np.mean(a))
    fourth, third = float(np.mean(a**4)), float(np.mean(a**3))
    moments = Moments(mean=mu, second=m, fourth=fourth, derivative_second=0.0, third=third)
    raw = max(_ratio(fourth, m) - 1.0, 0.0)
    return _Signal(np.asarray(m), np.asarray(mu), c, (raw, moments.centred_kurtosis))


def _pre(
    link: Link, sig: _Signal | None, ctx: _Context, channels_first: bool, zero: Array
) -> _Pre | None:
    step: Step = link.step
    if isinstance(step, Norm):
        return _norm(step, sig, ctx, channels_first, zero)
    if sig is None or isinstance(step, Attention | Embedding):
        return None
    if isinstance(step, Dense):
        return _dense(link, step, sig, ctx)
    assert isinstance(step, Conv)
    return _conv(link, step, sig, ctx)


def _units_of(step: Step, ctx: _Context, channels_first: bool) -> int:
    if isinstance(step, Dense):
        return int(step.weight.shape[1])
    if isinstance(step, Conv):
        return int(step.weight.shape[0])
    shape = ctx.shape_out
    if shape is not None and channels_first and len(shape) > 2:
        return shape[1]
    if shape is not None:
        return shape[-1]
    scale = step.scale if isinstance(step, Norm) else None
    return int(scale.shape[-1]) if scale is not None and scale.ndim else 1


def _forward(link: Link, pre: _Pre, ctx: _Context, channels_first: bool) -> _Forward:
    act = _activation(link, pre.q, pre.mean)
    units = _units_of(link.step, ctx, channels_first)
    noise = pre.noise if not isinstance(link.step, Norm) else 1.0 / max(units, 1)
    c = act.chi * pre.carried
    c[ctx.index + 1] = math.hypot(c[ctx.index + 1], math.sqrt(act.kappa * noise))
    return _Forward(pre, act, c, units)


def _forward_pass(
    links: Sequence[Link], m0: float, shapes: list[Shape] | None, input_shape: Shape | None
) -> list[_Forward | None]:
    token_ids = isinstance(links[0].step, Embedding)
    zero = np.zeros(len(links) + 1)
    c0 = zero.copy()
    if input_shape is not None and not token_ids:
        c0[0] = math.sqrt(2.0 / max(math.prod(input_shape), 1))
    sig: _Signal | None = _Signal(np.asarray(m0), np.asarray(0.0), c0)
    channels_first = False
    out: list[_Forward | None] = []
    for i, link in enumerate(links):
        shape_in = input_shape if i == 0 else (shapes[i - 1] if shapes else None)
        ndim = len(shape_in) if shape_in is not None else 2
        channels_first = _channels_first(link.step, channels_first, ndim)
        ctx = _Context(i, shape_in, shapes[i] if shapes else None, i == 0 and not token_ids)
        if isinstance(link.step, Embedding):
            sig = _embedding_signal(link, link.step, shape_in, zero)
            out.append(None)
            continue
        pre = _pre(link, sig, ctx, channels_first, zero)
        if pre is None:
            sig = None
            out.append(None)
            continue
        fw = _forward(link, pre, ctx, channels_first)
        sig = _Signal(fw.act.second, fw.act.mean, fw.c, fw.act.kurtosis)
        out.append(fw)
    return out


def _backward_pass(
    forwards: list[_Forward | None], g0: float, output_shape: Shape | None
) -> list[tuple[float, float] | None]:
    """(gradient_std, gradient_tolerance) per link, or None.

    ``log(empirical g / g)`` at link l is ``F . noise + (independent backward noise)``:
    ``F`` collects ``chi'_k`` times the forward coefficients of ``log q_hat_k`` for k >= l
    (and a norm's ``-log v``), the rest adds up as variances.
    """
    results: list[tuple[float, float] | None] = [None] * len(forwards)
    g: Array = np.asarray(g0)
    forward_part = np.zeros(len(forwards) + 1)
    backward_var = 2.0 / max(math.prod(output_shape), 1) if output_shape is not None else 0.0
    for i in range(len(forwards) - 1, -1, -1):
        fw = forwards[i]
        if fw is None:
            break
        gh = fw.act.d2 * g
        forward_part = forward_part + fw.act.chi_grad * fw.pre.carried
        backward_var += fw.act.kappa_grad / max(fw.units, 1)
        variance = float(np.dot(forward_part, forward_part)) + backward_var
        results[i] = (math.sqrt(max(_mean(gh), 0.0)), tolerance_from_log_variance(variance))
        g = fw.pre.transfer(gh)
        forward_part = forward_part + fw.pre.back
    return results


def _prediction(fw: _Forward, grad: tuple[float, float] | None) -> Prediction:
    q, act = fw.pre.q, fw.act
    second = _mean(act.second)
    return Prediction(
        preactivation_std=math.sqrt(max(_mean(q) - fw.pre.mean**2, 0.0)),
        activation_std=math.sqrt(max(second - _mean(act.mean) ** 2, 0.0)),
        activation_squared_mean=second,
        gradient_std=None if grad is None else grad[0],
        tolerance=tolerance_from_log_variance(fw.v_act),
        preactivation_tolerance=tolerance_from_log_variance(fw.v_pre),
        gradient_tolerance=None if grad is None else grad[1],
    )


def predict(
    links: Sequence[Link],
    input_second_moment: float = 1.0,
    upstream_second_moment: float = 1.0,
    *,
    input_shape: Shape | None = None,
) -> list[Prediction | None]:
    """The mean-field prediction of every link (module docstring), None where there is none.

    ``input_second_moment``: ``E[x^2]`` of the inputs (1 for standard normal);
    ``upstream_second_moment``: ``E[u^2]`` of the upstream gradient. ``input_shape`` (the
    inputs' full shape, batch first): resolves conv borders and strides per position, and
    lets the tolerance count the batch and the input's own sampling (without it the
    tolerance assumes one sample and an exact input second moment). Shapes that do not
    chain raise :class:`~app.core.errors.InvalidParameterError` as in ``forward_backward``.
    """
    shapes = None
    if input_shape is not None:
        token_ids = bool(links) and isinstance(links[0].step, Embedding)
        shapes = chain_shapes(links, tuple(input_shape), token_ids)
    elif not links:
        chain_shapes(links, (), False)  # raises: an empty chain
    with np.errstate(all="ignore"):
        forwards = _forward_pass(links, float(input_second_moment), shapes, input_shape)
        output_shape = shapes[-1] if shapes else None
        grads = _backward_pass(forwards, float(upstream_second_moment), output_shape)
    return [None if fw is None else _prediction(fw, grads[i]) for i, fw in enumerate(forwards)]
