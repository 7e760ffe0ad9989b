"""weightinit's canonical schemes: the textbook names, in their mathematical standard forms.

One literal row per scheme: grep for a name in double quotes and you land on its row.
Unqualified names mean what the papers and torch mean: ``glorot_normal``, ``he_normal`` and
``lecun_normal`` are untruncated; the +-2 sigma variance-corrected variants Keras and JAX use
are ``*_truncated_normal``. ``uniform``, ``normal``, ``truncated_normal`` default to U[0, 1),
N(0, 1) and N(0, 1) cut at +-2 sigma. The variance presets are rows over the variance-scaling
engines in the ``exact`` order: every constant is the real number, rounded once.
"""

from __future__ import annotations

from fractions import Fraction

from ..gains import TORCH_NONLINEARITIES, VARIANCE_PRESERVING_ACTIVATIONS
from ..types import Distribution, Mode
from .base import (
    REQUIRED,
    Engine,
    Scheme,
    check_less,
    choice,
    integer,
    number,
    positive,
)
from .engines import (
    constant,
    delta_orthogonal,
    dirac,
    identity,
    normal,
    orthogonal_in_tensor_layout,
    sparse,
    truncated_normal,
    uniform,
)
from .variance import (
    Order,
    check_activation_gain,
    variance_scaling,
    variance_scaling_for_activation,
    variance_scaling_with_gain,
)

MODES = tuple(m.value for m in Mode)
DISTRIBUTIONS = tuple(d.value for d in Distribution)
NONLINEARITIES = tuple(sorted(set(TORCH_NONLINEARITIES) | set(VARIANCE_PRESERVING_ACTIVATIONS)))

UNIFORM, NORMAL, TRUNCATED = (
    Distribution.UNIFORM,
    Distribution.NORMAL,
    Distribution.TRUNCATED_NORMAL,
)

# ---- shared parameters and formulas ------------------------------------------------------------

GAIN = positive("gain", 1.0, "multiplies the std (scale = gain^2)")
MULTIPLIER = number("gain", 1.0, "multiplier")
MODE = choice("mode", "fan_in", MODES, "which fan to divide by")
HE_PARAMS = (
    number("a", 0.0, "negative slope of leaky_relu (torch's `a`; ignored otherwise)"),
    MODE,
    choice("nonlinearity", "leaky_relu", NONLINEARITIES, "activation that sets the gain"),
    choice(
        "gain_rule", "torch", ("torch", "variance_preserving"), "torch's table or 1/sqrt(E[f(z)^2])"
    ),
)
SPARSITY = number(
    "sparsity", REQUIRED, "fraction of each column set to zero", minimum=0.0, maximum=1.0
)

SAMPLE_UNIFORM = "U(-sqrt(3 var), sqrt(3 var))"
SAMPLE_NORMAL = "N(0, var)"
SAMPLE_TRUNCATED = "N(0, sigma^2) cut at +-2 sigma, sigma = sqrt(var)/0.8796256610342398"
GLOROT_REFERENCE = "Glorot & Bengio 2010, AISTATS; torch.nn.init.xavier_*_"
HE_REFERENCE = "He et al. 2015, arXiv:1502.01852; torch.nn.init.kaiming_*_"
LECUN_REFERENCE = "LeCun et al. 1998, Efficient BackProp; Klambauer et al. 2017 (SELU)"
CONSTANT_REFERENCE = "torch.nn.init.constant_ / keras.initializers.Constant"

CANONICAL_SCHEMES: tuple[Scheme, ...] = (
    # ---- constants ---------------------------------------------------------------------------
    Scheme(
        name="zeros",
        aliases=("zero",),
        engine=Engine(constant, {"value": 0.0}),
        summary="every element = 0",
        formula="W = 0",
        reference="torch.nn.init.zeros_ / keras.initializers.Zeros",
        random=False,
    ),
    Scheme(
        name="ones",
        aliases=("one",),
        engine=Engine(constant, {"value": 1.0}),
        summary="every element = 1",
        formula="W = 1",
        reference="torch.nn.init.ones_ / keras.initializers.Ones",
        random=False,
    ),
    Scheme(
        name="constant",
        engine=Engine(constant),
        params=(number("value", REQUIRED, "the fill value"),),
        summary="every element = value",
        formula="W = value",
        reference=CONSTANT_REFERENCE,
        random=False,
    ),
    # ---- elementwise distributions -----------------------------------------------------------
    Scheme(
        name="uniform",
        engine=Engine(uniform),
        params=(number("low", 0.0, "lower bound"), number("high", 1.0, "upper bound")),
        check=check_less("low", "high"),
        summary="uniform on [low, high)",
        formula="W ~ U[low, high)",
        reference="torch.nn.init.uniform_",
    ),
    Scheme(
        name="normal",
        aliases=("gaussian",),
        engine=Engine(normal),
        params=(number("mean", 0.0, "mean"), positive("std", 1.0, "standard deviation")),
        summary="normal (Gaussian), untruncated",
        formula="W ~ N(mean, std^2)",
        reference="torch.nn.init.normal_",
    ),
    Scheme(
        name="random",
        engine=Engine(normal, {"mean": 0.0}, renamed={"scale": "std"}),
        params=(positive("scale", 0.01, "standard deviation"),),
        summary="the textbook small random init: N(0, scale^2), scale 0.01",
        formula="W = randn(shape) * scale",
        reference="e.g. Ng, Deep Learning Specialization (np.random.randn(n, m) * 0.01)",
    ),
    Scheme(
        name="truncated_normal",
        engine=Engine(truncated_normal),
        params=(
            number("mean", 0.0, "mean of the underlying normal"),
            positive("std", 1.0, "std of the underlying normal (before truncation)"),
            number("a", -2.0, "lower bound"),
            number("b", 2.0, "upper bound"),
            choice("bounds", "std", ("std", "absolute"), "units of a and b"),
        ),
        check=check_less("a", "b"),
        summary="normal restricted to [a, b] (in units of std by default), no variance correction",
        formula="W ~ N(mean, std^2) conditioned on a <= (W-mean)/std <= b  (bounds='std'); "
        "a <= W <= b (bounds='absolute')",
        reference="torch.nn.init.trunc_normal_ (absolute bounds); keras TruncatedNormal (+-2 std)",
    ),
    # ---- variance scaling and its presets ----------------------------------------------------
    Scheme(
        name="variance_scaling",
        engine=Engine(variance_scaling, {"order": Order.EXACT}),
        params=(
            positive("scale", 1.0, "variance multiplier"),
            MODE,
            choice("distribution", TRUNCATED.value, DISTRIBUTIONS, "distribution to sample"),
        ),
        uses_fans=True,
        summary="the general variance-scaling scheme all fan-based presets specialise",
        formula="var = scale / n, n = fan_in | fan_out | (fan_in+fan_out)/2 | "
        "sqrt(fan_in*fan_out); normal N(0, var); uniform U(+-sqrt(3 var)); "
        "truncated_normal sigma = sqrt(var)/0.87962566",
        reference="jax.nn.initializers.variance_scaling; keras VarianceScaling",
    ),
    Scheme(
        name="glorot_uniform",
        aliases=("xavier_uniform",),
        engine=Engine(
            variance_scaling_with_gain,
            {"order": Order.EXACT, "mode": Mode.FAN_AVG, "distribution": UNIFORM},
        ),
        params=(GAIN,),
        uses_fans=True,
        summary="Glorot/Xavier uniform: fan_avg variance scaling",
        formula=f"var = gain^2 * 2 / (fan_in + fan_out); W ~ {SAMPLE_UNIFORM}",
        reference=GLOROT_REFERENCE,
    ),
    Scheme(
        name="glorot_normal",
        aliases=("xavier_normal",),
        engine=Engine(
            variance_scaling_with_gain,
            {"order": Order.EXACT, "mode": Mode.FAN_AVG, "distribution": NORMAL},
        ),
        params=(GAIN,),
        uses_fans=True,
        summary="Glorot/Xavier normal: fan_avg variance scaling",
        formula=f"var = gain^2 * 2 / (fan_in + fan_out); W ~ {SAMPLE_NORMAL}",
        reference=GLOROT_REFERENCE,
    ),
    Scheme(
        name="glorot_truncated_normal",
        aliases=("xavier_truncated_normal",),
        engine=Engine(
            variance_scaling_with_gain,
            {"order": Order.EXACT, "mode": Mode.FAN_AVG, "distribution": TRUNCATED},
        ),
        params=(GAIN,),
        uses_fans=True,
        summary="Glorot/Xavier truncated_normal: fan_avg variance scaling",
        formula=f"var = gain^2 * 2 / (fan_in + fan_out); W ~ {SAMPLE_TRUNCATED}",
        reference=GLOROT_REFERENCE,
    ),
    Scheme(
        name="he_uniform",
        aliases=("kaiming_uniform",),
        engine=Engine(
            variance_scaling_for_activation, {"order": Order.EXACT, "distribution": UNIFORM}
        ),
        params=HE_PARAMS,
        check=check_activation_gain,
        uses_fans=True,
        summary="He/Kaiming uniform: scale = gain(nonlinearity, a)^2 (2 for relu)",
        formula=f"var = gain^2 / fan (fan_in by default); W ~ {SAMPLE_UNIFORM}",
        reference=HE_REFERENCE,
    ),
    Scheme(
        name="he_normal",
        aliases=("kaiming_normal", "he"),
        engine=Engine(
            variance_scaling_for_activation, {"order": Order.EXACT, "distribution": NORMAL}
        ),
        params=HE_PARAMS,
        check=check_activation_gain,
        uses_fans=True,
        summary="He/Kaiming normal: scale = gain(nonlinearity, a)^2 (2 for relu)",
        formula=f"var = gain^2 / fan (fan_in by default); W ~ {SAMPLE_NORMAL}",
        reference=HE_REFERENCE,
    ),
    Scheme(
        name="he_truncated_normal",
        aliases=("kaiming_truncated_normal",),
        engine=Engine(
            variance_scaling_for_activation, {"order": Order.EXACT, "distribution": TRUNCATED}
        ),
        params=HE_PARAMS,
        check=check_activation_gain,
        uses_fans=True,
        summary="He/Kaiming truncated_normal: scale = gain(nonlinearity, a)^2 (2 for relu)",
        formula=f"var = gain^2 / fan (fan_in by default); W ~ {SAMPLE_TRUNCATED}",
        reference=HE_REFERENCE,
    ),
    Scheme(
        name="lecun_uniform",
        engine=Engine(
            variance_scaling,
            {
                "order": Order.EXACT,
                "scale": Fraction(1),
                "mode": Mode.FAN_IN,
                "distribution": UNIFORM,
            },
        ),
        uses_fans=True,
        summary="LeCun uniform: fan_in variance scaling with scale 1",
        formula=f"var = 1 / fan_in; W ~ {SAMPLE_UNIFORM}",
        reference=LECUN_REFERENCE,
    ),
    Scheme(
        name="lecun_normal",
        engine=Engine(
            variance_scaling,
            {
                "order": Order.EXACT,
                "scale": Fraction(1),
                "mode": Mode.FAN_IN,
                "distribution": NORMAL,
            },
        ),
        uses_fans=True,
        summary="LeCun normal: fan_in variance scaling with scale 1",
        formula=f"var = 1 / fan_in; W ~ {SAMPLE_NORMAL}",
        reference=LECUN_REFERENCE,
    ),
    Scheme(
        name="lecun_truncated_normal",
        engine=Engine(
            variance_scaling,
            {
                "order": Order.EXACT,
                "scale": Fraction(1),
                "mode": Mode.FAN_IN,
                "distribution": TRUNCATED,
            },
        ),
        uses_fans=True,
        summary="LeCun truncated_normal: fan_in variance scaling with scale 1",
        formula=f"var = 1 / fan_in; W ~ {SAMPLE_TRUNCATED}",
        reference=LECUN_REFERENCE,
    ),
    # ---- structured --------------------------------------------------------------------------
    Scheme(
        name="orthogonal",
        engine=Engine(orthogonal_in_tensor_layout),
        params=(MULTIPLIER,),
        summary="(semi-)orthogonal matrix times gain; >2-D tensors flattened by the layout",
        formula="A ~ N(0,1)^(rows x cols); A = QR; W = gain * Q * sign(diag R) "
        "(torch: rows = shape[0]; keras/jax: cols = shape[-1])",
        reference="Saxe et al. 2013, arXiv:1312.6120; Mezzadri 2007 (sign fix)",
    ),
    Scheme(
        name="identity",
        aliases=("eye",),
        engine=Engine(identity),
        params=(MULTIPLIER,),
        summary="gain times the identity (rectangular: ones on the main diagonal)",
        formula="W = gain * I",
        reference="torch.nn.init.eye_; keras.initializers.Identity",
        random=False,
    ),
    Scheme(
        name="dirac",
        engine=Engine(dirac),
        params=(integer("groups", 1, "number of groups", minimum=1),),
        summary="Dirac delta conv kernel: identity on channels at the kernel centre k//2",
        formula="W[g*out/g + d, d, k//2...] = 1",
        reference="torch.nn.init.dirac_; Zagoruyko & Komodakis 2017 (DiracNets)",
        random=False,
    ),
    Scheme(
        name="sparse",
        engine=Engine(sparse),
        params=(SPARSITY, positive("std", 0.01, "std of the non-zero values")),
        summary="N(0, std^2) with exactly ceil(sparsity * rows) zeros in every column",
        formula="W ~ N(0, std^2); per column, ceil(sparsity*rows) random rows set to 0",
        reference="Martens 2010, ICML; torch.nn.init.sparse_",
    ),
    Scheme(
        name="delta_orthogonal",
        engine=Engine(delta_orthogonal),
        params=(MULTIPLIER,),
        summary="conv kernel zero except an orthogonal (in, out) matrix at the centre (k-1)//2",
        formula="W[centre] = gain * Q, Q orthogonal (in x out), out >= in",
        reference="Xiao et al. 2018, arXiv:1806.05393; jax.nn.initializers.delta_orthogonal",
    ),
)
