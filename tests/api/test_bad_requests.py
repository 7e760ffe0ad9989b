"""A table of bad requests: each gets its documented 4xx as problem+json, never a 500.

Every row is one request and the status issue 5 documents for it; every response must be
``application/problem+json`` with ``type``, ``title``, ``status`` (the HTTP status) and
``detail``; 422s list ``errors: [{field, message}]`` and the row names the field path the
error must point at; unknown names must come with the nearest valid name where one is close.
After the table the server still answers normally.
"""

from __future__ import annotations

import json
import os
import re
import resource
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from app.api.settings import Settings

from .conftest import ApiClient, problem

DENSE = {"kind": "dense", "in_features": 4, "out_features": 3}
CONV2D = {"kind": "conv2d", "in_channels": 4, "out_channels": 4, "kernel_size": 3}
OK_BODY: dict[str, Any] = {"layer": DENSE, "seed": 1}

# The small limits of the "limited" app (rows with limited=True).
LIMITS = Settings(
    max_elements=10_000,
    max_json_elements=1_000,
    max_matrix_elements=400,
    max_layers=3,
    max_body_bytes=64 * 1024,
)


def w(**changes: Any) -> dict[str, Any]:
    """A valid /v1/weights body with ``changes`` applied (None deletes a key)."""
    body = {**OK_BODY, **changes}
    return {k: v for k, v in body.items() if v is not None}


def dense(**changes: Any) -> dict[str, Any]:
    return {**DENSE, **changes}


def models(layers: list[dict[str, Any]] | None = None, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"seed": 1, **changes}
    if layers is not None:
        body["layers"] = layers
    return body


@dataclass(frozen=True)
class Bad:
    """One bad request and what it must get."""

    id: str
    status: int
    body: Any = None  # serialised with json.dumps (allow_nan: NaN/Infinity literals go out)
    raw: bytes | None = None  # sent as is, instead of body
    method: str = "POST"
    path: str = "/v1/weights"
    params: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    fields: tuple[str, ...] = ()  # 422: each must be the field of one of the errors
    suggestion: str | None = None  # the nearest valid name the problem must suggest
    limited: bool = False  # send to the app with LIMITS
    limit: str | None = None  # 413: the variable the problem must name
    mentions: tuple[str, ...] = ()  # words the detail must contain (case-insensitive)


GET_W = "/v1/weights/normal"
SEED_MESSAGE = (
    "seed must be an integer from 0 to 18446744073709551615, as a JSON number or a string of "
    "decimal digits; got "
)
# pydantic's internals must never reach a client: union members' messages joined with "or",
# type and validator names, regular expressions.
INTERNALS = re.compile(
    r" or (Input should|This value)|expected form|instance of|extract fields|constrained-"
    r"|function-(wrap|after|before|plain)|Strict(Int|Bool|Str)|_type\b|Value error"
    r"|\[\^|\]\{|\{\d+,\d+\}|\^\[|\$'"
)
GQ = {"shape": "4,4", "seed": "1"}

# fmt: off
TABLE: list[Bad] = [
    # ---- wrong types -------------------------------------------------------------------
    Bad("in_features-string", 422, w(layer=dense(in_features="4")), fields=("layer.in_features",)),
    Bad("in_features-float", 422, w(layer=dense(in_features=4.5)), fields=("layer.in_features",)),
    Bad("in_features-null", 422, w(layer=dense(in_features=None)), fields=("layer.in_features",)),
    Bad("bias-string", 422, w(layer=dense(bias="yes")), fields=("layer.bias",)),
    Bad("layer-list", 422, w(layer=[4, 3]), fields=("layer",)),
    Bad("scheme-number", 422, w(scheme=42), fields=("scheme",)),
    Bad("scheme-object-without-name", 422, w(scheme={"mode": "fan_in"}), fields=("scheme",)),
    Bad("scheme-param-wrong-type", 422, w(scheme={"name": "he_normal", "a": "big"}),
        fields=("scheme.a",)),
    Bad("body-is-a-list", 422, [OK_BODY], fields=("body",)),
    Bad("body-is-a-string", 422, "hello", fields=("body",)),
    # ---- negative, zero and huge dims --------------------------------------------------
    Bad("in_features-zero", 422, w(layer=dense(in_features=0)), fields=("layer.in_features",)),
    Bad("out_features-negative", 422, w(layer=dense(out_features=-3)),
        fields=("layer.out_features",)),
    Bad("tensor-zero-dim", 422, w(layer={"kind": "tensor", "shape": [4, 0]}),
        fields=("layer.shape[1]",)),
    Bad("tensor-rank-9", 422, w(layer={"kind": "tensor", "shape": [1] * 9}),
        fields=("layer.shape",)),
    Bad("kernel-size-rank", 422, w(layer={**CONV2D, "kernel_size": [3, 3, 3]}),
        fields=("layer.kernel_size",)),
    Bad("huge-dims-over-int64", 413, w(layer=dense(in_features=10**30)),
        limit="WEIGHTINIT_MAX_ELEMENTS"),
    Bad("huge-dims", 413, w(layer=dense(in_features=1 << 21, out_features=1 << 20)),
        limit="WEIGHTINIT_MAX_ELEMENTS"),
    Bad("huge-dims-get", 413, method="GET", path=GET_W,
        params={"shape": "10000000,1000000", "seed": "1"}, limit="WEIGHTINIT_MAX_ELEMENTS"),
    Bad("huge-json-get", 413, method="GET", path=GET_W,
        params={"shape": "100000,100000", "seed": "1"}, limit="WEIGHTINIT_MAX_JSON_ELEMENTS"),
    Bad("get-shape-zero", 422, method="GET", path=GET_W, params={"shape": "4,0", "seed": "1"},
        fields=("shape",), mentions=("positive integers",)),
    Bad("get-shape-9-dims", 422, method="GET", path=GET_W,
        params={"shape": "1,1,1,1,1,1,1,1,1", "seed": "1"}, fields=("shape",),
        mentions=("at most 8",)),
    Bad("get-shard-count-0", 422, method="GET", path=GET_W,
        params={"shape": "4,4", "seed": "1", "shard": "0,0,0"}, fields=("shard",),
        mentions=("COUNT 1..1048576",)),
    Bad("get-shape-not-numbers", 422, method="GET", path=GET_W,
        params={"shape": "a,b", "seed": "1"}, fields=("shape",)),
    Bad("padding-idx-out-of-range", 422,
        w(layer={"kind": "embedding", "num_embeddings": 5, "embedding_dim": 2, "padding_idx": 5}),
        fields=("layer.padding_idx",)),
    # ---- NaN and infinities (Python's json writes the non-standard literals) ------------
    Bad("std-NaN", 422, w(scheme={"name": "normal", "std": float("nan")}), fields=("scheme.std",)),
    Bad("std-Infinity", 422, w(scheme={"name": "normal", "std": float("inf")}),
        fields=("scheme.std",)),
    Bad("value-minus-Infinity", 422, w(scheme={"name": "constant", "value": float("-inf")}),
        fields=("scheme.value",)),
    Bad("gain-1e400-overflows-to-inf", 422,
        raw=b'{"layer": {"kind": "tensor", "shape": [4, 4]}, "seed": 1,'
            b' "scheme": {"name": "orthogonal", "gain": 1e400}}',
        fields=("scheme.gain",)),
    Bad("fan_in-NaN", 422,
        w(layer={"kind": "tensor", "shape": [4, 4], "fan_in": float("nan"), "fan_out": 4}),
        fields=("layer.fan_in",)),
    Bad("get-std-nan", 422, method="GET", path=GET_W, params={**GQ, "std": "nan"},
        fields=("scheme.std",)),
    Bad("get-std-inf", 422, method="GET", path=GET_W, params={**GQ, "std": "inf"},
        fields=("scheme.std",)),
    Bad("constant-overflows-float16", 422,
        w(scheme={"name": "constant", "value": 1e300}, dtype="float16"), fields=("dtype",)),
    # JSON integers beyond float range (Python's json reads them exactly, as ints)
    Bad("std-integer-beyond-float-range", 422, w(scheme={"name": "normal", "std": 10**400}),
        fields=("scheme.std",)),
    Bad("gain-integer-beyond-float-range", 422,
        w(layer={"kind": "tensor", "shape": [4, 4]},
          scheme={"name": "orthogonal", "gain": -(10**400)}),
        fields=("scheme.gain",)),
    Bad("sparsity-integer-beyond-float-range", 422,
        w(scheme={"name": "sparse", "sparsity": 10**400}), fields=("scheme.sparsity",)),
    Bad("negative-slope-whose-square-overflows", 422, w(scheme={"name": "he_normal", "a": 1e200}),
        fields=("scheme.a",)),
    # ---- unknown names -----------------------------------------------------------------
    Bad("unknown-scheme", 422, w(scheme="he_norml"), fields=("scheme",), suggestion="he_normal"),
    Bad("unknown-scheme-in-object", 422, w(scheme={"name": "glorot_unifrom"}), fields=("scheme",),
        suggestion="glorot_uniform"),
    Bad("unknown-bias-scheme", 422, w(bias_scheme="zeroes"), fields=("bias_scheme",),
        suggestion="zeros"),
    Bad("unknown-kind", 422, w(layer=dense(kind="dence")), fields=("layer.kind",),
        suggestion="dense"),
    Bad("missing-kind", 422, w(layer={"in_features": 4, "out_features": 3}),
        fields=("layer.kind",)),
    Bad("unknown-parameter", 422, w(scheme={"name": "he_normal", "mod": "fan_out"}),
        fields=("scheme.mod",), suggestion="mode"),
    Bad("parameter-of-parameterless-scheme", 422, w(scheme={"name": "zeros", "value": 1}),
        fields=("scheme.value",)),
    Bad("unknown-choice", 422, w(scheme={"name": "he_normal", "mode": "fan_inn"}),
        fields=("scheme.mode",), suggestion="fan_in"),
    Bad("unknown-nonlinearity", 422, w(scheme={"name": "he_uniform", "nonlinearity": "rellu"}),
        fields=("scheme.nonlinearity",), suggestion="relu"),
    Bad("unknown-body-field", 422, w(colour="red"), fields=("colour",)),
    Bad("unknown-layer-field", 422, w(layer=dense(in_feature=4)), fields=("layer.in_feature",),
        suggestion="in_features", mentions=("dense layer", "out_features")),
    Bad("models-unknown-layer-field", 422,
        models([{"name": "a", "layer": {**DENSE, "out_feature": 3}}]), path="/v1/models",
        fields=("layers[0].layer.out_feature",), suggestion="out_features"),
    Bad("unknown-body-field-near", 422, w(shceme="zeros"), fields=("shceme",), suggestion="scheme"),
    Bad("query-parameter-in-body", 422, w(format="npy"), fields=("format",),
        mentions=("query parameter",)),
    Bad("unknown-dtype", 422, w(dtype="float33"), fields=("dtype",), suggestion="float32"),
    Bad("unknown-layout", 422, w(layout="tourch"), fields=("layout",), suggestion="torch"),
    Bad("unknown-algorithm", 422, w(algorithm="blocks-v2"), fields=("algorithm",),
        suggestion="blocks-v1"),
    Bad("unknown-format", 422, OK_BODY, params={"format": "safetensor"}, fields=("format",),
        suggestion="safetensors"),
    Bad("unknown-tensor", 422, OK_BODY, params={"format": "npy", "tensor": "wieght"},
        fields=("tensor",), suggestion="weight"),
    Bad("unknown-json-layout", 422, OK_BODY, params={"json_layout": "nestd"},
        fields=("json_layout",), suggestion="nested"),
    Bad("unknown-encoding", 422, OK_BODY, params={"encoding": "base46"}, fields=("encoding",),
        suggestion="base64"),
    Bad("models-npy-format", 422, models([{"name": "a", "layer": DENSE}]), path="/v1/models",
        params={"format": "npy"}, fields=("format",)),
    Bad("get-unknown-scheme-param", 422, method="GET", path="/v1/weights/orthogonal",
        params={**GQ, "gian": "2"}, fields=("scheme.gian",), suggestion="gain"),
    Bad("get-unknown-dtype", 422, method="GET", path=GET_W, params={**GQ, "dtype": "float23"},
        fields=("dtype",)),
    # ---- issue 12: people's spellings (kinds, query parameters, shapes) ------------------
    Bad("kind-linear", 422, w(layer=dense(kind="linear")), fields=("layer.kind",),
        suggestion="dense"),
    Bad("kind-torch-Linear", 422, w(layer=dense(kind="Linear")), fields=("layer.kind",),
        suggestion="dense", mentions=("torch.nn.Linear",)),
    Bad("kind-keras-Dense", 422, w(layer=dense(kind="Dense")), fields=("layer.kind",),
        suggestion="dense"),
    Bad("kind-torch-Conv2d", 422, w(layer={**CONV2D, "kind": "Conv2d"}), fields=("layer.kind",),
        suggestion="conv2d"),
    Bad("kind-keras-Conv2D", 422, w(layer={**CONV2D, "kind": "Conv2D"}), fields=("layer.kind",),
        suggestion="conv2d"),
    Bad("kind-flax-Embed", 422, w(layer={"kind": "Embed", "num_embeddings": 4}),
        fields=("layer.kind",), suggestion="embedding"),
    Bad("kind-LayerNorm", 422, w(layer={"kind": "LayerNorm", "normalized_shape": 4}),
        fields=("layer.kind",), suggestion="layer_norm"),
    Bad("kind-BatchNorm2d", 422, w(layer={"kind": "BatchNorm2d", "num_features": 4}),
        fields=("layer.kind",), suggestion="batch_norm"),
    Bad("query-formt", 422, OK_BODY, params={"formt": "npy"}, fields=("formt",),
        suggestion="format"),
    Bad("query-tensr-per-format", 422, OK_BODY, path="/v1/weights.npy",
        params={"tensr": "weight"}, fields=("tensr",), suggestion="tensor"),
    Bad("models-query-tensor", 422, models([{"name": "a", "layer": DENSE}]), path="/v1/models",
        params={"tensor": "a.weight"}, fields=("tensor",), mentions=("query parameter",)),
    Bad("digests-query-blocs", 422, OK_BODY, path="/v1/weights/digests",
        params={"blocs": "false"}, fields=("blocs",), suggestion="blocks"),
    Bad("schemes-query", 422, method="GET", path="/v1/schemes", params={"format": "json"},
        fields=("format",)),
    Bad("get-formt-is-a-query-parameter", 422, method="GET", path=GET_W,
        params={**GQ, "formt": "npy"}, fields=("formt",), suggestion="format",
        mentions=("query parameter",)),
    Bad("get-unknown-query-parameter", 422, method="GET", path=GET_W, params={**GQ, "xyz": "1"},
        fields=("xyz",), mentions=("std", "format")),
    Bad("get-shape-256x784", 422, method="GET", path=GET_W,
        params={"shape": "256x784", "seed": "1"}, fields=("shape",),
        mentions=("comma-separated", "256x784")),
    Bad("get-shape-negative", 422, method="GET", path=GET_W, params={"shape": "-4,4", "seed": "1"},
        fields=("shape",)),
    Bad("unknown-tensor-weigth", 422, OK_BODY, params={"format": "npy", "tensor": "weigth"},
        fields=("tensor",), suggestion="weight"),
    Bad("npy-of-two-tensors", 422, OK_BODY, params={"format": "npy"}, fields=("tensor",),
        mentions=("weight", "bias", "npz", "safetensors")),
    Bad("npy-operation-of-two-tensors", 422, OK_BODY, path="/v1/weights.npy",
        fields=("tensor",), mentions=("npz",)),
    Bad("npy-by-accept-of-two-tensors", 422, OK_BODY, headers={"Accept": "application/x-npy"},
        fields=("tensor",)),
    # ---- issue 12: framework arguments -----------------------------------------------------
    Bad("keras-units-under-torch", 422, w(layer={"kind": "dense", "in_features": 4, "units": 3}),
        fields=("layer.units",), mentions=("keras", "out_features")),
    Bad("flax-features-under-keras", 422,
        w(layer={"kind": "dense", "in_features": 4, "features": 3}, layout="keras"),
        fields=("layer.features",), mentions=("units",)),
    Bad("keras-dense-without-units", 422, w(layer={"kind": "dense", "in_features": 4},
        layout="keras"), fields=("layer.out_features",), mentions=("units",)),
    Bad("alias-and-field", 422, w(layer=dense(units=3), layout="keras"), fields=("layer.units",),
        mentions=("give one",)),
    Bad("keras-unknown-initializer", 422,
        w(layer={"kind": "dense", "in_features": 4, "units": 3,
                 "kernel_initializer": "glorot_unifrom"}, layout="keras"),
        fields=("layer.kernel_initializer",), suggestion="glorot_uniform"),
    Bad("keras-initializer-seed", 422,
        w(layer={"kind": "dense", "in_features": 4, "units": 3,
                 "kernel_initializer": {"class_name": "HeNormal", "config": {"seed": 7}}},
          layout="keras"),
        fields=("layer.kernel_initializer.config.seed",)),
    Bad("keras-initializer-wrong-type", 422,
        w(layer={"kind": "dense", "in_features": 4, "units": 3, "kernel_initializer": 5},
          layout="keras"),
        fields=("layer.kernel_initializer",)),
    Bad("layer-dtype-disagrees", 422, w(layer=dense(dtype="torch.float16")),
        fields=("layer.dtype",), mentions=("float16",)),
    Bad("keras-gru-reset-after-false", 422,
        w(layer={"kind": "gru", "input_size": 2, "units": 3, "reset_after": False},
          layout="keras"),
        fields=("layer.reset_after",)),
    Bad("keras-unit-forget-bias-random-bias", 422,
        w(layer={"kind": "lstm", "input_size": 2, "units": 3,
                 "bias_initializer": "random_normal"}, layout="keras"),
        fields=("layer.bias_initializer",), mentions=("unit_forget_bias",)),
    Bad("keras-moving-variance-zeros", 422,
        w(layer={"kind": "batch_norm", "num_features": 3,
                 "moving_variance_initializer": "zeros"}, layout="keras"),
        fields=("layer.moving_variance_initializer",)),
    Bad("flax-layer-norm-shift-without-scale", 422,
        w(layer={"kind": "layer_norm", "normalized_shape": 3, "use_scale": False},
          layout="jax"),
        fields=("layer.use_scale",)),
    # ---- scheme/layer mismatches ---------------------------------------------------------
    Bad("orthogonal-on-1d", 422, w(layer={"kind": "tensor", "shape": [8]}, scheme="orthogonal"),
        fields=("scheme",), mentions=("rank",)),
    Bad("dirac-on-dense", 422, w(scheme="dirac"), fields=("scheme",)),
    Bad("identity-on-3d", 422, w(layer={"kind": "tensor", "shape": [2, 2, 2]}, scheme="identity"),
        fields=("scheme",)),
    Bad("groups-not-dividing-channels", 422, w(layer={**CONV2D, "in_channels": 6, "groups": 4}),
        fields=("layer.groups",), mentions=("groups",)),
    Bad("sparse-on-4d", 422, w(layer=CONV2D, scheme={"name": "sparse", "sparsity": 0.5}),
        fields=("scheme",)),
    Bad("sparse-without-sparsity", 422, w(scheme="sparse"), fields=("scheme.sparsity",)),
    Bad("sparse-sparsity-above-1", 422, w(scheme={"name": "sparse", "sparsity": 1.5}),
        fields=("scheme.sparsity",)),
    Bad("delta-orthogonal-out-below-in", 422,
        w(layer={**CONV2D, "in_channels": 8, "out_channels": 4}, scheme="delta_orthogonal"),
        fields=("scheme",)),
    Bad("fan-scheme-on-fanless-tensor", 422,
        w(layer={"kind": "tensor", "shape": [5]}, scheme="he_normal"), fields=("scheme",)),
    Bad("numpy-legacy-truncated", 422, w(algorithm="numpy-legacy", scheme="he_truncated_normal"),
        fields=("algorithm",), mentions=("blocks-v1",)),
    Bad("numpy-legacy-orthogonal", 422,
        w(algorithm="numpy-legacy", layer={"kind": "tensor", "shape": [4, 4]}, scheme="orthogonal"),
        fields=("algorithm",)),
    Bad("bfloat16-npy", 422, w(dtype="bfloat16"), params={"format": "npy", "tensor": "weight"},
        fields=("dtype",),
        mentions=("safetensors",)),
    Bad("bfloat16-npz-operation", 422, w(dtype="bfloat16"), path="/v1/weights.npz",
        fields=("dtype",), mentions=("safetensors",)),
    Bad("bfloat16-npy-by-accept", 422, w(dtype="bfloat16"), headers={"Accept": "application/x-npy"},
        params={"tensor": "weight"}, fields=("dtype",), mentions=("safetensors",)),
    # ---- models --------------------------------------------------------------------------
    Bad("models-layers-and-mlp", 422,
        models([{"name": "a", "layer": DENSE}], mlp={"sizes": [4, 3]}), path="/v1/models",
        fields=("layers",)),
    Bad("models-neither-layers-nor-mlp", 422, models(), path="/v1/models", fields=("layers",)),
    Bad("models-duplicate-names", 422,
        models([{"name": "a", "layer": DENSE}, {"name": "a", "layer": DENSE}]), path="/v1/models",
        fields=("layers[1].name",)),
    Bad("models-bad-name", 422, models([{"name": "enc oder", "layer": DENSE}]), path="/v1/models",
        fields=("layers[0].name",)),
    Bad("models-layer-field", 422, models([{"name": "a", "layer": dense(out_features=0)}]),
        path="/v1/models", fields=("layers[0].layer.out_features",)),
    Bad("models-layer-scheme", 422,
        models([{"name": "a", "layer": DENSE, "scheme": {"name": "normal", "std": -1}}]),
        path="/v1/models", fields=("layers[0].scheme.std",)),
    Bad("mlp-one-size", 422, models(mlp={"sizes": [784]}), path="/v1/models",
        fields=("mlp.sizes",)),
    # ---- layer kinds and arguments a layout's framework lacks ------------------------------
    Bad("transformer-under-keras", 422,
        w(layer={"kind": "transformer_encoder_layer", "d_model": 8, "nhead": 2},
          layout="keras"),
        fields=("layer.kind",), mentions=("layout 'torch'",)),
    Bad("models-instance-norm-under-keras", 422,
        models([{"name": "a", "layer": DENSE},
                {"name": "n", "layer": {"kind": "instance_norm", "num_features": 4}}],
               layout="keras"),
        path="/v1/models", fields=("layers[1].layer.kind",), mentions=("'torch' or 'jax'",)),
    Bad("models-grouped-transposed-conv-under-jax", 422,
        models([{"name": "up", "layer": {"kind": "conv_transpose2d", "in_channels": 4,
                                         "out_channels": 4, "kernel_size": 3, "groups": 2}}],
               layout="jax"),
        path="/v1/models", fields=("layers[0].layer.groups",)),
    Bad("attention-keras-argument-under-torch", 422,
        w(layer={"kind": "multihead_attention", "embed_dim": 8, "num_heads": 2, "key_dim": 4}),
        fields=("layer.key_dim",), mentions=("layout 'keras'",)),
    Bad("lstm-proj-size-not-below-hidden", 422,
        w(layer={"kind": "lstm", "input_size": 4, "hidden_size": 3, "proj_size": 3}),
        fields=("layer.proj_size",), mentions=("smaller than hidden_size",)),
    # ---- seeds ---------------------------------------------------------------------------
    Bad("seed-missing", 422, w(seed=None), fields=("seed",)),
    # every other bad seed gets the one message naming the field and the fix
    *(
        Bad(f"seed-{name}", 422, {**OK_BODY, "seed": seed}, fields=("seed",),
            mentions=(SEED_MESSAGE,))
        for name, seed in (
            ("float-with-fraction", 1.5),
            ("float-huge", 1e30),
            ("bool", True),
            ("null", None),
            ("list", [1]),
            ("object", {"value": 1}),
            ("negative", -1),
            ("2**64", 2**64),
            ("string-2**64", str(2**64)),
            ("string-too-long", "123456789012345678901234"),
            ("string-letters", "abc"),
            ("string-empty", ""),
            ("string-space", " 1"),
            ("string-negative", "-5"),
            ("string-not-decimal", "0x10"),
            ("string-exponent", "1e3"),
        )
    ),
    Bad("seed-numpy-legacy-over-2**32", 422, w(seed=2**32, algorithm="numpy-legacy"),
        fields=("seed",), mentions=("an integer from 0 to 4294967295", "numpy-legacy")),
    *(
        Bad(f"get-seed-{name}", 422, method="GET", path=GET_W, params={"shape": "4", "seed": q},
            fields=("seed",), mentions=(SEED_MESSAGE,))
        for name, q in (("not-decimal", "x"), ("negative", "-1"), ("2**64", str(2**64)),
                        ("too-long", "1" * 30), ("empty", ""))
    ),
    Bad("get-seed-missing", 422, method="GET", path=GET_W, params={"shape": "4,4"},
        fields=("seed",)),
    # ---- malformed JSON, content types, Accept -------------------------------------------
    Bad("malformed-json", 400, raw=b'{"layer": {"kind": "dense"}, "seed": 1,'),
    Bad("malformed-json-single-quotes", 400, raw=b"{'seed': 1}"),
    Bad("malformed-json-not-utf8", 400, raw=b'{"seed": "\xff\xfe"}'),
    Bad("empty-body", 400, raw=b""),
    Bad("text-plain", 415, raw=json.dumps(OK_BODY).encode(),
        headers={"Content-Type": "text/plain"}),
    Bad("no-content-type", 415, raw=json.dumps(OK_BODY).encode(), headers={"Content-Type": ""}),
    Bad("form-encoded", 415, raw=b"seed=1",
        headers={"Content-Type": "application/x-www-form-urlencoded"}),
    Bad("per-format-op-text-plain", 415, raw=json.dumps(OK_BODY).encode(),
        path="/v1/weights.safetensors", headers={"Content-Type": "text/plain"}),
    Bad("models-text-plain", 415, raw=b"{}", path="/v1/models",
        headers={"Content-Type": "text/plain"}),
    Bad("accept-html", 406, OK_BODY, headers={"Accept": "text/html"}),
    Bad("accept-q0-only", 406, OK_BODY, headers={"Accept": "application/json;q=0"}),
    Bad("models-accept-npy", 406, models([{"name": "a", "layer": DENSE}]), path="/v1/models",
        headers={"Accept": "application/x-npy"}),
    Bad("per-format-op-accept-json", 406, OK_BODY, path="/v1/weights.npy",
        headers={"Accept": "application/json"}),
    Bad("get-accept-image", 406, method="GET", path=GET_W, params=GQ,
        headers={"Accept": "image/png"}),
    # ---- limits (the limited app) --------------------------------------------------------
    Bad("oversized-body", 413, raw=b'{"seed": 1, "x": "' + b"a" * (100 * 1024) + b'"}',
        limited=True, limit="WEIGHTINIT_MAX_BODY_BYTES"),
    Bad("max-elements", 413, w(layer=dense(in_features=200, out_features=100)), limited=True,
        params={"format": "npy"}, limit="WEIGHTINIT_MAX_ELEMENTS"),
    Bad("max-json-elements", 413, w(layer=dense(in_features=50, out_features=50)), limited=True,
        limit="WEIGHTINIT_MAX_JSON_ELEMENTS", mentions=("npy",)),
    Bad("max-matrix-elements", 413,
        w(layer={"kind": "tensor", "shape": [30, 30]}, scheme="orthogonal"), limited=True,
        params={"format": "npy"}, limit="WEIGHTINIT_MAX_MATRIX_ELEMENTS"),
    Bad("max-layers", 413, models([{"name": f"l{i}", "layer": DENSE} for i in range(4)]),
        path="/v1/models", limited=True, limit="WEIGHTINIT_MAX_LAYERS"),
    Bad("max-layers-mlp", 413, models(mlp={"sizes": [2, 2, 2, 2, 2]}), path="/v1/models",
        limited=True, limit="WEIGHTINIT_MAX_LAYERS"),
    Bad("max-elements-get", 413, method="GET", path=GET_W,
        params={"shape": "200,100", "seed": "1", "format": "npy"}, limited=True,
        limit="WEIGHTINIT_MAX_ELEMENTS"),
    # ---- routes, path names, methods -----------------------------------------------------
    Bad("unknown-route", 404, method="GET", path="/v2/weights"),
    Bad("unknown-route-post", 404, OK_BODY, path="/v1/weight"),
    Bad("unknown-scheme-in-scheme-path", 404, method="GET", path="/v1/schemes/he_norml",
        suggestion="he_normal"),
    Bad("unknown-scheme-in-weights-path", 404, method="GET", path="/v1/weights/glorot_unifrom",
        params=GQ, suggestion="glorot_uniform"),
    Bad("get-on-post-route", 405, method="GET", path="/v1/weights"),
    # found by schemathesis: the GET shortcut took 'digests' for a scheme name (a 422)
    Bad("get-weights-digests", 405, method="GET", path="/v1/weights/digests"),
    Bad("tensor-axes-too-many", 422,
        w(layer={"kind": "tensor", "shape": [3, 4], "in_axes": list(range(9)), "out_axes": 0}),
        fields=("layer.in_axes",), mentions=("list of 1 to 8 axes",)),
    Bad("delete-schemes", 405, method="DELETE", path="/v1/schemes"),
    Bad("put-models", 405, models(), method="PUT", path="/v1/models"),
    Bad("post-healthz", 405, OK_BODY, path="/healthz"),
]
# fmt: on


def _ids() -> list[str]:
    ids = [row.id for row in TABLE]
    assert len(ids) == len(set(ids)), "row ids must be unique"
    return ids


@pytest.fixture(scope="module")
def limited() -> Iterator[ApiClient]:
    api = ApiClient(LIMITS)
    yield api
    api.close()


def send(api: ApiClient, row: Bad) -> Any:
    headers = dict(row.headers)
    content: bytes | None = row.raw
    if content is None and (row.body is not None or row.method in ("POST", "PUT")):
        content = json.dumps(
            row.body
        ).encode()  # allow_nan: NaN/Infinity literals as Python writes them
    if content is not None and "Content-Type" not in headers:
        headers["Content-Type"] = "application/json"
    request = api.build(row.method, row.path, params=row.params, content=content, headers=headers)
    if headers.get("Content-Type") == "":
        del request.headers["content-type"]
    return api.send(request)


def test_the_table_has_at_least_45_rows_covering_every_status() -> None:
    assert len(TABLE) >= 45
    assert {row.status for row in TABLE} >= {400, 404, 405, 406, 413, 415, 422}
    assert all(row.fields for row in TABLE if row.status == 422)


@pytest.mark.parametrize("row", TABLE, ids=_ids())
def test_bad_request_gets_its_documented_problem(
    client: ApiClient, limited: ApiClient, row: Bad
) -> None:
    response = send(limited if row.limited else client, row)
    assert response.status_code < 500, response.text
    assert response.status_code == row.status, (response.status_code, response.text[:1500])
    body = problem(response)
    text = json.dumps(body)
    if row.status == 422:
        errors = body.get("errors")
        assert isinstance(errors, list) and errors, body
        for error in errors:
            assert isinstance(error.get("field"), str) and error["field"], error
            assert isinstance(error.get("message"), str) and error["message"], error
        got = [e["field"] for e in errors]
        for expected in row.fields:
            assert expected in got, f"expected an error on {expected!r}, got {got}: {text}"
    if row.suggestion is not None:
        suggested = body.get("suggestion") == row.suggestion or (
            f"Did you mean '{row.suggestion}'" in text
            or f'Did you mean \\"{row.suggestion}\\"' in text
        )
        assert suggested, f"no suggestion of {row.suggestion!r}: {text}"
    if row.status == 413:
        assert body.get("limit") == row.limit, body
        assert isinstance(body.get("value"), int) and isinstance(body.get("requested"), int), body
        assert body["requested"] > body["value"], body
        assert row.limit is not None and row.limit in body["detail"]
    if row.status == 405:
        assert response.headers.get("allow"), "a 405 names the allowed methods (RFC 9110)"
    for word in row.mentions:
        assert word.lower() in body["detail"].lower(), (word, body["detail"])
    messages = [body["detail"], *(e.get("message", "") for e in body.get("errors", []))]
    for message in messages:
        assert not INTERNALS.search(message), message


# What a message for people must not contain: regex syntax (a pattern instead of the form in
# words) and pydantic's internals (its phrases, type names and union tags). A caret before a
# digit is an exponent (O(n^3)), not an anchor.
REGEX_FRAGMENTS = re.compile(
    r"\^(?![0-9])|\$|\\[dswDSWbx]|\(\?|\[\^?[^\]]*\w-\w[^\]]*\]|\.[*+]|\][*+{]"
)
PYDANTIC_WORDS = (
    "Input should be",
    "Field required",
    "Extra inputs",
    "after validation",
    "Value error,",
    "Strict",
    "constrained-",
    "function-before",
    "function-after",
    "function-wrap",
    "model_type",
    "model_attributes_type",
    "dict_type",
    "literal_error",
    "union_tag",
    "pydantic",
    "[type=",
)


def test_the_regex_and_pydantic_scan_catches_what_it_looks_for() -> None:
    for text in ("^[0-9]+(,[0-9]+)*$", r"\d+", "(?:a|b)", "[A-Za-z_]"):
        assert REGEX_FRAGMENTS.search(text), text
    for text in ("layers[0].name", "shape [8] (rank 1)", "e.g. 0 or -2,-1", "costs O(n^3)"):
        assert not REGEX_FRAGMENTS.search(text), text


@pytest.mark.parametrize("row", TABLE, ids=_ids())
def test_no_message_shows_a_regex_or_pydantic_internals(
    client: ApiClient, limited: ApiClient, row: Bad
) -> None:
    body = problem(send(limited if row.limited else client, row))
    messages = [body["detail"], *(e["message"] for e in body.get("errors") or [])]
    for message in messages:
        assert not REGEX_FRAGMENTS.search(message), message
        for word in PYDANTIC_WORDS:
            assert word not in message, (word, message)


def test_the_server_is_healthy_after_the_table(client: ApiClient, limited: ApiClient) -> None:
    for api in (client, limited):
        for row in TABLE:  # the whole table again, back to back (statuses checked above)
            if row.limited == (api is limited):
                send(api, row)
        assert api.get("/healthz").status_code == 200
        assert api.get("/readyz").status_code == 200
        normal = api.post("/v1/weights", json=OK_BODY, params={"format": "npy", "tensor": "weight"})
        assert normal.status_code == 200, normal.text
        assert api.post("/v1/weights", json=OK_BODY).status_code == 200


def test_limits_pass_just_under_the_limit(limited: ApiClient) -> None:
    """The limited app serves what is within its limits (so the 413s are about the limits)."""
    npy = limited.post(
        "/v1/weights",
        json=w(layer=dense(in_features=50, out_features=50)),
        params={"format": "npy", "tensor": "weight"},
    )
    assert npy.status_code == 200, npy.text  # 2550 elements: under max_elements, npy not JSON
    square = limited.post(
        "/v1/weights", json=w(layer={"kind": "tensor", "shape": [20, 20]}, scheme="orthogonal")
    )
    assert square.status_code == 200, square.text  # 400 elements: exactly max_matrix_elements
    three = limited.post(
        "/v1/models", json=models([{"name": f"l{i}", "layer": DENSE} for i in range(3)])
    )
    assert three.status_code == 200, three.text


# A request whose size is only known after expanding the layer (num_layers multiplies the
# tensor count) must still be refused by the limits, quickly and without exhausting memory.
# It runs in a child process with a memory cap and a timeout: if the app expands the layer
# before checking the limits, the child dies or times out instead of the test run.
HUGE_NUM_LAYERS = [
    # found by schemathesis: this request exhausted the machine's memory (the test run was killed)
    {
        "layer": {
            "kind": "gru",
            "num_layers": 2**63 - 1,
            "bidirectional": True,
            "bias": False,
            "input_size": 129659,
            "hidden_size": 29230,
        },
        "seed": 721,
    },
    {"layer": {"kind": "lstm", "num_layers": 10**9, "input_size": 1, "hidden_size": 1}, "seed": 1},
    {"layer": {"kind": "rnn", "num_layers": 10**8, "input_size": 2, "hidden_size": 2}, "seed": 1},
]
CHILD_TIMEOUT = 20
_CHILD = r"""
import asyncio, json, sys
import httpx
from app.api.settings import Settings
from app.main import create_app

async def main() -> None:
    app = create_app(Settings())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        for body in json.loads(sys.argv[1]):
            response = await client.post("/v1/weights.npy", json=body)
            print(json.dumps([response.status_code, response.json().get("limit")]), flush=True)

asyncio.run(main())
"""


def _cap_memory() -> None:
    cap = 3 << 29  # 1.5 GiB of address space: plenty for the app, not for a blow-up
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))


def test_huge_num_layers_is_refused_by_the_limits_without_exhausting_memory() -> None:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    try:
        child = subprocess.run(
            [sys.executable, "-c", _CHILD, json.dumps(HUGE_NUM_LAYERS)],
            cwd=Path(__file__).resolve().parents[2],
            env=env,
            capture_output=True,
            text=True,
            timeout=CHILD_TIMEOUT,
            preexec_fn=_cap_memory,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(
            f"no answer within 60 s (the layer is expanded before the limits?): {exc.stdout}"
        )
    answers = [json.loads(line) for line in child.stdout.splitlines() if line.startswith("[")]
    assert child.returncode == 0 and len(answers) == len(HUGE_NUM_LAYERS), (
        child.returncode,
        child.stdout[-2000:],
        child.stderr[-2000:],
    )
    # the element count or the stack depth, whichever is checked over first
    assert answers == [
        [413, "WEIGHTINIT_MAX_ELEMENTS"],
        [413, "WEIGHTINIT_MAX_LAYERS"],
        [413, "WEIGHTINIT_MAX_LAYERS"],
    ]
