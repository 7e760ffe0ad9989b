"""Python client for the weightinit service: initialised NN weights, byte for byte.

>>> from weightinit_client import Client
>>> with Client("http://127.0.0.1:8000") as wi:  # doctest: +SKIP
...     w = wi.weights({"kind": "dense", "in_features": 784, "out_features": 256},
...                    scheme="he_normal", seed=42)

The public names below are imported from their modules on first use (PEP 562), so that
importing the package, or running the ``weightinit`` command line (:mod:`.cli`) for its
``--help``, does not load numpy and httpx.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._core import DEFAULT_URL, Arrays, WeightinitError, parse, seed_value
    from .audit import safetensors_stats, state_stats, tensor_stats
    from .client import AsyncClient, Client, Progress, models_body, weights_body, write_chunks
    from .flax_params import flax_layers, init_flax_params
    from .recipes import fill_from_shapes, shapes_to_layers, strip_names
    from .torch_modules import init_torch_module, torch_layers

__all__ = [
    "DEFAULT_URL",
    "Arrays",
    "AsyncClient",
    "Client",
    "Progress",
    "WeightinitError",
    "fill_from_shapes",
    "flax_layers",
    "init_flax_params",
    "init_torch_module",
    "models_body",
    "parse",
    "safetensors_stats",
    "seed_value",
    "shapes_to_layers",
    "state_stats",
    "strip_names",
    "tensor_stats",
    "torch_layers",
    "weights_body",
    "write_chunks",
]

# The module of each public name (the TYPE_CHECKING imports above, for type checkers).
_MODULES = {
    "DEFAULT_URL": "._core",
    "Arrays": "._core",
    "WeightinitError": "._core",
    "parse": "._core",
    "seed_value": "._core",
    "safetensors_stats": ".audit",
    "state_stats": ".audit",
    "tensor_stats": ".audit",
    "AsyncClient": ".client",
    "Client": ".client",
    "Progress": ".client",
    "models_body": ".client",
    "weights_body": ".client",
    "write_chunks": ".client",
    "fill_from_shapes": ".recipes",
    "shapes_to_layers": ".recipes",
    "strip_names": ".recipes",
    "flax_layers": ".flax_params",
    "init_flax_params": ".flax_params",  # imports jax and flax when called
    "init_torch_module": ".torch_modules",  # imports torch when called
    "torch_layers": ".torch_modules",
}


def __getattr__(name: str) -> Any:
    """A public name, imported from its module the first time it is asked for."""
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # later lookups do not come here again
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
