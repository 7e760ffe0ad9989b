"""Shared response assembly: limits, generation on the pool, encoding, headers, ETags."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from starlette.responses import Response

from .deps import limiter, settings_of
from .negotiation import MEDIA, OCTET
from .problems import PROBLEM_JSON
from .schemas import Problem, WeightsResponse
from .service import Job, check, generate, render_binary, render_json, select, sha_header

FORMATS_ALL = ("json", "npy", "npz", "safetensors")
FORMATS_MODEL = ("json", "npz", "safetensors")
_BINARY_SCHEMA = {"type": "string", "format": "binary"}
_PROBLEM = {
    "model": Problem,
    "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
}
PROBLEMS: dict[int | str, dict[str, Any]] = {
    status: {"description": desc, **_PROBLEM}
    for status, desc in (
        (400, "Malformed JSON"),
        (404, "Unknown route or name"),
        (406, "No acceptable format"),
        (413, "Over a limit"),
        (415, "Body is not JSON"),
        (422, "Validation failed"),
    )
}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The documented problem+json responses for ``statuses``."""
    return {status: PROBLEMS[status] for status in statuses}


def json_and_binary_responses(
    formats: tuple[str, ...], *, get: bool = False
) -> dict[int | str, dict[str, Any]]:
    content: dict[str, Any] = {
        "application/json": {"schema": {"$ref": "#/components/schemas/WeightsResponse"}}
    }
    for name in formats:
        if name != "json":
            content[MEDIA[name]] = {"schema": _BINARY_SCHEMA}
    ok: dict[int | str, dict[str, Any]] = {
        200: {"model": WeightsResponse, "description": "The tensors", "content": content}
    }
    if get:
        return {
            **ok,
            304: {"description": "Not modified (a matching If-None-Match)"},
            **problems(404, 406, 413, 422),
        }
    return {**ok, **problems(400, 406, 413, 415, 422)}


BINARY_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The file", "content": {OCTET: {"schema": _BINARY_SCHEMA}}},
    **problems(400, 406, 413, 415, 422),
}

_FILENAMES = {"npz": "{op}.npz", "safetensors": "{op}.safetensors"}


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """If-None-Match uses the weak comparison (RFC 9110 §13.1.2): W/"x" matches "x"."""
    if not if_none_match:
        return False
    tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
    return "*" in tags or etag in tags


async def respond(
    request: Request,
    job: Job,
    fmt: str,
    tensor: str | None,
    json_layout: str,
    encoding: str,
    *,
    media: str,
    get: bool = False,
) -> Response:
    settings = settings_of(request)
    returned = select(job, tensor) if (fmt == "npy" or tensor is not None) else job.plans
    variant = [
        fmt,
        tensor or "",
        json_layout if fmt == "json" else "",
        encoding if fmt == "json" else "",
    ]
    etag = job.etag(*variant)
    headers = {"ETag": etag}
    if get and etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    check(job, settings, returned, fmt)
    arrays = await generate(job, returned, limiter(request))
    if fmt == "json":
        body = render_json(job, returned, arrays, json_layout, encoding)
        return Response(body, media_type="application/json", headers=headers)
    body = render_binary(fmt, job, returned, arrays)
    op = "model" if job.canonical.get("op") == "model" else "weights"
    filename = f"{returned[0].name}.npy" if fmt == "npy" else _FILENAMES[fmt].format(op=op)
    headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    headers["X-Weightinit-Sha256"] = sha_header(returned, arrays)
    return Response(body, media_type=media, headers=headers)
