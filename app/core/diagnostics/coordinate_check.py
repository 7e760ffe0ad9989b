"""muP's coordinate check: train a dense chain of each width for a few steps and watch every
layer's activation scale (microsoft/mup, ``mup/coord_check.py``: ``l1 = x.abs().mean()`` of
each layer's output, per width and step; Yang et al. 2022, "Tensor Programs V",
arXiv:2203.03466, sec. 7 and fig. 5).

At initialisation every ``1/fan_in`` parametrisation is flat across widths; the difference
appears after updates: with a constant learning rate, standard parametrisation's updates
grow with width (Adam moves every entry by ~lr, so ``x @ dW`` grows like the width), while
muP's per-layer multipliers and learning-rate scales keep every layer's scale flat.

Training is full batch, ``loss = 0.5 * mean over the batch of ||y - t||^2``, on the given
inputs and targets. SGD is ``p -= lr * scale * grad``; Adam is torch's ``torch.optim.Adam``
(``betas=(0.9, 0.999)``, ``eps=1e-8``, no weight decay, single-tensor path) step for step:
``m.lerp_(g, 1 - b1)``, ``v = b2 v + (1 - b2) g^2``,
``p -= (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)``, with
``lr = learning_rate * scale`` per parameter (muP's per-group learning rates).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from app.core.errors import InvalidParameterError

from .activations import apply, derivative
from .chain import Dense, Link, chain_shapes
from .ops import Array, dense_backward, dense_forward

__all__ = [
    "ADAM_BETAS",
    "ADAM_EPS",
    "CoordinateRow",
    "Trainable",
    "TrainingStep",
    "coordinate_check",
    "train",
]

ADAM_BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8
Optimizer = Literal["sgd", "adam"]


@dataclass(frozen=True, eq=False)
class Trainable:
    """One dense chain for one width; ``lr_scales[i]`` = (weight, bias) learning-rate
    multipliers of link i (muP's; 1.0 for standard parametrisation)."""

    links: list[Link]
    lr_scales: list[tuple[float, float]]


@dataclass(frozen=True)
class CoordinateRow:
    """``l1``: mean |activation| of ``layer``'s output at ``step`` (0: at init)."""

    width: int
    step: int
    layer: str
    l1: float


@dataclass(frozen=True)
class TrainingStep:
    """The loss and every layer's ``l1`` (name, mean |activation|) before update ``step + 1``
    (after ``step`` updates)."""

    step: int
    loss: float
    l1: tuple[tuple[str, float], ...]


@dataclass(eq=False)
class _Param:
    value: Array
    lr: float
    m: Array = field(init=False)
    v: Array = field(init=False)

    def __post_init__(self) -> None:
        self.m = np.zeros_like(self.value)
        self.v = np.zeros_like(self.value)

    def update(self, grad: Array, optimizer: Optimizer, t: int) -> None:
        if optimizer == "sgd":
            self.value -= self.lr * grad
            return
        b1, b2 = ADAM_BETAS
        self.m += (1.0 - b1) * (grad - self.m)  # torch lerp_ with weight < 0.5
        self.v *= b2
        self.v += (1.0 - b2) * grad * grad
        step_size = self.lr / (1.0 - b1**t)
        denom = np.sqrt(self.v) / math.sqrt(1.0 - b2**t) + ADAM_EPS
        self.value -= step_size * (self.m / denom)


@dataclass(eq=False)
class _Layer:
    link: Link
    weight: _Param
    bias: _Param | None


def _check(
    trainable: Trainable, inputs: Array, targets: Array, optimizer: str, learning_rate: float
) -> None:
    if optimizer not in ("sgd", "adam"):
        raise InvalidParameterError(
            f"optimizer must be 'sgd' or 'adam', got {optimizer!r}.", field="optimizer"
        )
    if not (math.isfinite(learning_rate) and learning_rate > 0):
        raise InvalidParameterError(
            f"learning_rate must be finite and > 0, got {learning_rate!r}.", field="learning_rate"
        )
    for i, link in enumerate(trainable.links):
        if not isinstance(link.step, Dense):
            raise InvalidParameterError(
                f"layers[{i}]: the coordinate check trains dense chains only.",
                field=f"layers[{i}]",
            )
    if len(trainable.lr_scales) != len(trainable.links):
        raise InvalidParameterError(
            "lr_scales needs one (weight, bias) pair per link.", field="lr_scales"
        )
    if inputs.ndim != 2:
        raise InvalidParameterError("inputs must be (batch, features).", field="inputs")
    shape = chain_shapes(trainable.links, inputs.shape, False)[-1]
    if targets.shape != shape:
        raise InvalidParameterError(
            f"targets have shape {targets.shape}, the chain's output {shape}.", field="targets"
        )


def _layers(trainable: Trainable, learning_rate: float) -> list[_Layer]:
    layers = []
    for link, (w_scale, b_scale) in zip(trainable.links, trainable.lr_scales, strict=True):
        assert isinstance(link.step, Dense)
        bias = link.step.bias
        layers.append(
            _Layer(
                link,
                _Param(np.array(link.step.weight, dtype=np.float64), learning_rate * w_scale),
                None
                if bias is None
                else _Param(np.array(bias, dtype=np.float64), learning_rate * b_scale),
            )
        )
    return layers


def _forward(layers: list[_Layer], inputs: Array) -> tuple[list[Array], list[Array]]:
    """(inputs of each layer + the output, pre-activations)."""
    xs, hs = [inputs], []
    for layer in layers:
        link = layer.link
        bias = None if layer.bias is None else layer.bias.value
        h = dense_forward(xs[-1], layer.weight.value, bias, link.output_multiplier)
        hs.append(h)
        xs.append(apply(link.activation, h, link.activation_param))
    return xs, hs


def _backward_and_update(
    layers: list[_Layer], xs: list[Array], hs: list[Array], dy: Array, t: tuple[Optimizer, int]
) -> None:
    grads = []
    for i in range(len(layers) - 1, -1, -1):
        layer, link = layers[i], layers[i].link
        dh = dy * derivative(link.activation, hs[i], link.activation_param)
        dx, dw, db = dense_backward(
            dh, xs[i], layer.weight.value, link.output_multiplier, need_input=i > 0
        )
        grads.append((layer, dw, db))
        if dx is not None:
            dy = dx
    optimizer, step = t
    for layer, dw, db in grads:
        layer.weight.update(dw, optimizer, step)
        if layer.bias is not None:
            layer.bias.update(db, optimizer, step)


def train(
    trainable: Trainable,
    inputs: Array,
    targets: Array,
    *,
    steps: int,
    optimizer: Optimizer,
    learning_rate: float,
) -> list[TrainingStep]:
    """``steps`` full-batch updates (module docstring); a :class:`TrainingStep` at init and
    after each update (``steps + 1`` of them). The links' arrays are not modified."""
    _check(trainable, inputs, targets, optimizer, learning_rate)
    if steps < 0:
        raise InvalidParameterError(f"steps must be >= 0, got {steps}.", field="steps")
    layers = _layers(trainable, learning_rate)
    names = [link.step.name for link in trainable.links]
    batch = inputs.shape[0]
    record: list[TrainingStep] = []
    with np.errstate(all="ignore"):
        for t in range(steps + 1):
            xs, hs = _forward(layers, inputs)
            error = xs[-1] - targets
            loss = 0.5 * float(np.sum(error * error)) / batch
            l1 = tuple((n, float(np.mean(np.abs(a)))) for n, a in zip(names, xs[1:], strict=True))
            record.append(TrainingStep(t, loss, l1))
            if t < steps:
                _backward_and_update(layers, xs, hs, error / batch, (optimizer, t + 1))
    return record


def coordinate_check(
    models: Sequence[tuple[int, Trainable]],
    inputs: Array,
    targets: Array,
    *,
    steps: int,
    optimizer: Optimizer,
    learning_rate: float,
) -> list[CoordinateRow]:
    """Rows (width, step, layer, l1) for every model, step 0..steps and layer, in that order."""
    rows: list[CoordinateRow] = []
    for width, trainable in models:
        for record in train(
            trainable,
            inputs,
            targets,
            steps=steps,
            optimizer=optimizer,
            learning_rate=learning_rate,
        ):
            rows.extend(CoordinateRow(width, record.step, name, l1) for name, l1 in record.l1)
    return rows
