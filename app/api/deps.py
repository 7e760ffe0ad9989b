"""Request-scoped dependencies: settings, the generation pool, the JSON body rule."""

from __future__ import annotations

from fastapi import Request

from app.jobs.limits import Settings
from app.jobs.pool import GenerationPool

from .problems import ProblemError


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def pool_of(request: Request) -> GenerationPool:
    pool: GenerationPool = request.app.state.pool
    return pool


async def json_body(request: Request) -> None:
    """POST bodies are JSON objects: another media type is a 415, an empty body a 400."""
    content_type = request.headers.get("content-type", "")
    media = content_type.split(";")[0].strip().lower()
    if not (
        media == "application/json"
        or (media.startswith("application/") and media.endswith("+json"))
    ):
        shown = media or "no Content-Type"
        raise ProblemError(415, f"Send the body as application/json (got {shown}).")
    if not (await request.body()).strip():
        raise ProblemError(400, "The body is empty: send a JSON object.")
