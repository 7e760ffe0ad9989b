"""POST /v1/models: many named layers (or the textbook MLP) in one archive."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from app.jobs.job import Selection, model_job

from ..deps import json_body, known_query, off_loop, settings_of
from ..negotiation import MEDIA, OCTET, choose, refuse_other_format, require_octet
from ..respond import BINARY_RESPONSES, FORMATS_MODEL, json_and_binary_responses, respond
from ..schemas import Encoding, JsonLayout, ModelRequest

router = APIRouter(prefix="/v1", tags=["models"])

ManifestQ = Annotated[
    bool,
    Query(
        description="put the init manifest into the body: safetensors __metadata__ key "
        "weightinit.manifest (a JSON string), or a JSON body's 'manifest'; npy and npz have no "
        "place for it (422). Default false: the bytes of every body are unchanged"
    ),
]

ModelFormatQ = Annotated[
    str | None,
    Query(
        pattern="^(json|npz|safetensors)$", description="json, npz or safetensors; wins over Accept"
    ),
]


@router.post(
    "/models",
    operation_id="generateModel",
    summary="Initialise every tensor of many named layers",
    responses=json_and_binary_responses(FORMATS_MODEL),
    dependencies=[Depends(json_body), Depends(known_query())],
)
async def generate_model(
    request: Request,
    body: ModelRequest,
    *,
    format: ModelFormatQ = None,
    json_layout: Annotated[JsonLayout, Query()] = "flat",
    encoding: Annotated[Encoding, Query()] = "numbers",
    manifest: ManifestQ = False,
) -> Response:
    fmt = choose(format, request.headers.get("accept"), allowed=FORMATS_MODEL, octet="safetensors")
    settings = settings_of(request)
    selection = Selection(fmt, None, json_layout, encoding, manifest)
    job = await off_loop(lambda: model_job(body, settings, selection))
    return await respond(request, job, media=MEDIA[fmt])


def _binary_route(fmt: Any) -> Any:
    async def route(request: Request, body: ModelRequest, manifest: ManifestQ = False) -> Response:
        require_octet(request.headers.get("accept"))
        refuse_other_format(request, fmt)
        settings = settings_of(request)
        selection = Selection(fmt, manifest=manifest)
        job = await off_loop(lambda: model_job(body, settings, selection))
        return await respond(request, job, media=OCTET)

    return route


for _fmt, _op in (("npz", "generateModelNpz"), ("safetensors", "generateModelSafetensors")):
    router.add_api_route(
        f"/models.{_fmt}",
        _binary_route(_fmt),
        methods=["POST"],
        operation_id=_op,
        summary=f"Initialise many named layers as .{_fmt}",
        responses=BINARY_RESPONSES,
        response_class=Response,
        dependencies=[Depends(json_body), Depends(known_query("format"))],
    )
