"""GET /playground: a page to explore POST /v1/diagnostics, and its script and stylesheet.

The files are static (``app/static/playground/``: plain HTML, JavaScript and CSS, no build
step, nothing fetched from elsewhere, so the page works offline) and served from memory with
a strong ETag and ``Cache-Control: no-cache`` (a browser revalidates, a 304 saves the body).
The page asks only its own origin (every URL in it is relative, so it works behind a path
prefix too); the Content-Security-Policy says so. The page itself needs no API key (a
browser cannot send one when it opens a link): the gate lets ``/playground`` through
(``app.api.gate.PAGE_PREFIX``) and the page sends the key typed into it with every request
it makes. Not part of the OpenAPI document.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Request
from fastapi import Path as PathParam
from starlette.responses import RedirectResponse, Response

from ..problems import ProblemError
from ..respond import etag_matches

STATIC_DIR = Path(__file__).resolve().parents[2] / "static" / "playground"
PAGE = "index.html"
ASSETS = {
    "playground.js": "text/javascript; charset=utf-8",
    "playground.css": "text/css; charset=utf-8",
}
# Only this origin: scripts and styles from files (no inline ones), the plot as a blob: URL
# made from the SVG the page fetched, requests to the service that served the page.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    "connect-src 'self'; base-uri 'self'; form-action 'none'; frame-ancestors 'none'"
)

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class StaticFile:
    body: bytes
    media_type: str
    etag: str


@cache
def static_file(name: str, media_type: str) -> StaticFile:
    """``name`` from :data:`STATIC_DIR`, read once per process."""
    body = (STATIC_DIR / name).read_bytes()
    return StaticFile(body, media_type, '"' + hashlib.sha256(body).hexdigest()[:32] + '"')


def _send(request: Request, file: StaticFile) -> Response:
    headers = {
        "ETag": file.etag,
        "Cache-Control": "no-cache",
        "X-Content-Type-Options": "nosniff",
    }
    if etag_matches(request.headers.get("if-none-match"), file.etag):
        return Response(status_code=304, headers=headers)
    if file.media_type.startswith("text/html"):
        headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        headers["Referrer-Policy"] = "no-referrer"
    return Response(file.body, media_type=file.media_type, headers=headers)


@router.get("/playground")
async def playground(request: Request) -> Response:
    return _send(request, static_file(PAGE, "text/html; charset=utf-8"))


@router.get("/playground/")
async def playground_slash() -> Response:
    # relative, so that it also works behind a path prefix: /x/playground/ -> /x/playground
    return RedirectResponse("../playground", status_code=308)


@router.get("/playground/{asset}")
async def playground_asset(request: Request, asset: Annotated[str, PathParam()]) -> Response:
    media_type = ASSETS.get(asset)
    if media_type is None:
        raise ProblemError(
            404, f"The playground has no file {asset!r}; it has {', '.join(sorted(ASSETS))}."
        )
    return _send(request, static_file(asset, media_type))
