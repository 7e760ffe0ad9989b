"""Framework-qualified schemes: one framework's exact semantics, defaults and operation order.

One literal row per scheme (grep for the name in double quotes). ``torch.*`` follow
torch.nn.init 2.13, ``keras.*`` Keras 3 initializers, ``jax.*`` jax.nn.initializers 0.10
(constants in the weight dtype); every variance row fixes the operation ``order`` of its
framework (``variance.py``), so its constants are that framework's doubles bit for bit.
``torch.default``, ``keras.default`` and ``flax.default`` are each framework's per-layer
default initialisation (``defaults.py``). Values come from weightinit's own streams; only the
constants, defaults and semantics are the framework's.
"""

from __future__ import annotations

from ..gains import TORCH_NONLINEARITIES
from ..types import Distribution, Layout, Mode
from .base import REQUIRED, Engine, Scheme, check_less, choice, integer, number, positive
from .canonical import DISTRIBUTIONS, MODES, SPARSITY
from .defaults import flax_default, keras_default, torch_default
from .engines import (
    constant,
    delta_orthogonal,
    dirac,
    identity,
    jax_truncated_normal,
    normal,
    orthogonal,
    sparse,
    truncated_normal,
    uniform,
)
from .variance import (
    KERAS_DISTRIBUTIONS,
    Order,
    check_torch_gain,
    keras_variance_scaling,
    variance_scaling,
    variance_scaling_for_activation,
    variance_scaling_with_gain,
)

TORCH = "torch"
KERAS = "keras"
JAX = "jax"
FLAX = "flax"
TORCH_REF = "torch.nn.init (torch 2.13)"
KERAS_REF = "keras.initializers (Keras 3)"
JAX_REF = "jax.nn.initializers (jax 0.10)"

UNIFORM, NORMAL, TRUNCATED = (
    Distribution.UNIFORM,
    Distribution.NORMAL,
    Distribution.TRUNCATED_NORMAL,
)

TORCH_KAIMING_PARAMS = (
    number("a", 0.0, "negative slope of leaky_relu"),
    choice("mode", "fan_in", ("fan_in", "fan_out"), "which fan"),
    choice("nonlinearity", "leaky_relu", TORCH_NONLINEARITIES, "activation"),
)
TORCH_XAVIER = "std = gain * math.sqrt(2.0 / float(fan_in + fan_out))"
TORCH_KAIMING = "std = calculate_gain(nonlinearity, a) / math.sqrt(fan)"
TORCH_BOUND = "; bound = math.sqrt(3.0) * std"
KERAS_ORDER = (
    "Keras order: scale /= max(1, n); limit = math.sqrt(3*scale) | "
    "stddev = math.sqrt(scale) / 0.87962566103423978 (truncated at +-2 stddev)"
)
JAX_ORDER = (
    "variance = dtype(scale / n); stddev = sqrt(variance) [/ 0.87962566103423978] "
    "in the weight dtype"
)

TORCH_SCHEMES: tuple[Scheme, ...] = (
    Scheme(
        name="torch.uniform_",
        engine=Engine(uniform, renamed={"a": "low", "b": "high"}),
        params=(number("a", 0.0, "lower bound"), number("b", 1.0, "upper bound")),
        check=check_less("a", "b"),
        summary="torch uniform_: U[a, b)",
        formula="W ~ U[a, b)",
        reference=TORCH_REF,
        framework=TORCH,
    ),
    Scheme(
        name="torch.normal_",
        engine=Engine(normal),
        params=(number("mean", 0.0, "mean"), positive("std", 1.0, "standard deviation")),
        summary="torch normal_: N(mean, std^2)",
        formula="W ~ N(mean, std^2)",
        reference=TORCH_REF,
        framework=TORCH,
    ),
    Scheme(
        name="torch.trunc_normal_",
        engine=Engine(truncated_normal, {"bounds": "absolute"}),
        params=(
            number("mean", 0.0, "mean"),
            positive("std", 1.0, "std before truncation"),
            number("a", -2.0, "absolute lower bound"),
            number("b", 2.0, "absolute upper bound"),
        ),
        check=check_less("a", "b"),
        summary="torch trunc_normal_: N(mean, std^2) cut at ABSOLUTE bounds [a, b]",
        formula="W ~ N(mean, std^2) conditioned on a <= W <= b (a, b are values, not stds)",
        reference=TORCH_REF + "; pytorch/pytorch PR #32397",
        framework=TORCH,
    ),
    Scheme(
        name="torch.zeros_",
        engine=Engine(constant, {"value": 0.0}),
        summary="torch zeros_: every element = 0",
        formula="W = 0",
        reference=TORCH_REF,
        framework=TORCH,
        random=False,
    ),
    Scheme(
        name="torch.ones_",
        engine=Engine(constant, {"value": 1.0}),
        summary="torch ones_: every element = 1",
        formula="W = 1",
        reference=TORCH_REF,
        framework=TORCH,
        random=False,
    ),
    Scheme(
        name="torch.constant_",
        engine=Engine(constant, renamed={"val": "value"}),
        params=(number("val", REQUIRED, "the fill value"),),
        summary="torch constant_: every element = val",
        formula="W = val",
        reference=TORCH_REF,
        framework=TORCH,
        random=False,
    ),
    Scheme(
        name="torch.eye_",
        engine=Engine(identity, {"gain": 1.0}),
        summary="torch eye_: identity on a 2-D tensor",
        formula="W = I",
        reference=TORCH_REF,
        framework=TORCH,
        random=False,
    ),
    Scheme(
        name="torch.dirac_",
        engine=Engine(dirac),
        params=(integer("groups", 1, "number of groups", minimum=1),),
        summary="torch dirac_: identity on channels at the centre k//2",
        formula="W[g*out/g + d, d, k//2...] = 1",
        reference=TORCH_REF,
        framework=TORCH,
        random=False,
    ),
    Scheme(
        name="torch.orthogonal_",
        engine=Engine(orthogonal, {"layout": Layout.TORCH}),
        params=(number("gain", 1.0, "multiplier"),),
        summary="torch orthogonal_: rows = shape[0], the rest flattened",
        formula="W = gain * Q sign(diag R), A (shape[0] x numel/shape[0]) = QR",
        reference=TORCH_REF,
        framework=TORCH,
    ),
    Scheme(
        name="torch.sparse_",
        engine=Engine(sparse),
        params=(SPARSITY, positive("std", 0.01, "std of the non-zero values")),
        summary="torch sparse_: N(0, std^2), ceil(sparsity*rows) zeros per column",
        formula="W ~ N(0, std^2), per column ceil(sparsity*rows) zeros",
        reference=TORCH_REF,
        framework=TORCH,
    ),
    Scheme(
        name="torch.xavier_uniform_",
        engine=Engine(
            variance_scaling_with_gain,
            {"order": Order.TORCH, "mode": Mode.FAN_AVG, "distribution": UNIFORM},
        ),
        params=(number("gain", 1.0, "multiplier"),),
        uses_fans=True,
        summary="torch xavier_uniform_ with torch's operation order",
        formula=TORCH_XAVIER + TORCH_BOUND,
        reference=TORCH_REF,
        framework=TORCH,
    ),
    Scheme(
        name="torch.xavier_normal_",
        engine=Engine(
            variance_scaling_with_gain,
            {"order": Order.TORCH, "mode": Mode.FAN_AVG, "distribution": NORMAL},
        ),
        params=(number("gain", 1.0, "multiplier"),),
        uses_fans=True,
        summary="torch xavier_normal_ with torch's operation order",
        formula=TORCH_XAVIER,
        reference=TORCH_REF,
        framework=TORCH,
    ),
    Scheme(
        name="torch.kaiming_uniform_",
        engine=Engine(
            variance_scaling_for_activation,
            {"order": Order.TORCH, "gain_rule": "torch", "distribution": UNIFORM},
        ),
        params=TORCH_KAIMING_PARAMS,
        check=check_torch_gain,
        uses_fans=True,
        summary="torch kaiming_uniform_ with torch's operation order",
        formula=TORCH_KAIMING + TORCH_BOUND,
        reference=TORCH_REF,
        framework=TORCH,
    ),
    Scheme(
        name="torch.kaiming_normal_",
        engine=Engine(
            variance_scaling_for_activation,
            {"order": Order.TORCH, "gain_rule": "torch", "distribution": NORMAL},
        ),
        params=TORCH_KAIMING_PARAMS,
        check=check_torch_gain,
        uses_fans=True,
        summary="torch kaiming_normal_ with torch's operation order",
        formula=TORCH_KAIMING,
        reference=TORCH_REF,
        framework=TORCH,
    ),
)

KERAS_SCHEMES: tuple[Scheme, ...] = (
    Scheme(
        name="keras.Zeros",
        engine=Engine(constant, {"value": 0.0}),
        summary="Keras Zeros: every element = 0",
        formula="W = 0",
        reference=KERAS_REF,
        framework=KERAS,
        random=False,
    ),
    Scheme(
        name="keras.Ones",
        engine=Engine(constant, {"value": 1.0}),
        summary="Keras Ones: every element = 1",
        formula="W = 1",
        reference=KERAS_REF,
        framework=KERAS,
        random=False,
    ),
    Scheme(
        name="keras.Constant",
        engine=Engine(constant),
        params=(number("value", 0.0, "the fill value"),),
        summary="Keras Constant(value=0.0)",
        formula="W = value",
        reference=KERAS_REF,
        framework=KERAS,
        random=False,
    ),
    Scheme(
        name="keras.RandomNormal",
        engine=Engine(normal, renamed={"stddev": "std"}),
        params=(number("mean", 0.0, "mean"), positive("stddev", 0.05, "standard deviation")),
        summary="Keras RandomNormal: N(mean, stddev^2), stddev 0.05",
        formula="W ~ N(mean, stddev^2)",
        reference=KERAS_REF,
        framework=KERAS,
    ),
    Scheme(
        name="keras.RandomUniform",
        engine=Engine(uniform, renamed={"minval": "low", "maxval": "high"}),
        params=(number("minval", -0.05, "lower bound"), number("maxval", 0.05, "upper bound")),
        check=check_less("minval", "maxval"),
        summary="Keras RandomUniform: U[minval, maxval), +-0.05",
        formula="W ~ U[minval, maxval)",
        reference=KERAS_REF,
        framework=KERAS,
    ),
    Scheme(
        name="keras.TruncatedNormal",
        engine=Engine(
            truncated_normal, {"a": -2.0, "b": 2.0, "bounds": "std"}, renamed={"stddev": "std"}
        ),
        params=(number("mean", 0.0, "mean"), positive("stddev", 0.05, "std before truncation")),
        summary="Keras TruncatedNormal: cut at mean +- 2 stddev, no variance correction",
        formula="W ~ N(mean, stddev^2) conditioned on |W - mean| <= 2 stddev",
        reference=KERAS_REF,
        framework=KERAS,
    ),
    Scheme(
        name="keras.VarianceScaling",
        engine=Engine(keras_variance_scaling),
        params=(
            positive("scale", 1.0, "variance multiplier"),
            choice("mode", "fan_in", ("fan_in", "fan_out", "fan_avg"), "which fan"),
            choice("distribution", TRUNCATED.value, tuple(KERAS_DISTRIBUTIONS), "distribution"),
        ),
        uses_fans=True,
        summary="Keras VarianceScaling ('normal' means truncated_normal, as in Keras)",
        formula="Keras order: scale /= max(1, n); see keras.GlorotUniform",
        reference=KERAS_REF,
        framework=KERAS,
    ),
    Scheme(
        name="keras.GlorotUniform",
        engine=Engine(
            variance_scaling,
            {"order": Order.KERAS, "scale": 1.0, "mode": Mode.FAN_AVG, "distribution": UNIFORM},
        ),
        uses_fans=True,
        summary="Keras GlorotUniform",
        formula=KERAS_ORDER,
        reference=KERAS_REF,
        framework=KERAS,
    ),
    Scheme(
        name="keras.GlorotNormal",
        engine=Engine(
            variance_scaling,
            {"order": Order.KERAS, "scale": 1.0, "mode": Mode.FAN_AVG, "distribution": TRUNCATED},
        ),
        uses_fans=True,
        summary="Keras GlorotNormal (truncated)",
        formula=KERAS_ORDER,
        reference=KERAS_REF,
        framework=KERAS,
    ),
    Scheme(
        name="keras.HeUniform",
        engine=Engine(
            variance_scaling,
            {"order": Order.KERAS, "scale": 2.0, "mode": Mode.FAN_IN, "distribution": UNIFORM},
        ),
        uses_fans=True,
        summary="Keras HeUniform",
        formula=KERAS_ORDER,
        reference=KERAS_REF,
        framework=KERAS,
    ),
    Scheme(
        name="keras.HeNormal",
        engine=Engine(
            variance_scaling,
            {"order": Order.KERAS, "scale": 2.0, "mode": Mode.FAN_IN, "distribution": TRUNCATED},
        ),
        uses_fans=True,
        summary="Keras HeNormal (truncated)",
        formula=KERAS_ORDER,
        reference=KERAS_REF,
        framework=KERAS,
    ),
    Scheme(
        name="keras.LecunUniform",
        engine=Engine(
            variance_scaling,
            {"order": Order.KERAS, "scale": 1.0, "mode": Mode.FAN_IN, "distribution": UNIFORM},
        ),
        uses_fans=True,
        summary="Keras LecunUniform",
        formula=KERAS_ORDER,
        reference=KERAS_REF,
        framework=KERAS,
    ),
    Scheme(
        name="keras.LecunNormal",
        engine=Engine(
            variance_scaling,
            {"order": Order.KERAS, "scale": 1.0, "mode": Mode.FAN_IN, "distribution": TRUNCATED},
        ),
        uses_fans=True,
        summary="Keras LecunNormal (truncated)",
        formula=KERAS_ORDER,
        reference=KERAS_REF,
        framework=KERAS,
    ),
    Scheme(
        name="keras.Orthogonal",
        engine=Engine(orthogonal, {"layout": Layout.KERAS}),
        params=(number("gain", 1.0, "multiplier"),),
        summary="Keras Orthogonal: rows = prod(shape[:-1]), cols = shape[-1]",
        formula="W = gain * Q sign(diag R)",
        reference=KERAS_REF,
        framework=KERAS,
    ),
    Scheme(
        name="keras.Identity",
        engine=Engine(identity),
        params=(number("gain", 1.0, "multiplier"),),
        summary="Keras Identity: gain * eye (2-D only)",
        formula="W = gain * I",
        reference=KERAS_REF,
        framework=KERAS,
        random=False,
    ),
)

JAX_SCHEMES: tuple[Scheme, ...] = (
    Scheme(
        name="jax.zeros",
        engine=Engine(constant, {"value": 0.0}),
        summary="jax zeros: every element = 0",
        formula="W = 0",
        reference=JAX_REF,
        framework=JAX,
        random=False,
    ),
    Scheme(
        name="jax.ones",
        engine=Engine(constant, {"value": 1.0}),
        summary="jax ones: every element = 1",
        formula="W = 1",
        reference=JAX_REF,
        framework=JAX,
        random=False,
    ),
    Scheme(
        name="jax.constant",
        engine=Engine(constant),
        params=(number("value", REQUIRED, "the fill value"),),
        summary="jax constant(value)",
        formula="W = value",
        reference=JAX_REF,
        framework=JAX,
        random=False,
    ),
    Scheme(
        name="jax.uniform",
        engine=Engine(uniform, {"low": 0.0}, renamed={"scale": "high"}),
        params=(positive("scale", 0.01, "upper bound"),),
        summary="jax uniform(scale=0.01): U[0, scale), NOT symmetric",
        formula="W ~ U[0, scale)",
        reference=JAX_REF,
        framework=JAX,
    ),
    Scheme(
        name="jax.normal",
        engine=Engine(normal, {"mean": 0.0}, renamed={"stddev": "std"}),
        params=(positive("stddev", 0.01, "standard deviation"),),
        summary="jax normal(stddev=0.01)",
        formula="W ~ N(0, stddev^2)",
        reference=JAX_REF,
        framework=JAX,
    ),
    Scheme(
        name="jax.truncated_normal",
        engine=Engine(jax_truncated_normal),
        params=(
            positive("stddev", 0.01, "scale"),
            number("lower", -2.0, "lower bound in stddevs"),
            number("upper", 2.0, "upper bound in stddevs"),
        ),
        check=check_less("lower", "upper"),
        summary="jax truncated_normal(stddev=0.01, lower=-2, upper=2): bounds in stddevs, "
        "no variance correction",
        formula="W = stddev * Z, Z ~ N(0,1) conditioned on lower < Z < upper",
        reference=JAX_REF,
        framework=JAX,
    ),
    Scheme(
        name="jax.variance_scaling",
        engine=Engine(variance_scaling, {"order": Order.JAX}),
        params=(
            positive("scale", 1.0, "variance multiplier"),
            choice("mode", "fan_in", MODES, "which fan"),
            choice("distribution", TRUNCATED.value, DISTRIBUTIONS, "distribution"),
        ),
        uses_fans=True,
        summary="jax variance_scaling(scale, mode, distribution), constants in the dtype",
        formula="variance = dtype(scale / n); see jax.glorot_uniform",
        reference=JAX_REF,
        framework=JAX,
    ),
    Scheme(
        name="jax.glorot_uniform",
        aliases=("jax.xavier_uniform",),
        engine=Engine(
            variance_scaling,
            {"order": Order.JAX, "scale": 1.0, "mode": Mode.FAN_AVG, "distribution": UNIFORM},
        ),
        uses_fans=True,
        summary="JAX glorot_uniform, constants in the weight dtype",
        formula=JAX_ORDER,
        reference=JAX_REF,
        framework=JAX,
    ),
    Scheme(
        name="jax.glorot_normal",
        aliases=("jax.xavier_normal",),
        engine=Engine(
            variance_scaling,
            {"order": Order.JAX, "scale": 1.0, "mode": Mode.FAN_AVG, "distribution": TRUNCATED},
        ),
        uses_fans=True,
        summary="JAX glorot_normal: a truncated normal, as in JAX",
        formula=JAX_ORDER,
        reference=JAX_REF,
        framework=JAX,
    ),
    Scheme(
        name="jax.he_uniform",
        aliases=("jax.kaiming_uniform",),
        engine=Engine(
            variance_scaling,
            {"order": Order.JAX, "scale": 2.0, "mode": Mode.FAN_IN, "distribution": UNIFORM},
        ),
        uses_fans=True,
        summary="JAX he_uniform, constants in the weight dtype",
        formula=JAX_ORDER,
        reference=JAX_REF,
        framework=JAX,
    ),
    Scheme(
        name="jax.he_normal",
        aliases=("jax.kaiming_normal",),
        engine=Engine(
            variance_scaling,
            {"order": Order.JAX, "scale": 2.0, "mode": Mode.FAN_IN, "distribution": TRUNCATED},
        ),
        uses_fans=True,
        summary="JAX he_normal: a truncated normal, as in JAX",
        formula=JAX_ORDER,
        reference=JAX_REF,
        framework=JAX,
    ),
    Scheme(
        name="jax.lecun_uniform",
        engine=Engine(
            variance_scaling,
            {"order": Order.JAX, "scale": 1.0, "mode": Mode.FAN_IN, "distribution": UNIFORM},
        ),
        uses_fans=True,
        summary="JAX lecun_uniform, constants in the weight dtype",
        formula=JAX_ORDER,
        reference=JAX_REF,
        framework=JAX,
    ),
    Scheme(
        name="jax.lecun_normal",
        engine=Engine(
            variance_scaling,
            {"order": Order.JAX, "scale": 1.0, "mode": Mode.FAN_IN, "distribution": TRUNCATED},
        ),
        uses_fans=True,
        summary="JAX lecun_normal: a truncated normal, as in JAX",
        formula=JAX_ORDER,
        reference=JAX_REF,
        framework=JAX,
    ),
    Scheme(
        name="jax.orthogonal",
        engine=Engine(orthogonal, {"layout": Layout.JAX}, renamed={"scale": "gain"}),
        params=(number("scale", 1.0, "multiplier"),),
        summary="jax orthogonal(scale): cols = shape[-1], rows = the rest",
        formula="W = scale * Q sign(diag R)",
        reference=JAX_REF,
        framework=JAX,
    ),
    Scheme(
        name="jax.delta_orthogonal",
        engine=Engine(delta_orthogonal, renamed={"scale": "gain"}),
        params=(number("scale", 1.0, "multiplier"),),
        summary="jax delta_orthogonal(scale): orthogonal (in, out) at centre (k-1)//2",
        formula="W[centre] = scale * Q, out >= in",
        reference=JAX_REF,
        framework=JAX,
    ),
)

TORCH_DEFAULT = Scheme(
    name="torch.default",
    engine=Engine(torch_default),
    uses_fans=True,
    summary="PyTorch's module default for the tensor's layer",
    formula="Linear/Conv weight: kaiming_uniform_(a=sqrt(5)) = U(+-1/sqrt(fan_in)); bias "
    "U(+-1/sqrt(fan_in)); RNN/LSTM/GRU: all U(+-1/sqrt(hidden)); Embedding N(0,1); "
    "norms 1/0",
    reference=TORCH_REF + " reset_parameters(); pytorch/pytorch#57109",
    framework=TORCH,
)
KERAS_DEFAULT = Scheme(
    name="keras.default",
    engine=Engine(keras_default),
    uses_fans=True,
    summary="Keras 3's layer default for the tensor's layer",
    formula="kernels glorot_uniform; recurrent kernels orthogonal; biases 0 (LSTM unit "
    "forget bias 1); Embedding U(+-0.05); norms 1/0",
    reference=KERAS_REF + " layer constructors",
    framework=KERAS,
)
FLAX_DEFAULT = Scheme(
    name="flax.default",
    aliases=("jax.default",),
    engine=Engine(flax_default),
    uses_fans=True,
    summary="Flax's layer default for the tensor's layer",
    formula="kernels lecun_normal (truncated); recurrent kernels orthogonal; biases 0; "
    "Embed N(0, 1/d); norms 1/0",
    reference="flax.linen / flax.nnx (flax 0.12)",
    framework=FLAX,
)

LAYOUT_DEFAULT = {
    Layout.TORCH: TORCH_DEFAULT.name,
    Layout.KERAS: KERAS_DEFAULT.name,
    Layout.JAX: FLAX_DEFAULT.name,
}

FRAMEWORK_SCHEMES: tuple[Scheme, ...] = (
    *TORCH_SCHEMES,
    *KERAS_SCHEMES,
    *JAX_SCHEMES,
    TORCH_DEFAULT,
    KERAS_DEFAULT,
    FLAX_DEFAULT,
)
