"""Framework-qualified schemes: one framework's exact semantics, defaults and operation order.

``torch.*`` follow torch.nn.init 2.13, ``keras.*`` Keras 3 initializers, ``jax.*``
jax.nn.initializers 0.10 (constants in the weight dtype). ``torch.default``, ``keras.default``
and ``flax.default`` are each framework's per-layer default initialisation (they look at the
tensor's role and layer family). Values come from weightinit's own streams; only the
constants, defaults and semantics are the framework's.
"""

from __future__ import annotations

import math
from fractions import Fraction

from ..errors import InvalidParameterError
from ..gains import TORCH_NONLINEARITIES
from ..laws import (
    ConstantLaw,
    CounterLaw,
    Law,
    NormalLaw,
    SegmentsLaw,
    UniformLaw,
    truncated_law,
)
from ..types import Distribution, Family, Layout, Mode, Role
from .base import REQUIRED, Param, Params, Scheme, TensorContext, choice, integer, number
from .canonical import (
    DISTRIBUTIONS,
    MODES,
    SPARSITY,
    constant_row,
    delta_orthogonal_law,
    dirac_law,
    identity_law,
    orthogonal_law,
    sparse_law,
)
from .variance import Order, jax_law, keras_law, torch_kaiming_law, torch_xavier_law, variance_law

TORCH_REF = "torch.nn.init (torch 2.13)"
KERAS_REF = "keras.initializers (Keras 3)"
JAX_REF = "jax.nn.initializers (jax 0.10)"


def _pos(name: str, default: object, description: str) -> Param:
    return number(name, default, description, minimum=0.0, exclusive_minimum=True)


def _less(low: str, high: str) -> object:
    def check(p: Params) -> None:
        if not p.num(low) < p.num(high):
            raise InvalidParameterError(
                f"{low} must be less than {high}; got {p.num(low)!r} and {p.num(high)!r}.",
                field=low,
            )

    return check


# ---- torch -----------------------------------------------------------------------------------


def _torch_rows() -> list[Scheme]:
    rows = [
        Scheme(
            name="torch.uniform_",
            summary="torch uniform_: U[a, b)",
            formula="W ~ U[a, b)",
            reference=TORCH_REF,
            build=lambda p, ctx: UniformLaw(p.num("a"), p.num("b")),
            params=(number("a", 0.0, "lower bound"), number("b", 1.0, "upper bound")),
            check=_less("a", "b"),  # type: ignore[arg-type]
            framework="torch",
        ),
        Scheme(
            name="torch.normal_",
            summary="torch normal_: N(mean, std^2)",
            formula="W ~ N(mean, std^2)",
            reference=TORCH_REF,
            build=lambda p, ctx: NormalLaw(p.num("mean"), p.num("std")),
            params=(number("mean", 0.0, "mean"), _pos("std", 1.0, "standard deviation")),
            framework="torch",
        ),
        Scheme(
            name="torch.trunc_normal_",
            summary="torch trunc_normal_: N(mean, std^2) cut at ABSOLUTE bounds [a, b]",
            formula="W ~ N(mean, std^2) conditioned on a <= W <= b (a, b are values, not stds)",
            reference=TORCH_REF + "; pytorch/pytorch PR #32397",
            build=lambda p, ctx: truncated_law(p.num("mean"), p.num("std"), p.num("a"), p.num("b")),
            params=(
                number("mean", 0.0, "mean"),
                _pos("std", 1.0, "std before truncation"),
                number("a", -2.0, "absolute lower bound"),
                number("b", 2.0, "absolute upper bound"),
            ),
            check=_less("a", "b"),  # type: ignore[arg-type]
            framework="torch",
        ),
        constant_row("torch.zeros_", 0.0),
        constant_row("torch.ones_", 1.0),
        Scheme(
            name="torch.constant_",
            summary="torch constant_: every element = val",
            formula="W = val",
            reference=TORCH_REF,
            build=lambda p, ctx: ConstantLaw(p.num("val")),
            params=(number("val", REQUIRED, "the fill value"),),
            framework="torch",
            random=False,
        ),
        Scheme(
            name="torch.eye_",
            summary="torch eye_: identity on a 2-D tensor",
            formula="W = I",
            reference=TORCH_REF,
            build=lambda p, ctx: identity_law(1.0, ctx, "torch.eye_"),
            framework="torch",
            random=False,
        ),
        Scheme(
            name="torch.dirac_",
            summary="torch dirac_: identity on channels at the centre k//2",
            formula="W[g*out/g + d, d, k//2...] = 1",
            reference=TORCH_REF,
            build=lambda p, ctx: dirac_law(p.int_("groups"), ctx, "torch.dirac_"),
            params=(integer("groups", 1, "number of groups", minimum=1),),
            framework="torch",
            random=False,
        ),
        Scheme(
            name="torch.orthogonal_",
            summary="torch orthogonal_: rows = shape[0], the rest flattened",
            formula="W = gain * Q sign(diag R), A (shape[0] x numel/shape[0]) = QR",
            reference=TORCH_REF,
            build=lambda p, ctx: orthogonal_law(
                p.num("gain"), ctx, "torch.orthogonal_", Layout.TORCH
            ),
            params=(number("gain", 1.0, "multiplier"),),
            framework="torch",
        ),
        Scheme(
            name="torch.sparse_",
            summary="torch sparse_: N(0, std^2), ceil(sparsity*rows) zeros per column",
            formula="W ~ N(0, std^2), per column ceil(sparsity*rows) zeros",
            reference=TORCH_REF,
            build=lambda p, ctx: sparse_law(p.num("sparsity"), p.num("std"), ctx, "torch.sparse_"),
            params=(SPARSITY, _pos("std", 0.01, "std of the non-zero values")),
            framework="torch",
        ),
    ]
    for dist in (Distribution.UNIFORM, Distribution.NORMAL):
        word = dist.value
        rows.append(
            Scheme(
                name=f"torch.xavier_{word}_",
                summary=f"torch xavier_{word}_ with torch's operation order",
                formula="std = gain * math.sqrt(2.0 / float(fan_in + fan_out))"
                + ("; bound = math.sqrt(3.0) * std" if dist is Distribution.UNIFORM else ""),
                reference=TORCH_REF,
                build=lambda p, ctx, d=dist, n=f"torch.xavier_{word}_": torch_xavier_law(  # type: ignore[misc]
                    p.num("gain"), ctx.require_fans(n), d
                ),
                params=(number("gain", 1.0, "multiplier"),),
                uses_fans=True,
                framework="torch",
            )
        )
        rows.append(
            Scheme(
                name=f"torch.kaiming_{word}_",
                summary=f"torch kaiming_{word}_ with torch's operation order",
                formula="std = calculate_gain(nonlinearity, a) / math.sqrt(fan)"
                + ("; bound = math.sqrt(3.0) * std" if dist is Distribution.UNIFORM else ""),
                reference=TORCH_REF,
                build=lambda p, ctx, d=dist, n=f"torch.kaiming_{word}_": torch_kaiming_law(  # type: ignore[misc]
                    p.num("a"), Mode(p.text("mode")), p.text("nonlinearity"), ctx.require_fans(n), d
                ),
                params=(
                    number("a", 0.0, "negative slope of leaky_relu"),
                    choice("mode", "fan_in", ("fan_in", "fan_out"), "which fan"),
                    choice("nonlinearity", "leaky_relu", TORCH_NONLINEARITIES, "activation"),
                ),
                uses_fans=True,
                framework="torch",
            )
        )
    return rows


# ---- keras -----------------------------------------------------------------------------------

_KERAS_DISTRIBUTIONS = ("truncated_normal", "untruncated_normal", "normal", "uniform")


def _keras_distribution(word: str) -> Distribution:
    """Keras maps 'normal' to 'truncated_normal' silently; we document it instead."""
    if word == "untruncated_normal":
        return Distribution.NORMAL
    if word in ("normal", "truncated_normal"):
        return Distribution.TRUNCATED_NORMAL
    return Distribution.UNIFORM


def _keras_vs(name: str, scale: float, mode: Mode, dist: Distribution, summary: str) -> Scheme:
    return Scheme(
        name=name,
        summary=summary,
        formula="Keras order: scale /= max(1, n); limit = math.sqrt(3*scale) | "
        "stddev = math.sqrt(scale) / 0.87962566103423978 (truncated at +-2 stddev)",
        reference=KERAS_REF,
        build=lambda p, ctx: keras_law(scale, ctx.require_fans(name), mode, dist),
        uses_fans=True,
        framework="keras",
    )


def _keras_rows() -> list[Scheme]:
    tn, un = Distribution.TRUNCATED_NORMAL, Distribution.UNIFORM
    return [
        constant_row("keras.Zeros", 0.0),
        constant_row("keras.Ones", 1.0),
        Scheme(
            name="keras.Constant",
            summary="Keras Constant(value=0.0)",
            formula="W = value",
            reference=KERAS_REF,
            build=lambda p, ctx: ConstantLaw(p.num("value")),
            params=(number("value", 0.0, "the fill value"),),
            framework="keras",
            random=False,
        ),
        Scheme(
            name="keras.RandomNormal",
            summary="Keras RandomNormal: N(mean, stddev^2), stddev 0.05",
            formula="W ~ N(mean, stddev^2)",
            reference=KERAS_REF,
            build=lambda p, ctx: NormalLaw(p.num("mean"), p.num("stddev")),
            params=(number("mean", 0.0, "mean"), _pos("stddev", 0.05, "standard deviation")),
            framework="keras",
        ),
        Scheme(
            name="keras.RandomUniform",
            summary="Keras RandomUniform: U[minval, maxval), +-0.05",
            formula="W ~ U[minval, maxval)",
            reference=KERAS_REF,
            build=lambda p, ctx: UniformLaw(p.num("minval"), p.num("maxval")),
            params=(number("minval", -0.05, "lower bound"), number("maxval", 0.05, "upper bound")),
            check=_less("minval", "maxval"),  # type: ignore[arg-type]
            framework="keras",
        ),
        Scheme(
            name="keras.TruncatedNormal",
            summary="Keras TruncatedNormal: cut at mean +- 2 stddev, no variance correction",
            formula="W ~ N(mean, stddev^2) conditioned on |W - mean| <= 2 stddev",
            reference=KERAS_REF,
            build=lambda p, ctx: truncated_law(
                p.num("mean"),
                p.num("stddev"),
                p.num("mean") - 2.0 * p.num("stddev"),
                p.num("mean") + 2.0 * p.num("stddev"),
            ),
            params=(number("mean", 0.0, "mean"), _pos("stddev", 0.05, "std before truncation")),
            framework="keras",
        ),
        Scheme(
            name="keras.VarianceScaling",
            summary="Keras VarianceScaling ('normal' means truncated_normal, as in Keras)",
            formula="Keras order: scale /= max(1, n); see keras.GlorotUniform",
            reference=KERAS_REF,
            build=lambda p, ctx: keras_law(
                p.num("scale"),
                ctx.require_fans("keras.VarianceScaling"),
                Mode(p.text("mode")),
                _keras_distribution(p.text("distribution")),
            ),
            params=(
                _pos("scale", 1.0, "variance multiplier"),
                choice("mode", "fan_in", ("fan_in", "fan_out", "fan_avg"), "which fan"),
                choice("distribution", "truncated_normal", _KERAS_DISTRIBUTIONS, "distribution"),
            ),
            uses_fans=True,
            framework="keras",
        ),
        _keras_vs("keras.GlorotUniform", 1.0, Mode.FAN_AVG, un, "Keras GlorotUniform"),
        _keras_vs("keras.GlorotNormal", 1.0, Mode.FAN_AVG, tn, "Keras GlorotNormal (truncated)"),
        _keras_vs("keras.HeUniform", 2.0, Mode.FAN_IN, un, "Keras HeUniform"),
        _keras_vs("keras.HeNormal", 2.0, Mode.FAN_IN, tn, "Keras HeNormal (truncated)"),
        _keras_vs("keras.LecunUniform", 1.0, Mode.FAN_IN, un, "Keras LecunUniform"),
        _keras_vs("keras.LecunNormal", 1.0, Mode.FAN_IN, tn, "Keras LecunNormal (truncated)"),
        Scheme(
            name="keras.Orthogonal",
            summary="Keras Orthogonal: rows = prod(shape[:-1]), cols = shape[-1]",
            formula="W = gain * Q sign(diag R)",
            reference=KERAS_REF,
            build=lambda p, ctx: orthogonal_law(
                p.num("gain"), ctx, "keras.Orthogonal", Layout.KERAS
            ),
            params=(number("gain", 1.0, "multiplier"),),
            framework="keras",
        ),
        Scheme(
            name="keras.Identity",
            summary="Keras Identity: gain * eye (2-D only)",
            formula="W = gain * I",
            reference=KERAS_REF,
            build=lambda p, ctx: identity_law(p.num("gain"), ctx, "keras.Identity"),
            params=(number("gain", 1.0, "multiplier"),),
            framework="keras",
            random=False,
        ),
    ]


# ---- jax -------------------------------------------------------------------------------------


def _jax_vs(
    name: str, scale: float, mode: Mode, dist: Distribution, aliases: tuple[str, ...]
) -> Scheme:
    return Scheme(
        name=name,
        summary=f"{name} (truncated normal for *_normal, as JAX does)",
        formula="variance = dtype(scale / n); stddev = sqrt(variance) [/ 0.87962566103423978] "
        "in the weight dtype",
        reference=JAX_REF,
        build=lambda p, ctx: jax_law(scale, ctx.require_fans(name), mode, dist, ctx.dtype),
        aliases=aliases,
        uses_fans=True,
        framework="jax",
    )


def _jax_rows() -> list[Scheme]:
    tn, un = Distribution.TRUNCATED_NORMAL, Distribution.UNIFORM
    return [
        constant_row("jax.zeros", 0.0),
        constant_row("jax.ones", 1.0),
        Scheme(
            name="jax.constant",
            summary="jax constant(value)",
            formula="W = value",
            reference=JAX_REF,
            build=lambda p, ctx: ConstantLaw(p.num("value")),
            params=(number("value", REQUIRED, "the fill value"),),
            framework="jax",
            random=False,
        ),
        Scheme(
            name="jax.uniform",
            summary="jax uniform(scale=0.01): U[0, scale), NOT symmetric",
            formula="W ~ U[0, scale)",
            reference=JAX_REF,
            build=lambda p, ctx: UniformLaw(0.0, p.num("scale")),
            params=(_pos("scale", 0.01, "upper bound"),),
            framework="jax",
        ),
        Scheme(
            name="jax.normal",
            summary="jax normal(stddev=0.01)",
            formula="W ~ N(0, stddev^2)",
            reference=JAX_REF,
            build=lambda p, ctx: NormalLaw(0.0, p.num("stddev")),
            params=(_pos("stddev", 0.01, "standard deviation"),),
            framework="jax",
        ),
        Scheme(
            name="jax.truncated_normal",
            summary="jax truncated_normal(stddev=0.01, lower=-2, upper=2): bounds in stddevs, "
            "no variance correction",
            formula="W = stddev * Z, Z ~ N(0,1) conditioned on lower < Z < upper",
            reference=JAX_REF,
            build=lambda p, ctx: truncated_law(
                0.0,
                p.num("stddev"),
                p.num("lower") * p.num("stddev"),
                p.num("upper") * p.num("stddev"),
            ),
            params=(
                _pos("stddev", 0.01, "scale"),
                number("lower", -2.0, "lower bound in stddevs"),
                number("upper", 2.0, "upper bound in stddevs"),
            ),
            check=_less("lower", "upper"),  # type: ignore[arg-type]
            framework="jax",
        ),
        Scheme(
            name="jax.variance_scaling",
            summary="jax variance_scaling(scale, mode, distribution), constants in the dtype",
            formula="variance = dtype(scale / n); see jax.glorot_uniform",
            reference=JAX_REF,
            build=lambda p, ctx: jax_law(
                p.num("scale"),
                ctx.require_fans("jax.variance_scaling"),
                Mode(p.text("mode")),
                Distribution(p.text("distribution")),
                ctx.dtype,
            ),
            params=(
                _pos("scale", 1.0, "variance multiplier"),
                choice("mode", "fan_in", MODES, "which fan"),
                choice("distribution", "truncated_normal", DISTRIBUTIONS, "distribution"),
            ),
            uses_fans=True,
            framework="jax",
        ),
        _jax_vs("jax.glorot_uniform", 1.0, Mode.FAN_AVG, un, ("jax.xavier_uniform",)),
        _jax_vs("jax.glorot_normal", 1.0, Mode.FAN_AVG, tn, ("jax.xavier_normal",)),
        _jax_vs("jax.he_uniform", 2.0, Mode.FAN_IN, un, ("jax.kaiming_uniform",)),
        _jax_vs("jax.he_normal", 2.0, Mode.FAN_IN, tn, ("jax.kaiming_normal",)),
        _jax_vs("jax.lecun_uniform", 1.0, Mode.FAN_IN, un, ()),
        _jax_vs("jax.lecun_normal", 1.0, Mode.FAN_IN, tn, ()),
        Scheme(
            name="jax.orthogonal",
            summary="jax orthogonal(scale): cols = shape[-1], rows = the rest",
            formula="W = scale * Q sign(diag R)",
            reference=JAX_REF,
            build=lambda p, ctx: orthogonal_law(p.num("scale"), ctx, "jax.orthogonal", Layout.JAX),
            params=(number("scale", 1.0, "multiplier"),),
            framework="jax",
        ),
        Scheme(
            name="jax.delta_orthogonal",
            summary="jax delta_orthogonal(scale): orthogonal (in, out) at centre (k-1)//2",
            formula="W[centre] = scale * Q, out >= in",
            reference=JAX_REF,
            build=lambda p, ctx: delta_orthogonal_law(p.num("scale"), ctx, "jax.delta_orthogonal"),
            params=(number("scale", 1.0, "multiplier"),),
            framework="jax",
        ),
    ]


# ---- per-layer framework defaults ------------------------------------------------------------

_FIXED = {
    Role.RUNNING_MEAN: ConstantLaw(0.0),
    Role.RUNNING_VAR: ConstantLaw(1.0),
}


def _fixed_role_law(ctx: TensorContext) -> Law | None:
    if ctx.role is Role.COUNTER:
        return CounterLaw()
    if ctx.role in _FIXED:
        return _FIXED[ctx.role]
    if ctx.family is Family.NORM:
        return ConstantLaw(1.0 if ctx.role is Role.WEIGHT else 0.0)
    return None


def torch_default_law(ctx: TensorContext) -> Law:
    """torch 2.13 module defaults (reset_parameters of Linear, Conv*, RNN*, Embedding, norms)."""
    fixed = _fixed_role_law(ctx)
    if fixed is not None:
        return fixed
    if ctx.family is Family.RECURRENT:
        assert ctx.hidden_size is not None
        stdv = 1.0 / math.sqrt(ctx.hidden_size)
        return UniformLaw(-stdv, stdv)
    if ctx.family is Family.EMBEDDING and ctx.role is Role.WEIGHT:
        return NormalLaw(0.0, 1.0)
    fans = ctx.require_fans("torch.default")
    if ctx.role is Role.BIAS:
        bound = 1.0 / math.sqrt(fans.fan_in) if fans.fan_in > 0 else 0.0
        return UniformLaw(-bound, bound)
    return torch_kaiming_law(math.sqrt(5), Mode.FAN_IN, "leaky_relu", fans, Distribution.UNIFORM)


def keras_default_law(ctx: TensorContext) -> Law:
    """Keras 3 layer defaults: glorot_uniform kernels, orthogonal recurrent kernels, zero biases."""
    fixed = _fixed_role_law(ctx)
    if fixed is not None:
        return fixed
    if ctx.role is Role.BIAS:
        if ctx.family is Family.RECURRENT and ctx.cell == "lstm":
            assert ctx.hidden_size is not None
            u = ctx.hidden_size
            return SegmentsLaw((0.0, 1.0, 0.0), (u, u, 2 * u))
        return ConstantLaw(0.0)
    if ctx.family is Family.EMBEDDING:
        return UniformLaw(-0.05, 0.05)
    if ctx.role is Role.RECURRENT_WEIGHT:
        return orthogonal_law(1.0, ctx, "keras.default", Layout.KERAS)
    fans = ctx.require_fans("keras.default")
    return keras_law(1.0, fans, Mode.FAN_AVG, Distribution.UNIFORM)


def flax_default_law(ctx: TensorContext) -> Law:
    """Flax defaults: lecun_normal kernels, orthogonal recurrent kernels, N(0, 1/d) embeddings."""
    fixed = _fixed_role_law(ctx)
    if fixed is not None:
        return fixed
    if ctx.role is Role.BIAS:
        return ConstantLaw(0.0)
    if ctx.role is Role.RECURRENT_WEIGHT:
        return orthogonal_law(1.0, ctx, "flax.default", Layout.JAX)
    fans = ctx.require_fans("flax.default")
    if ctx.family is Family.EMBEDDING:
        return jax_law(1.0, fans, Mode.FAN_IN, Distribution.NORMAL, ctx.dtype)
    return jax_law(1.0, fans, Mode.FAN_IN, Distribution.TRUNCATED_NORMAL, ctx.dtype)


DEFAULT_ROWS = (
    Scheme(
        name="torch.default",
        summary="PyTorch's module default for the tensor's layer",
        formula="Linear/Conv weight: kaiming_uniform_(a=sqrt(5)) = U(+-1/sqrt(fan_in)); bias "
        "U(+-1/sqrt(fan_in)); RNN/LSTM/GRU: all U(+-1/sqrt(hidden)); Embedding N(0,1); "
        "norms 1/0",
        reference=TORCH_REF + " reset_parameters(); pytorch/pytorch#57109",
        build=lambda p, ctx: torch_default_law(ctx),
        uses_fans=True,
        framework="torch",
    ),
    Scheme(
        name="keras.default",
        summary="Keras 3's layer default for the tensor's layer",
        formula="kernels glorot_uniform; recurrent kernels orthogonal; biases 0 (LSTM unit "
        "forget bias 1); Embedding U(+-0.05); norms 1/0",
        reference=KERAS_REF + " layer constructors",
        build=lambda p, ctx: keras_default_law(ctx),
        uses_fans=True,
        framework="keras",
    ),
    Scheme(
        name="flax.default",
        summary="Flax's layer default for the tensor's layer",
        formula="kernels lecun_normal (truncated); recurrent kernels orthogonal; biases 0; "
        "Embed N(0, 1/d); norms 1/0",
        reference="flax.linen / flax.nnx (flax 0.12)",
        build=lambda p, ctx: flax_default_law(ctx),
        aliases=("jax.default",),
        uses_fans=True,
        framework="flax",
    ),
)

LAYOUT_DEFAULT = {
    Layout.TORCH: "torch.default",
    Layout.KERAS: "keras.default",
    Layout.JAX: "flax.default",
}


def framework_schemes() -> list[Scheme]:
    return [*_torch_rows(), *_keras_rows(), *_jax_rows(), *DEFAULT_ROWS]


__all__ = ["LAYOUT_DEFAULT", "Fraction", "Order", "framework_schemes", "variance_law"]
