"""muP's coordinate check: standard parametrisation's output grows with width after a few
Adam steps, muP's stays flat; both are flat at init; Adam is torch's, SGD trains."""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable

import numpy as np
import pytest

from app.core.diagnostics import (
    CoordinateRow,
    Dense,
    Link,
    Trainable,
    coordinate_check,
    train,
)
from app.core.diagnostics.coordinate_check import ADAM_BETAS, ADAM_EPS
from app.core.errors import InvalidParameterError

D_IN, D_OUT, BATCH, BASE = 64, 8, 64, 64
WIDTHS = [64, 128, 256, 512, 1024]


def data(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((BATCH, D_IN)), rng.standard_normal((BATCH, D_OUT))


def standard(width: int, seed: int) -> Trainable:
    """Standard parametrisation: every weight N(0, 1/fan_in), zero biases, one learning rate."""
    rng = np.random.default_rng(seed)
    sizes = [D_IN, width, width, D_OUT]
    links = [
        Link(
            Dense(f"W{i + 1}", rng.normal(0, 1 / math.sqrt(a), (a, b)), np.zeros(b)),
            "relu" if i < 2 else "linear",
        )
        for i, (a, b) in enumerate(itertools.pairwise(sizes))
    ]
    return Trainable(links, [(1.0, 1.0)] * 3)


def mup(width: int, seed: int) -> Trainable:
    """microsoft/mup with Adam (what the repo's `mup` recipe gives with readout_zero_init):
    input layer N(0, sigma^2) and lr x1 (vector-like), hidden N(0, sigma^2 / width_mult) and
    lr / width_mult (matrix-like), readout 0 with output multiplier 1 / width_mult and lr x1;
    sigma = 1/sqrt(base width), width_mult = width / base."""
    rng = np.random.default_rng(seed)
    m, sigma = width / BASE, 1 / math.sqrt(BASE)
    links = [
        Link(Dense("W1", rng.normal(0, sigma, (D_IN, width)), np.zeros(width)), "relu"),
        Link(
            Dense("W2", rng.normal(0, sigma / math.sqrt(m), (width, width)), np.zeros(width)),
            "relu",
        ),
        Link(
            Dense("W3", np.zeros((width, D_OUT)), np.zeros(D_OUT)),
            "linear",
            output_multiplier=1 / m,
        ),
    ]
    return Trainable(links, [(1.0, 1.0), (1 / m, 1.0), (1.0, 1.0)])


def series(rows: list[CoordinateRow], layer: str, step: int) -> np.ndarray:
    return np.array([r.l1 for r in rows if r.layer == layer and r.step == step])


BUILDERS: dict[str, Callable[[int, int], Trainable]] = {"standard": standard, "mup": mup}


@functools.cache
def check(kind: str, seed: int = 1) -> list[CoordinateRow]:
    """Two Adam steps at lr 0.01 for every width (computed once per kind)."""
    x, t = data()
    models = [(w, BUILDERS[kind](w, seed)) for w in WIDTHS]
    return coordinate_check(models, x, t, steps=2, optimizer="adam", learning_rate=0.01)


def test_rows_cover_every_width_step_and_layer_in_order() -> None:
    rows = check("standard")
    assert len(rows) == len(WIDTHS) * 3 * 3
    assert [(r.width, r.step, r.layer) for r in rows[:4]] == [
        (64, 0, "W1"),
        (64, 0, "W2"),
        (64, 0, "W3"),
        (64, 1, "W1"),
    ]


def test_standard_parametrisation_output_grows_with_width_after_adam_steps() -> None:
    rows = check("standard")
    out = series(rows, "W3", 2)
    assert np.all(np.diff(out) > 0), out
    assert out[-1] / out[0] > 4, out


def test_mup_output_stays_flat_after_adam_steps() -> None:
    rows = check("mup")
    for layer in ("W1", "W2", "W3"):
        values = series(rows, layer, 2)
        assert values.max() / values.min() < 2, (layer, values)


def test_at_init_both_are_flat_and_the_mup_readout_is_exactly_zero() -> None:
    sp, mu = check("standard"), check("mup")
    for rows in (sp, mu):
        for layer in ("W1", "W2"):
            values = series(rows, layer, 0)
            assert values.max() / values.min() < 1.25, (layer, values)
    assert np.all(series(mu, "W3", 0) == 0.0)
    np.testing.assert_array_equal(series(sp, "W1", 0), series(mu, "W1", 0))  # same sigma
    assert series(sp, "W3", 0).max() / series(sp, "W3", 0).min() < 1.5


def test_sgd_trains_and_the_links_are_left_alone() -> None:
    x, t = data()
    model = standard(128, 3)
    before = [link.step.weight.copy() for link in model.links]  # type: ignore[union-attr]
    record = train(model, x, t, steps=10, optimizer="sgd", learning_rate=0.01)
    losses = [r.loss for r in record]
    assert len(losses) == 11 and all(b < a for a, b in itertools.pairwise(losses))
    assert losses[-1] < 0.8 * losses[0]
    for link, w in zip(model.links, before, strict=True):
        np.testing.assert_array_equal(link.step.weight, w)  # type: ignore[union-attr]
    assert record[0].loss == pytest.approx(
        0.5 * float(np.mean(np.sum((forward(model, x) - t) ** 2, 1)))
    )


def forward(model: Trainable, x: np.ndarray) -> np.ndarray:
    for link in model.links:
        step = link.step
        assert isinstance(step, Dense)
        h = link.output_multiplier * (x @ step.weight) + (0 if step.bias is None else step.bias)
        x = np.maximum(h, 0) if link.activation == "relu" else h
    return x


def torch_adam(
    grad: np.ndarray, state: tuple[np.ndarray, np.ndarray], lr: float, step: int
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """torch.optim.Adam's single-tensor step written out: (update, new state)."""
    b1, b2 = ADAM_BETAS
    m, v = state
    m = m + (1 - b1) * (grad - m)
    v = b2 * v + (1 - b2) * grad * grad
    denom = np.sqrt(v) / math.sqrt(1 - b2**step) + ADAM_EPS
    return (lr / (1 - b1**step)) * (m / denom), (m, v)


def test_adam_follows_torchs_update_rule() -> None:
    """One linear layer (multiplier 0.5, weight lr x2), three steps, against the formulas."""
    rng = np.random.default_rng(5)
    x, t = rng.standard_normal((6, 3)), rng.standard_normal((6, 2))
    w, b = rng.standard_normal((3, 2)), rng.standard_normal(2)
    model = Trainable([Link(Dense("fc", w, b), "linear", output_multiplier=0.5)], [(2.0, 1.0)])
    record = train(model, x, t, steps=3, optimizer="adam", learning_rate=0.1)
    sw, sb = (np.zeros_like(w), np.zeros_like(w)), (np.zeros_like(b), np.zeros_like(b))
    losses = []
    for step in range(1, 5):
        y = 0.5 * (x @ w) + b
        losses.append(0.5 * float(np.sum((y - t) ** 2)) / 6)
        dy = (y - t) / 6
        uw, sw = torch_adam(0.5 * x.T @ dy, sw, 0.2, step)
        ub, sb = torch_adam(dy.sum(axis=0), sb, 0.1, step)
        w, b = w - uw, b - ub
    np.testing.assert_allclose([r.loss for r in record], losses, rtol=1e-13)


def test_bad_arguments_are_refused() -> None:
    x, t = data()
    model = standard(64, 0)
    with pytest.raises(InvalidParameterError, match="optimizer"):
        train(model, x, t, steps=2, optimizer="rmsprop", learning_rate=0.1)  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="learning_rate"):
        train(model, x, t, steps=2, optimizer="sgd", learning_rate=-1.0)
    with pytest.raises(InvalidParameterError, match="targets"):
        train(model, x, t[:, :3], steps=2, optimizer="sgd", learning_rate=0.1)
    with pytest.raises(InvalidParameterError, match="lr_scales"):
        train(
            Trainable(model.links, [(1.0, 1.0)]), x, t, steps=2, optimizer="sgd", learning_rate=0.1
        )
    with pytest.raises(InvalidParameterError, match="steps"):
        train(model, x, t, steps=-1, optimizer="sgd", learning_rate=0.1)
