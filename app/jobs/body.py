"""A job's response body as a sequence of sized segments, produced piece by piece.

Binary bodies have a size known before any value exists (npy and safetensors headers depend
only on names, dtypes and shapes; a zip's records only on names, sizes and CRC-32s), so the
response carries an exact ``Content-Length`` and any byte range of it can be produced alone:

* npy: the header, then the tensor's bytes;
* safetensors: the header, then each tensor's bytes in the reference writer's order;
* npz (stored zip): per member a local header, the npy header and the bytes, then the
  central directory. A local header holds its member's CRC-32, so a member is generated twice:
  once to compute the CRC, once to send it. Members of up to :data:`SMALL_MEMBER_BYTES` are
  generated once and kept until sent. This keeps every npz byte as it was before streaming,
  at up to twice the generation time for large members (README, "Streaming").

Tensor bytes come in pieces of :data:`PIECE_BLOCKS` 65 536-element blocks (1 MiB of float32),
aligned to the blocks of the stream algorithm so that no block is generated twice, each one
batched pass of the sampler. JSON bodies are one piece
per tensor (each tensor is at most ``WEIGHTINIT_MAX_JSON_ELEMENTS``), with the text exactly
as a whole-body encoder writes it.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import sys
import threading
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from app.core.generate import generate_all
from app.core.laws import (
    TruncatedNormalLaw,
    law_bound,
)
from app.core.reading import TensorReader
from app.core.regions import flat_indices
from app.core.streams import BLOCK_SIZE
from app.core.types import Algorithm
from app.encoders import json_base64, json_values
from app.encoders.npy import npy_header
from app.encoders.npz import (
    EMPTY_NPZ,
    NpzMember,
    check_npz_names,
    end_records,
    local_header,
    local_header_size,
)
from app.encoders.raw import dtype_info, fresh_bytes, raw_bytes
from app.encoders.safetensors import SafetensorsEntry, data_order, safetensors_header

from .exactness import exactness, jax_readers
from .job import SEQUENTIAL, Job, Output
from .manifest import METADATA_KEY as MANIFEST_KEY
from .manifest import manifest, manifest_text
from .pool import Piece

# One piece = one batched sampler pass of 4 blocks (1 MiB of float32): 2 threads scale nearly
# as well as with sampling.BLOCKS_PER_TASK (8) blocks, and a slow reader holds half as much.
PIECE_BLOCKS = 4
SMALL_MEMBER_BYTES = 4 << 20


class Segment:
    """A run of ``size`` body bytes that can be produced in pieces, from any offset."""

    size: int

    def pieces(self, start: int, stop: int) -> Iterator[Piece]:
        raise NotImplementedError


@dataclass
class Fixed(Segment):
    """Bytes known when the body is planned (an npy or safetensors header)."""

    data: bytes

    def __post_init__(self) -> None:
        self.size = len(self.data)

    def pieces(self, start: int, stop: int) -> Iterator[Piece]:
        chunk = self.data[start:stop]
        yield lambda: chunk


@dataclass
class Lazy(Segment):
    """Bytes computed once, on first use (a zip record that needs CRC-32s)."""

    size: int
    produce: Callable[[], bytes]
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _data: bytes | None = None

    def get(self) -> bytes:
        with self._lock:
            if self._data is None:
                self._data = self.produce()
                assert len(self._data) == self.size, (len(self._data), self.size)
            return self._data

    def pieces(self, start: int, stop: int) -> Iterator[Piece]:
        yield lambda: self.get()[start:stop]


class TensorData(Segment):
    """The little-endian C-order bytes of one output (a tensor or a region of it)."""

    def __init__(self, reader: TensorReader, output: Output) -> None:
        self.reader = reader
        self.output = output
        self.itemsize = reader.dtype.itemsize
        self.size = output.numel * self.itemsize
        self.run = output.region.contiguous_run()
        self.per_piece = PIECE_BLOCKS * BLOCK_SIZE

    def values(self, first: int, end: int, out: NDArray[Any] | None = None) -> NDArray[Any]:
        """Elements ``first..end-1`` of the output, in region order (into ``out``, a 1-D
        array of the output dtype, when given: contiguous runs generate straight into it)."""
        if self.run is not None:
            return self.reader.read_range(self.run[0] + first, self.run[0] + end, out=out)
        values = self.reader.read_indices(flat_indices(self.output.region, first, end))
        if out is None:
            return values
        out[...] = values
        return out

    def bytes_of_run(self, first: int, end: int) -> bytes:
        """The bytes of elements ``first..end-1`` of a contiguous run, generated straight into
        the returned object when the dtype's bytes are native (no copy, one fresh buffer)."""
        assert self.run is not None
        fresh = fresh_bytes((end - first) * self.itemsize) if sys.byteorder == "little" else None
        if fresh is None:  # no extension, or bytes that raw_bytes must swap to little-endian
            return raw_bytes(self.values(first, end)).tobytes()
        body, view = fresh
        target = np.frombuffer(view, dtype=self.reader.dtype)
        values = self.values(first, end, out=target)
        if values is not target:
            target[...] = values
        del target, values
        view.release()
        return body

    def _bounds(self, first: int, end: int) -> list[int]:
        """Piece edges in output elements, aligned to absolute blocks for contiguous runs."""
        offset = self.run[0] if self.run is not None else 0
        step = self.per_piece
        edges = [first]
        edge = (offset + first) // step * step + step - offset
        while edge < end:
            edges.append(edge)
            edge += step
        edges.append(end)
        return edges

    def pieces(self, start: int, stop: int) -> Iterator[Piece]:
        if start >= stop:
            return
        item = self.itemsize
        first, end = start // item, -(-stop // item)
        edges = self._bounds(first, end)
        for a, b in itertools.pairwise(edges):
            lo = max(start, a * item) - a * item
            hi = min(stop, b * item) - a * item
            yield _tensor_piece(self, a, b, lo, hi)


def _tensor_piece(data: TensorData, a: int, b: int, lo: int, hi: int) -> Piece:
    def piece() -> bytes:
        if data.run is not None and (lo, hi) == (0, (b - a) * data.itemsize):
            return data.bytes_of_run(a, b)
        raw = raw_bytes(data.values(a, b))
        return bytes(raw[lo:hi]) if (lo, hi) != (0, raw.nbytes) else raw.tobytes()

    return piece


@dataclass
class Body:
    """A binary body (exact ``size``) or a JSON body (``size`` None: chunked)."""

    segments: list[Segment]
    size: int | None
    data_spans: list[tuple[str, int, int]] = field(default_factory=list)
    json_pieces: list[Piece] = field(default_factory=list)

    def pieces(self, start: int = 0, stop: int | None = None) -> Iterator[Piece]:
        """Pieces covering bytes ``[start, stop)`` of the body, in order."""
        if self.size is None:
            yield from self.json_pieces
            return
        stop = self.size if stop is None else stop
        offset = 0
        for segment in self.segments:
            lo, hi = max(start, offset), min(stop, offset + segment.size)
            if lo < hi:
                yield from segment.pieces(lo - offset, hi - offset)
            offset += segment.size

    def sha_header(self, content: bytes) -> str:
        """``name=sha256,...`` of each tensor's bytes within a whole ``content``."""
        return ",".join(
            f"{name}={hashlib.sha256(content[a:b]).hexdigest()}" for name, a, b in self.data_spans
        )


# ---- readers --------------------------------------------------------------------------------


def readers(job: Job) -> list[TensorReader]:
    """One reader per output; numpy-legacy and torch-cpu draw every tensor once, in order,
    when first read."""
    if job.algorithm is Algorithm.JAX_THREEFRY:
        return jax_readers(job)
    if job.algorithm not in SEQUENTIAL:
        return [TensorReader(o.plan, job.seed) for o in job.outputs]
    lock = threading.Lock()
    cache: dict[str, NDArray[Any]] = {}

    def whole(name: str) -> Callable[[], NDArray[Any]]:
        def get() -> NDArray[Any]:
            with lock:
                if not cache:
                    arrays = generate_all(job.plans, job.seed, job.algorithm)
                    cache.update(zip([p.name for p in job.plans], arrays, strict=True))
                return cache[name]

        return get

    return [TensorReader(o.plan, job.seed, whole(o.plan.name)) for o in job.outputs]


def _descr(output: Output) -> str:
    descr = dtype_info(np.empty(0, TensorReader(output.plan, 0).dtype)).npy_descr
    assert descr is not None  # bfloat16 is refused for npy/npz by the job's checks
    return descr


# ---- binary bodies --------------------------------------------------------------------------


def npy_body(job: Job) -> Body:
    output = job.outputs[0]
    header = npy_header(_descr(output), output.shape)
    data = TensorData(readers(job)[0], output)
    return Body(
        [Fixed(header), data],
        len(header) + data.size,
        [(output.name, len(header), len(header) + data.size)],
    )


def safetensors_body(job: Job) -> Body:
    datas = {o.name: TensorData(r, o) for o, r in zip(job.outputs, readers(job), strict=True)}
    entries = [
        SafetensorsEntry(
            o.name,
            dtype_info(np.empty(0, datas[o.name].reader.dtype)).safetensors,
            o.shape,
            datas[o.name].size,
        )
        for o in job.outputs
    ]
    metadata = {
        "seed": str(job.seed),
        "dtype": job.dtype.value,
        "layout": job.layout.value,
        "algorithm": job.algorithm.value,
        "producer": "weightinit",
        **job.metadata,
    }
    if job.manifest:  # opt-in: without it the header is byte for byte what it was
        metadata[MANIFEST_KEY] = manifest_text(job)
    header = safetensors_header(entries, metadata)
    segments: list[Segment] = [Fixed(header)]
    spans = []
    offset = len(header)
    for entry in data_order(entries):
        segments.append(datas[entry.name])
        spans.append((entry.name, offset, offset + entry.nbytes))
        offset += entry.nbytes
    return Body(segments, offset, spans)


class _Crcs:
    """CRC-32 of each npz member (npy header + data), computed once, on first need."""

    def __init__(self, members: list[tuple[bytes, TensorData]]) -> None:
        self.members = members
        self.locks = [threading.Lock() for _ in members]
        self.values: list[int | None] = [None] * len(members)

    def get(self, index: int) -> int:
        with self.locks[index]:
            value = self.values[index]
            if value is None:
                header, data = self.members[index]
                value = zlib.crc32(header)
                for piece in data.pieces(0, data.size):
                    value = zlib.crc32(piece(), value)
                self.values[index] = value
            return value


def npz_body(job: Job) -> Body:
    check_npz_names([o.name for o in job.outputs])
    members = [
        (npy_header(_descr(o), o.shape), TensorData(r, o))
        for o, r in zip(job.outputs, readers(job), strict=True)
    ]
    crcs = _Crcs(members)
    segments: list[Segment] = []
    records: list[tuple[str, int, int]] = []  # name, size, offset
    spans = []
    offset = 0
    for index, (output, (header, data)) in enumerate(zip(job.outputs, members, strict=True)):
        size = len(header) + data.size
        head_size = local_header_size(output.name, size)
        records.append((output.name, size, offset))
        spans.append((output.name, offset + head_size + len(header), offset + head_size + size))
        if size <= SMALL_MEMBER_BYTES:
            segments.append(
                Lazy(head_size + size, _small_member(output.name, header, data, crcs, index))
            )
        else:
            segments.append(Lazy(head_size, _large_member_header(output.name, size, crcs, index)))
            segments += [Fixed(header), data]
        offset += head_size + size

    def directory() -> bytes:
        return end_records([NpzMember(n, s, crcs.get(i), o) for i, (n, s, o) in enumerate(records)])

    if not records:  # no tensors: the empty archive numpy.savez writes
        return Body([Fixed(EMPTY_NPZ)], len(EMPTY_NPZ))
    tail_size = len(end_records([NpzMember(n, s, 0, o) for n, s, o in records]))
    segments.append(Lazy(tail_size, directory))
    return Body(segments, offset + tail_size, spans)


def _large_member_header(name: str, size: int, crcs: _Crcs, index: int) -> Callable[[], bytes]:
    return lambda: local_header(name, size, crcs.get(index))


def _small_member(
    name: str, header: bytes, data: TensorData, crcs: _Crcs, index: int
) -> Callable[[], bytes]:
    def produce() -> bytes:
        content = header + b"".join(piece() for piece in data.pieces(0, data.size))
        crc = zlib.crc32(content)
        with crcs.locks[index]:
            crcs.values[index] = crc
        return local_header(name, len(content), crc) + content

    return produce


# ---- JSON -----------------------------------------------------------------------------------


def tensor_meta(
    output: Output, array: NDArray[Any], sha: str, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    plan = output.plan
    law = plan.law
    truncated = law if isinstance(law, TruncatedNormalLaw) else None
    meta: dict[str, Any] = {"name": plan.name, "shape": list(output.shape)}
    if output.partial:
        meta["full_shape"] = list(plan.shape)
        meta["slice"] = output.region.text()
    meta |= {
        "dtype": "int64" if plan.is_integer else plan.dtype.value,
        "role": plan.role.value,
        "scheme": plan.scheme or {},
        "fan_in": plan.fans.fan_in if plan.fans else None,
        "fan_out": plan.fans.fan_out if plan.fans else None,
        "std": law.std,
        "bound": law_bound(law),
        "sigma": truncated.sigma if truncated else None,
        "truncation": list(truncated.truncation) if truncated else None,
        "sha256": sha,
        **({"rule": plan.rule} if plan.rule else {}),
        **(extra or {}),
    }
    for key in ("fan_in", "fan_out"):
        if meta[key] is not None and math.isfinite(meta[key]) and meta[key] == int(meta[key]):
            meta[key] = int(meta[key])
    return meta


def _json_tensor(job: Job, output: Output, reader: TensorReader, separator: str) -> Piece:
    def piece() -> bytes:
        data = TensorData(reader, output)
        array = data.values(0, output.numel).reshape(output.shape)
        sha = hashlib.sha256(raw_bytes(array)).hexdigest()
        meta = tensor_meta(output, array, sha, exactness(job, output.plan))
        head = json.dumps(meta)[:-1]
        text = (
            json.dumps(json_base64(array))
            if job.encoding == "base64"
            else json_values(array, "nested" if job.json_layout == "nested" else "flat")
        )
        return f'{separator}{head}, "data": {text}}}'.encode()

    return piece


def json_body(job: Job) -> Body:
    head = json.dumps(
        {
            "seed": job.seed,
            "dtype": job.dtype.value,
            "layout": job.layout.value,
            "algorithm": job.algorithm.value,
            **({"recipe": job.recipe} if job.recipe is not None else {}),
        }
    )[:-1]
    opening = f'{head}, "tensors": ['.encode()
    pieces: list[Piece] = [lambda: opening]
    for i, (output, reader) in enumerate(zip(job.outputs, readers(job), strict=True)):
        pieces.append(_json_tensor(job, output, reader, ", " if i else ""))
    if job.manifest:  # opt-in: without it the body is byte for byte what it was
        tail = f'], "manifest": {json.dumps(manifest(job))}}}'.encode()
        pieces.append(lambda: tail)
    else:
        pieces.append(lambda: b"]}")
    return Body([], None, json_pieces=pieces)


def build_body(job: Job) -> Body:
    """The body of ``job`` in its format (nothing generated yet)."""
    if job.fmt == "json":
        return json_body(job)
    if job.fmt == "npy":
        return npy_body(job)
    if job.fmt == "npz":
        return npz_body(job)
    return safetensors_body(job)


def json_size_estimate(job: Job) -> int:
    """An upper estimate of a JSON body's size (about 24 bytes per number)."""
    return 24 * sum(o.numel for o in job.outputs) + 1024 * len(job.outputs)
