"""Check the keras and jax layouts of the new layer kinds against Keras 3.15.1 and Flax 0.12.8.

Not part of the test suite (Keras, JAX and Flax are never dependencies): run it in a venv
that has them, e.g. ``python -m venv /tmp/fw && /tmp/fw/bin/pip install keras==3.15.1
jax==0.10.2 jaxlib==0.10.2 msgpack pyyaml treescope && /tmp/fw/bin/pip install --no-deps
flax==0.12.8``, then ``KERAS_BACKEND=jax PYTHONPATH=. /tmp/fw/bin/python
bench/verify_layer_kinds_keras_flax.py``. For every case it builds the framework's layer and
asserts that weightinit's plan has the same tensor names (``/`` read as ``.``), shapes and, for
kernels, the same fans (Keras: ``compute_fans`` with the einsum's axes; Flax: DenseGeneral's
flattened 2-D shape) and default constants (Keras' glorot limit in its own operation order;
Flax's lecun_normal std); norms and PReLU start at the framework's values.
"""

from __future__ import annotations

import math
import os
import re

os.environ.setdefault("KERAS_BACKEND", "jax")

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import keras
import numpy as np
from keras.src.initializers.random_initializers import compute_fans
from keras.src.layers.core.einsum_dense import _analyze_einsum_string

from app.core.laws import ConstantLaw, TruncatedNormalLaw, UniformLaw
from app.core.layers import make_layer
from app.core.planning import plan_layer
from app.core.types import Layout


def plans(kind: str, fields: dict[str, object], layout: Layout) -> dict[str, object]:
    return {p.name: p for p in plan_layer(make_layer(kind, fields), layout=layout)}


def keras_weights(layer: keras.layers.Layer) -> dict[str, np.ndarray]:
    return {re.sub(r"^[^/]*/", "", w.path).replace("/", "."): np.asarray(w) for w in layer.weights}


def check_keras_attention(fields: dict[str, object], query: int, value: int, key: int) -> None:
    layer = keras.layers.MultiHeadAttention(
        num_heads=fields["num_heads"],
        key_dim=fields.get("key_dim") or fields["embed_dim"] // fields["num_heads"],
        value_dim=fields.get("value_dim"),
        output_shape=fields.get("output_shape"),
        use_bias=fields.get("bias", True),
    )
    layer.build((None, 5, query), (None, 5, value), (None, 5, key))
    ours = plans("multihead_attention", fields, Layout.KERAS)
    theirs = keras_weights(layer)
    assert list(ours) == list(theirs), (list(ours), list(theirs))
    for dense in (layer.query_dense, layer.key_dense, layer.value_dense, layer.output_dense):
        name = dense.name
        plan = ours[f"{name}.kernel"]
        kernel_shape, _, _, in_axes, out_axes = _analyze_einsum_string(
            dense.equation,
            dense.bias_axes,
            dense._build_shapes_dict["input_shape"],
            dense.partial_output_shape,
        )
        assert tuple(kernel_shape) == plan.shape, (name, kernel_shape, plan.shape)
        fi, fo = compute_fans(kernel_shape, in_axes, out_axes)
        assert (plan.fans.fan_in, plan.fans.fan_out) == (fi, fo), (name, fi, fo, plan.fans)
        scale = 1.0 / max(1.0, (fi + fo) / 2.0)  # GlorotUniform: VarianceScaling.__call__
        limit = math.sqrt(3.0 * scale)
        assert isinstance(plan.law, UniformLaw) and plan.law.high == limit, (plan.law, limit)
        assert np.abs(theirs[f"{name}.kernel"]).max() <= limit
        print(f"  keras {name}.kernel {plan.shape} fans ({fi}, {fo}) limit {limit!r}")
    for key_, plan in ours.items():
        assert plan.shape == theirs[key_].shape, key_
        if key_.endswith(".bias"):
            assert plan.law == ConstantLaw(0.0) and not theirs[key_].any()


def check_flax_attention(fields: dict[str, object], query: int, key: int, value: int) -> None:
    module = nn.MultiHeadDotProductAttention(
        num_heads=fields["num_heads"],
        qkv_features=fields.get("qkv_features"),
        out_features=fields.get("out_features"),
        use_bias=fields.get("bias", True),
    )
    params = module.init(
        jax.random.key(0), jnp.ones((1, 5, query)), jnp.ones((1, 5, key)), jnp.ones((1, 5, value))
    )["params"]
    theirs = flax.traverse_util.flatten_dict(params, sep=".")
    ours = plans("multihead_attention", fields, Layout.JAX)
    assert list(ours) == list(theirs), (list(ours), list(theirs))
    for name, plan in ours.items():
        assert plan.shape == theirs[name].shape, name
        if name.endswith(".kernel"):
            # DenseGeneral: the kernel is initialised flattened to (prod(in), prod(out))
            n_in = 1 if not name.startswith("out.") else 2
            fan_in = math.prod(plan.shape[:n_in])
            fan_out = math.prod(plan.shape[n_in:])
            assert (plan.fans.fan_in, plan.fans.fan_out) == (fan_in, fan_out), name
            # lecun_normal: variance_scaling(1, fan_in, truncated_normal), in float32
            variance = np.float32(1.0 / fan_in)
            stddev = float(np.sqrt(variance) / np.float32(0.87962566103423978))
            assert isinstance(plan.law, TruncatedNormalLaw) and plan.law.sigma == stddev, (
                plan.law,
                stddev,
            )
            assert np.abs(theirs[name]).max() <= 2 * stddev * (1 + 1e-6)
            print(f"  flax {name} {plan.shape} fans ({fan_in}, {fan_out}) sigma {stddev!r}")
        else:
            assert plan.law == ConstantLaw(0.0) and not np.asarray(theirs[name]).any()


def check_keras_simple(kind, fields, layer, input_shape) -> None:
    layer.build(input_shape)
    theirs = keras_weights(layer)
    ours = plans(kind, fields, Layout.KERAS)
    assert list(ours) == list(theirs), (list(ours), list(theirs))
    for name, plan in ours.items():
        assert plan.shape == theirs[name].shape, name
        assert isinstance(plan.law, ConstantLaw) and np.all(
            theirs[name] == np.float32(plan.law.value)
        )
    print(f"  keras {kind}: {[(n, p.shape, p.law.value) for n, p in ours.items()]}")


def check_flax_simple(kind, fields, module, x) -> None:
    theirs = flax.traverse_util.flatten_dict(module.init(jax.random.key(0), x)["params"], sep=".")
    ours = plans(kind, fields, Layout.JAX)
    assert list(ours) == list(theirs), (list(ours), list(theirs))
    for name, plan in ours.items():
        assert plan.shape == theirs[name].shape, name
        assert np.all(np.asarray(theirs[name]) == np.float32(plan.law.value)), name
    print(f"  flax {kind}: {[(n, p.shape, p.law.value) for n, p in ours.items()]}")


print(f"keras {keras.__version__}, flax {flax.__version__}, jax {jax.__version__}")
check_keras_attention({"embed_dim": 64, "num_heads": 8}, 64, 64, 64)
check_keras_attention({"embed_dim": 64, "num_heads": 8, "key_dim": 16}, 64, 64, 64)
check_keras_attention(
    {
        "embed_dim": 8,
        "num_heads": 2,
        "key_dim": 3,
        "value_dim": 4,
        "kdim": 10,
        "vdim": 9,
        "output_shape": [6, 7],
    },
    8,
    9,
    10,
)
check_keras_attention({"embed_dim": 8, "num_heads": 2, "key_dim": 3, "bias": False}, 8, 8, 8)
check_flax_attention({"embed_dim": 64, "num_heads": 8}, 64, 64, 64)
check_flax_attention(
    {"embed_dim": 8, "num_heads": 2, "qkv_features": 12, "out_features": 6, "kdim": 10, "vdim": 9},
    8,
    10,
    9,
)
check_flax_attention({"embed_dim": 8, "num_heads": 2, "bias": False}, 8, 8, 8)
check_keras_simple(
    "group_norm",
    {"num_groups": 2, "num_channels": 4},
    keras.layers.GroupNormalization(2),
    (None, 4),
)
check_keras_simple("rms_norm", {"normalized_shape": 5}, keras.layers.RMSNormalization(), (None, 5))
check_keras_simple("prelu", {"num_parameters": 3}, keras.layers.PReLU(), (None, 3))
check_flax_simple(
    "group_norm",
    {"num_groups": 2, "num_channels": 4},
    nn.GroupNorm(num_groups=2),
    jnp.ones((1, 3, 4)),
)
check_flax_simple(
    "instance_norm", {"num_features": 4, "affine": True}, nn.InstanceNorm(), jnp.ones((1, 3, 4))
)
check_flax_simple("rms_norm", {"normalized_shape": 5}, nn.RMSNorm(), jnp.ones((1, 3, 5)))
check_flax_simple("prelu", {}, nn.PReLU(), jnp.ones((1, 3)))
print("keras and flax layouts agree")
