"""Run in .venv-frameworks: fill real Flax models with ``init_flax_params`` from the server at
``argv[1]``, compare with ``model.init`` and print one JSON line of named checks
(tests/frameworks/test_flax_adapter.py)."""

from __future__ import annotations

import json
import sys
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from flax.traverse_util import flatten_dict
from weightinit_client import Client, init_flax_params

SEEDS = (0, 1234567)


class Block(nn.Module):
    """A nested module: two Denses, a LayerNorm and a further submodule, @nn.compact."""

    features: int

    @nn.compact
    def __call__(self, x: Any) -> Any:
        x = nn.Dense(self.features)(x)
        x = nn.LayerNorm()(x)
        x = Inner(self.features)(x)
        return nn.Dense(self.features, use_bias=False, name="proj")(x)


class Inner(nn.Module):
    features: int

    @nn.compact
    def __call__(self, x: Any) -> Any:
        x = nn.Dense(self.features * 2)(x)
        return nn.Dense(self.features)(nn.relu(x))


class Shared(nn.Module):
    """setup()-style submodules, a list of them, and one called twice."""

    def setup(self) -> None:
        self.enc = nn.Dense(8)
        self.layers = [nn.Dense(8) for _ in range(2)]
        self.norm = nn.LayerNorm()

    def __call__(self, x: Any) -> Any:
        x = self.enc(x)
        for layer in self.layers:
            x = layer(x)
        return self.norm(self.enc(x))


class Nested(nn.Module):
    @nn.compact
    def __call__(self, x: Any) -> Any:
        x = Block(8)(x)
        x = Block(8, name="second")(x)
        x = Shared()(x)
        return nn.Dense(4)(x)


class CNN(nn.Module):
    @nn.compact
    def __call__(self, x: Any, train: bool = True) -> Any:
        x = nn.Conv(8, (3, 3))(x)
        x = nn.BatchNorm(use_running_average=not train)(x)
        x = nn.Conv(8, (3, 3), feature_group_count=2, use_bias=False)(x)
        x = nn.GroupNorm(num_groups=4)(x)
        x = nn.ConvTranspose(8, (3, 3))(x)
        x = nn.LayerNorm()(x)
        x = nn.Conv(8, (3,))(x.reshape(x.shape[0], -1, 8))
        x = nn.RMSNorm()(x)
        return nn.Dense(8)(x.reshape(x.shape[0], -1))


class Text(nn.Module):
    @nn.compact
    def __call__(self, tokens: Any) -> Any:
        x = nn.Embed(50, 8)(tokens)
        x = nn.MultiHeadDotProductAttention(num_heads=4)(x)
        x = nn.SelfAttention(num_heads=2, qkv_features=4, out_features=8, use_bias=False)(x)
        return nn.DenseGeneral(8)(nn.PReLU()(x))


class Recurrent(nn.Module):
    """Every cell, each its own module (hidden = input = 4: one compile per shape in JAX)."""

    @nn.compact
    def __call__(self, x: Any) -> Any:
        cells = [nn.LSTMCell(4), nn.GRUCell(4, name="gru"), nn.OptimizedLSTMCell(4),
                 nn.SimpleCell(4)]  # fmt: skip
        for cell in cells:
            _, x = cell(cell.initialize_carry(jax.random.key(0), x.shape), x)
        return x


class Wrapped(nn.Module):
    """Cells under Flax's lifted wrappers: nn.RNN (scan), nn.Bidirectional, nn.remat."""

    @nn.compact
    def __call__(self, x: Any) -> Any:
        x = nn.RNN(nn.LSTMCell(4))(x)
        x = nn.Bidirectional(nn.RNN(nn.GRUCell(2)), nn.RNN(nn.GRUCell(2)))(x)
        return nn.remat(nn.Dense)(4)(x)


class Custom(nn.Module):
    @nn.compact
    def __call__(self, x: Any) -> Any:
        gate = self.param("gate", nn.initializers.zeros, (3,))
        return nn.Dense(3)(x) * gate


def models() -> dict[str, tuple[nn.Module, tuple[Any, ...], dict[str, Any]]]:
    """name -> (model, example inputs, init kwargs)."""
    lstm = nn.LSTMCell(4)
    return {
        "mlp": (nn.Sequential([nn.Dense(8), nn.relu, nn.Dense(8), nn.relu, nn.Dense(4)]),
                (jnp.ones((1, 8)),), {}),
        "cnn": (CNN(), (jnp.ones((1, 4, 4, 8)),), {"train": True}),
        "nested": (Nested(), (jnp.ones((1, 8)),), {}),
        "text": (Text(), (jnp.zeros((1, 7), jnp.int32),), {}),
        "recurrent": (Recurrent(), (jnp.ones((1, 4)),), {}),
        "wrapped": (Wrapped(), (jnp.ones((1, 3, 4)),), {}),
        "dense_alone": (nn.Dense(4), (jnp.ones((1, 8)),), {}),
        "lstm_cell_alone": (lstm, (lstm.initialize_carry(jax.random.key(0), (1, 3)),
                                   jnp.ones((1, 3))), {}),
    }  # fmt: skip


def leaves(tree: Any, prefix: str = "") -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for name, value in tree.items():
        if isinstance(value, dict):
            out.update(leaves(value, f"{prefix}{name}/"))
        else:
            out[prefix + name] = np.asarray(value)
    return out


def ulp(a: np.ndarray, b: np.ndarray) -> int:
    ia = a.astype(np.float32).view(np.int32).astype(np.int64)
    ib = b.astype(np.float32).view(np.int32).astype(np.int64)
    ia = np.where(ia < 0, -(1 << 31) - ia, ia)
    ib = np.where(ib < 0, -(1 << 31) - ib, ib)
    return int(np.abs(ia - ib).max()) if a.size else 0


APPROXIMATE = ("hi/", "hf/", "hg/", "ho/", "hr/", "hz/", "hn/", "h/")  # orthogonal kernels
MAX_ULP = 1 << 17


def compare(live: dict[str, np.ndarray], ours: dict[str, np.ndarray]) -> object:
    """True, or what differs: every exact tensor bit for bit, orthogonal ones within max_ulp."""
    if live.keys() != ours.keys():
        return {"live only": sorted(live.keys() - ours.keys()),
                "ours only": sorted(ours.keys() - live.keys())}  # fmt: skip
    bad = {}
    for name, value in live.items():
        mine = ours[name]
        if value.dtype != mine.dtype or value.shape != mine.shape:
            bad[name] = f"{mine.dtype}{mine.shape} vs {value.dtype}{value.shape}"
        elif any(f"/{p}" in f"/{name}" for p in APPROXIMATE) and name.endswith("kernel"):
            if ulp(value, mine) > MAX_ULP:
                bad[name] = f"ulp {ulp(value, mine)}"
        elif value.tobytes() != mine.tobytes():
            bad[name] = f"differs (ulp {ulp(value, mine)})"
    return bad or True


def shape_map(client: Client, tree: Any, seed: int) -> dict[str, np.ndarray]:
    """The same tree as a jax-threefry shape map: {"Block_0/Dense_0/kernel": shape, ...}."""
    shapes = {"/".join(k): list(np.shape(v)) for k, v in flatten_dict(tree).items()}
    return client.model(tensors=shapes, seed=seed, layout="jax", algorithm="jax-threefry")


def main() -> None:
    url = sys.argv[1]
    checks: dict[str, object] = {}
    with Client(url) as client:
        for name, (model, inputs, kwargs) in models().items():
            for seed in SEEDS:
                live = leaves(model.init(jax.random.key(seed), *inputs, **kwargs))
                ours = leaves(init_flax_params(model, *inputs, seed=seed, client=client, **kwargs))
                checks[f"{name} seed {seed}: jax-threefry equals model.init"] = compare(live, ours)
            variables = model.init(jax.random.key(SEEDS[1]), *inputs, **kwargs)
            checks[f"{name}: a shape map of params, in Flax's order, equals model.init"] = compare(
                leaves(variables["params"]), shape_map(client, variables["params"], SEEDS[1])
            )
            everything = dict(sorted(flatten_dict(variables, sep="/").items()))  # bias first
            checks[f"{name}: a sorted shape map of every collection equals model.init"] = compare(
                leaves(variables), shape_map(client, everything, SEEDS[1])
            )
            blocks = leaves(init_flax_params(model, *inputs, seed=5, algorithm="blocks-v1",
                                             client=client, **kwargs))  # fmt: skip
            checks[f"{name}: blocks-v1 fills the same structure"] = (
                all(
                    blocks[k].shape == v.shape and blocks[k].dtype == v.dtype
                    for k, v in live.items()
                )
                and blocks.keys() == live.keys()
            )
        try:
            init_flax_params(Custom(), jnp.ones((1, 3)), seed=0, client=client)
            checks["an unknown module owning parameters is refused, named"] = False
        except TypeError as exc:
            checks["an unknown module owning parameters is refused, named"] = "Custom" in str(exc)
        try:
            custom_init = nn.Dense(3, kernel_init=nn.initializers.xavier_uniform())
            init_flax_params(custom_init, jnp.ones((1, 3)), seed=0, client=client)
            checks["a non-default initializer under jax-threefry is refused"] = False
        except TypeError as exc:
            checks["a non-default initializer under jax-threefry is refused"] = (
                "kernel_init" in str(exc)
            )
    print(json.dumps(checks))


if __name__ == "__main__":
    main()
