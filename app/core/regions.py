"""Regions of a tensor: a numpy basic slice (step 1) or one shard, and the elements they cover.

A :class:`Region` is one ``[start, stop)`` per dimension of the full tensor. It comes from

* a slice text, ``"0:1024, 2048:"``: one ``start:stop`` per dimension (fewer than the rank
  leaves the trailing dimensions whole, as numpy does), omitted bounds meaning the ends,
  negative bounds counted from the end and out-of-range bounds clipped (numpy's rules for
  ``a[0:1024, 2048:]``), an optional step that must be 1, spaces (U+0020 only) around any
  of them (:data:`SLICE_PATTERN` says the same as a regular expression); or
* a shard ``(dim, index, count)``: with ``c = ceil(n / count)`` for the ``n`` elements of
  dimension ``dim``, piece ``index`` is ``[index * c, min((index + 1) * c, n))``, empty when
  ``index * c >= n``. These are the pieces ``torch.chunk`` gives, padded with empty pieces up
  to ``count`` as DTensor's ``Shard(dim)`` placement does.

* a fused shard ``(dim, index, count, parts)`` (:class:`FusedRegion`): dimension ``dim`` holds
  ``parts`` equal tensors side by side (GPT-2's ``c_attn``: Q, K, V); each part is sharded as
  above and the pieces are concatenated, Megatron-style. Its text joins the pieces of ``dim``
  with ``+``: ``"0:32,0:16+32:48+64:80"``.

The region's elements, in row-major order of the region, map to flat (row-major) indices of
the full tensor by :func:`flat_indices`; a region whose elements are one contiguous flat run
(:meth:`Region.contiguous_run`) is read as a range, without any index arithmetic.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from .errors import InvalidParameterError

Shape = tuple[int, ...]
_INTEGER = re.compile(r"-?[0-9]+")
# What parse_slice accepts, as one regular expression (for the API's schema): parts
# start:stop[:step] separated by commas, bounds optional integers, the step empty or 1,
# spaces (only U+0020) around any of them. How many parts a tensor takes is its rank.
_SLICE_BOUND = r" *(?:-?[0-9]+)? *"
_SLICE_PART = rf"{_SLICE_BOUND}:{_SLICE_BOUND}(?:: *1? *)?"
SLICE_PATTERN = rf"^{_SLICE_PART}(?:,{_SLICE_PART})*$"


@dataclass(frozen=True)
class Region:
    """``bounds[d] = (start, stop)`` of each dimension of a tensor of shape ``full_shape``."""

    full_shape: Shape
    bounds: tuple[tuple[int, int], ...]

    @classmethod
    def whole(cls, shape: Shape) -> Region:
        return cls(shape, tuple((0, n) for n in shape))

    @property
    def shape(self) -> Shape:
        return tuple(stop - start for start, stop in self.bounds)

    @property
    def numel(self) -> int:
        return math.prod(self.shape)

    def text(self) -> str:
        """Normalised slice text, ``"a:b,c:d"`` (explicit bounds for every dimension)."""
        return ",".join(f"{start}:{stop}" for start, stop in self.bounds)

    def flat_span(self) -> tuple[int, int]:
        """Flat indices of the region's first and last elements (the region is not empty)."""
        strides = _strides(self.full_shape)
        first = sum(start * s for (start, _), s in zip(self.bounds, strides, strict=True))
        last = sum((stop - 1) * s for (_, stop), s in zip(self.bounds, strides, strict=True))
        return first, last

    def contiguous_run(self) -> tuple[int, int] | None:
        """``(first, end)`` flat indices when the region is one contiguous run, else None.

        True when, after the first dimension whose range is longer than one, every dimension
        is whole (row shards, leading single indices, the whole tensor, empty regions).
        """
        if self.numel == 0:
            return (0, 0)
        strides = _strides(self.full_shape)
        partial_seen = False
        for (start, stop), n in zip(self.bounds, self.full_shape, strict=True):
            if partial_seen and (start, stop) != (0, n):
                return None
            if stop - start > 1:
                partial_seen = True
        first = sum(start * s for (start, _), s in zip(self.bounds, strides, strict=True))
        return first, first + self.numel


@dataclass(frozen=True)
class FusedRegion(Region):
    """Several runs along one dimension (``runs``, ascending, non-empty), the other dimensions
    whole; ``bounds`` is the bounding box (its first and last elements are the region's)."""

    dim: int = 0
    runs: tuple[tuple[int, int], ...] = ()

    @property
    def shape(self) -> Shape:
        dims = list(self.full_shape)
        dims[self.dim] = sum(stop - start for start, stop in self.runs)
        return tuple(dims)

    def text(self) -> str:
        parts = [f"{start}:{stop}" for start, stop in self.bounds]
        parts[self.dim] = "+".join(f"{start}:{stop}" for start, stop in self.runs) or "0:0"
        return ",".join(parts)

    def contiguous_run(self) -> tuple[int, int] | None:
        if len(self.runs) > 1 and self.numel:
            return None
        return Region(self.full_shape, self.bounds).contiguous_run()

    def positions(self) -> NDArray[np.int64]:
        """The full tensor's index along ``dim`` of each index of the region along it."""
        return np.concatenate(
            [np.arange(start, stop, dtype=np.int64) for start, stop in self.runs]
            or [np.empty(0, dtype=np.int64)]
        )


def fused_shard_region(
    shape: Shape, dim: int, index: int, count: int, *, parts: int, field: str = "shard"
) -> Region:
    """Piece ``index`` of ``count`` of each of ``parts`` equal parts along ``dim``, joined."""
    whole = shard_region(shape, dim, 0, 1, field)  # checks the rank and dim
    dim %= len(shape)
    n = shape[dim]
    if parts < 1 or n % parts:
        raise InvalidParameterError(
            f"A fused dimension of {n} cannot hold {parts} equal parts (shape {list(shape)}).",
            field=field,
        )
    size = n // parts
    runs: list[tuple[int, int]] = []
    for k in range(parts):
        piece = shard_region((size,), 0, index, count, field).bounds[0]
        if piece[1] > piece[0]:
            runs.append((k * size + piece[0], k * size + piece[1]))
    if parts == 1 or not runs:
        return shard_region(shape, dim, index, count, field)
    bounds = list(whole.bounds)
    bounds[dim] = (runs[0][0], runs[-1][1])
    return FusedRegion(shape, tuple(bounds), dim, tuple(runs))


def _strides(shape: Shape) -> list[int]:
    strides = [1] * len(shape)
    for d in range(len(shape) - 2, -1, -1):
        strides[d] = strides[d + 1] * shape[d + 1]
    return strides


def _bound(text: str, n: int, field: str, default: int) -> int:
    text = text.strip(" ")
    if text == "":
        return default
    if not _INTEGER.fullmatch(text):
        raise InvalidParameterError(
            f"Slice bound {text!r} is not an integer; write each dimension as start:stop, "
            "e.g. 0:1024, with dimensions separated by commas.",
            field=field,
        )
    value = int(text)
    if value < 0:
        value += n
    return min(max(value, 0), n)


def parse_slice(text: str, shape: Shape, field: str = "slice") -> Region:
    """The region of ``shape`` that numpy's ``a[text]`` selects (basic slicing, step 1)."""
    if not isinstance(text, str) or not text.strip(" "):
        raise InvalidParameterError(
            "slice is empty; give one start:stop per dimension, e.g. '0:1024, 2048:'.",
            field=field,
        )
    parts = text.split(",")
    if len(parts) > len(shape):
        raise InvalidParameterError(
            f"slice {text!r} has {len(parts)} dimensions but the tensor has "
            f"{len(shape)} (shape {list(shape)}).",
            field=field,
        )
    bounds: list[tuple[int, int]] = []
    for d, part in enumerate(parts):
        pieces = part.split(":")
        if len(pieces) not in (2, 3):
            raise InvalidParameterError(
                f"slice dimension {d} is {part.strip(' ')!r}; write it as start:stop (a single "
                "index would drop the dimension: use i:i+1).",
                field=field,
            )
        n = shape[d]
        start = _bound(pieces[0], n, field, 0)
        stop = _bound(pieces[1], n, field, n)
        if len(pieces) == 3 and pieces[2].strip(" ") not in ("", "1"):
            _bound(pieces[2], n, field, 1)  # a step that is not even an integer
            raise InvalidParameterError(
                f"slice dimension {d} has step {pieces[2].strip(' ')!r}; only step 1 is served.",
                field=field,
            )
        bounds.append((start, max(start, stop)))
    bounds += [(0, n) for n in shape[len(parts) :]]
    return Region(shape, tuple(bounds))


def shard_region(shape: Shape, dim: int, index: int, count: int, field: str = "shard") -> Region:
    """Piece ``index`` of ``count`` along ``dim`` (torch.chunk sizes, padded with empties)."""
    rank = len(shape)
    if rank == 0:
        raise InvalidParameterError("A 0-d tensor cannot be sharded.", field=field)
    if not -rank <= dim < rank:
        raise InvalidParameterError(
            f"shard dim {dim} is out of range for a tensor of {rank} dimensions "
            f"(shape {list(shape)}); use 0..{rank - 1}.",
            field=f"{field}.dim",
        )
    if count < 1:
        raise InvalidParameterError(
            f"shard count must be at least 1, got {count}.", field=f"{field}.count"
        )
    if not 0 <= index < count:
        raise InvalidParameterError(
            f"shard index {index} is out of range for count {count}; use 0..{count - 1}.",
            field=f"{field}.index",
        )
    dim %= rank
    n = shape[dim]
    size = -(-n // count)
    start = min(index * size, n)
    stop = min(start + size, n)
    bounds = [(0, m) for m in shape]
    bounds[dim] = (start, stop)
    return Region(shape, tuple(bounds))


def flat_indices(region: Region, first: int, end: int) -> NDArray[np.int64]:
    """Flat indices in the full tensor of the region's elements ``first..end-1`` (row-major)."""
    positions = np.arange(first, end, dtype=np.int64)
    if not region.shape:
        return positions
    coords = np.unravel_index(positions, region.shape)
    out = np.zeros(positions.size, dtype=np.int64)
    fused = region.dim if isinstance(region, FusedRegion) else None
    for d, (coord, (start, _), stride) in enumerate(
        zip(coords, region.bounds, _strides(region.full_shape), strict=True)
    ):
        if d == fused:
            assert isinstance(region, FusedRegion)
            out += region.positions()[coord] * stride
        else:
            out += (coord.astype(np.int64) + start) * stride
    return out
