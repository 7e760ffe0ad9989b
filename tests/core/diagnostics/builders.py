"""Test chains: weights drawn here with numpy's default_rng(seed), one std per scheme."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from app.core.diagnostics import Conv, Dense, Link

Array = NDArray[np.float64]

# scheme -> (std of a (fan_in, fan_out) weight, distribution)
SCHEMES: dict[str, Callable[[int, int], float]] = {
    "he_normal": lambda fi, fo: math.sqrt(2.0 / fi),
    "glorot_normal": lambda fi, fo: math.sqrt(2.0 / (fi + fo)),
    "glorot_uniform": lambda fi, fo: math.sqrt(2.0 / (fi + fo)),
    "lecun_normal": lambda fi, fo: math.sqrt(1.0 / fi),
    "small": lambda fi, fo: 0.3 / math.sqrt(fi),
    "large": lambda fi, fo: 4.0 * math.sqrt(2.0 / (fi + fo)),
}


def draw(rng: np.random.Generator, shape: tuple[int, ...], std: float, scheme: str) -> Array:
    """Zero-mean values of the given std: uniform for *_uniform schemes, else normal."""
    if scheme.endswith("uniform"):
        bound = std * math.sqrt(3.0)
        return rng.uniform(-bound, bound, size=shape)
    if std == 0.0:
        return np.zeros(shape)
    return rng.normal(0.0, std, size=shape)


def mlp(
    sizes: list[int],
    activation: str,
    scheme: str,
    seed: int,
    *,
    bias_std: float | None = None,
    last_activation: str | None = None,
    param: float | None = None,
) -> list[Link]:
    """Dense links W1..Wn; ``scheme`` a SCHEMES key, or a literal std like 'std=0.01',
    or 'zeros' / 'constant=0.5'. Biases N(0, bias_std^2), none when bias_std is None."""
    rng = np.random.default_rng(seed)
    links = []
    for i, (fi, fo) in enumerate(itertools.pairwise(sizes)):
        if scheme == "zeros":
            std, weight = 0.0, np.zeros((fi, fo))
        elif scheme.startswith("constant="):
            std, weight = 0.0, np.full((fi, fo), float(scheme.split("=")[1]))
        else:
            std = float(scheme[4:]) if scheme.startswith("std=") else SCHEMES[scheme](fi, fo)
            weight = draw(rng, (fi, fo), std, scheme)
        bias = None if bias_std is None else rng.normal(0.0, bias_std, size=fo)
        act = last_activation if last_activation and i == len(sizes) - 2 else activation
        links.append(Link(Dense(f"W{i + 1}", weight, bias), act, param, weight_std_theory=std))
    return links


def conv_link(
    rng: np.random.Generator,
    name: str,
    channels: tuple[int, int],
    kernel: tuple[int, ...],
    activation: str,
    *,
    gain2: float = 2.0,
    **geometry: object,
) -> Link:
    """A He-style conv link: std sqrt(gain2 / fan_in), fan_in = in/groups * prod(kernel)."""
    c_in, c_out = channels
    groups = int(geometry.get("groups", 1))
    fan_in = c_in // groups * math.prod(kernel)
    std = math.sqrt(gain2 / fan_in)
    weight = rng.normal(0.0, std, size=(c_out, c_in // groups, *kernel))
    conv = Conv(name, weight, None, **geometry)
    return Link(conv, activation, weight_std_theory=std)
