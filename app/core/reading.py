"""Any part of a tensor without producing the rest: element ranges, index sets, regions.

``read_range(plan, seed, start, stop)`` equals ``generate_tensor(plan, seed).reshape(-1)
[start:stop]`` byte for byte, for every law:

* element-wise laws (uniform, normal, truncated normal) generate only the 65 536-element
  blocks that cover the range (each block has its own stream, see streams.py);
* constant, counter, identity, dirac and piecewise-constant laws compute the range directly
  from the flat indices (no randomness, O(range));
* whole-matrix laws (orthogonal, delta-orthogonal, sparse) need the whole matrix: a
  :class:`TensorReader` builds it once and slices it (bounded by the service's
  ``WEIGHTINIT_MAX_MATRIX_ELEMENTS``);
* an embedding's padding row (``zero_row``) is zeroed wherever the range meets it.

``TensorReader.read_indices`` gathers arbitrary sorted flat indices (a non-contiguous slice or
shard) from the blocks that cover them, each block generated once per call.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .cancel import checkpoint
from .dtypes import cast_output, numpy_dtype, working_dtype
from .generate import elementwise_range, generate_tensor
from .laws import (
    WHOLE_MATRIX_LAWS,
    ConstantLaw,
    CounterLaw,
    DiracLaw,
    IdentityLaw,
    NormalLaw,
    SegmentsLaw,
    TruncatedNormalLaw,
    UniformLaw,
)
from .plans import TensorPlan, check_size
from .sampling import magnitude_bound
from .streams import BLOCK_SIZE, MAX_SEED, check_seed

Values = NDArray[Any]


def _dirac_values(plan: TensorPlan, law: DiracLaw, flat: NDArray[np.int64]) -> Values:
    """torch.nn.init.dirac_ at the given flat indices (see generate.dirac for the rule)."""
    shape = plan.shape
    coords = np.unravel_index(flat, shape)
    if law.channels_last:  # (*kernel, in, out)
        out_c, in_c, taps = coords[-1], coords[-2], coords[:-2]
        kernel, n_out, n_in = shape[:-2], shape[-1], shape[-2]
    else:  # (out, in, *kernel)
        out_c, in_c, taps = coords[0], coords[1], coords[2:]
        kernel, n_out, n_in = shape[2:], shape[0], shape[1]
    per_group = n_out // law.groups
    depth = min(per_group, n_in)
    diagonal = out_c - (out_c // per_group) * per_group
    hit = (diagonal < depth) & (in_c == diagonal)
    for tap, k in zip(taps, kernel, strict=True):
        hit &= tap == k // 2
    working = working_dtype(plan.dtype)
    out: Values = hit.astype(working)
    return out


def _direct_values(plan: TensorPlan, start: int, stop: int) -> Values | None:
    """Laws computed from the indices alone, in the working precision (None: not one)."""
    law = plan.law
    working = working_dtype(plan.dtype)
    if isinstance(law, ConstantLaw):
        with np.errstate(over="ignore"):  # an overflowing constant is refused by cast_output
            return np.full(stop - start, working(law.value), dtype=working)
    if not isinstance(law, IdentityLaw | DiracLaw | SegmentsLaw):
        return None  # (before the index array: 8 bytes per element every sampler piece paid)
    flat = np.arange(start, stop, dtype=np.int64)
    if isinstance(law, IdentityLaw):
        cols = plan.shape[1]
        out = np.zeros(stop - start, dtype=working)
        out[flat // cols == flat % cols] = working(law.gain)
        return out
    if isinstance(law, DiracLaw):
        return _dirac_values(plan, law, flat)
    if isinstance(law, SegmentsLaw):
        ends = np.cumsum(np.asarray(law.lengths, dtype=np.int64))
        which = np.searchsorted(ends, flat, side="right")
        return np.asarray(law.values, dtype=working)[which]
    return None


def _zero_padding_row(plan: TensorPlan, values: Values, start: int, stop: int) -> None:
    if plan.zero_row is None:
        return
    row = plan.numel // plan.shape[0] if plan.shape and plan.shape[0] else 0
    lo, hi = max(start, plan.zero_row * row), min(stop, (plan.zero_row + 1) * row)
    if lo < hi:
        values[lo - start : hi - start] = 0


class TensorReader:
    """Reads parts of one tensor of a request; whole-matrix laws are built once and cached.

    Safe to share between threads: the cached whole tensor is built under a lock.
    """

    def __init__(
        self, plan: TensorPlan, seed: int, whole: Callable[[], NDArray[Any]] | None = None
    ) -> None:
        """``whole``, when given, supplies the whole tensor (e.g. from a sequential algorithm)."""
        check_seed(seed, maximum=MAX_SEED)
        check_size(plan)
        self.plan = plan
        self.seed = seed
        self._source = whole
        self._whole: NDArray[Any] | None = None
        self._lock = threading.Lock()

    @property
    def dtype(self) -> np.dtype[Any]:
        return np.dtype(np.int64) if self.plan.is_integer else numpy_dtype(self.plan.dtype)

    def _whole_flat(self) -> NDArray[Any]:
        with self._lock:
            if self._whole is None:
                # Pieces that waited here while the build failed or was stopped would each
                # start it again: stopped work stops before that.
                checkpoint()
                built = self._source() if self._source else generate_tensor(self.plan, self.seed)
                self._whole = built.reshape(-1)
            return self._whole

    @property
    def needs_whole(self) -> bool:
        return self._source is not None or isinstance(self.plan.law, WHOLE_MATRIX_LAWS)

    def read_range(self, start: int, stop: int, out: NDArray[Any] | None = None) -> NDArray[Any]:
        """Flat elements ``[start, stop)`` in the output dtype: a new array, or ``out`` (a
        1-D array of the output dtype and length ``stop - start``) filled and returned, the
        samplers writing straight into it when they can."""
        values = self._read_range(start, stop, out)
        if out is None or values is out:
            return values
        out[...] = values
        return out

    def _read_range(self, start: int, stop: int, out: NDArray[Any] | None) -> NDArray[Any]:
        plan = self.plan
        if not 0 <= start <= stop <= plan.numel:
            raise ValueError(f"range [{start}, {stop}) is outside 0..{plan.numel}")
        if self.needs_whole:
            return np.array(self._whole_flat()[start:stop])
        if isinstance(plan.law, CounterLaw):
            return np.zeros(stop - start, dtype=np.int64)
        values = _direct_values(plan, start, stop)
        if values is None:
            values = self._random_range(start, stop)
        bound = None
        if values is None:
            law = plan.law
            assert isinstance(law, UniformLaw | NormalLaw | TruncatedNormalLaw)
            working = working_dtype(plan.dtype)
            if start == stop:
                values = np.empty(0, dtype=working)
            else:
                with np.errstate(over="ignore", invalid="ignore"):
                    values = elementwise_range(
                        plan, law, self.seed, start, stop, threads=1, out=out
                    )
            bound = magnitude_bound(law, working)
        _zero_padding_row(plan, values, start, stop)
        return cast_output(values, plan.dtype, bound=bound)

    def _random_range(self, start: int, stop: int) -> NDArray[Any] | None:
        """Another algorithm's element-wise values (jax_threefry.py); None: blocks-v1."""
        return None

    def read_indices(self, flat: NDArray[np.int64]) -> NDArray[Any]:
        """The elements at sorted flat indices, each covering block generated once."""
        if flat.size == 0:
            return np.empty(0, dtype=self.dtype)
        if self.needs_whole:
            return self._whole_flat()[flat]
        first, last = int(flat[0]), int(flat[-1]) + 1
        if last - first <= 2 * flat.size or last - first <= BLOCK_SIZE:
            return self.read_range(first, last)[flat - first]
        block_of = flat // BLOCK_SIZE
        cuts = [0, *(np.flatnonzero(np.diff(block_of)) + 1).tolist(), flat.size]
        out = np.empty(flat.size, dtype=self.dtype)
        for a, b in itertools.pairwise(cuts):
            lo = int(block_of[a]) * BLOCK_SIZE
            values = self.read_range(lo, min(lo + BLOCK_SIZE, self.plan.numel))
            out[a:b] = values[flat[a:b] - lo]
        return out


def read_range(plan: TensorPlan, seed: int, start: int, stop: int) -> NDArray[Any]:
    """Flat elements ``[start, stop)`` of the tensor (see the module docstring)."""
    return TensorReader(plan, seed).read_range(start, stop)
