"""GET /v1/schemes, /v1/schemes/{name}, /v1/gains, /v1/recipes and /v1/architectures: the
registries, as data."""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from starlette.responses import Response

from app.core.errors import UnknownNameError
from app.core.gains import gain_table
from app.core.schemes import ALIASES, SCHEMES, all_names
from app.jobs.registry import architectures_listing, recipes_listing, scheme_out, schemes_listing

from ..deps import known_query
from ..problems import ProblemError
from ..respond import PROBLEMS, etag_matches
from ..schemas import ArchitectureList, GainList, RecipeList, SchemeList, SchemeOut

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
    summary="Every scheme (canonical name, aliases, parameters, formula, reference), recipe and "
    "architecture",
    description="The scheme registry, and the recipes and architectures with their references "
    "(the same entries as GET /v1/recipes and GET /v1/architectures).",
    response_model=SchemeList,
    responses={304: {"description": "Not modified"}},
)
async def list_schemes(request: Request) -> Response:
    return _cached_json(request, schemes_listing())


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


@router.get(
    "/recipes",
    operation_id="listRecipes",
    summary="Every initialization recipe: formula, parameters, the code it follows",
    response_model=RecipeList,
    responses={304: {"description": "Not modified"}},
)
async def list_recipes(request: Request) -> Response:
    return _cached_json(request, recipes_listing())


@router.get(
    "/architectures",
    operation_id="listArchitectures",
    summary="Every architecture: its classes and the config fields it reads, with defaults",
    response_model=ArchitectureList,
    responses={304: {"description": "Not modified"}},
)
async def list_architectures(request: Request) -> Response:
    return _cached_json(request, architectures_listing())
