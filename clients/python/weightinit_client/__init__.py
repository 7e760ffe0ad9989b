"""Python client for the weightinit service: initialised NN weights, byte for byte.

>>> from weightinit_client import Client
>>> with Client("http://127.0.0.1:8000") as wi:  # doctest: +SKIP
...     w = wi.weights({"kind": "dense", "in_features": 784, "out_features": 256},
...                    scheme="he_normal", seed=42)
"""

from ._core import DEFAULT_URL, Arrays, WeightinitError, parse, seed_value
from .client import AsyncClient, Client, Progress, models_body, weights_body, write_chunks
from .recipes import fill_from_shapes, shapes_to_layers, strip_names

__all__ = [
    "DEFAULT_URL",
    "Arrays",
    "AsyncClient",
    "Client",
    "Progress",
    "WeightinitError",
    "fill_from_shapes",
    "models_body",
    "parse",
    "seed_value",
    "shapes_to_layers",
    "strip_names",
    "weights_body",
    "write_chunks",
]
