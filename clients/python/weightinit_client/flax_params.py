"""A Flax (linen) variables tree from one ``POST /v1/models`` request (jax and flax are
imported only here, when called).

:func:`init_flax_params` reads the tree's structure without computing anything
(``jax.eval_shape(model.init, ...)``), records which module owns each parameter (a method
interceptor sees every module called during ``init``, with its path and attributes), describes
each known module as one layer of the ``jax`` layout named by its path (``Block_0/Dense_1``),
asks the service for every tensor in safetensors and puts each back at its path: ``{"params":
{...}}``, plus ``"batch_stats"`` for BatchNorm, as ``model.init`` returns it.

With ``algorithm="jax-threefry"`` and no scheme the tree is ``model.init(jax.random.key(seed),
*inputs)``: bit for bit for every exact tensor, within the service's ``max_ulp`` for the
approximate ones (orthogonal recurrent kernels). The service derives each parameter's key as
Flax does, from the module path and the parameter's position in its module.

Known modules (one layer each; their own submodules are part of it): ``Dense``,
``DenseGeneral`` with one input and one feature axis, ``Conv`` (1-3 spatial dims, groups),
``ConvTranspose``, ``Embed``, ``LayerNorm``, ``RMSNorm``, ``GroupNorm``, ``InstanceNorm``,
``BatchNorm``, ``LSTMCell``, ``OptimizedLSTMCell``, ``GRUCell``, ``SimpleCell``,
``MultiHeadDotProductAttention`` (and its subclasses ``MultiHeadAttention``,
``SelfAttention``; not ``normalize_qk``) and ``PReLU``. Containers (``nn.Sequential``, your
own modules whose parameters all live in submodules, and the lifted ``nn.RNN``,
``nn.Bidirectional``, ``nn.remat``) are walked through. A module that owns
parameters and is not known is refused, naming it, under every algorithm: its initial values
are whatever its own code draws. Under ``jax-threefry`` with no scheme, a known module built
with a non-default initializer (``kernel_init=...``) is refused too, since the service
reproduces Flax's defaults; pass ``scheme=`` to replace every initializer instead.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable, Mapping
from typing import Any

from ._core import SchemeSpec
from .client import Client

Path = tuple[str, ...]
Spec = Callable[[Any, dict[Path, Any]], dict[str, Any]]


def _import(name: str) -> Any:
    try:
        return importlib.import_module(name)  # an optional extra: typed as Any here
    except ImportError as exc:  # pragma: no cover - exercised in an environment without flax
        raise ImportError(
            "init_flax_params needs JAX and Flax: pip install jax flax (the SDK itself does not)."
        ) from exc


class UnsupportedModuleError(TypeError):
    """A module owns parameters this adapter cannot describe to the service."""


def _shape(leaves: dict[Path, Any], name: str) -> tuple[int, ...]:
    return tuple(int(n) for n in leaves[(name,)].shape)


def _dense(m: Any, leaves: dict[Path, Any]) -> dict[str, Any]:
    kernel = _shape(leaves, "kernel")
    if len(kernel) != 2:
        raise UnsupportedModuleError(
            f"{type(m).__name__} with kernel shape {list(kernel)}: only one input and one "
            "feature axis (a 2-D kernel) map to a dense layer"
        )
    return {
        "kind": "dense",
        "in_features": kernel[0],
        "out_features": kernel[1],
        "bias": ("bias",) in leaves,
    }


def _conv(transposed: bool) -> Spec:
    def spec(m: Any, leaves: dict[Path, Any]) -> dict[str, Any]:
        kernel = _shape(leaves, "kernel")
        dims = len(kernel) - 2
        if not 1 <= dims <= 3:
            raise UnsupportedModuleError(f"{type(m).__name__} with {dims} spatial dimensions")
        groups = 1 if transposed else int(m.feature_group_count)
        return {
            "kind": f"conv{'_transpose' if transposed else ''}{dims}d",
            "in_channels": kernel[-2] * groups,
            "out_channels": kernel[-1],
            "kernel_size": list(kernel[:-2]),
            "groups": groups,
            "bias": ("bias",) in leaves,
        }

    return spec


def _embed(m: Any, leaves: dict[Path, Any]) -> dict[str, Any]:
    n, d = _shape(leaves, "embedding")
    return {"kind": "embedding", "num_embeddings": n, "embedding_dim": d}


def _affine(m: Any, leaves: dict[Path, Any]) -> tuple[bool, bool]:
    scale, bias = ("scale",) in leaves, ("bias",) in leaves
    if bias and not scale:
        raise UnsupportedModuleError(
            f"{type(m).__name__} with use_scale=False and use_bias=True (a shift without a scale)"
        )
    return scale, bias


def _features(leaves: dict[Path, Any]) -> tuple[int, ...]:
    return _shape(leaves, "scale" if ("scale",) in leaves else "bias")


def _layer_norm(m: Any, leaves: dict[Path, Any]) -> dict[str, Any]:
    scale, bias = _affine(m, leaves)
    shape = list(_features(leaves))
    return {"kind": "layer_norm", "normalized_shape": shape, "elementwise_affine": scale,
            "bias": bias}  # fmt: skip


def _rms_norm(m: Any, leaves: dict[Path, Any]) -> dict[str, Any]:
    shape = list(_shape(leaves, "scale"))
    return {"kind": "rms_norm", "normalized_shape": shape, "elementwise_affine": True}


def _both(m: Any, leaves: dict[Path, Any]) -> int:
    scale, bias = _affine(m, leaves)
    if scale != bias:
        raise UnsupportedModuleError(
            f"{type(m).__name__} with use_scale != use_bias: the layer has both or neither"
        )
    (channels,) = _features(leaves)
    return channels


def _group_norm(m: Any, leaves: dict[Path, Any]) -> dict[str, Any]:
    channels = _both(m, leaves)
    groups = m.num_groups if m.num_groups is not None else channels // m.group_size
    return {"kind": "group_norm", "num_groups": int(groups), "num_channels": channels}


def _instance_norm(m: Any, leaves: dict[Path, Any]) -> dict[str, Any]:
    return {"kind": "instance_norm", "num_features": _both(m, leaves), "affine": True}


def _batch_norm(m: Any, leaves: dict[Path, Any]) -> dict[str, Any]:
    if ("scale",) in leaves or ("bias",) in leaves:
        channels = _both(m, leaves)
    else:
        (channels,) = _shape(leaves, "mean")
    affine = ("scale",) in leaves
    return {"kind": "batch_norm", "num_features": channels, "affine": affine}


def _cell(kind: str, first: str) -> Spec:
    def spec(m: Any, leaves: dict[Path, Any]) -> dict[str, Any]:
        n_in, hidden = (int(n) for n in leaves[(first, "kernel")].shape)
        return {"kind": kind, "input_size": n_in, "hidden_size": hidden}

    return spec


def _attention(m: Any, leaves: dict[Path, Any]) -> dict[str, Any]:
    def kernel(name: str) -> tuple[int, ...]:
        return tuple(int(n) for n in leaves[(name, "kernel")].shape)

    embed, heads, head_dim = kernel("query")
    return {
        "kind": "multihead_attention",
        "embed_dim": embed,
        "num_heads": heads,
        "kdim": kernel("key")[0],
        "vdim": kernel("value")[0],
        "bias": ("query", "bias") in leaves,
        "qkv_features": heads * head_dim,
        "out_features": kernel("out")[-1],
    }


def _layer_specs() -> list[tuple[Any, Spec]]:
    """(Flax class, its layer spec): one literal row per supported module type."""
    nn = _import("flax.linen")
    return [
        (nn.Dense, _dense),
        (nn.DenseGeneral, _dense),
        (nn.Conv, _conv(transposed=False)),
        (nn.ConvTranspose, _conv(transposed=True)),
        (nn.Embed, _embed),
        (nn.LayerNorm, _layer_norm),
        (nn.RMSNorm, _rms_norm),
        (nn.GroupNorm, _group_norm),
        (nn.InstanceNorm, _instance_norm),
        (nn.BatchNorm, _batch_norm),
        (nn.OptimizedLSTMCell, _cell("lstm", "ii")),
        (nn.LSTMCell, _cell("lstm", "ii")),
        (nn.GRUCell, _cell("gru", "ir")),
        (nn.SimpleCell, _cell("rnn", "i")),
        (nn.MultiHeadDotProductAttention, _attention),
        (nn.PReLU, lambda m, leaves: {"kind": "prelu"}),
    ]


def _leaves(tree: Any, prefix: Path = ()) -> dict[Path, Any]:
    """Every array of a nested mapping, by its path."""
    if not isinstance(tree, Mapping):
        return {prefix: tree}
    out: dict[Path, Any] = {}
    for name, value in tree.items():
        out.update(_leaves(value, (*prefix, str(name))))
    return out


def _name(path: Path) -> str:
    return "/".join(path) or "<the model itself>"


def _custom_initializers(module: Any) -> list[str]:
    """The ``*_init`` attributes of ``module`` that are not its class's defaults."""
    custom = []
    for f in dataclasses.fields(module):
        if (
            not f.name.endswith("_init")
            or f.name == "carry_init"
            or f.default is dataclasses.MISSING
        ):
            continue
        value = getattr(module, f.name, f.default)
        if value is f.default:
            continue
        if isinstance(value, int | float) and value == f.default:
            continue
        custom.append(f.name)
    return custom


def _structure(
    model: Any, inputs: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> tuple[Any, dict[Path, Any]]:
    """The variables tree of ``model.init`` as shapes, and every module ``init`` calls."""
    jax = _import("jax")
    nn = _import("flax.linen")
    modules: dict[Path, Any] = {}

    def record(next_fun: Any, args: Any, call_kwargs: Any, context: Any) -> Any:
        module = context.module
        if module.scope is not None:
            modules.setdefault(tuple(module.scope.path), module)
        return next_fun(*args, **call_kwargs)

    def init(key: Any, *args: Any) -> Any:
        with nn.intercept_methods(record):
            return model.init(key, *args, **kwargs)

    shapes = jax.eval_shape(init, jax.random.key(0), *inputs)
    return shapes, modules


def _layer_paths(modules: dict[Path, Any], specs: list[tuple[Any, Spec]]) -> list[Path]:
    """The paths of the known modules that are not inside another known module."""
    paths: list[Path] = []
    for path, module in modules.items():  # in call order: a parent before its children
        if any(path[: len(p)] == p for p in paths):
            continue  # a submodule of a layer (LSTMCell's Denses, attention's DenseGenerals)
        if any(isinstance(module, cls) for cls, _ in specs):
            paths.append(path)
    return paths


def _owned(
    leaves: dict[Path, Any], paths: list[Path], modules: dict[Path, Any], names: str
) -> dict[Path, dict[Path, Any]]:
    """layer path -> {path inside it: shape}; refuses a leaf no known module holds."""
    owned: dict[Path, dict[Path, Any]] = {}
    for (collection, *rest), leaf in leaves.items():
        full = tuple(rest)
        layer = next((p for p in paths if full[: len(p)] == p), None)
        if layer is None:
            owner = full[:-1]
            kind = type(modules[owner]).__name__ if owner in modules else "an unknown module"
            raise UnsupportedModuleError(
                f"{_name(owner)}: weightinit does not know {kind}, which owns {collection} "
                f"{full[-1]!r}; supported modules: {names}"
            )
        owned.setdefault(layer, {})[full[len(layer) :]] = leaf
    return owned


def _describe(path: Path, module: Any, spec: Spec, leaves: dict[Path, Any], check: bool) -> Any:
    """One layer of the request for the known module at ``path``."""
    if any("/" in p or "." in p for p in path):
        raise UnsupportedModuleError(
            f"{_name(path)}: module names with '/' or '.' cannot be told apart from the path"
        )
    custom = _custom_initializers(module) if check else []
    if custom:
        raise UnsupportedModuleError(
            f"{_name(path)}: {type(module).__name__} has a non-default {', '.join(custom)}; "
            "algorithm jax-threefry reproduces Flax's default initializers only: drop it, or "
            "pass scheme= (and bias_scheme=) to replace every initializer with the service's"
        )
    try:
        layer = spec(module, leaves)
    except (KeyError, ValueError) as exc:
        raise UnsupportedModuleError(
            f"{_name(path)}: {type(module).__name__} with parameters "
            f"{sorted('/'.join(p) for p in leaves)} is not a configuration the service knows"
        ) from exc
    return {"name": "/".join(path), "layer": layer}


def flax_layers(
    model: Any, *inputs: Any, check_defaults: bool = False, **init_kwargs: Any
) -> tuple[list[dict[str, Any]], Any]:
    """The ``layers`` of a /v1/models body (jax layout) describing ``model`` and the shapes
    of its variables tree (``jax.eval_shape(model.init, key, *inputs, **init_kwargs)``).

    A layer is named by its module path (``Block_0/Dense_1``); a model that is itself one
    known module is one layer named ``""`` (sent to /v1/weights). ``check_defaults`` refuses
    known modules built with a non-default initializer."""
    shapes, modules = _structure(model, inputs, init_kwargs)
    specs = _layer_specs()
    paths = _layer_paths(modules, specs)
    names = ", ".join(cls.__name__ for cls, _ in specs)
    owned = _owned(_leaves(shapes), paths, modules, names)
    layers = []
    for path in paths:
        if path in owned:  # else a layer without parameters (LayerNorm(use_scale=False, ...))
            module = modules[path]
            spec = next(spec for cls, spec in specs if isinstance(module, cls))
            layers.append(_describe(path, module, spec, owned[path], check_defaults))
    return layers, shapes


def _dtype(leaves: dict[Path, Any]) -> str:
    found = {str(leaf.dtype) for leaf in leaves.values()}
    if len(found) > 1:
        raise ValueError(f"the model mixes parameter dtypes {sorted(found)}; use one param_dtype")
    return found.pop() if found else "float32"


def _fetch(layers: list[dict[str, Any]], client: Client, options: dict[str, Any]) -> Any:
    """Every tensor by its tree path (without the collection), from one request."""
    root = len(layers) == 1 and layers[0]["name"] == ""
    if root:  # the model is one known module: /v1/weights, names without a prefix
        arrays = client.weights(layers[0]["layer"], **options)
    else:
        arrays = client.model(layers, **options) if layers else {}
    by_path: dict[Path, Any] = {}
    for name, array in arrays.items():
        # layer names hold no ".": the first one ends the layer's name (none for /v1/weights)
        layer, inner = ("", name) if root else name.split(".", 1)
        by_path[tuple(p for p in (*layer.split("/"), *inner.split(".")) if p)] = array
    return by_path


def _tree(leaves: dict[Path, Any], by_path: dict[Path, Any]) -> dict[str, Any]:
    """The variables tree: each served array at its path, as a jax array of the leaf's dtype."""
    jnp = _import("jax.numpy")
    expected = {tuple(rest): collection for collection, *rest in leaves}
    if len(expected) != len(leaves) or set(by_path) != set(expected):
        missing = sorted("/".join(p) for p in set(expected) - set(by_path))
        extra = sorted("/".join(p) for p in set(by_path) - set(expected))
        raise ValueError(
            f"the service's tensors differ from the model's: missing {missing}, extra {extra}"
        )
    out: dict[str, Any] = {}
    for path, leaf in leaves.items():
        value = by_path[path[1:]]
        if tuple(value.shape) != tuple(leaf.shape):
            raise ValueError(
                f"{'/'.join(path)}: the service sent shape {list(value.shape)}, the model has "
                f"{list(leaf.shape)}"
            )
        node = out
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = jnp.asarray(value, dtype=leaf.dtype)
    return out


def init_flax_params(
    model: Any,
    example_input: Any,
    *more_inputs: Any,
    seed: int | str,
    scheme: SchemeSpec = None,
    bias_scheme: SchemeSpec = None,
    algorithm: str = "jax-threefry",
    client: Client | None = None,
    url: str | None = None,
    **init_kwargs: Any,
) -> dict[str, Any]:
    """The variables of ``model.init(key, example_input, *more_inputs, **init_kwargs)``
    (``{"params": {...}}``, plus ``"batch_stats"`` with BatchNorm) filled from one request.

    ``algorithm="jax-threefry"`` (the default) with no ``scheme`` reproduces
    ``model.init(jax.random.key(seed), ...)``; ``blocks-v1`` and the others fill the same tree
    with the service's own values. A recurrent cell takes its carry first:
    ``init_flax_params(cell, carry, x, seed=0)``. Other keyword arguments (e.g.
    ``train=False``) go to ``init`` as they are (not traced).
    """
    check = algorithm == "jax-threefry" and scheme is None and bias_scheme is None
    layers, shapes = flax_layers(
        model, example_input, *more_inputs, check_defaults=check, **init_kwargs
    )
    leaves = _leaves(shapes)
    options: dict[str, Any] = {
        "seed": seed,
        "scheme": scheme,
        "bias_scheme": bias_scheme,
        "dtype": _dtype(leaves),
        "layout": "jax",
        "algorithm": algorithm,
        "format": "safetensors",
    }
    owned = client is None
    if client is None:
        client = Client(url)
    try:
        by_path = _fetch(layers, client, options)
    finally:
        if owned:
            client.close()
    return _tree(leaves, by_path)
