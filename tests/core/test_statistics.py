"""Statistical tests per scheme: every random scheme's samples against its exact law.

Each test draws with a fixed seed, so every run is bit-for-bit the same; the tolerances are
derived from the sample size (see ``stats_helpers``): Z = 5 standard deviations for the mean
and the variance (false-alarm probability 5.7e-7 per check for a correct sampler), KS at
alpha = 1e-4 against the exact CDF. ``test_two_percent_std_error_is_detected`` shows the
bands are narrow enough to catch a 2 % error in std at n = 2e5.

Elementwise samples are checked against ``plan.law`` (its exact constants), and the law
against a variance written out here from the textbook formula, so a wrong constant and a
wrong sampler both fail. Structured schemes are checked exactly (orthogonality to rounding,
zero patterns, identity/dirac positions, exact zero counts).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import ml_dtypes
import numpy as np
import pytest
from numpy.typing import NDArray
from scipy import stats

from app.core import sampling
from app.core.dtypes import numpy_dtype
from app.core.generate import generate_tensor
from app.core.laws import (
    DeltaOrthogonalLaw,
    NormalLaw,
    OrthogonalLaw,
    SegmentsLaw,
    SparseLaw,
    TruncatedNormalLaw,
    UniformLaw,
)
from app.core.layers import make_layer
from app.core.planning import plan_layer
from app.core.plans import TensorPlan
from app.core.schemes import ALIASES, SCHEMES, resolve_scheme
from app.core.types import DType, Layout

from .stats_helpers import (
    Moments,
    law_distribution,
    law_moments,
    rescaled,
    truncated_standard_moments,
    violations,
)

SEED = 20_240_611
FI, FO = 500.0, 400.0  # fans of every 2e5-element weight below, whatever the layout
C2 = float(stats.truncnorm(-2, 2).var())  # variance of N(0, 1) cut at +-2, from scipy
MAIN_DTYPES = (DType.FLOAT64, DType.FLOAT32)
LOW_DTYPES = (DType.FLOAT16, DType.BFLOAT16)
Array = NDArray[Any]


# ---- producing tensors -----------------------------------------------------------------------


def plan_for(
    scheme: str,
    params: Mapping[str, object],
    *,
    layout: Layout = Layout.TORCH,
    dtype: DType = DType.FLOAT64,
    kind: str = "tensor",
    fields: Mapping[str, object] | None = None,
    tensor: str = "weight",
) -> TensorPlan:
    """The plan of tensor ``tensor`` of a layer, with ``scheme`` for weights and biases."""
    resolved = resolve_scheme(scheme, dict(params))
    plans = plan_layer(
        make_layer(kind, dict(fields or {})),
        layout=layout,
        dtype=dtype,
        scheme=resolved,
        bias_scheme=resolved,
    )
    by_name = {p.name: p for p in plans}
    return by_name[tensor]


def shaped(
    scheme: str, params: Mapping[str, object], shape: tuple[int, ...], **kw: Any
) -> TensorPlan:
    return plan_for(scheme, params, fields={"shape": list(shape)}, **kw)


# ---- elementwise schemes: cases -------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One elementwise draw: scheme, params, where, and the textbook variance/mean."""

    scheme: str
    params: Mapping[str, object]
    law: type
    variance: float
    mean: float = 0.0
    layout: Layout = Layout.TORCH
    kind: str = "tensor"
    fields: Mapping[str, object] = field(default_factory=dict)
    tensor: str = "weight"

    @property
    def id(self) -> str:
        extra = ",".join(f"{k}={v}" for k, v in self.params.items())
        where = "" if self.kind == "tensor" else f"-{self.kind}.{self.tensor}"
        return f"{self.scheme}({extra}){where}"

    def plan(self, dtype: DType) -> TensorPlan:
        fields = self.fields or {"shape": [400, 500] if self.layout is Layout.TORCH else [500, 400]}
        return plan_for(
            self.scheme,
            self.params,
            layout=self.layout,
            dtype=dtype,
            kind=self.kind,
            fields=fields,
            tensor=self.tensor,
        )


U, N, T = UniformLaw, NormalLaw, TruncatedNormalLaw
K, J = Layout.KERAS, Layout.JAX
TN_13 = stats.truncnorm(-1, 3)


def _cases() -> list[Case]:
    dense_small_in = {"in_features": 5, "out_features": 40000}
    dense = {"in_features": 500, "out_features": 400}
    emb = {"num_embeddings": 400, "embedding_dim": 500}
    lstm = {"input_size": 500, "hidden_size": 100}
    return [
        # canonical
        Case("uniform", {}, U, 1 / 12, 0.5),
        Case("uniform", {"low": -3.0, "high": 5.0}, U, 64 / 12, 1.0),
        Case("normal", {}, N, 1.0),
        Case("normal", {"mean": 2.0, "std": 0.5}, N, 0.25, 2.0),
        Case("random", {}, N, 1e-4),
        Case("truncated_normal", {}, T, C2),
        Case("truncated_normal", {"mean": -1.0, "std": 3.0}, T, 9 * C2, -1.0),
        Case("variance_scaling", {}, T, 1 / FI),
        Case("variance_scaling", {"mode": "fan_out"}, T, 1 / FO),
        Case(
            "variance_scaling",
            {"scale": 2.0, "mode": "fan_avg", "distribution": "uniform"},
            U,
            2 / ((FI + FO) / 2),
        ),
        Case(
            "variance_scaling",
            {"scale": 0.5, "mode": "fan_geo_avg", "distribution": "normal"},
            N,
            0.5 / math.sqrt(FI * FO),
        ),
        Case("glorot_truncated_normal", {}, T, 2 / (FI + FO)),
        Case("glorot_normal", {"gain": 2.0}, N, 4 * 2 / (FI + FO)),
        Case("glorot_uniform", {}, U, 2 / (FI + FO)),
        Case("he_truncated_normal", {}, T, 2 / FI),
        Case("he_normal", {}, N, 2 / FI),
        Case("he_normal", {"mode": "fan_out", "nonlinearity": "relu"}, N, 2 / FO),
        Case("he_normal", {"nonlinearity": "selu"}, N, (3 / 4) ** 2 / FI),
        Case("he_uniform", {"nonlinearity": "tanh"}, U, (5 / 3) ** 2 / FI),
        Case("he_uniform", {"a": 0.2}, U, 2 / (1 + 0.2**2) / FI),
        Case("lecun_truncated_normal", {}, T, 1 / FI),
        Case("lecun_normal", {}, N, 1 / FI),
        Case("lecun_uniform", {}, U, 1 / FI),
        # torch
        Case("torch.uniform_", {}, U, 1 / 12, 0.5),
        Case("torch.uniform_", {"a": -1.0, "b": 1.0}, U, 4 / 12),
        Case("torch.normal_", {}, N, 1.0),
        Case("torch.normal_", {"mean": 0.5, "std": 0.02}, N, 0.02**2, 0.5),
        Case("torch.trunc_normal_", {}, T, C2),
        # default absolute bounds +-2 are 100 std away: no truncation in effect
        Case("torch.trunc_normal_", {"std": 0.02}, T, 0.02**2),
        Case("torch.xavier_uniform_", {}, U, 2 / (FI + FO)),
        Case("torch.xavier_normal_", {"gain": 3.0}, N, 9 * 2 / (FI + FO)),
        Case("torch.kaiming_uniform_", {}, U, 2 / FI),
        Case("torch.kaiming_normal_", {"mode": "fan_out", "nonlinearity": "relu"}, N, 2 / FO),
        # keras (its "normal" is truncated and variance-corrected)
        Case("keras.RandomNormal", {}, N, 0.05**2, layout=K),
        Case("keras.RandomUniform", {}, U, 0.1**2 / 12, layout=K),
        Case("keras.TruncatedNormal", {}, T, 0.05**2 * C2, layout=K),
        Case("keras.TruncatedNormal", {"mean": 1.0, "stddev": 0.5}, T, 0.25 * C2, 1.0, layout=K),
        Case("keras.VarianceScaling", {}, T, 1 / FI, layout=K),
        Case("keras.VarianceScaling", {"distribution": "normal"}, T, 1 / FI, layout=K),
        Case(
            "keras.VarianceScaling",
            {"scale": 2.0, "mode": "fan_out", "distribution": "untruncated_normal"},
            N,
            2 / FO,
            layout=K,
        ),
        Case(
            "keras.VarianceScaling",
            {"mode": "fan_avg", "distribution": "uniform"},
            U,
            2 / (FI + FO),
            layout=K,
        ),
        Case("keras.GlorotUniform", {}, U, 2 / (FI + FO), layout=K),
        Case("keras.GlorotNormal", {}, T, 2 / (FI + FO), layout=K),
        Case("keras.HeUniform", {}, U, 2 / FI, layout=K),
        Case("keras.HeNormal", {}, T, 2 / FI, layout=K),
        Case("keras.LecunUniform", {}, U, 1 / FI, layout=K),
        Case("keras.LecunNormal", {}, T, 1 / FI, layout=K),
        # jax (constants in the weight dtype; *_normal truncated and corrected)
        Case("jax.uniform", {}, U, 0.01**2 / 12, 0.005, layout=J),
        Case("jax.normal", {}, N, 0.01**2, layout=J),
        Case("jax.truncated_normal", {}, T, 0.01**2 * C2, layout=J),
        Case(
            "jax.truncated_normal",
            {"stddev": 1.0, "lower": -1.0, "upper": 3.0},
            T,
            float(TN_13.var()),
            float(TN_13.mean()),
            layout=J,
        ),
        Case("jax.variance_scaling", {}, T, 1 / FI, layout=J),
        Case(
            "jax.variance_scaling",
            {"mode": "fan_avg", "distribution": "normal"},
            N,
            2 / (FI + FO),
            layout=J,
        ),
        Case(
            "jax.variance_scaling",
            {"scale": 3.0, "mode": "fan_geo_avg", "distribution": "uniform"},
            U,
            3 / math.sqrt(FI * FO),
            layout=J,
        ),
        Case("jax.glorot_uniform", {}, U, 2 / (FI + FO), layout=J),
        Case("jax.glorot_normal", {}, T, 2 / (FI + FO), layout=J),
        Case("jax.he_uniform", {}, U, 2 / FI, layout=J),
        Case("jax.he_normal", {}, T, 2 / FI, layout=J),
        Case("jax.lecun_uniform", {}, U, 1 / FI, layout=J),
        Case("jax.lecun_normal", {}, T, 1 / FI, layout=J),
        # framework defaults, per layer (torch: kaiming_uniform_(a=sqrt(5)) = U(+-1/sqrt(fan_in)))
        Case("torch.default", {}, U, 1 / (3 * 5), kind="dense", fields=dense_small_in),
        Case(
            "torch.default", {}, U, 1 / (3 * 5), kind="dense", fields=dense_small_in, tensor="bias"
        ),
        Case("torch.default", {}, N, 1.0, kind="embedding", fields=emb),
        Case(
            "torch.default", {}, U, 1 / (3 * 100), kind="lstm", fields=lstm, tensor="weight_ih_l0"
        ),
        Case(
            "keras.default",
            {},
            U,
            2 / (FI + FO),
            layout=K,
            kind="dense",
            fields=dense,
            tensor="kernel",
        ),
        Case(
            "keras.default",
            {},
            U,
            0.1**2 / 12,
            layout=K,
            kind="embedding",
            fields=emb,
            tensor="embeddings",
        ),
        Case("flax.default", {}, T, 1 / FI, layout=J, kind="dense", fields=dense, tensor="kernel"),
        Case(
            "flax.default",
            {},
            N,
            1 / 500,
            layout=J,
            kind="embedding",
            fields=emb,
            tensor="embedding",
        ),
    ]


CASES = _cases()


@cache
def _sample(case_id: str, dtype: DType) -> tuple[TensorPlan, Array]:
    case = next(c for c in CASES if c.id == case_id)
    plan = case.plan(dtype)
    return plan, generate_tensor(plan, SEED)


def _check_law_against_textbook(case: Case, plan: TensorPlan) -> None:
    """The law's own moments equal the textbook variance (constants: rounded once)."""
    law = plan.law
    assert isinstance(law, case.law), f"{case.id}: expected {case.law.__name__}, got {law!r}"
    m = law_moments(law)  # type: ignore[arg-type]
    rel = 1e-9 if plan.dtype is DType.FLOAT64 else 1e-6  # jax.* computes constants in float32
    assert m.var == pytest.approx(case.variance, rel=rel), f"{case.id}: law {law!r}"
    assert m.mean == pytest.approx(case.mean, rel=1e-9, abs=1e-12), f"{case.id}: law {law!r}"


def _check_support(law: Any, values: Array, dtype: DType) -> None:
    """Uniform: [low, high) in the output dtype; truncated: [low, high] rounded to it."""
    if not isinstance(law, UniformLaw | TruncatedNormalLaw):
        return
    target = numpy_dtype(dtype).type
    lo, hi = target(law.low), target(law.high)
    if isinstance(law, UniformLaw) and dtype in MAIN_DTYPES:
        assert values.min() >= lo and values.max() < hi, (values.min(), values.max(), lo, hi)
    else:
        assert values.min() >= lo and values.max() <= hi, (values.min(), values.max(), lo, hi)


@pytest.mark.parametrize("dtype", MAIN_DTYPES, ids=str)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_elementwise_scheme_samples_follow_its_exact_law(case: Case, dtype: DType) -> None:
    """Mean within 5 sd(x̄), variance within 5 sd(s²) (from mu4), KS p > 1e-4, support.

    sd(s²) uses the law's exact fourth moment, so e.g. a uniform's band is 1.0 % of its
    variance and a normal's 1.6 % at n = 2e5: a 2 % std error (4 % variance) fails.
    """
    plan, values = _sample(case.id, dtype)
    assert values.dtype == numpy_dtype(dtype)
    _check_law_against_textbook(case, plan)
    law = plan.law
    x = values.ravel()
    assert x.size >= 40_000
    found = violations(x, law_moments(law), law_distribution(law))  # type: ignore[arg-type]
    assert not found, f"{case.id} {dtype}: {found}"
    _check_support(law, x, dtype)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_elementwise_float64_values_are_distinct_and_serially_uncorrelated(case: Case) -> None:
    """Blocks are independent streams: no repeated float64 value, lag-1 |r| < 5/sqrt(n).

    A repeated block (same stream twice) or a shared stream would repeat values; the chance
    of a float64 collision among 2e5 continuous draws is about n²/2^54 = 2e-6.
    """
    _, values = _sample(case.id, DType.FLOAT64)
    x = values.ravel().astype(np.float64)
    assert np.unique(x).size == x.size
    r = np.corrcoef(x[:-1], x[1:])[0, 1]
    assert abs(r) < 5 / math.sqrt(x.size)


@pytest.mark.parametrize("dtype", LOW_DTYPES, ids=str)
@pytest.mark.parametrize("case", [c for c in CASES if c.law is not NormalLaw], ids=lambda c: c.id)
def test_bounded_schemes_stay_within_bounds_in_half_precision(case: Case, dtype: DType) -> None:
    """float16/bfloat16 outputs lie in [low, high] rounded to the output dtype."""
    plan = case.plan(dtype)
    values = generate_tensor(plan, SEED)
    assert values.dtype == numpy_dtype(dtype)
    assert np.isfinite(values.astype(np.float32)).all()
    _check_support(plan.law, values.astype(np.float64).ravel(), dtype)
    if isinstance(plan.law, UniformLaw):  # and it is not degenerate: spans the interval
        span = float(plan.law.high - plan.law.low)
        assert float(values.max()) - float(values.min()) > 0.99 * span


# ---- truncated normal: the three sampler paths -------------------------------------------------

Path = str
PATHS: dict[Path, str] = {
    "rejection": "_truncated_by_rejection",
    "uniform": "_truncated_uniform_proposal",
    "exponential": "_truncated_one_sided_exponential",
}


@dataclass(frozen=True)
class TruncCase:
    """A truncated normal with its absolute (mean, sigma, low, high) and expected sampler."""

    scheme: str
    params: Mapping[str, object]
    mean: float
    sigma: float
    low: float
    high: float
    path: Path
    layout: Layout = Layout.TORCH

    @property
    def id(self) -> str:
        return f"{self.scheme}(" + ",".join(f"{k}={v}" for k, v in self.params.items()) + ")"


def _std(a: float, b: float, path: Path) -> TruncCase:
    return TruncCase("truncated_normal", {"a": a, "b": b}, 0.0, 1.0, a, b, path)


def _abs(mean: float, std: float, a: float, b: float, path: Path) -> TruncCase:
    params = {"mean": mean, "std": std, "a": a, "b": b, "bounds": "absolute"}
    return TruncCase("truncated_normal", params, mean, std, a, b, path)


TRUNC_CASES = [
    _std(-2.0, 2.0, "rejection"),
    _std(0.0, 30.0, "rejection"),  # half normal, mass 1/2
    _std(0.5, 0.7, "uniform"),  # narrow: mass 0.066
    _std(-0.7, -0.5, "uniform"),  # mirrored narrow
    _std(-0.1, 0.2, "uniform"),  # narrow across 0
    _std(1.0, 1.5, "uniform"),  # (b - a) a = 0.5 <= 1
    _std(3.0, 9.0, "exponential"),  # wide one-sided tail
    _std(-9.0, -3.0, "exponential"),  # mirrored
    _std(2.0, 2.6, "exponential"),  # (b - a) a = 1.2 > 1, the upper bound rejects often
    _std(-37.0, -36.0, "exponential"),  # far lower tail, at the documented 37 sigma limit
    _std(36.0, 37.0, "exponential"),  # far upper tail, at the documented 37 sigma limit
    _abs(1.0, 2.0, 0.0, 5.0, "rejection"),  # alpha -0.5, beta 2
    _abs(0.0, 1.0, 1.0, 1.5, "uniform"),
    _abs(-1.0, 0.5, 0.5, 10.0, "exponential"),  # alpha 3, beta 22
    TruncCase("truncated_normal", {"mean": 2.0, "std": 0.5}, 2.0, 0.5, 1.0, 3.0, "rejection"),
    TruncCase("torch.trunc_normal_", {"std": 0.02}, 0.0, 0.02, -2.0, 2.0, "rejection"),
    TruncCase(
        "torch.trunc_normal_",
        {"std": 0.02, "a": -0.04, "b": 0.04},
        0.0,
        0.02,
        -0.04,
        0.04,
        "rejection",
    ),
    TruncCase(
        "torch.trunc_normal_",
        {"mean": 0.0, "std": 1.0, "a": 0.5, "b": 0.7},
        0,
        1,
        0.5,
        0.7,
        "uniform",
    ),
    TruncCase(
        "keras.TruncatedNormal",
        {"mean": 1.0, "stddev": 0.5},
        1.0,
        0.5,
        0.0,
        2.0,
        "rejection",
        Layout.KERAS,
    ),
    TruncCase(
        "jax.truncated_normal",
        {"stddev": 2.0, "lower": 3.0, "upper": 8.0},
        0.0,
        2.0,
        6.0,
        16.0,
        "exponential",
        Layout.JAX,
    ),
]


@pytest.fixture
def path_spy(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Record which truncated-normal sampler path runs (wraps sampling's module functions)."""
    calls: list[Path] = []
    for path, attr in PATHS.items():
        original: Callable[..., Any] = getattr(sampling, attr)

        def spy(*args: Any, _o: Callable[..., Any] = original, _p: Path = path) -> Any:
            calls.append(_p)
            return _o(*args)

        monkeypatch.setattr(sampling, attr, spy)
    return calls


def _trunc_plan(case: TruncCase, dtype: DType) -> TensorPlan:
    return shaped(case.scheme, case.params, (200_000,), layout=case.layout, dtype=dtype)


@pytest.mark.parametrize("dtype", MAIN_DTYPES, ids=str)
@pytest.mark.parametrize("case", TRUNC_CASES, ids=lambda c: c.id)
def test_truncated_normal_paths_sample_the_exact_truncated_law(
    case: TruncCase, dtype: DType, path_spy: list[Path]
) -> None:
    """Each sampler path matches truncnorm(alpha, beta, loc=mean, scale=sigma).

    The law must be the absolute interval the parameters describe; mean/variance bands come
    from the exact truncated moments (mpmath recursion, not app code), KS against scipy's
    truncnorm; every value lies in [low, high] rounded to the output dtype.
    """
    plan = _trunc_plan(case, dtype)
    law = plan.law
    assert isinstance(law, TruncatedNormalLaw)
    got = (law.mean, law.sigma, law.low, law.high)
    assert got == pytest.approx((case.mean, case.sigma, case.low, case.high), rel=1e-15)
    values = generate_tensor(plan, SEED)
    assert set(path_spy) == {case.path}, f"sampler paths used: {path_spy}"
    alpha, beta = (case.low - case.mean) / case.sigma, (case.high - case.mean) / case.sigma
    std = truncated_standard_moments(alpha, beta)
    s = case.sigma
    moments = Moments(case.mean + s * std.mean, s**2 * std.var, s**4 * std.mu4)
    dist = stats.truncnorm(alpha, beta, loc=case.mean, scale=case.sigma)
    found = violations(values, moments, dist)
    assert not found, f"{case.id} {dtype}: {found}"
    target = numpy_dtype(dtype).type
    assert values.min() >= target(case.low) and values.max() <= target(case.high)
    assert math.sqrt(moments.var) == pytest.approx(law.std, rel=1e-9)


@pytest.mark.parametrize("dtype", LOW_DTYPES, ids=str)
@pytest.mark.parametrize("case", TRUNC_CASES, ids=lambda c: c.id)
def test_truncated_values_never_leave_bounds_rounded_to_half_precision(
    case: TruncCase, dtype: DType
) -> None:
    """float16/bfloat16 truncated outputs stay in [round(low), round(high)] of that dtype."""
    values = generate_tensor(_trunc_plan(case, dtype), SEED)
    target = numpy_dtype(dtype).type
    v = values.astype(np.float64)
    assert v.min() >= float(target(case.low)) and v.max() <= float(target(case.high))


def test_torch_trunc_normal_default_bounds_do_not_truncate_std_002() -> None:
    """trunc_normal_(std=0.02) keeps absolute bounds +-2 = +-100 std: it is N(0, 0.02²)."""
    plan = shaped("torch.trunc_normal_", {"std": 0.02}, (200_000,))
    law = plan.law
    assert isinstance(law, TruncatedNormalLaw)
    assert law.std == pytest.approx(0.02, rel=1e-15)
    assert law.mass == 1.0
    values = generate_tensor(plan, SEED)
    found = violations(values, Moments(0.0, 0.02**2, 3 * 0.02**4), stats.norm(0, 0.02))
    assert not found, found


@pytest.mark.parametrize("a", [12.0, 13.0, 14.0, 14.5, 15.0, 20.0, 36.0])
def test_truncated_law_std_is_exact_far_in_the_upper_tail(a: float) -> None:
    """TruncatedNormalLaw reports the exact std for [a, a+1] up to the 37-sigma limit.

    The mirrored interval [-a-1, -a] has the same std, which the law gets right.
    """
    exact = math.sqrt(truncated_standard_moments(a, a + 1).var)
    assert TruncatedNormalLaw(0.0, 1.0, -a - 1, -a).std == pytest.approx(exact, rel=1e-9)
    assert TruncatedNormalLaw(0.0, 1.0, a, a + 1).std == pytest.approx(exact, rel=1e-9)


# ---- the bands are tight enough -----------------------------------------------------------------

MUTATION_FAMILIES = {
    "uniform": ("he_uniform", {}, True),
    "normal": ("he_normal", {}, True),
    "truncated_2sigma": ("he_truncated_normal", {}, True),
    "truncated_narrow": ("truncated_normal", {"a": 0.5, "b": 0.7}, True),
    "truncated_tail": ("truncated_normal", {"a": 3.0, "b": 9.0}, False),
}


@pytest.mark.parametrize("family", list(MUTATION_FAMILIES))
def test_two_percent_std_error_is_detected(family: str) -> None:
    """The same checks reject the sample drawn with a std 2 % too large or too small.

    Rescaling about the law's location reproduces exactly a draw with sigma * (1 +- 0.02).
    Where the variance band is below 1.98 % of the variance it is a proof, not luck: if
    |s² - var| <= tol then |1.02² s² - var| >= 0.0404 var - 1.0404 tol > tol (and
    likewise for 0.98). For the one-sided tail, the mean moves by 2 % of 3.28 sigma, 10
    bands.
    """
    name, params, by_variance = MUTATION_FAMILIES[family]
    plan = shaped(name, params, (400, 500))
    law = plan.law
    moments, dist = law_moments(law), law_distribution(law)  # type: ignore[arg-type]
    values = generate_tensor(plan, SEED)
    assert not violations(values, moments, dist)
    n = values.size
    # the location sigma scales about: the normal's mean, the uniform's midpoint
    centre = (law.low + law.high) / 2 if isinstance(law, UniformLaw) else law.mean  # type: ignore[union-attr]
    if by_variance:
        assert moments.var_tolerance(n) < 0.0198 * moments.var
    else:
        assert moments.mean_tolerance(n) < 0.0099 * abs(moments.mean - centre)
    for factor in (1.02, 0.98):
        assert violations(rescaled(values, centre, factor), moments, dist)


# ---- orthogonal ------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrthoCase:
    scheme: str
    gain: float
    shape: tuple[int, ...]
    layout: Layout
    rows: int
    cols: int
    kind: str = "tensor"
    fields: Mapping[str, object] | None = None
    tensor: str = "weight"

    @property
    def id(self) -> str:
        return f"{self.scheme}-{self.layout}-{self.tensor}{list(self.shape)}-g{self.gain}"

    def plan(self, dtype: DType) -> TensorPlan:
        key = "scale" if self.scheme.startswith("jax.") else "gain"
        params = {key: self.gain} if "default" not in self.scheme else {}
        return plan_for(
            self.scheme,
            params,
            layout=self.layout,
            dtype=dtype,
            kind=self.kind,
            fields=self.fields or {"shape": list(self.shape)},
            tensor=self.tensor,
        )


ORTHO_CASES = [
    OrthoCase("orthogonal", 1.0, (64, 64), Layout.TORCH, 64, 64),
    OrthoCase("orthogonal", 1.5, (300, 100), Layout.TORCH, 300, 100),
    OrthoCase("orthogonal", 1.0, (100, 300), Layout.TORCH, 100, 300),
    OrthoCase("orthogonal", 2.0, (32, 16, 3, 3), Layout.TORCH, 32, 144),
    OrthoCase("orthogonal", 1.0, (200, 4, 3, 3), Layout.TORCH, 200, 36),
    OrthoCase("orthogonal", 1.0, (3, 3, 16, 32), Layout.KERAS, 144, 32),
    OrthoCase("orthogonal", 0.5, (3, 3, 4, 64), Layout.JAX, 36, 64),
    OrthoCase("orthogonal", -1.0, (1, 50), Layout.TORCH, 1, 50),
    OrthoCase("torch.orthogonal_", 1.0, (8, 4, 3, 3), Layout.TORCH, 8, 36),
    OrthoCase("torch.orthogonal_", 2.0, (40, 96), Layout.TORCH, 40, 96),
    OrthoCase("torch.orthogonal_", 1.0, (6, 4), Layout.TORCH, 6, 4),
    # torch's flattening even when the request uses the Keras layout
    OrthoCase("torch.orthogonal_", 1.0, (3, 3, 16, 32), Layout.KERAS, 3, 3 * 16 * 32),
    OrthoCase("keras.Orthogonal", -0.5, (96, 40), Layout.KERAS, 96, 40),
    OrthoCase("keras.Orthogonal", 1.0, (3, 3, 8, 16), Layout.KERAS, 72, 16),
    OrthoCase("keras.Orthogonal", 3.0, (16, 128), Layout.KERAS, 16, 128),
    OrthoCase("jax.orthogonal", 3.0, (50, 20), Layout.JAX, 50, 20),
    OrthoCase("jax.orthogonal", 1.0, (2, 2, 8, 40), Layout.JAX, 32, 40),
    OrthoCase(
        "keras.default",
        1.0,
        (),
        Layout.KERAS,
        32,
        128,
        "lstm",
        {"input_size": 8, "hidden_size": 32},
        "recurrent_kernel",
    ),
    OrthoCase(
        "flax.default",
        1.0,
        (),
        Layout.JAX,
        32,
        32,
        "lstm",
        {"input_size": 8, "hidden_size": 32},
        "hi.kernel",
    ),
]


@pytest.mark.parametrize("dtype", MAIN_DTYPES, ids=str)
@pytest.mark.parametrize("case", ORTHO_CASES, ids=lambda c: c.id)
def test_orthogonal_gram_matrix_is_gain_squared_identity(case: OrthoCase, dtype: DType) -> None:
    """WᵀW = gain²·I (tall) or WWᵀ = gain²·I (wide) on the layout's flattening.

    Householder QR is backward stable (error a small multiple of eps·n), so float64 gets
    1e-12; float32 output rounds each entry once (relative 6e-8), and by Cauchy-Schwarz an
    inner product moves by at most 2·6e-8·gain², well inside 1e-5·gain².
    """
    plan = case.plan(dtype)
    law = plan.law
    assert isinstance(law, OrthogonalLaw)
    assert (law.gain, law.rows, law.cols) == (case.gain, case.rows, case.cols)
    w = generate_tensor(plan, SEED).astype(np.float64).reshape(case.rows, case.cols)
    gram = w.T @ w if case.rows >= case.cols else w @ w.T
    tol = (1e-12 if dtype is DType.FLOAT64 else 1e-5) * max(1.0, case.gain**2)
    err = np.abs(gram - case.gain**2 * np.eye(gram.shape[0])).max()
    assert err < tol, err
    assert np.mean(np.abs(w) > 1e-3 * abs(case.gain) / math.sqrt(max(w.shape))) > 0.9


HAAR_DRAWS = 2000


@cache
def _haar_draws(scheme: str, shape: tuple[int, int], layout: Layout) -> Array:
    plan = shaped(scheme, {}, shape, layout=layout)
    return np.stack([generate_tensor(plan, seed) for seed in range(HAAR_DRAWS)])


@pytest.mark.parametrize(
    ("scheme", "shape", "layout"),
    [
        ("orthogonal", (3, 3), Layout.TORCH),
        ("torch.orthogonal_", (2, 3), Layout.TORCH),
        ("keras.Orthogonal", (3, 2), Layout.KERAS),
        ("jax.orthogonal", (3, 3), Layout.JAX),
    ],
)
def test_orthogonal_entries_are_haar_uniform_on_minus_one_one(
    scheme: str, shape: tuple[int, int], layout: Layout
) -> None:
    """Over 2000 seeds every entry of a Haar 3-column/row frame is U(-1, 1) (Archimedes).

    A column (tall) or row (wide) of a Haar frame is uniform on S², whose coordinates are
    U(-1, 1). Without the sign(diag R) correction W[0, 0] would be <= 0 always.
    """
    w = _haar_draws(scheme, shape, layout)
    for i in range(shape[0]):
        for j in range(shape[1]):
            p = stats.kstest(w[:, i, j], stats.uniform(loc=-1, scale=2).cdf).pvalue
            assert p > 1e-4, (i, j, p)


def test_orthogonal_square_determinant_sign_is_a_fair_coin() -> None:
    """Haar O(3) has det +1 and -1 with probability 1/2: within 5 binomial sd of 1000/2000."""
    w = _haar_draws("orthogonal", (3, 3), Layout.TORCH)
    det = np.linalg.det(w)
    assert np.allclose(np.abs(det), 1.0, atol=1e-12)
    plus = int((det > 0).sum())
    assert abs(plus - HAAR_DRAWS / 2) < 5 * math.sqrt(HAAR_DRAWS) / 2


# ---- delta orthogonal ----------------------------------------------------------------------


@dataclass(frozen=True)
class DeltaCase:
    scheme: str
    gain: float
    shape: tuple[int, ...]
    layout: Layout

    @property
    def id(self) -> str:
        return f"{self.scheme}-{self.layout}{list(self.shape)}-g{self.gain}"

    @property
    def channels_last(self) -> bool:
        return self.layout is not Layout.TORCH

    @property
    def kernel(self) -> tuple[int, ...]:
        return self.shape[:-2] if self.channels_last else self.shape[2:]

    @property
    def in_out(self) -> tuple[int, int]:
        s = self.shape
        return (s[-2], s[-1]) if self.channels_last else (s[1], s[0])


DELTA_CASES = [
    DeltaCase("delta_orthogonal", 1.0, (8, 4, 3, 3), Layout.TORCH),
    DeltaCase("delta_orthogonal", 2.0, (6, 6, 4), Layout.TORCH),  # even k: tap 1, not dirac's 2
    DeltaCase("delta_orthogonal", 1.0, (16, 8, 4, 4), Layout.TORCH),
    DeltaCase("delta_orthogonal", 1.0, (4, 4, 3, 3, 3), Layout.TORCH),
    DeltaCase("delta_orthogonal", 1.0, (3, 3, 4, 8), Layout.JAX),
    DeltaCase("delta_orthogonal", 0.5, (5, 5, 6, 6), Layout.KERAS),
    DeltaCase("jax.delta_orthogonal", 1.0, (4, 4, 8, 16), Layout.JAX),  # tap [1, 1]
    DeltaCase("jax.delta_orthogonal", 0.5, (5, 8, 8), Layout.JAX),
    DeltaCase("jax.delta_orthogonal", 1.5, (2, 2, 2, 3, 5), Layout.JAX),  # 3-D, even k
    DeltaCase("jax.delta_orthogonal", 1.0, (12, 8, 3, 3), Layout.TORCH),
]


@pytest.mark.parametrize("dtype", MAIN_DTYPES, ids=str)
@pytest.mark.parametrize("case", DELTA_CASES, ids=lambda c: c.id)
def test_delta_orthogonal_is_zero_except_an_orthonormal_centre_tap(
    case: DeltaCase, dtype: DType
) -> None:
    """Every tap but (k-1)//2 is exactly 0; the centre (in, out) matrix C has CCᵀ = gain²·I."""
    key = "scale" if case.scheme.startswith("jax.") else "gain"
    plan = shaped(case.scheme, {key: case.gain}, case.shape, layout=case.layout, dtype=dtype)
    law = plan.law
    assert isinstance(law, DeltaOrthogonalLaw)
    c_in, c_out = case.in_out
    assert (law.in_channels, law.out_channels) == (c_in, c_out)
    w = generate_tensor(plan, SEED).astype(np.float64)
    centre = tuple((k - 1) // 2 for k in case.kernel)
    if case.channels_last:
        index: tuple[Any, ...] = centre
        tap = w[index]  # (in, out)
    else:
        index = (slice(None), slice(None), *centre)
        tap = w[index].T  # stored (out, in)
    rest = w.copy()
    rest[index] = 0.0
    assert not rest.any()
    gram = tap @ tap.T
    tol = (1e-12 if dtype is DType.FLOAT64 else 1e-5) * max(1.0, case.gain**2)
    assert np.abs(gram - case.gain**2 * np.eye(c_in)).max() < tol
    assert np.count_nonzero(tap) > 0.9 * tap.size


# ---- sparse ----------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", MAIN_DTYPES, ids=str)
@pytest.mark.parametrize("sparsity", [0.0, 0.25, 0.5, 0.75, 1.0])
@pytest.mark.parametrize("scheme", ["sparse", "torch.sparse_"])
def test_sparse_has_exact_zero_count_per_column_and_normal_nonzeros(
    scheme: str, sparsity: float, dtype: DType
) -> None:
    """ceil(sparsity·rows) zeros in every column; non-zeros N(0, std²) by moments and KS.

    The zero rows are spread uniformly: each row is zeroed in Binomial(cols, k/rows) columns;
    every row's count is within 6 sd (Bonferroni over 400 rows: false alarm < 1e-6).
    """
    rows, cols, std = 400, 500, 0.5 if scheme == "sparse" else 0.01
    plan = shaped(scheme, {"sparsity": sparsity, "std": std}, (rows, cols), dtype=dtype)
    k = math.ceil(sparsity * rows)
    assert plan.law == SparseLaw(std, k, rows)
    w = generate_tensor(plan, SEED).astype(np.float64)
    zeros = w == 0
    assert (zeros.sum(axis=0) == k).all()
    if 0 < k < rows:
        p = k / rows
        per_row = zeros.sum(axis=1)
        assert np.abs(per_row - cols * p).max() < 6 * math.sqrt(cols * p * (1 - p))
    nonzero = w[~zeros]
    if nonzero.size:
        found = violations(nonzero, Moments(0.0, std**2, 3 * std**4), stats.norm(0, std))
        assert not found, found


@pytest.mark.parametrize(
    ("sparsity", "rows", "zeros"),
    [(0.3, 10, 3), (0.1, 10, 1), (0.1, 200, 20), (0.2, 200, 40), (0.9, 200, 180)],
)
@pytest.mark.parametrize("scheme", ["sparse", "torch.sparse_"])
def test_sparse_zero_count_is_ceil_of_the_decimal_product(
    scheme: str, sparsity: float, rows: int, zeros: int
) -> None:
    """sparsity=0.1 on 10 rows zeroes 1 row per column, as torch's ceil(0.1 * 10) = 1 does.

    (The exact rational of the double 0.1 is 0.1000000000000000055..., whose product with
    10 has ceiling 2; neither torch nor a reader of "0.1" means that.) ``(0.3, 10) -> 3`` is
    the verified torch behaviour in the reference notes.
    """
    assert math.ceil(sparsity * rows) == zeros  # torch's formula agrees with the decimal one
    plan = shaped(scheme, {"sparsity": sparsity}, (rows, 6))
    w = generate_tensor(plan, SEED)
    assert ((w == 0).sum(axis=0) == zeros).all(), (w == 0).sum(axis=0)


# ---- deterministic schemes -----------------------------------------------------------------

ALL_DTYPES = (*MAIN_DTYPES, *LOW_DTYPES)


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
@pytest.mark.parametrize(
    ("scheme", "params", "shape", "layout", "gain"),
    [
        ("identity", {"gain": 2.5}, (5, 7), Layout.TORCH, 2.5),
        ("identity", {"gain": 2.5}, (7, 5), Layout.TORCH, 2.5),
        ("identity", {}, (4, 4), Layout.JAX, 1.0),
        ("eye", {"gain": -0.5}, (4, 4), Layout.TORCH, -0.5),
        ("torch.eye_", {}, (3, 6), Layout.TORCH, 1.0),
        ("keras.Identity", {"gain": -0.5}, (6, 3), Layout.KERAS, -0.5),
        ("keras.Identity", {}, (4, 4), Layout.KERAS, 1.0),
    ],
)
def test_identity_is_exactly_gain_times_eye(
    scheme: str,
    params: dict[str, float],
    shape: tuple[int, int],
    layout: Layout,
    gain: float,
    dtype: DType,
) -> None:
    """gain on the main diagonal (rectangular too), exact zeros elsewhere, in every dtype."""
    values = generate_tensor(shaped(scheme, params, shape, layout=layout, dtype=dtype), SEED)
    assert values.dtype == numpy_dtype(dtype)
    expected = (gain * np.eye(*shape)).astype(numpy_dtype(dtype))
    np.testing.assert_array_equal(values, expected)


def _ones_at(shape: tuple[int, ...], positions: list[tuple[int, ...]]) -> Array:
    out = np.zeros(shape)
    for pos in positions:
        out[pos] = 1.0
    return out


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
@pytest.mark.parametrize("scheme", ["dirac", "torch.dirac_"])
@pytest.mark.parametrize(
    ("shape", "groups", "ones"),
    [
        ((2, 3, 4), 1, [(0, 0, 2), (1, 1, 2)]),
        ((4, 2, 3, 3), 2, [(0, 0, 1, 1), (1, 1, 1, 1), (2, 0, 1, 1), (3, 1, 1, 1)]),
        ((3, 3, 4, 4), 1, [(0, 0, 2, 2), (1, 1, 2, 2), (2, 2, 2, 2)]),  # even k: k//2
        ((2, 2, 3, 3, 3), 1, [(0, 0, 1, 1, 1), (1, 1, 1, 1, 1)]),
        ((6, 4, 3), 3, [(0, 0, 1), (1, 1, 1), (2, 0, 1), (3, 1, 1), (4, 0, 1), (5, 1, 1)]),
    ],
)
def test_dirac_has_ones_exactly_at_torchs_positions(
    scheme: str, shape: tuple[int, ...], groups: int, ones: list[tuple[int, ...]], dtype: DType
) -> None:
    """torch.nn.init.dirac_ (verified): ones at (g·out/g + d, d, k//2...), zeros elsewhere."""
    plan = shaped(scheme, {"groups": groups}, shape, dtype=dtype)
    values = generate_tensor(plan, SEED)
    np.testing.assert_array_equal(values.astype(np.float64), _ones_at(shape, ones))


@pytest.mark.parametrize("layout", [Layout.KERAS, Layout.JAX])
@pytest.mark.parametrize(
    ("torch_shape", "groups"), [((4, 2, 3, 3), 2), ((2, 3, 4), 1), ((4, 4, 3, 3, 3), 4)]
)
def test_channels_last_dirac_is_the_transposed_torch_dirac(
    layout: Layout, torch_shape: tuple[int, ...], groups: int
) -> None:
    """A (*kernel, in, out) dirac equals the (out, in, *kernel) one with axes moved."""
    rank = len(torch_shape)
    last_shape = (*torch_shape[2:], torch_shape[1], torch_shape[0])
    torch_w = generate_tensor(shaped("dirac", {"groups": groups}, torch_shape), SEED)
    last_w = generate_tensor(shaped("dirac", {"groups": groups}, last_shape, layout=layout), SEED)
    np.testing.assert_array_equal(last_w, np.transpose(torch_w, (*range(2, rank), 1, 0)))


CONSTANT_CASES: list[tuple[str, dict[str, float], float]] = [
    ("zeros", {}, 0.0),
    ("zero", {}, 0.0),
    ("ones", {}, 1.0),
    ("one", {}, 1.0),
    ("constant", {"value": 0.25}, 0.25),
    ("torch.zeros_", {}, 0.0),
    ("torch.ones_", {}, 1.0),
    ("torch.constant_", {"val": -1.5}, -1.5),
    ("keras.Zeros", {}, 0.0),
    ("keras.Ones", {}, 1.0),
    ("keras.Constant", {}, 0.0),
    ("keras.Constant", {"value": 2.5}, 2.5),
    ("jax.zeros", {}, 0.0),
    ("jax.ones", {}, 1.0),
    ("jax.constant", {"value": 3.0}, 3.0),
]


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
@pytest.mark.parametrize(("scheme", "params", "value"), CONSTANT_CASES, ids=lambda x: str(x))
def test_constant_schemes_fill_exactly_their_value(
    scheme: str, params: dict[str, float], value: float, dtype: DType
) -> None:
    values = generate_tensor(shaped(scheme, params, (3, 5, 7), dtype=dtype), SEED)
    assert values.dtype == numpy_dtype(dtype)
    assert (values.astype(np.float64) == value).all()


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
@pytest.mark.parametrize("hidden", [1, 5, 32])
def test_keras_lstm_default_bias_is_unit_forget_bias(hidden: int, dtype: DType) -> None:
    """Keras LSTM bias: [0]*u + [1]*u + [0]*2u (gates i, f, c, o; unit_forget_bias=True)."""
    plans = plan_layer(
        make_layer("lstm", {"input_size": 3, "hidden_size": hidden}),
        layout=Layout.KERAS,
        dtype=dtype,
    )
    bias = next(p for p in plans if p.name == "bias")
    assert isinstance(bias.law, SegmentsLaw)
    values = generate_tensor(bias, SEED).astype(np.float64)
    expected = [0.0] * hidden + [1.0] * hidden + [0.0] * (2 * hidden)
    np.testing.assert_array_equal(values, expected)


# ---- coverage: a new scheme must come with statistical cases ---------------------------------


def _covered_random() -> set[str]:
    return (
        {c.scheme for c in CASES}
        | {c.scheme for c in TRUNC_CASES}
        | {c.scheme for c in ORTHO_CASES}
        | {c.scheme for c in DELTA_CASES}
        | {"sparse", "torch.sparse_"}
    )


def _covered_deterministic() -> set[str]:
    names = {name for name, _, _ in CONSTANT_CASES}
    names |= {"identity", "torch.eye_", "keras.Identity", "dirac", "torch.dirac_"}
    return {ALIASES.get(n, n) for n in names}


def _registry(random: bool) -> Iterator[str]:
    return (name for name, scheme in SCHEMES.items() if scheme.random is random)


@pytest.mark.parametrize("name", sorted(SCHEMES))
def test_every_registered_scheme_has_statistical_cases(name: str) -> None:
    """Driven from SCHEMES: a new scheme fails here until this file covers it."""
    covered = _covered_random() if SCHEMES[name].random else _covered_deterministic()
    assert name in covered, f"scheme {name!r} has no case in tests/core/test_statistics.py"


def test_covered_schemes_are_exactly_the_registry() -> None:
    """No stale names either: covered random/deterministic sets equal the registry's."""
    assert _covered_random() == set(_registry(True))
    assert _covered_deterministic() == set(_registry(False))


def test_half_precision_dtypes_are_the_expected_numpy_types() -> None:
    assert numpy_dtype(DType.FLOAT16) == np.dtype(np.float16)
    assert numpy_dtype(DType.BFLOAT16) == np.dtype(ml_dtypes.bfloat16)
