"""weightinit's canonical schemes: the textbook names, in their mathematical standard forms.

Unqualified names mean what the papers and torch mean: ``glorot_normal``, ``he_normal`` and
``lecun_normal`` are untruncated; the +-2 sigma variance-corrected variants Keras and JAX use are
``*_truncated_normal``. ``uniform``, ``normal``, ``truncated_normal`` default to U[0, 1),
N(0, 1) and N(0, 1) cut at +-2 sigma. Constants are exact (rounded once).
"""

from __future__ import annotations

import math
from fractions import Fraction

from ..errors import InvalidParameterError, ShapeError
from ..gains import TORCH_NONLINEARITIES, VARIANCE_PRESERVING_ACTIVATIONS
from ..laws import (
    ConstantLaw,
    DeltaOrthogonalLaw,
    DiracLaw,
    IdentityLaw,
    Law,
    NormalLaw,
    OrthogonalLaw,
    SparseLaw,
    UniformLaw,
    truncated_law,
)
from ..types import Distribution, Layout, Mode
from .base import REQUIRED, Param, Params, Scheme, TensorContext, choice, integer, number
from .variance import Order, he_scale, variance_law

MODES = tuple(m.value for m in Mode)
DISTRIBUTIONS = tuple(d.value for d in Distribution)
NONLINEARITIES = tuple(sorted(set(TORCH_NONLINEARITIES) | set(VARIANCE_PRESERVING_ACTIVATIONS)))


def _positive(name: str, default: object, description: str) -> Param:
    return number(name, default, description, minimum=0.0, exclusive_minimum=True)


def _check_less(low: str, high: str) -> object:
    def check(p: Params) -> None:
        if not p.num(low) < p.num(high):
            raise InvalidParameterError(
                f"{low} must be less than {high}; "
                f"got {low}={p.num(low)!r}, {high}={p.num(high)!r}.",
                field=low,
            )

    return check


# ---- constants -------------------------------------------------------------------------------


def constant_row(name: str, value: float | None, aliases: tuple[str, ...] = ()) -> Scheme:
    params = () if value is not None else (number("value", REQUIRED, "the fill value"),)
    return Scheme(
        name=name,
        summary=f"every element = {value:g}" if value is not None else "every element = value",
        formula=f"W = {value:g}" if value is not None else "W = value",
        reference="torch.nn.init.constant_ / keras.initializers.Constant",
        build=lambda p, ctx: ConstantLaw(value if value is not None else p.num("value")),
        params=params,
        aliases=aliases,
        random=False,
    )


# ---- elementwise distributions ---------------------------------------------------------------


def _build_uniform(p: Params, ctx: TensorContext) -> Law:
    return UniformLaw(p.num("low"), p.num("high"))


def _build_normal(p: Params, ctx: TensorContext) -> Law:
    return NormalLaw(p.num("mean"), p.num("std"))


def _build_random(p: Params, ctx: TensorContext) -> Law:
    return NormalLaw(0.0, p.num("scale"))


def _build_truncated(p: Params, ctx: TensorContext) -> Law:
    mean, std, a, b = p.num("mean"), p.num("std"), p.num("a"), p.num("b")
    if p.text("bounds") == "std":
        return truncated_law(mean, std, mean + a * std, mean + b * std)
    return truncated_law(mean, std, a, b)


def _check_truncated(p: Params) -> None:
    if not p.num("a") < p.num("b"):
        raise InvalidParameterError(
            f"a must be less than b; got a={p.num('a')!r}, b={p.num('b')!r}.", field="a"
        )


ELEMENTWISE = (
    Scheme(
        name="uniform",
        summary="uniform on [low, high)",
        formula="W ~ U[low, high)",
        reference="torch.nn.init.uniform_",
        build=_build_uniform,
        params=(number("low", 0.0, "lower bound"), number("high", 1.0, "upper bound")),
        check=_check_less("low", "high"),  # type: ignore[arg-type]
        legacy=True,
    ),
    Scheme(
        name="normal",
        summary="normal (Gaussian), untruncated",
        formula="W ~ N(mean, std^2)",
        reference="torch.nn.init.normal_",
        build=_build_normal,
        params=(number("mean", 0.0, "mean"), _positive("std", 1.0, "standard deviation")),
        aliases=("gaussian",),
        legacy=True,
    ),
    Scheme(
        name="random",
        summary="the textbook small random init: N(0, scale^2), scale 0.01",
        formula="W = randn(shape) * scale",
        reference="e.g. Ng, Deep Learning Specialization (np.random.randn(n, m) * 0.01)",
        build=_build_random,
        params=(_positive("scale", 0.01, "standard deviation"),),
        legacy=True,
    ),
    Scheme(
        name="truncated_normal",
        summary="normal restricted to [a, b] (in units of std by default), no variance correction",
        formula="W ~ N(mean, std^2) conditioned on a <= (W-mean)/std <= b  (bounds='std'); "
        "a <= W <= b (bounds='absolute')",
        reference="torch.nn.init.trunc_normal_ (absolute bounds); keras TruncatedNormal (+-2 std)",
        build=_build_truncated,
        params=(
            number("mean", 0.0, "mean of the underlying normal"),
            _positive("std", 1.0, "std of the underlying normal (before truncation)"),
            number("a", -2.0, "lower bound"),
            number("b", 2.0, "upper bound"),
            choice("bounds", "std", ("std", "absolute"), "units of a and b"),
        ),
        check=_check_truncated,
    ),
)


# ---- variance scaling and its presets ---------------------------------------------------------


def _mode(p: Params, default: Mode) -> Mode:
    return Mode(p.text("mode")) if "mode" in p else default


def variance_row(
    name: str,
    summary: str,
    formula: str,
    reference: str,
    *,
    scale: Fraction | None,
    mode: Mode | None,
    distribution: Distribution | None,
    params: tuple[Param, ...],
    aliases: tuple[str, ...] = (),
) -> Scheme:
    """A preset of variance_scaling: fixed (scale, mode, distribution) or taken from params."""

    def build(p: Params, ctx: TensorContext) -> Law:
        fans = ctx.require_fans(name)
        if scale is not None:
            s = scale
        elif "nonlinearity" in p:
            s = he_scale(p.num("a"), p.text("nonlinearity"), p.text("gain_rule"))
        elif "gain" in p:
            s = Fraction(p.num("gain")) ** 2
        else:
            s = Fraction(p.num("scale"))
        m = mode if mode is not None else Mode(p.text("mode"))
        d = distribution if distribution is not None else Distribution(p.text("distribution"))
        return variance_law(Order.EXACT, s, fans, m, d, ctx.dtype, ctx.algorithm)

    def check(p: Params) -> None:
        if "nonlinearity" in p:
            try:
                he_scale(p.num("a"), p.text("nonlinearity"), p.text("gain_rule"))
            except InvalidParameterError as exc:
                if exc.field == "param":  # the gain's parameter is this scheme's `a`
                    exc.field = "a"
                raise

    return Scheme(
        name=name,
        summary=summary,
        formula=formula,
        reference=reference,
        build=build,
        params=params,
        aliases=aliases,
        uses_fans=True,
        check=check,
        legacy=distribution is not Distribution.TRUNCATED_NORMAL,
    )


GAIN = _positive("gain", 1.0, "multiplies the std (scale = gain^2)")
HE_PARAMS = (
    number("a", 0.0, "negative slope of leaky_relu (torch's `a`; ignored otherwise)"),
    choice("mode", "fan_in", MODES, "which fan to divide by"),
    choice("nonlinearity", "leaky_relu", NONLINEARITIES, "activation that sets the gain"),
    choice(
        "gain_rule", "torch", ("torch", "variance_preserving"), "torch's table or 1/sqrt(E[f(z)^2])"
    ),
)

_DIST_WORD = {
    Distribution.UNIFORM: "uniform",
    Distribution.NORMAL: "normal",
    Distribution.TRUNCATED_NORMAL: "truncated_normal",
}
_DIST_FORMULA = {
    Distribution.UNIFORM: "U(-sqrt(3 var), sqrt(3 var))",
    Distribution.NORMAL: "N(0, var)",
    Distribution.TRUNCATED_NORMAL: "N(0, sigma^2) cut at +-2 sigma, "
    "sigma = sqrt(var)/0.8796256610342398",
}


def _presets() -> list[Scheme]:
    rows = [
        variance_row(
            "variance_scaling",
            "the general variance-scaling scheme all fan-based presets specialise",
            "var = scale / n, n = fan_in | fan_out | (fan_in+fan_out)/2 | sqrt(fan_in*fan_out); "
            "normal N(0, var); uniform U(+-sqrt(3 var)); "
            "truncated_normal sigma = sqrt(var)/0.87962566",
            "jax.nn.initializers.variance_scaling; keras VarianceScaling",
            scale=None,
            mode=None,
            distribution=None,
            params=(
                _positive("scale", 1.0, "variance multiplier"),
                choice("mode", "fan_in", MODES, "which fan to divide by"),
                choice("distribution", "truncated_normal", DISTRIBUTIONS, "distribution to sample"),
            ),
        )
    ]
    for dist in Distribution:
        word = _DIST_WORD[dist]
        rows.append(
            variance_row(
                f"glorot_{word}",
                f"Glorot/Xavier {word}: fan_avg variance scaling",
                f"var = gain^2 * 2 / (fan_in + fan_out); W ~ {_DIST_FORMULA[dist]}",
                "Glorot & Bengio 2010, AISTATS; torch.nn.init.xavier_*_",
                scale=None,
                mode=Mode.FAN_AVG,
                distribution=dist,
                params=(GAIN,),
                aliases=(f"xavier_{word}",),
            )
        )
        he_aliases = (f"kaiming_{word}",) + (("he",) if dist is Distribution.NORMAL else ())
        rows.append(
            variance_row(
                f"he_{word}",
                f"He/Kaiming {word}: scale = gain(nonlinearity, a)^2 (2 for relu)",
                f"var = gain^2 / fan (fan_in by default); W ~ {_DIST_FORMULA[dist]}",
                "He et al. 2015, arXiv:1502.01852; torch.nn.init.kaiming_*_",
                scale=None,
                mode=None,
                distribution=dist,
                params=HE_PARAMS,
                aliases=he_aliases,
            )
        )
        rows.append(
            variance_row(
                f"lecun_{word}",
                f"LeCun {word}: fan_in variance scaling with scale 1",
                f"var = 1 / fan_in; W ~ {_DIST_FORMULA[dist]}",
                "LeCun et al. 1998, Efficient BackProp; Klambauer et al. 2017 (SELU)",
                scale=Fraction(1),
                mode=Mode.FAN_IN,
                distribution=dist,
                params=(),
            )
        )
    return rows


# ---- structured ------------------------------------------------------------------------------


def orthogonal_law(gain: float, ctx: TensorContext, scheme: str, layout: Layout) -> OrthogonalLaw:
    ctx.require_rank(scheme, 2)
    numel = math.prod(ctx.shape)
    if layout is Layout.TORCH:
        rows = ctx.shape[0]
        return OrthogonalLaw(gain, rows, numel // rows)
    cols = ctx.shape[-1]
    return OrthogonalLaw(gain, numel // cols, cols)


def identity_law(gain: float, ctx: TensorContext, scheme: str) -> IdentityLaw:
    ctx.require_rank(scheme, 2, 2)
    return IdentityLaw(gain)


def dirac_law(groups: int, ctx: TensorContext, scheme: str) -> DiracLaw:
    ctx.require_rank(scheme, 3, 5)
    out_channels = ctx.shape[-1] if ctx.layout is not Layout.TORCH else ctx.shape[0]
    if out_channels % groups:
        raise ShapeError(
            f"Scheme {scheme!r}: groups={groups} does not divide the {out_channels} output "
            f"channels of tensor {ctx.name!r} (shape {list(ctx.shape)})."
        )
    return DiracLaw(groups, channels_last=ctx.layout is not Layout.TORCH)


def delta_orthogonal_law(gain: float, ctx: TensorContext, scheme: str) -> DeltaOrthogonalLaw:
    ctx.require_rank(scheme, 3, 5)
    last = ctx.layout is not Layout.TORCH
    in_ch, out_ch = (ctx.shape[-2], ctx.shape[-1]) if last else (ctx.shape[1], ctx.shape[0])
    if out_ch < in_ch:
        raise ShapeError(
            f"Scheme {scheme!r} needs out_channels >= in_channels (an orthogonal map cannot "
            f"shrink); tensor {ctx.name!r} has in={in_ch}, out={out_ch}."
        )
    return DeltaOrthogonalLaw(gain, in_ch, out_ch, channels_last=last)


def sparse_law(sparsity: float, std: float, ctx: TensorContext, scheme: str) -> SparseLaw:
    ctx.require_rank(scheme, 2, 2)
    rows = ctx.shape[0]
    zeros = math.ceil(sparsity * rows)  # torch's float formula: sparsity 0.1 of 10 rows is 1
    return SparseLaw(std, zeros, rows)


SPARSITY = number(
    "sparsity", REQUIRED, "fraction of each column set to zero", minimum=0.0, maximum=1.0
)

STRUCTURED = (
    Scheme(
        name="orthogonal",
        summary="(semi-)orthogonal matrix times gain; >2-D tensors flattened by the layout",
        formula="A ~ N(0,1)^(rows x cols); A = QR; W = gain * Q * sign(diag R) "
        "(torch: rows = shape[0]; keras/jax: cols = shape[-1])",
        reference="Saxe et al. 2013, arXiv:1312.6120; Mezzadri 2007 (sign fix)",
        build=lambda p, ctx: orthogonal_law(p.num("gain"), ctx, "orthogonal", ctx.layout),
        params=(number("gain", 1.0, "multiplier"),),
    ),
    Scheme(
        name="identity",
        summary="gain times the identity (rectangular: ones on the main diagonal)",
        formula="W = gain * I",
        reference="torch.nn.init.eye_; keras.initializers.Identity",
        build=lambda p, ctx: identity_law(p.num("gain"), ctx, "identity"),
        params=(number("gain", 1.0, "multiplier"),),
        aliases=("eye",),
        random=False,
    ),
    Scheme(
        name="dirac",
        summary="Dirac delta conv kernel: identity on channels at the kernel centre k//2",
        formula="W[g*out/g + d, d, k//2...] = 1",
        reference="torch.nn.init.dirac_; Zagoruyko & Komodakis 2017 (DiracNets)",
        build=lambda p, ctx: dirac_law(p.int_("groups"), ctx, "dirac"),
        params=(integer("groups", 1, "number of groups", minimum=1),),
        random=False,
    ),
    Scheme(
        name="sparse",
        summary="N(0, std^2) with exactly ceil(sparsity * rows) zeros in every column",
        formula="W ~ N(0, std^2); per column, ceil(sparsity*rows) random rows set to 0",
        reference="Martens 2010, ICML; torch.nn.init.sparse_",
        build=lambda p, ctx: sparse_law(p.num("sparsity"), p.num("std"), ctx, "sparse"),
        params=(SPARSITY, _positive("std", 0.01, "std of the non-zero values")),
    ),
    Scheme(
        name="delta_orthogonal",
        summary="conv kernel zero except an orthogonal (in, out) matrix at the centre (k-1)//2",
        formula="W[centre] = gain * Q, Q orthogonal (in x out), out >= in",
        reference="Xiao et al. 2018, arXiv:1806.05393; jax.nn.initializers.delta_orthogonal",
        build=lambda p, ctx: delta_orthogonal_law(p.num("gain"), ctx, "delta_orthogonal"),
        params=(number("gain", 1.0, "multiplier"),),
    ),
)


def canonical_schemes() -> list[Scheme]:
    """Every canonical row."""
    return [
        constant_row("zeros", 0.0, aliases=("zero",)),
        constant_row("ones", 1.0, aliases=("one",)),
        constant_row("constant", None),
        *ELEMENTWISE,
        *_presets(),
        *STRUCTURED,
    ]
