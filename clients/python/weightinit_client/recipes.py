"""Fill a model from a name -> shape map (torch ``state_dict()``, a Keras/Flax parameter tree).

One ``POST /v1/models`` call: every parameter becomes a layer ``{"kind": "tensor", "shape": ...}``
named after the parameter's full path. The service names a tensor layer's only tensor
``<layer name>.weight``, so the trailing ``.weight`` it appends is stripped again: a parameter
named ``fc.weight`` is sent as layer ``fc.weight`` and comes back as ``fc.weight.weight`` ->
``fc.weight``; ``fc.bias`` comes back as ``fc.bias.weight`` -> ``fc.bias``. Every parameter
is thus a distinct layer and a distinct name, and the mapping is exact (no collisions).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal

from ._core import Arrays, SchemeSpec
from .client import Client

_SUFFIX = ".weight"


def shapes_to_layers(
    shapes: Mapping[str, tuple[int, ...]],
    scheme_for: Callable[[str, tuple[int, ...]], SchemeSpec] | None = None,
    *,
    separator: str = ".",
) -> list[dict[str, Any]]:
    """The ``layers`` of a /v1/models body, one tensor layer per parameter, in map order.

    ``separator`` joins nested keys (Flax's ``params/Dense_0/kernel`` paths use ``/``, which
    layer names allow as they are). ``scheme_for(name, shape)`` may pick a per-parameter
    scheme (e.g. ``zeros`` for biases); ``None`` uses the request's ``scheme``.
    """
    layers: list[dict[str, Any]] = []
    for name, shape in shapes.items():
        item: dict[str, Any] = {
            "name": name,
            "layer": {"kind": "tensor", "shape": [int(d) for d in shape]},
        }
        if scheme_for is not None:
            chosen = scheme_for(name, tuple(shape))
            if chosen is not None:
                item["scheme"] = chosen if isinstance(chosen, str) else dict(chosen)
        layers.append(item)
    return layers


def strip_names(arrays: Arrays, shapes: Mapping[str, tuple[int, ...]]) -> Arrays:
    """Rename ``<name>.weight`` back to ``<name>``, in the order of ``shapes``."""
    out: Arrays = {}
    for name, shape in shapes.items():
        array = arrays[name + _SUFFIX]
        if tuple(array.shape) != tuple(shape):
            raise ValueError(f"{name}: got shape {array.shape}, expected {tuple(shape)}")
        out[name] = array
    return out


def fill_from_shapes(
    client: Client,
    shapes: Mapping[str, tuple[int, ...]],
    *,
    seed: int | str,
    scheme: SchemeSpec = None,
    scheme_for: Callable[[str, tuple[int, ...]], SchemeSpec] | None = None,
    dtype: str = "float32",
    layout: str = "torch",
    algorithm: str = "blocks-v1",
    format: Literal["npz", "safetensors"] = "safetensors",
) -> Arrays:
    """Initialised arrays named exactly as ``shapes`` names them, from one /v1/models call.

    ``layout`` tells the service how to read fans from each shape (torch ``(out, in, *k)``,
    keras/jax ``(*k, in, out)``); use ``scheme_for`` for biases or norms.
    """
    arrays = client.model(
        shapes_to_layers(shapes, scheme_for),
        seed=seed,
        scheme=scheme,
        dtype=dtype,
        layout=layout,
        algorithm=algorithm,
        format=format,
    )
    return strip_names(arrays, shapes)
