"""``init_flax_params`` against real Flax models and a live server: an MLP, a CNN (Conv,
grouped Conv, ConvTranspose, 1-D Conv, BatchNorm with its batch_stats, GroupNorm, LayerNorm,
RMSNorm), nested ``@nn.compact`` modules, Embed with attention (MultiHeadDotProductAttention,
SelfAttention, DenseGeneral, PReLU), every recurrent cell, cells under nn.RNN /
nn.Bidirectional and nn.remat, and models that are one module; two seeds each under
jax-threefry equal ``model.init`` (bit for bit, orthogonal recurrent kernels within max_ulp),
so do shape maps of the same trees (Flax's order, and sorted with every collection),
blocks-v1 fills the same tree, unknown modules and custom initializers are refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.live_server import serve

from .conftest import run_script


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with serve() as url:
        yield url


def test_init_flax_params_equals_model_init(frameworks_python: Path, server: str) -> None:
    checks = run_script(frameworks_python, "flax_adapter.py", server)
    failed = {name: ok for name, ok in checks.items() if ok is not True}
    assert not failed, failed
    assert len(checks) == 8 * 5 + 2
