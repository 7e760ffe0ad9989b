"""sha256 digests of a job's tensors without sending them: whole, and per 65 536-element block.

For every returned tensor (or its slice or shard) the digest of its little-endian C-order
bytes, the same value as the ``sha256`` of a JSON response and of ``X-Weightinit-Sha256``;
and, when asked, the digest of each consecutive run of :data:`DIGEST_BLOCK` elements of those
bytes (the last run may be shorter), so a download in ranged or parallel pieces can be checked
piece by piece. For a whole tensor these runs are exactly the stream algorithm's blocks.
Computing digests costs what generating the tensors costs; nothing is held but a few blocks.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from typing import Any

from app.core.errors import LimitExceededError
from app.core.streams import BLOCK_SIZE

from .body import TensorData, readers
from .exactness import exactness
from .job import Job, Output
from .limits import Settings
from .pool import GenerationPool

DIGEST_BLOCK = BLOCK_SIZE


def check_block_count(job: Job, settings: Settings) -> None:
    """Refuse, before any work, a response with more block digests than the limit."""
    count = sum(-(-o.numel // DIGEST_BLOCK) for o in job.outputs)
    if count > settings.max_digest_blocks:
        raise LimitExceededError(
            "WEIGHTINIT_MAX_DIGEST_BLOCKS",
            settings.max_digest_blocks,
            count,
            unit="block digests",
            hint="Ask with blocks=false, or for a slice or shard of the tensor.",
        )


def _block(data: TensorData, first: int, end: int) -> Callable[[], tuple[str, bytes]]:
    def piece() -> tuple[str, bytes]:
        raw = b"".join(p() for p in data.pieces(first * data.itemsize, end * data.itemsize))
        return hashlib.sha256(raw).hexdigest(), raw

    return piece


def _tensor(
    pool: GenerationPool,
    data: TensorData,
    blocks: bool,
    stop: threading.Event | None,
    exact: dict[str, Any],
) -> dict[str, Any]:
    output: Output = data.output
    whole = hashlib.sha256()
    block_digests: list[str] = []
    pieces = (
        _block(data, first, min(first + DIGEST_BLOCK, output.numel))
        for first in range(0, output.numel, DIGEST_BLOCK)
    )
    for digest, raw in pool.iterate(pieces, stop):
        whole.update(raw)
        block_digests.append(digest)
    entry: dict[str, Any] = {"name": output.name, "shape": list(output.shape)}
    if output.partial:
        entry["full_shape"] = list(output.plan.shape)
        entry["slice"] = output.region.text()
    entry["dtype"] = data.reader.dtype.name if output.plan.is_integer else output.plan.dtype.value
    entry["role"] = output.plan.role.value
    entry["scheme"] = output.plan.scheme or {}
    if output.plan.rule:
        entry["rule"] = output.plan.rule
    entry["sha256"] = whole.hexdigest()
    entry |= exact  # exactness, for a framework-exact algorithm only
    if blocks:
        entry["block_elements"] = DIGEST_BLOCK
        entry["blocks"] = block_digests
    return entry


def digests(
    job: Job, pool: GenerationPool, *, blocks: bool, stop: threading.Event | None = None
) -> dict[str, Any]:
    """The digests document of ``job`` (runs on the caller's thread, blocks on the pool;
    raises :class:`~app.jobs.pool.Cancelled` once ``stop`` is set)."""
    tensors = [
        _tensor(pool, TensorData(reader, output), blocks, stop, exactness(job, output.plan))
        for output, reader in zip(job.outputs, readers(job), strict=True)
    ]
    return {
        "seed": job.seed,
        "dtype": job.dtype.value,
        "layout": job.layout.value,
        "algorithm": job.algorithm.value,
        **({"recipe": job.recipe} if job.recipe is not None else {}),
        "tensors": tensors,
    }
