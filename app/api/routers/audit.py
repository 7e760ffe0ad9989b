"""POST /v1/audit, and the init manifest without the weights: POST /v1/models/manifest and
/v1/weights/manifest."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import JSONResponse

from app.jobs.audit import audit_request
from app.jobs.audit_requests import AuditRequest, Manifest
from app.jobs.job import Selection, model_job, weights_job
from app.jobs.manifest import manifest

from ..deps import json_body, known_query, off_loop, settings_of
from ..respond import problems
from ..schemas import AuditResponse, ModelRequest, WeightsRequest

router = APIRouter(prefix="/v1", tags=["audit"])

MANIFEST_DESCRIPTION = (
    "The init manifest of the same request, planned but not generated (cheap): per returned "
    "tensor its role, scheme, fans, law, expected mean and std, kurtosis, bounds or "
    "truncation, and the recipe rule that chose it. The same document `?manifest=true` puts "
    "into a safetensors body's `__metadata__` (key `weightinit.manifest`) and `POST "
    "/v1/audit` takes back."
)
AUDIT_DESCRIPTION = (
    "Compare a model's tensors, as the client measured them (shape, dtype, numel and the "
    "float64 mean, population std, min and max of each), with a request (planned, nothing "
    "generated) or an init manifest. Each tensor gets a verdict (ok, deviates, missing, "
    "unexpected, shape_mismatch, unchecked) and its checks with the tolerance used: std within "
    "z·sigma·√((κ-1)/(4n)) (κ the law's kurtosis: 3 normal, 1.8 uniform, the truncated normal's), "
    "mean within z·sigma/√n, values within a bounded law's bounds, each widened by the dtype's "
    "rounding; a constant's std must be 0 within it. z defaults to 6, so a correct model "
    "passes. A deviating tensor names the recipe rule it breaks when the manifest carries one."
)


def _json(document: dict[str, Any]) -> JSONResponse:
    return JSONResponse(document)


@router.post(
    "/weights/manifest",
    operation_id="manifestWeights",
    summary="The init manifest of one layer's tensors, without the tensors",
    description=MANIFEST_DESCRIPTION,
    response_model=Manifest,
    responses=problems(400, 413, 415, 422),
    dependencies=[Depends(json_body), Depends(known_query())],
)
async def manifest_weights(
    request: Request,
    body: WeightsRequest,
    tensor: Annotated[str | None, Query(description="only this tensor")] = None,
) -> JSONResponse:
    settings = settings_of(request)
    job = await off_loop(lambda: weights_job(body, settings, Selection("safetensors", tensor)))
    return _json(manifest(job))


@router.post(
    "/models/manifest",
    operation_id="manifestModel",
    summary="The init manifest of a model (or of one rank's shards), without the tensors",
    description=MANIFEST_DESCRIPTION,
    response_model=Manifest,
    responses=problems(400, 413, 415, 422),
    dependencies=[Depends(json_body), Depends(known_query())],
)
async def manifest_model(request: Request, body: ModelRequest) -> JSONResponse:
    settings = settings_of(request)
    job = await off_loop(lambda: model_job(body, settings, Selection("safetensors")))
    return _json(manifest(job))


@router.post(
    "/audit",
    operation_id="audit",
    summary="Check a model's measured tensors against a request or an init manifest",
    description=AUDIT_DESCRIPTION,
    response_model=AuditResponse,
    response_model_exclude_none=True,
    responses=problems(400, 413, 415, 422),
    dependencies=[Depends(json_body), Depends(known_query())],
)
async def audit(request: Request, body: AuditRequest) -> dict[str, Any]:
    settings = settings_of(request)
    return await off_loop(lambda: audit_request(body, settings))
