"""forward_backward: each statistic's definition, the shape errors, overflow, determinism and
speed."""

from __future__ import annotations

import dataclasses
import math
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest

from app.core.diagnostics import (
    Attention,
    Conv,
    Dense,
    Embedding,
    LayerStats,
    Link,
    Norm,
    forward_backward,
)
from app.core.errors import InvalidParameterError, UnknownNameError

from .builders import mlp

REPO = Path(__file__).resolve().parents[3]


def run(links: list[Link], batch: int = 16, seed: int = 0) -> list[LayerStats]:
    rng = np.random.default_rng(seed)
    first = links[0].step
    assert isinstance(first, Dense)
    x = rng.standard_normal((batch, first.weight.shape[0]))
    last = links[-1].step
    assert isinstance(last, Dense)
    return forward_backward(links, x, rng.standard_normal((batch, last.weight.shape[1])))


def test_statistics_are_population_statistics_of_the_arrays() -> None:
    rng = np.random.default_rng(3)
    w, b = rng.standard_normal((4, 6)), rng.standard_normal(6)
    x, up = rng.standard_normal((5, 4)), rng.standard_normal((5, 6))
    (stats,) = forward_backward([Link(Dense("fc", w, b), "tanh", weight_std_theory=0.5)], x, up)
    h = x @ w + b
    a = np.tanh(h)
    assert stats.preactivation_std == pytest.approx(float(np.std(h)), rel=1e-14)
    assert stats.activation_mean == pytest.approx(float(np.mean(a)), rel=1e-14)
    assert stats.activation_std == pytest.approx(float(np.std(a)), rel=1e-14)
    assert stats.activation_squared_mean == pytest.approx(float(np.mean(a * a)), rel=1e-14)
    assert stats.gradient_std == pytest.approx(float(np.std(up * (1 - a * a))), rel=1e-14)
    assert stats.weight_std == pytest.approx(float(np.std(w)), rel=1e-14)
    assert (stats.weight_std_theory, stats.fan_in, stats.kind, stats.name) == (
        0.5,
        4,
        "dense",
        "fc",
    )
    assert stats.saturated_fraction == float(np.mean(np.abs(a) >= 0.99))
    assert all(isinstance(v, float) for v in (stats.activation_std, stats.gradient_std))
    assert not stats.overflow and not stats.symmetric


def test_zero_init_is_symmetric_and_all_relu_units_are_dead() -> None:
    stats = run(mlp([8, 16, 16, 4], "relu", "zeros", 0))
    assert all(s.symmetric for s in stats)
    assert all(s.dead_fraction == 1.0 for s in stats)
    assert all(s.activation_std == 0.0 and s.gradient_std == 0.0 for s in stats)
    assert stats[0].weight_histogram is not None


def test_constant_init_is_symmetric_without_dead_units() -> None:
    stats = run(mlp([8, 16, 16, 4], "tanh", "constant=0.1", 0))
    assert all(s.symmetric for s in stats)
    assert all(s.dead_fraction == 0.0 for s in stats)
    random = run(mlp([8, 16, 16, 4], "tanh", "he_normal", 0))
    assert not any(s.symmetric for s in random)


def test_dead_fraction_counts_units_dead_on_every_sample() -> None:
    w = np.ones((2, 4))
    w[:, 1] = -1.0  # unit 1: negative for positive inputs
    b = np.array([0.0, 0.0, -100.0, 0.0])  # unit 2: always negative
    x = np.abs(np.random.default_rng(0).standard_normal((6, 2))) + 0.1
    (stats,) = forward_backward([Link(Dense("fc", w, b), "relu")], x, np.ones((6, 4)))
    assert stats.dead_fraction == 0.5
    (conv,) = forward_backward(
        [Link(Conv("c", np.stack([np.ones((1, 3)), -np.ones((1, 3))])), "relu")],
        np.abs(np.random.default_rng(1).standard_normal((2, 1, 5))),
        np.ones((2, 2, 3)),
    )
    assert conv.dead_fraction == 0.5  # channel 1 (a negative filter on positive input)


def test_the_weight_histogram_has_33_edges_and_32_counts() -> None:
    stats = run(mlp([8, 16, 4], "relu", "he_normal", 0))
    edges, counts = stats[0].weight_histogram or ((), ())
    assert len(edges) == 33 and len(counts) == 32 and sum(counts) == 8 * 16
    w = stats[0]
    assert edges[0] <= -(w.weight_std or 0) and edges[-1] >= (w.weight_std or 0)
    np.testing.assert_array_equal(
        np.histogram(mlp([8, 16, 4], "relu", "he_normal", 0)[0].step.weight, bins=32)[0],
        counts,  # type: ignore[union-attr]
    )


def test_all_equal_weights_get_a_degenerate_histogram_without_nan() -> None:
    for scheme, value in (("zeros", 0.0), ("constant=0.25", 0.25)):
        edges, counts = run(mlp([4, 6, 2], "relu", scheme, 0))[0].weight_histogram or ((), ())
        assert len(edges) == 33 and all(math.isfinite(e) for e in edges)
        assert edges[0] == value - 0.5 and edges[-1] == value + 0.5
        assert sum(counts) == 24 and counts[16] == 24  # the bin holding the value


def test_a_norm_without_scale_has_no_histogram_and_embeddings_report_fan_in_none() -> None:
    rng = np.random.default_rng(0)
    links = [
        Link(Embedding("emb", rng.standard_normal((10, 4))), "linear"),
        Link(Norm("ln", "layer_norm"), "relu"),
    ]
    stats = forward_backward(links, rng.integers(0, 10, (3, 5)), rng.standard_normal((3, 5, 4)))
    assert stats[0].fan_in is None and stats[0].kind == "embedding"
    assert stats[1].weight_histogram is None and stats[1].weight_std is None
    assert stats[1].kind == "layer_norm"


def test_an_exploding_chain_overflows_quietly_and_says_so() -> None:
    links = mlp([64] * 41, "linear", "std=1e4", 0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise"):  # the caller's settings do not matter
            stats = run(links)
    # forward: the first layers are finite, the last ones inf/nan; the backward (gradient
    # factor ~8e4 per layer) overflows below the top ones
    assert math.isfinite(stats[0].activation_std) and not math.isfinite(stats[0].gradient_std)
    assert math.isfinite(stats[-1].gradient_std) and not math.isfinite(stats[-1].activation_std)
    assert stats[0].overflow and stats[-1].overflow
    assert stats[-1].weight_histogram is not None
    (fine,) = run(mlp([64, 64], "linear", "std=1e4", 0))
    assert not fine.overflow


def test_results_are_bit_identical_on_repeat() -> None:
    links = mlp([32, 64, 64, 8], "gelu", "glorot_uniform", 5, bias_std=0.1)
    assert run(links, seed=2) == run(links, seed=2)


def test_unchainable_shapes_name_the_link() -> None:
    links = mlp([8, 16, 4], "relu", "he_normal", 0)
    bad = [links[0], Link(Dense("oops", np.zeros((15, 4))), "relu")]
    with pytest.raises(
        InvalidParameterError, match=r"layers\[1\] \('oops', dense\): expects 15"
    ) as info:
        run(bad)
    assert info.value.field == "layers[1]"
    with pytest.raises(InvalidParameterError, match="upstream") as info:
        forward_backward(links, np.zeros((2, 8)), np.zeros((2, 5)))
    assert info.value.field == "upstream"
    with pytest.raises(UnknownNameError, match="activation"):
        run([dataclasses.replace(links[0], activation="rleu")])
    conv = Conv("c", np.zeros((4, 2, 3, 3)), padding=(1,))
    with pytest.raises(InvalidParameterError, match=r"layers\[0\].*2 entries"):
        forward_backward([Link(conv, "relu")], np.zeros((1, 2, 5, 5)), np.zeros((1, 4, 5, 5)))
    with pytest.raises(InvalidParameterError, match="token ids"):
        forward_backward(links, np.zeros((2, 8), dtype=np.int64), np.zeros((2, 4)))
    emb = Link(Embedding("e", np.zeros((5, 8))), "linear")
    with pytest.raises(InvalidParameterError, match=r"ids must be in \[0, 5\)"):
        forward_backward([emb], np.array([[0, 5]]), np.zeros((1, 2, 8)))
    with pytest.raises(InvalidParameterError, match="first link"):
        forward_backward([links[0], emb], np.zeros((2, 8)), np.zeros((2, 16, 8)))
    att = Attention("a", *(np.zeros((6, 6)) for _ in range(4)), num_heads=4)
    with pytest.raises(InvalidParameterError, match="num_heads must divide 6"):
        forward_backward([Link(att, "linear")], np.zeros((1, 2, 6)), np.zeros((1, 2, 6)))
    with pytest.raises(InvalidParameterError, match="output multiplier"):
        forward_backward(
            [Link(att, "linear", output_multiplier=2.0)], np.zeros((1, 2, 6)), np.zeros((1, 2, 6))
        )


def test_a_dense_after_a_conv_flattens_channels_first() -> None:
    rng = np.random.default_rng(0)
    conv = Conv("c", rng.standard_normal((3, 2, 3)), padding=(1,))
    dense = Dense("fc", rng.standard_normal((3 * 5, 4)))
    x = rng.standard_normal((2, 2, 5))
    stats = forward_backward([Link(conv, "linear"), Link(dense, "linear")], x, np.ones((2, 4)))
    from app.core.diagnostics import ops
    from app.core.diagnostics.ops import ConvGeometry

    h, _ = ops.conv_forward(x, conv.weight, None, ConvGeometry((3,), (1,), (1,), (1,), 1), 1.0)
    assert stats[1].activation_std == pytest.approx(float(np.std(h.reshape(2, -1) @ dense.weight)))


_TIMING = """
import math, time
import numpy as np
from app.core.diagnostics import Conv, Dense, Link, forward_backward

def best(fn, repeat=7):
    times = []
    for _ in range(repeat):
        start = time.perf_counter(); fn(); times.append(time.perf_counter() - start)
    return min(times)

rng = np.random.default_rng(0)
n, std = 256, math.sqrt(2 / 256)
links = [
    Link(Dense(f"W{i}", rng.normal(0, std, (n, n)), np.zeros(n)), "relu", weight_std_theory=std)
    for i in range(20)
]
x, up = rng.standard_normal((128, n)), rng.standard_normal((128, n))
conv = [
    Link(Conv(f"c{i}", rng.normal(0, 0.1, (16, 16, 3, 3)), padding=(1, 1)), "relu")
    for i in range(3)
]
xc, upc = rng.standard_normal((8, 16, 32, 32)), rng.standard_normal((8, 16, 32, 32))
print(best(lambda: forward_backward(links, x, up)))
print(best(lambda: forward_backward(conv, xc, upc), 3))
"""


def test_a_20_layer_mlp_and_a_conv_stack_are_fast() -> None:
    """20 dense layers, width 256, batch 128, forward + backward + stats in well under 0.2 s
    (~0.05 s on an idle 2-core machine); three 3x3 convs on (8, 16, 32, 32) too (im2col +
    matmul, ~0.05 s: a Python loop over pixels would take ~10 s). Timed in a fresh process
    with one BLAS thread, as the service runs (Dockerfile: OPENBLAS_NUM_THREADS=1): a
    multi-threaded BLAS on a busy machine measures the machine, not the code; best of
    several runs, for the same reason."""
    env = {
        **os.environ,
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": str(REPO),
    }
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_TIMING)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    mlp_seconds, conv_seconds = float(out[0]), float(out[1])
    assert mlp_seconds < 0.15, mlp_seconds
    assert conv_seconds < 0.3, conv_seconds
