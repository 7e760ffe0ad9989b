"""POST /v1/weights/digests and /v1/models/digests: sha256 of every tensor and block."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from app.jobs.digests import DIGEST_BLOCK, check_block_count, digests
from app.jobs.job import Job, Selection, model_job, weights_job

from ..deps import json_body, known_query, off_loop, settings_of
from ..disconnect import until_disconnected
from ..respond import admit, problems
from ..schemas import DigestsResponse, ModelRequest, WeightsRequest

router = APIRouter(prefix="/v1", tags=["digests"])

BlocksQ = Annotated[
    bool,
    Query(
        description="also list the sha256 of every 65 536-element block (default true; at "
        "most WEIGHTINIT_MAX_DIGEST_BLOCKS)"
    ),
]
DESCRIPTION = (
    "The same request as the download (the same `slice`, `shard` or shard plan), answered "
    "with digests instead of values: the sha256 of each returned tensor's little-endian "
    "C-order bytes and of each 65 536-element block of them, to verify ranged, parallel or "
    "streamed downloads piece by piece. Costs the generation, not the transfer."
)


async def _answer(request: Request, job: Job, blocks: bool) -> dict[str, Any]:
    if blocks:
        check_block_count(job, settings_of(request))
    nbytes = 64 * sum(-(-o.numel // DIGEST_BLOCK) for o in job.outputs)  # the hex digests
    ticket, pool = await admit(request, job, nbytes)
    try:
        return await until_disconnected(
            request, lambda stop: digests(job, pool, blocks=blocks, stop=stop)
        )
    finally:
        ticket.release()


@router.post(
    "/weights/digests",
    operation_id="digestWeights",
    summary="sha256 of one layer's tensors and of their blocks, without the tensors",
    description=DESCRIPTION,
    response_model=DigestsResponse,
    response_model_exclude_none=True,
    responses=problems(400, 413, 415, 422, 503),
    dependencies=[Depends(json_body), Depends(known_query())],
)
async def digest_weights(
    request: Request,
    body: WeightsRequest,
    tensor: Annotated[str | None, Query(description="only this tensor")] = None,
    blocks: BlocksQ = True,
) -> dict[str, Any]:
    settings = settings_of(request)
    job = await off_loop(lambda: weights_job(body, settings, Selection("safetensors", tensor)))
    return await _answer(request, job, blocks)


@router.post(
    "/models/digests",
    operation_id="digestModel",
    summary="sha256 of every tensor of a model (or of one rank's shards) and of their blocks",
    description=DESCRIPTION,
    response_model=DigestsResponse,
    response_model_exclude_none=True,
    responses=problems(400, 413, 415, 422, 503),
    dependencies=[Depends(json_body), Depends(known_query())],
)
async def digest_model(
    request: Request, body: ModelRequest, blocks: BlocksQ = True
) -> dict[str, Any]:
    settings = settings_of(request)
    job = await off_loop(lambda: model_job(body, settings, Selection("safetensors")))
    return await _answer(request, job, blocks)
