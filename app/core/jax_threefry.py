"""The ``jax-threefry`` stream algorithm: JAX's and Flax's own initial weights, without JAX.

Seed = the ``jax.random.key`` value (jax 0.10.2, ``jax_threefry_partitionable=True``,
``jax_enable_x64=False``, float32 only; see :mod:`app.core.threefry` for the seed rule).

Keys. A raw tensor (a ``tensor`` layer of ``/v1/weights``) is ``init(jax.random.key(seed),
shape, float32)``: its key is the root key itself. Every other tensor is a Flax parameter of
``model.init(jax.random.key(seed), x)``: Flax linen derives its key as
``fold_in(root, h)``, ``h`` the first 4 bytes (big-endian) of SHA-1 over the parameter's
module path and a per-module counter (flax/core/scope.py ``LazyRng``, ``_fold_in_static``
with ``flax_fix_rng_separator=False``; ``Scope.make_rng`` counts 1, 2, ... each
``self.param`` of a module, zero-initialised biases included). Here the module path is the
tensor name's segments before the last (split at ``.`` and ``/``; a layer named
``Block_0/Dense_1`` is that nested module) and the counter the tensor's position among its
module's tensors, in order, except that a ``bias`` counts after its module's other tensors
(every Flax layer creates its bias after its kernel or scale, while a sorted map, e.g. a
flattened JAX pytree, lists ``bias`` first): ``kernel`` -> path (), counter 1; ``hi.bias`` ->
("hi",), 2; in a model, ``fc1.kernel`` -> ("fc1",), 1. A leading ``params`` segment (a map of
the whole variables tree: ``params/Dense_0/kernel``) is Flax's collection, not a module; a
tensor under ``batch_stats`` is not a parameter, draws no key and counts nothing.

Values. Each random tensor is one JAX expression (:class:`JaxDraw`), from the scheme row:

* ``jax.uniform(scale)``: ``uniform(key, shape) * f32(scale)``;
* ``uniform(low, high)``: ``jax.random.uniform(key, shape, float32, low, high)``;
* ``jax.normal(stddev)``: ``normal(key, shape) * f32(stddev)``;
* ``jax.truncated_normal(stddev, lower, upper)``: ``truncated_normal(key, lower, upper,
  shape) * f32(stddev)``;
* ``jax.variance_scaling`` rows and ``flax.default`` (jax/_src/nn/initializers.py): uniform
  ``uniform(key, shape, float32, -1) * sqrt(3 var)``, normal ``normal(...) * sqrt(var)``,
  truncated ``truncated_normal(key, -2, 2, shape) * (sqrt(var) / .87962566103423978)``, the
  constants in float32 (``variance.jax_law``); ``orthogonal`` and ``delta_orthogonal`` from
  ``jax.random.orthogonal``;
* laws that draw nothing (zeros, ones, constant...) from any scheme.

Other random schemes (torch.*, keras.*, canonical glorot/he/...) are refused: they are not
JAX expressions. Uniform, normal and truncated normal (bounds in ``ERF_VERIFIED``) values are
bit-exact (:mod:`app.core.jax_random`); the orthogonal ones go through a QR (LAPACK in JAX,
Householder in float64 here) and are approximate (:data:`ORTHOGONAL_MAX_ULP`).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from . import jax_random
from .dtypes import cast_output
from .errors import InvalidParameterError
from .laws import (
    ConstantLaw,
    CounterLaw,
    DeltaOrthogonalLaw,
    DiracLaw,
    IdentityLaw,
    NormalLaw,
    OrthogonalLaw,
    SegmentsLaw,
    TruncatedNormalLaw,
    UniformLaw,
)
from .linalg import orthogonal_q
from .plans import TensorPlan, check_size
from .reading import TensorReader
from .threefry import JAX_MAX_SEED, Key, fold_in, key
from .types import DType

F32 = np.float32
DrawKind = Literal["uniform", "normal", "truncated_normal", "orthogonal", "delta_orthogonal"]
DETERMINISTIC = (ConstantLaw, CounterLaw, IdentityLaw, DiracLaw, SegmentsLaw)
# Measured (tools/framework_fixtures_jax.py measure_orthogonal, jax 0.10.2, x86-64): 119 379 over
# matrices up to 64 x 64, seeds 0-4 (LAPACK QR vs ours; the large distances are entries near 0).
ORTHOGONAL_MAX_ULP = 1 << 17
_VARIANCE_FRAMEWORKS = ("jax.", "flax.")


@dataclass(frozen=True)
class ExactnessRow:
    """One row of the README's jax-threefry table: the JAX/Flax calls whose tensors are drawn
    by ``kinds`` (None: no draw) and how close this module comes to them."""

    calls: str
    kinds: tuple[DrawKind | None, ...]
    exact: bool
    why: str

    @property
    def max_ulp(self) -> int | None:
        return None if self.exact else ORTHOGONAL_MAX_ULP


# The one registry: exactness() answers from it and the README's table is rendered from it
# (app/core/jax_table.py, `make readme`).
EXACTNESS: tuple[ExactnessRow, ...] = (
    ExactnessRow(
        "`jax.random.uniform`, `jax.nn.initializers.uniform`, `*_uniform` presets",
        ("uniform",),
        True,
        "Threefry-2x32 bits, JAX's 23-bit mantissa map and affine: integer and IEEE ops",
    ),
    ExactnessRow(
        '`jax.random.normal`, `normal`, `variance_scaling(..., "normal")`, Flax `Embed`',
        ("normal",),
        True,
        "XLA's float32 `erf_inv` (Giles' polynomial with fused multiply-adds), compared on all "
        "2**23 inputs",
    ),
    ExactnessRow(
        "`truncated_normal`, `*_normal` presets (truncated), Flax `Dense`/`DenseGeneral`/`Conv`/"
        "`ConvTranspose` kernels, attention projections",
        ("truncated_normal",),
        True,
        "XLA's `erf`, `erf_inv` and `log1p`; bounds in {0, ±0.5, ±1, ±2, ±2.5, ±3}, where XLA's "
        "float32 `erf` is correctly rounded (other bounds are a 422)",
    ),
    ExactnessRow(
        "`zeros`, `ones`, `constant`, biases, norm scales and shifts, BatchNorm statistics",
        (None,),
        True,
        "no draw",
    ),
    ExactnessRow(
        "`orthogonal`, `delta_orthogonal`, Flax `LSTMCell`/`OptimizedLSTMCell`/`GRUCell`/"
        "`SimpleCell` recurrent kernels",
        ("orthogonal", "delta_orthogonal"),
        False,
        "exact normal draws, but LAPACK's QR in JAX and a float64 Householder QR here "
        "(measured 119 379 ulp up to 64x64, at entries near zero)",
    ),
)
_ROW_OF: dict[DrawKind | None, ExactnessRow] = {k: row for row in EXACTNESS for k in row.kinds}


@dataclass(frozen=True)
class JaxDraw:
    """One JAX expression: ``sampler(key, a, b) * scale`` (``scale`` None: no multiply)."""

    kind: DrawKind
    a: float = 0.0  # uniform minval / truncation lower
    b: float = 1.0  # uniform maxval / truncation upper
    scale: float | None = None

    @property
    def exact(self) -> bool:
        if self.kind == "truncated_normal" and not (
            self.a in jax_random.ERF_VERIFIED and self.b in jax_random.ERF_VERIFIED
        ):
            return False
        return _ROW_OF[self.kind].exact


# The layout defaults that are not JAX expressions: the usual cause is a forgotten layout.
_OTHER_LAYOUT_DEFAULTS = {"torch.default": "torch", "keras.default": "keras"}


def _refuse(plan: TensorPlan, why: str) -> InvalidParameterError:
    scheme = (plan.scheme or {}).get("name", "?")
    layout = _OTHER_LAYOUT_DEFAULTS.get(str(scheme))
    hint = (
        f" It is the {layout} layout's default: ask for layout 'jax' to get Flax's defaults."
        if layout
        else ""
    )
    return InvalidParameterError(
        f"Tensor {plan.name!r}: scheme {scheme!r} {why}{hint} Under algorithm 'jax-threefry' "
        "use a jax.* scheme (jax.glorot_uniform, jax.lecun_normal, jax.normal...), "
        "flax.default (the layout's default in the jax layout), uniform, or a constant scheme.",
        field="algorithm",
    )


def draw_of(plan: TensorPlan) -> JaxDraw | None:
    """The JAX expression of ``plan`` (None: the law draws nothing); refuses other schemes."""
    law = plan.law
    if isinstance(law, DETERMINISTIC):
        return None
    params: dict[str, Any] = dict(plan.scheme or {})
    name = str(params.get("name", ""))
    if name == "uniform" and isinstance(law, UniformLaw):
        return JaxDraw("uniform", law.low, law.high)
    if name == "jax.uniform" and isinstance(law, UniformLaw):
        return JaxDraw("uniform", 0.0, 1.0, law.high)
    if name == "jax.truncated_normal" and isinstance(law, TruncatedNormalLaw):
        lower, upper = float(params["lower"]), float(params["upper"])
        if lower not in jax_random.ERF_VERIFIED or upper not in jax_random.ERF_VERIFIED:
            raise InvalidParameterError(
                f"Tensor {plan.name!r}: jax-threefry reproduces jax.random.truncated_normal "
                "for bounds whose float32 erf matches XLA's ("
                + ", ".join(f"{v:g}" for v in sorted(jax_random.ERF_VERIFIED))
                + f"); got lower={lower:g}, upper={upper:g}. Pick bounds from that list.",
                field="scheme",
            )
        return JaxDraw("truncated_normal", lower, upper, float(params["stddev"]))
    if not name.startswith(_VARIANCE_FRAMEWORKS):
        raise _refuse(plan, "is not a JAX or Flax initializer.")
    return _variance_draw(plan)


def _variance_draw(plan: TensorPlan) -> JaxDraw:
    """jax.variance_scaling rows, jax.orthogonal/delta_orthogonal and flax.default, by law."""
    law = plan.law
    if isinstance(law, UniformLaw) and law.symmetric:
        return JaxDraw("uniform", -1.0, 1.0, law.high)
    if isinstance(law, NormalLaw) and law.mean == 0.0:
        return JaxDraw("normal", scale=law.std)
    if isinstance(law, TruncatedNormalLaw) and law.mean == 0.0 and law.low == -2 * law.sigma:
        return JaxDraw("truncated_normal", -2.0, 2.0, law.sigma)
    if isinstance(law, OrthogonalLaw):
        return JaxDraw("orthogonal", scale=law.gain)
    if isinstance(law, DeltaOrthogonalLaw) and law.channels_last:
        return JaxDraw("delta_orthogonal", scale=law.gain)
    raise _refuse(plan, "has no JAX expression here.")  # pragma: no cover


def exactness(plan: TensorPlan) -> dict[str, Any]:
    """``{"exactness": "exact"}`` or ``{"exactness": "approximate", "max_ulp": n}``, from the
    :data:`EXACTNESS` row of the plan's draw."""
    draw = draw_of(plan)
    if draw is None or draw.exact:
        return {"exactness": "exact"}
    return {"exactness": "approximate", "max_ulp": _ROW_OF[draw.kind].max_ulp}


# ---- keys -----------------------------------------------------------------------------------


def flax_hash(path: tuple[str, ...], counter: int) -> int:
    """flax ``_fold_in_static``: SHA-1 over the path's UTF-8 names and the counter's minimal
    big-endian bytes (no separators), first 4 bytes big-endian."""
    m = hashlib.sha1(usedforsecurity=False)
    for name in path:
        m.update(name.encode("utf-8"))
    m.update(counter.to_bytes((counter.bit_length() + 7) // 8, byteorder="big"))
    return int.from_bytes(m.digest()[:4], byteorder="big")


# Flax's variable collections that may lead a name: parameters draw keys, statistics do not.
_COLLECTIONS = {"params": True, "batch_stats": False}


def flax_parameter(name: str) -> tuple[tuple[str, ...], str, bool]:
    """(module path, parameter name, draws a key?) of a tensor name (module docstring)."""
    parts = re.split(r"[./]", name)
    param = True
    if len(parts) > 1 and parts[0] in _COLLECTIONS:
        param = _COLLECTIONS[parts[0]]
        parts = parts[1:]
    return tuple(parts[:-1]), parts[-1], param


def tensor_keys(names: list[str], seed: int, *, raw: bool) -> dict[str, Key]:
    """Each tensor's key: the root key for a raw tensor, else Flax's parameter key (a
    ``batch_stats`` tensor draws nothing: the root key, unused)."""
    root = key(seed)
    keys = dict.fromkeys(names, root)
    if raw:
        return keys
    modules: dict[tuple[str, ...], list[str]] = {}
    last: set[str] = set()
    for name in names:
        module, param, draws = flax_parameter(name)
        if draws:
            modules.setdefault(module, []).append(name)
            if param == "bias":
                last.add(name)
    for module, members in modules.items():
        ordered = [n for n in members if n not in last] + [n for n in members if n in last]
        for counter, name in enumerate(ordered, start=1):
            keys[name] = fold_in(root, flax_hash(module, counter))
    return keys


# ---- values ---------------------------------------------------------------------------------


def _scaled(values: NDArray[np.float32], draw: JaxDraw) -> NDArray[np.float32]:
    if draw.scale is None:
        return values
    out: NDArray[np.float32] = values * F32(draw.scale)
    return out


def values_range(draw: JaxDraw, k: Key, start: int, stop: int) -> NDArray[np.float32]:
    """Flat elements ``[start, stop)`` of an element-wise draw, in float32."""
    if draw.kind == "uniform":
        return _scaled(jax_random.uniform(k, start, stop, draw.a, draw.b), draw)
    if draw.kind == "normal":
        return _scaled(jax_random.normal(k, start, stop), draw)
    assert draw.kind == "truncated_normal"
    return _scaled(jax_random.truncated_normal(k, start, stop, draw.a, draw.b), draw)


def _orthogonal(k: Key, rows: int, cols: int, scale: float) -> NDArray[np.float32]:
    """``jax.random.orthogonal(key, rows, (), float32, cols) * f32(scale)``: a float32 normal
    (max, min) matrix (exact), its sign-fixed Householder Q in float64, rounded to float32."""
    big, small = max(rows, cols), min(rows, cols)
    z = jax_random.normal(k, 0, big * small).reshape(big, small)
    q = orthogonal_q(z.astype(np.float64)).astype(F32)
    if rows < cols:
        q = np.ascontiguousarray(q.T)
    out: NDArray[np.float32] = F32(scale) * q
    return out


def whole_matrix(plan: TensorPlan, draw: JaxDraw, k: Key) -> NDArray[np.float32]:
    """An orthogonal or delta-orthogonal tensor, whole (JAX's jax.nn.initializers)."""
    law = plan.law
    if isinstance(law, OrthogonalLaw):  # column axis -1: (rows, cols) reshaped row-major
        return _orthogonal(k, law.rows, law.cols, law.gain).reshape(plan.shape)
    assert isinstance(law, DeltaOrthogonalLaw)
    m = _orthogonal(k, law.in_channels, law.out_channels, law.gain)
    out = np.zeros(plan.shape, dtype=F32)
    out[tuple((n - 1) // 2 for n in plan.shape[:-2])] = m
    return out


class JaxTensorReader(TensorReader):
    """A :class:`TensorReader` whose random values are ``jax-threefry``'s (element ``i`` from
    ``(key, i)``, so ranges, slices and shards need no prefix); orthogonal laws are whole."""

    def __init__(self, plan: TensorPlan, seed: int, k: Key) -> None:
        self.draw = draw_of(plan)
        self.key = k
        whole = None
        if self.draw is not None and self.draw.kind in ("orthogonal", "delta_orthogonal"):
            draw = self.draw

            def whole_values() -> NDArray[Any]:
                return cast_output(whole_matrix(plan, draw, k), plan.dtype)

            whole = whole_values
        super().__init__(plan, seed, whole)

    def _random_range(self, start: int, stop: int) -> NDArray[Any] | None:
        if self.draw is None or self.needs_whole:
            return None
        return values_range(self.draw, self.key, start, stop)


def check_supported(plans: list[TensorPlan], seed: int, dtype: DType) -> None:
    """Refuse, before anything is drawn, what jax-threefry cannot reproduce."""
    if seed > JAX_MAX_SEED:
        raise InvalidParameterError(
            f"seed must be at most {JAX_MAX_SEED} with algorithm jax-threefry: "
            f"jax.random.key({seed}) raises OverflowError (it converts the seed to int64); "
            "JAX then keeps seed mod 2**32.",
            field="seed",
        )
    if dtype is not DType.FLOAT32:
        raise InvalidParameterError(
            f"Algorithm jax-threefry computes in float32, JAX's default (jax_enable_x64=False: "
            f"jax.random.uniform(..., dtype=float64) returns float32); got dtype "
            f"{dtype.value!r}. Ask for dtype float32.",
            field="dtype",
        )
    for plan in plans:
        draw_of(plan)


def generate_all(plans: list[TensorPlan], seed: int, *, raw: bool) -> list[NDArray[np.generic]]:
    """Every tensor of a request under jax-threefry, whole."""
    check_supported(plans, seed, plans[0].dtype if plans else DType.FLOAT32)
    keys = tensor_keys([p.name for p in plans], seed, raw=raw)
    out = []
    for plan in plans:
        check_size(plan)
        reader = JaxTensorReader(plan, seed, keys[plan.name])
        out.append(reader.read_range(0, plan.numel).reshape(plan.shape))
    return out


__all__ = [
    "EXACTNESS",
    "ORTHOGONAL_MAX_ULP",
    "ExactnessRow",
    "JaxDraw",
    "JaxTensorReader",
    "check_supported",
    "draw_of",
    "exactness",
    "flax_hash",
    "flax_parameter",
    "generate_all",
    "tensor_keys",
    "values_range",
    "whole_matrix",
]
