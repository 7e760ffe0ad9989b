"""GET /v1/schemes, /v1/schemes/{name} and /v1/gains: the registry, as data."""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from starlette.responses import Response

from app.core.errors import UnknownNameError
from app.core.gains import gain_table
from app.core.schemes import ALIASES, SCHEMES, all_names
from app.jobs.registry import scheme_out

from ..deps import known_query
from ..problems import ProblemError
from ..respond import PROBLEMS, etag_matches
from ..schemas import GainList, SchemeList, SchemeOut

router = APIRouter(prefix="/v1", tags=["registry"], dependencies=[Depends(known_query())])


def _cached_json(request: Request, payload: Any) -> Response:
    body = json.dumps(payload, sort_keys=True).encode()
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers={"ETag": etag})
    return Response(body, media_type="application/json", headers={"ETag": etag})


@router.get(
    "/schemes",
    operation_id="listSchemes",
    summary="Every scheme: canonical name, aliases, parameters, formula, reference",
    response_model=SchemeList,
    responses={304: {"description": "Not modified"}},
)
async def list_schemes(request: Request) -> Response:
    return _cached_json(request, {"schemes": [scheme_out(s) for s in SCHEMES.values()]})


@router.get(
    "/schemes/{name}",
    operation_id="getScheme",
    summary="One scheme (an alias gives its canonical scheme)",
    response_model=SchemeOut,
    responses={304: {"description": "Not modified"}, 404: PROBLEMS[404], 422: PROBLEMS[422]},
)
async def get_scheme(request: Request, name: Annotated[str, Path()]) -> Response:
    canonical = ALIASES.get(name, name)
    if canonical not in SCHEMES:
        raise ProblemError(404, str(UnknownNameError("scheme", name, all_names())))
    return _cached_json(request, scheme_out(SCHEMES[canonical]))


@router.get(
    "/gains",
    operation_id="listGains",
    summary="The gain table: torch's calculate_gain and the variance-preserving rule",
    response_model=GainList,
    responses={304: {"description": "Not modified"}},
)
async def list_gains(request: Request) -> Response:
    gains = [
        {
            "name": g.name,
            "rule": str(g.rule),
            "param_name": g.param_name,
            "default_param": g.default_param,
            "value": g.value,
            "formula": g.formula,
            "reference": g.reference,
        }
        for g in gain_table()
    ]
    return _cached_json(request, {"gains": gains})
