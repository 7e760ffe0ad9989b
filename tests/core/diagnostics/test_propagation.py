"""The mean-field prediction against the empirical statistics, with the derived tolerance; the
classic pictures (He keeps ReLU alive, Xavier suits tanh, zeros stay symmetric)."""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pytest
from numpy.typing import NDArray

from app.core.diagnostics import (
    Attention,
    Dense,
    Embedding,
    LayerStats,
    Link,
    Norm,
    Prediction,
    agrees,
    chain_shapes,
    forward_backward,
    predict,
    tolerance_from_log_variance,
)
from app.core.errors import InvalidParameterError

from .builders import conv_link, mlp

Array = NDArray[np.float64]


def empirical(
    links: list[Link], x: NDArray[np.float64] | NDArray[np.int64], seed: int
) -> tuple[list[LayerStats], list[Prediction | None]]:
    """Stats with a standard-normal upstream, and the prediction for the same shapes."""
    rng = np.random.default_rng(seed + 1000)
    ids = bool(np.issubdtype(x.dtype, np.integer))
    out_shape = chain_shapes(links, x.shape, ids)[-1]
    stats = forward_backward(links, x, rng.standard_normal(out_shape))
    return stats, predict(links, input_shape=x.shape)


def assert_agreement(stats: list[LayerStats], predictions: list[Prediction | None]) -> int:
    """Every predicted link agrees within its tolerances; returns how many were predicted."""
    checked = 0
    for s, p in zip(stats, predictions, strict=True):
        if p is None:
            continue
        checked += 1
        where = f"{s.name}: {s} vs {p}"
        assert agrees(s.activation_squared_mean, p.activation_squared_mean, p.tolerance), where
        assert agrees(s.preactivation_std**2, p.preactivation_std**2, p.preactivation_tolerance), (
            where
        )
        if p.gradient_std is not None and p.gradient_tolerance is not None:
            assert agrees(s.gradient_std**2, p.gradient_std**2, p.gradient_tolerance), where
    return checked


ACTIVATIONS = ["relu", "tanh", "linear", "gelu", "selu", "sigmoid", "leaky_relu"]
SCHEMES = ["he_normal", "glorot_uniform", "lecun_normal", "small"]


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_every_dense_layer_matches_its_prediction_within_the_derived_tolerance(
    activation: str, scheme: str
) -> None:
    links = mlp([96] + [128] * 12 + [10], activation, scheme, 11, bias_std=0.05)
    x = np.random.default_rng(3).standard_normal((64, 96))
    assert assert_agreement(*empirical(links, x, 3)) == 13


@pytest.mark.parametrize("activation", ["relu", "tanh", "gelu"])
def test_deep_and_wide_chains_match_too(activation: str) -> None:
    links = mlp([256] * 21, activation, "he_normal" if activation != "tanh" else "glorot_normal", 5)
    x = np.random.default_rng(4).standard_normal((128, 256))
    assert assert_agreement(*empirical(links, x, 4)) == 20


def test_conv_chains_with_stride_padding_dilation_groups_and_norms_match() -> None:
    rng = np.random.default_rng(8)
    links = [
        conv_link(rng, "c1", (3, 32), (3, 3), "relu", padding=(1, 1)),
        conv_link(rng, "c2", (32, 32), (3, 3), "relu", stride=(2, 2), padding=(1, 1), groups=4),
        Link(Norm("bn", "batch_norm", rng.uniform(0.8, 1.2, 32), rng.normal(0, 0.1, 32)), "relu"),
        conv_link(rng, "c3", (32, 48), (3, 3), "tanh", dilation=(2, 2), padding=(2, 2), gain2=1.0),
        Link(Norm("gn", "group_norm", np.ones(48), None, num_groups=8), "gelu"),
        conv_link(rng, "c4", (48, 32), (2, 2), "relu", stride=(2, 2)),
        Link(Dense("fc", rng.normal(0, math.sqrt(1 / 288), (32 * 3 * 3, 10))), "linear"),
    ]
    x = rng.standard_normal((16, 3, 13, 13))
    assert assert_agreement(*empirical(links, x, 8)) == 7
    rng = np.random.default_rng(9)
    one_d = [
        conv_link(rng, "c1", (4, 64), (5,), "relu", padding=(2,)),
        conv_link(rng, "c2", (64, 64), (3,), "selu", stride=(2,), gain2=1.0),
        conv_link(rng, "c3", (64, 64), (3,), "relu", padding=(1,), groups=64),
    ]
    assert assert_agreement(*empirical(one_d, rng.standard_normal((16, 4, 40)), 9)) == 3


def test_conv_borders_and_strides_are_resolved_per_position() -> None:
    """3x3, padding 1 on 6x6: border positions see 2 of 3 taps per axis, so the mean
    pre-activation second moment is (16/18)^2 = 0.79 of the interior's."""
    rng = np.random.default_rng(0)
    link = conv_link(rng, "c", (64, 256), (3, 3), "linear", gain2=1.0, padding=(1, 1))
    x = rng.standard_normal((32, 64, 6, 6))
    (with_shape,) = predict([link], input_shape=x.shape)
    (without,) = predict([link])
    assert with_shape is not None and without is not None
    assert with_shape.preactivation_std**2 == pytest.approx((16 / 18) ** 2, rel=1e-12)
    assert without.preactivation_std**2 == pytest.approx(1.0, rel=1e-12)
    (stats,) = forward_backward([link], x, rng.standard_normal((32, 256, 6, 6)))
    measured = stats.preactivation_std**2
    assert abs(math.log(measured / with_shape.preactivation_std**2)) < 0.05
    assert abs(math.log(measured / without.preactivation_std**2)) > 0.15
    # stride 2, kernel 3, no padding, on 7 positions: input positions get 1 or 2 taps each
    strided = conv_link(rng, "s", (8, 8), (3,), "linear", gain2=1.0, stride=(2,))
    (p,) = predict([strided], input_shape=(4, 8, 7))
    assert p is not None and p.gradient_std is not None
    # dL/dx of the (absent) layer below is not reported; dL/dh is the upstream's: 1
    assert p.gradient_std == pytest.approx(1.0)


def test_norms_in_an_mlp_restart_the_recursion_and_match() -> None:
    rng = np.random.default_rng(12)
    links: list[Link] = []
    for i in range(6):
        w = rng.normal(0, 0.5 / math.sqrt(64), (64, 64))  # too small: the norm fixes it
        links.append(Link(Dense(f"fc{i}", w, None), "relu", weight_std_theory=0.5 / 8))
        kind = "layer_norm" if i % 2 else "rms_norm"
        links.append(Link(Norm(f"n{i}", kind, rng.uniform(0.5, 1.5, 64), None), "linear"))
    x = rng.standard_normal((32, 64))
    stats, predictions = empirical(links, x, 12)
    assert assert_agreement(stats, predictions) == 12
    ln = predictions[3]
    assert ln is not None
    assert ln.activation_squared_mean == pytest.approx(
        float(np.mean(links[3].step.scale ** 2)),  # type: ignore[union-attr, operator]
        rel=1e-3,
    )


def test_embeddings_and_attention_are_reported_empirically_only() -> None:
    rng = np.random.default_rng(2)
    e = 32
    mats = [rng.normal(0, 1 / math.sqrt(e), (e, e)) for _ in range(4)]
    links = [
        Link(Embedding("emb", rng.standard_normal((100, e))), "linear"),
        Link(Dense("fc0", rng.normal(0, 1 / math.sqrt(e), (e, e))), "tanh"),
        Link(Attention("att", *mats, num_heads=4), "linear"),
        Link(Dense("fc1", rng.normal(0, 1 / math.sqrt(e), (e, e))), "relu"),
        Link(Norm("ln", "layer_norm", np.ones(e), np.zeros(e)), "linear"),
        Link(Dense("fc2", rng.normal(0, math.sqrt(2 / e), (e, e))), "relu"),
    ]
    ids = rng.integers(0, 100, size=(16, 12))
    stats, predictions = empirical(links, ids, 2)
    assert [p is None for p in predictions] == [True, False, True, True, False, False]
    assert predictions[1] is not None and predictions[1].gradient_std is None  # attention above
    assert predictions[5] is not None and predictions[5].gradient_std is not None
    assert assert_agreement(stats, predictions) == 3


def test_the_tolerance_grows_with_depth_and_shrinks_with_width_and_batch() -> None:
    def tolerances(width: int, batch: int) -> list[float]:
        links = mlp([width] * 11, "relu", "he_normal", 0)
        return [p.tolerance for p in predict(links, input_shape=(batch, width)) if p]

    narrow, wide = tolerances(64, 64), tolerances(512, 64)
    assert all(a < b for a, b in itertools.pairwise(narrow))
    assert all(w < n for w, n in zip(wide, narrow, strict=True))
    assert tolerances(64, 512)[0] < narrow[0]  # the first layer's rows are independent
    # relu: kappa = 5 (Hanin's 5/n per layer) and chi = 1, so after 10 layers of width 64:
    # the input's 2/(64 * 64), the first layer's 5 r / 64 and nine times 5/64
    r = 1 / 64 + (1 - 1 / 64) * math.sqrt(2 / (math.pi * 64))
    v = 2 / (64 * 64) + 5 * r / 64 + 9 * 5 / 64
    assert narrow[-1] == pytest.approx(tolerance_from_log_variance(v), rel=1e-12)
    assert tolerance_from_log_variance(0.04) == pytest.approx(4 * 0.2 + 0.02)


def test_the_tolerance_bounds_the_spread_over_seeds_without_being_vacuous() -> None:
    """The log-ratio's spread over 16 seeds sits below sqrt(V) (V is an upper bound: no
    credit for the batch in deep layers) but within a factor 3 of it for relu, whose
    samples align with depth."""
    r = 1 / 64 + (1 - 1 / 64) * math.sqrt(2 / (math.pi * 128))
    sqrt_v = math.sqrt(2 / (64 * 128) + 5 * r / 128 + 9 * 5 / 128)
    ratios = []
    for seed in range(16):
        links = mlp([128] * 11, "relu", "he_normal", seed)
        x = np.random.default_rng(seed + 50).standard_normal((64, 128))
        stats, predictions = empirical(links, x, seed)
        last = predictions[-1]
        assert last is not None
        assert last.tolerance == pytest.approx(tolerance_from_log_variance(sqrt_v**2))
        ratios.append(math.log(stats[-1].activation_squared_mean / last.activation_squared_mean))
    spread = float(np.std(ratios))
    assert sqrt_v / 3 < spread < sqrt_v


def test_agrees_handles_zeros() -> None:
    assert agrees(0.0, 0.0, 0.1)
    assert not agrees(0.0, 1e-300, 10.0)
    assert not agrees(float("nan"), 1.0, 10.0)
    assert agrees(1.1, 1.0, 0.1) and not agrees(1.2, 1.0, 0.1)


def test_unchainable_shapes_raise_like_forward_backward() -> None:
    links = mlp([8, 16, 4], "relu", "he_normal", 0)
    with pytest.raises(InvalidParameterError) as info:
        predict([links[1], links[0]], input_shape=(2, 16))
    assert info.value.field == "layers[1]"


# --------------------------------------------------------- the three pictures


def relu_runs(scheme: str, seeds: range) -> tuple[Array, list[list[Prediction | None]]]:
    """activation std per (seed, layer) of a 20-layer ReLU MLP, width 256, batch 128."""
    stds, predictions = [], []
    for seed in seeds:
        links = mlp([256] * 21, "relu", scheme, seed)
        x = np.random.default_rng(seed + 500).standard_normal((128, 256))
        stats, pred = empirical(links, x, seed)
        stds.append([s.activation_std for s in stats])
        predictions.append(pred)
    return np.array(stds), predictions


def test_he_keeps_a_20_layer_relu_mlp_alive() -> None:
    stds, predictions = relu_runs("he_normal", range(8))
    predicted = [p.activation_std for p in predictions[0] if p is not None]
    assert len(predicted) == 20
    assert max(predicted) == pytest.approx(min(predicted), rel=1e-12)  # flat
    assert predicted[0] == pytest.approx(math.sqrt(1 - 1 / math.pi), rel=1e-12)
    geometric = np.exp(np.mean(np.log(stds), axis=0))
    assert np.all(geometric / geometric[0] < 2) and np.all(geometric / geometric[0] > 0.5)


def test_random_001_vanishes_in_a_20_layer_relu_mlp() -> None:
    stds, predictions = relu_runs("std=0.01", range(2))
    assert np.all(stds[:, -1] < 1e-10)
    last = predictions[0][-1]
    assert last is not None and last.activation_std < 1e-10
    # per layer the second moment shrinks by 256 * 1e-4 / 2 = 0.0128
    assert math.sqrt(0.0128) ** 19 * predictions[0][0].activation_std == pytest.approx(  # type: ignore[union-attr]
        last.activation_std, rel=1e-9
    )


def test_zeros_is_symmetric_and_dead() -> None:
    links = mlp([256] * 21, "relu", "zeros", 0)
    x = np.random.default_rng(1).standard_normal((128, 256))
    stats, predictions = empirical(links, x, 0)
    assert all(s.symmetric and s.dead_fraction == 1.0 for s in stats)
    assert assert_agreement(stats, predictions) == 20  # predicted 0, measured 0


def tanh_run(scale: float, seed: int = 0) -> tuple[list[LayerStats], list[Prediction | None]]:
    """20-layer tanh MLP, width 256, no biases, weights N(0, scale^2 * Xavier's 1/256)."""
    links = mlp([256] * 21, "tanh", f"std={scale / 16}", seed)
    x = np.random.default_rng(seed + 7).standard_normal((128, 256))
    return empirical(links, x, seed)


def test_xavier_tanh_decays_slowly_as_mean_field_theory_says() -> None:
    stats, predictions = tanh_run(1.0)  # glorot: var 2/(256 + 256) = 1/256
    first, last = predictions[0], predictions[-1]
    assert first is not None and last is not None
    predicted_ratio = last.activation_std / first.activation_std
    assert predicted_ratio == pytest.approx(0.2563, abs=5e-4)
    measured_ratio = stats[-1].activation_std / stats[0].activation_std
    assert abs(math.log(measured_ratio / predicted_ratio)) < 0.05
    assert assert_agreement(stats, predictions) == 20


def test_a_too_small_tanh_init_decays_geometrically() -> None:
    stats, predictions = tanh_run(0.3)
    stds = np.array([s.activation_std for s in stats])
    ratios = stds[1:] / stds[:-1]
    assert np.all(ratios < 0.35) and np.all(ratios > 0.25)  # ~0.3 per layer: tanh ~ linear
    assert float(np.std(np.log(ratios[1:]))) < 0.05  # a constant ratio
    assert assert_agreement(stats, predictions) == 20


def test_a_4x_tanh_init_saturates() -> None:
    xavier, _ = tanh_run(1.0)
    large, predictions = tanh_run(4.0)
    saturated = np.array([s.saturated_fraction or 0.0 for s in large])
    baseline = np.array([s.saturated_fraction or 0.0 for s in xavier])
    assert np.all(saturated > 0.3) and float(baseline.max()) < 0.02
    assert float(saturated.mean()) > 20 * float(baseline.mean())
    assert assert_agreement(large, predictions) == 20


def test_an_overflowing_recursion_gives_nan_quietly() -> None:
    links = mlp([64] * 41, "linear", "std=1e4", 0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise"):
            predictions = predict(links, input_shape=(16, 64))
    first, last = predictions[0], predictions[-1]
    assert first is not None and first.activation_std == pytest.approx(8e4)
    assert last is not None and math.isnan(last.activation_std)
