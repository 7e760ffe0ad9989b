"""Every formula's constants against the numbers torch, Keras and JAX compute.

Framework-qualified schemes reproduce each framework's operation order, so their doubles must
be identical (==); canonical schemes are the exact real value rounded once, so they must agree
to 1e-12 relative (the issue's bar) whatever order a framework used.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest

from app.core.fans import Fans, layout_fans
from app.core.generate import generate_tensor
from app.core.laws import Law, NormalLaw, TruncatedNormalLaw, UniformLaw
from app.core.layers import make_layer
from app.core.planning import plan_layer
from app.core.schemes import TensorContext, resolve_scheme
from app.core.types import DType, Layout

REF = json.loads((Path(__file__).parents[2] / "fixtures" / "reference_vectors.json").read_text())
REL = 1e-12


def law_of(
    name: str,
    shape: tuple[int, ...],
    layout: Layout = Layout.TORCH,
    dtype: DType = DType.FLOAT32,
    **params: object,
) -> Law:
    ctx = TensorContext(shape=shape, fans=layout_fans(shape, layout), layout=layout, dtype=dtype)
    return resolve_scheme(name, params).law(ctx)


def bound(law: Law) -> float:
    assert isinstance(law, UniformLaw) and law.symmetric
    return law.high


def std(law: Law) -> float:
    assert isinstance(law, NormalLaw)
    return law.std


def sigma(law: Law) -> float:
    assert isinstance(law, TruncatedNormalLaw)
    assert (law.low, law.high) == (-2 * law.sigma, 2 * law.sigma)
    return law.sigma


TORCH = REF["torch_tensors"]


@pytest.mark.parametrize("row", TORCH, ids=lambda r: str(r["shape"]))
def test_torch_qualified_schemes_give_torchs_exact_doubles(row: dict[str, object]) -> None:
    shape = tuple(row["shape"])  # type: ignore[arg-type]
    assert bound(law_of("torch.xavier_uniform_", shape)) == row["xavier_uniform_bound"]
    assert std(law_of("torch.xavier_normal_", shape)) == row["xavier_std"]
    assert bound(law_of("torch.kaiming_uniform_", shape)) == row["kaiming_uniform_bound"]
    assert (
        std(law_of("torch.kaiming_normal_", shape, nonlinearity="relu"))
        == row["kaiming_normal_fan_in_std"]
    )
    assert (
        std(law_of("torch.kaiming_normal_", shape, nonlinearity="relu", mode="fan_out"))
        == row["kaiming_normal_fan_out_std"]
    )
    assert bound(law_of("torch.kaiming_uniform_", shape, a=math.sqrt(5))) == row["default_bound"]
    assert bound(law_of("torch.default", shape)) == row["default_bound"]


@pytest.mark.parametrize("row", TORCH, ids=lambda r: str(r["shape"]))
def test_canonical_schemes_match_torch_to_1e12(row: dict[str, object]) -> None:
    shape = tuple(row["shape"])  # type: ignore[arg-type]
    assert bound(law_of("glorot_uniform", shape)) == pytest.approx(
        row["xavier_uniform_bound"], rel=REL
    )
    assert std(law_of("xavier_normal", shape)) == pytest.approx(row["xavier_std"], rel=REL)
    assert bound(law_of("kaiming_uniform", shape)) == pytest.approx(
        row["kaiming_uniform_bound"], rel=REL
    )
    assert std(law_of("he_normal", shape)) == pytest.approx(
        row["kaiming_normal_fan_in_std"], rel=REL
    )
    assert std(law_of("he_normal", shape, mode="fan_out")) == pytest.approx(
        row["kaiming_normal_fan_out_std"], rel=REL
    )
    assert std(law_of("he", shape)) == std(law_of("he_normal", shape))
    assert bound(law_of("he_uniform", shape, a=math.sqrt(5))) == pytest.approx(
        row["default_bound"], rel=REL
    )


def test_canonical_constants_are_the_exact_value_rounded_once() -> None:
    # torch's order gives 0.12499999999999999; the exact value sqrt(6/384) is 0.125
    assert bound(law_of("glorot_uniform", (256, 128))) == 0.125
    assert bound(law_of("torch.xavier_uniform_", (256, 128))) == 0.12499999999999999


@pytest.mark.parametrize("row", REF["torch_layers"], ids=lambda r: r["kind"] + str(r["layer"]))
def test_torch_module_defaults_per_layer(row: dict[str, object]) -> None:
    plans = plan_layer(make_layer(row["kind"], row["layer"]), layout=Layout.TORCH)  # type: ignore[arg-type]
    by_name = {p.name: p for p in plans}
    if "weight_shape" in row:
        w = by_name["weight"]
        assert list(w.shape) == row["weight_shape"]
        assert w.fans is not None and [w.fans.fan_in, w.fans.fan_out] == row["fans"]
    if "weight_bound" in row:
        assert bound(by_name["weight"].law) == row["weight_bound"]
    if "bias_bound" in row:
        assert bound(by_name["bias"].law) == row["bias_bound"]
    if "bound" in row:  # recurrent: every tensor U(+-1/sqrt(hidden))
        assert len(plans) == 4
        assert {bound(p.law) for p in plans} == {row["bound"]}


KERAS = REF["keras_kernels"]


@pytest.mark.parametrize("row", KERAS, ids=lambda r: str(r["shape"]))
def test_keras_qualified_schemes_match_keras(row: dict[str, object]) -> None:
    # keras.* follow VarianceScaling.__call__ to the letter (``math.sqrt(3.0 * scale)``); one
    # cell of the reference table (Conv1D lecun_uniform, 0.27386127875258304) is the closed
    # form sqrt(3/40), one ulp from Keras' own order, hence 1e-12 relative, the issue's bar.
    shape = tuple(row["shape"])  # type: ignore[arg-type]
    k = Layout.KERAS
    approx = lambda key: pytest.approx(row[key], rel=REL)  # noqa: E731
    assert bound(law_of("keras.GlorotUniform", shape, k)) == approx("glorot_uniform_limit")
    assert sigma(law_of("keras.GlorotNormal", shape, k)) == approx("glorot_normal_sigma")
    assert sigma(law_of("keras.HeNormal", shape, k)) == approx("he_normal_sigma")
    assert bound(law_of("keras.HeUniform", shape, k)) == approx("he_uniform_limit")
    assert sigma(law_of("keras.LecunNormal", shape, k)) == approx("lecun_normal_sigma")
    assert bound(law_of("keras.LecunUniform", shape, k)) == approx("lecun_uniform_limit")
    # the post-truncation std is the variance-scaling target
    assert law_of("keras.HeNormal", shape, k).std == approx("he_normal_std")
    assert law_of("keras.GlorotNormal", shape, k).std == approx("glorot_normal_std")
    assert law_of("keras.LecunNormal", shape, k).std == approx("lecun_normal_std")


def test_keras_order_is_keras_source_order() -> None:
    # fan_in 40: Keras computes math.sqrt(3.0 * (1.0 / 40)), not sqrt(3/40)
    assert bound(law_of("keras.LecunUniform", (5, 8, 16), Layout.KERAS)) == math.sqrt(
        3.0 * (1.0 / 40)
    )
    assert bound(law_of("lecun_uniform", (5, 8, 16), Layout.KERAS)) == 0.27386127875258304


@pytest.mark.parametrize("row", KERAS, ids=lambda r: str(r["shape"]))
def test_canonical_truncated_presets_match_keras_to_1e12(row: dict[str, object]) -> None:
    shape = tuple(row["shape"])  # type: ignore[arg-type]
    k = Layout.KERAS
    assert sigma(law_of("glorot_truncated_normal", shape, k)) == pytest.approx(
        row["glorot_normal_sigma"], rel=REL
    )
    assert sigma(law_of("he_truncated_normal", shape, k)) == pytest.approx(
        row["he_normal_sigma"], rel=REL
    )
    assert sigma(law_of("lecun_truncated_normal", shape, k)) == pytest.approx(
        row["lecun_normal_sigma"], rel=REL
    )
    assert law_of("lecun_truncated_normal", shape, k).std == pytest.approx(
        row["lecun_normal_std"], rel=REL
    )
    assert bound(law_of("lecun_uniform", shape, k)) == pytest.approx(
        row["lecun_uniform_limit"], rel=REL
    )
    assert std(law_of("lecun_normal", shape, k)) == pytest.approx(row["lecun_normal_std"], rel=REL)


def test_truncation_constants() -> None:
    t = REF["truncation"]
    law = law_of("truncated_normal", (10, 10))
    assert isinstance(law, TruncatedNormalLaw)
    assert law.std == pytest.approx(t["std_2sigma"], rel=REL)
    assert law.mass == pytest.approx(t["mass"], rel=REL)
    # he_truncated_normal's sigma is the target std / 0.8796...
    he = law_of("he_truncated_normal", (256, 128))
    assert sigma(he) == pytest.approx(0.125 * t["inv"], rel=REL)
    assert he.std == pytest.approx(0.125, rel=REL)


def test_jax_constants_are_computed_in_the_weight_dtype() -> None:
    shape = (64, 32)
    f32 = law_of("jax.glorot_uniform", shape, Layout.JAX, DType.FLOAT32)
    expected = float(np.sqrt(np.float32(3) * np.float32(1.0 / 48.0)))
    assert bound(f32) == expected
    assert np.float32(bound(f32)) == bound(f32)  # a float32 value
    f64 = law_of("jax.glorot_uniform", shape, Layout.JAX, DType.FLOAT64)
    assert bound(f64) == math.sqrt(3 * (1.0 / 48.0))
    bf16 = law_of("jax.lecun_normal", shape, Layout.JAX, DType.BFLOAT16)
    variance = ml_dtypes.bfloat16(1.0 / 64.0)
    assert sigma(bf16) == float(np.sqrt(variance) / ml_dtypes.bfloat16(0.87962566103423978))


def test_framework_defaults_that_differ_from_the_textbook() -> None:
    jax_uniform = law_of("jax.uniform", (3, 3), Layout.JAX)
    assert isinstance(jax_uniform, UniformLaw) and (jax_uniform.low, jax_uniform.high) == (
        0.0,
        0.01,
    )
    assert std(law_of("keras.RandomNormal", (3, 3), Layout.KERAS)) == 0.05
    keras_tn = law_of("keras.TruncatedNormal", (3, 3), Layout.KERAS, mean=1.0, stddev=0.5)
    assert isinstance(keras_tn, TruncatedNormalLaw) and keras_tn.truncation == (0.0, 2.0)
    assert keras_tn.std == pytest.approx(0.5 * REF["truncation"]["std_2sigma"], rel=REL)
    torch_tn = law_of("torch.trunc_normal_", (3, 3), std=0.02)
    assert isinstance(torch_tn, TruncatedNormalLaw) and torch_tn.truncation == (-2.0, 2.0)
    assert torch_tn.std == pytest.approx(0.02, rel=1e-12)  # 100 sigma away: no truncation at all
    assert std(law_of("random", (3, 3))) == 0.01
    u = law_of("uniform", (3, 3))
    assert isinstance(u, UniformLaw) and (u.low, u.high) == (0.0, 1.0)
    n = law_of("normal", (3, 3))
    assert isinstance(n, NormalLaw) and (n.mean, n.std) == (0.0, 1.0)


def test_keras_defaults_for_lstm_have_unit_forget_bias() -> None:
    plans = plan_layer(make_layer("lstm", {"input_size": 3, "hidden_size": 5}), layout=Layout.KERAS)
    names = [p.name for p in plans]
    assert names == ["kernel", "recurrent_kernel", "bias"]
    bias = generate_tensor(plans[2], 0)
    assert bias.tolist() == [0.0] * 5 + [1.0] * 5 + [0.0] * 10


def test_fan_geo_avg_mode() -> None:
    law = law_of(
        "variance_scaling", (2000, 1000), Layout.JAX, mode="fan_geo_avg", distribution="normal"
    )
    assert std(law) == pytest.approx(1 / math.sqrt(math.sqrt(2000 * 1000)), rel=REL)
    assert Fans(1.0, 1.0).fan_in == 1.0
