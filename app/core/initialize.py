"""One call for library users: a layer spec in, named arrays out.

>>> from app.core.initialize import initialize_layer
>>> w = initialize_layer("dense", {"in_features": 3, "out_features": 2}, scheme="he_normal", seed=0)
>>> sorted(w), w["weight"].shape
(['bias', 'weight'], (2, 3))
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numpy.typing import NDArray

from . import jax_threefry
from .errors import InvalidParameterError
from .generate import generate_all
from .layer_values import read_layer
from .planning import SchemeChoice, plan_layer
from .schemes import ResolvedScheme, resolve_scheme
from .types import Algorithm, DType, Layout, parse_choice

SchemeSpec = str | Mapping[str, object] | None


def _resolve(spec: SchemeSpec, field: str) -> ResolvedScheme | None:
    if spec is None:
        return None
    if isinstance(spec, str):
        return resolve_scheme(spec, field=field)
    params = dict(spec)
    name = params.pop("name", None)
    if not isinstance(name, str):
        raise InvalidParameterError(f"{field} needs a 'name'.", field=f"{field}.name")
    return resolve_scheme(name, params, field=field)


def initialize_layer(
    kind: str,
    fields: Mapping[str, object],
    *,
    seed: int,
    scheme: SchemeSpec = None,
    bias_scheme: SchemeSpec = None,
    layout: Layout | str = Layout.TORCH,
    dtype: DType | str = DType.FLOAT32,
    algorithm: Algorithm | str = Algorithm.BLOCKS_V1,
    prefix: str = "",
    threads: int = 1,
) -> dict[str, NDArray[np.generic]]:
    """Initialise every tensor of one layer; ``scheme`` is a name or ``{"name": ..., **params}``.

    ``fields`` are torch's argument names, or the layout's framework's (Keras ``units``,
    ``kernel_initializer``...; ``app.core.layer_values``)."""
    algo = parse_choice(Algorithm, algorithm, "algorithm", "algorithm")
    chosen_layout = parse_choice(Layout, layout, "layout", "layout")
    chosen_dtype = parse_choice(DType, dtype, "dtype", "dtype")
    spec, reading = read_layer(kind, fields, layout=chosen_layout, dtype=chosen_dtype)
    level = SchemeChoice(_resolve(scheme, "scheme"), _resolve(bias_scheme, "bias_scheme"))
    plans = plan_layer(
        spec,
        layout=chosen_layout,
        dtype=chosen_dtype,
        algorithm=algo,
        levels=(level.overridden(reading.schemes, reading.fields),),
        prefix=prefix,
    )
    if algo is Algorithm.JAX_THREEFRY:  # a raw tensor takes the root key, as init(key, ...)
        arrays = jax_threefry.generate_all(plans, seed, raw=kind == "tensor")
    else:
        arrays = generate_all(plans, seed, algo, threads=threads)
    return {plan.name: array for plan, array in zip(plans, arrays, strict=True)}
