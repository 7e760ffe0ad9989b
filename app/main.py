"""The ASGI application: ``app.main:app``, built by ``create_app()``."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.staticfiles import StaticFiles
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import HTMLResponse, Response
from swagger_ui_bundle import swagger_ui_path

from app import __version__
from app.api import metrics, problems
from app.api.cache import ResponseCache
from app.api.gate import OPEN_PATHS, Gate
from app.api.head import HeadAsGet
from app.api.json_guard import JsonGuard
from app.api.lifecycle import drain_on_signals
from app.api.middleware import RequestLimits
from app.api.observe import Observability, install_json_logging
from app.api.routers import (
    audit,
    diagnostics,
    digests,
    health,
    models,
    playground,
    registry,
    weights,
)
from app.api.settings import Settings
from app.jobs.admission import Admission, LaneName
from app.jobs.limits import SettingsError
from app.jobs.pool import GenerationPool

DESCRIPTION = """Initialized neural-network weights as a service: a layer spec, a scheme and a
seed in; the weights out as JSON, `.npy`, `.npz` or safetensors. The same request gives the
same bytes on every run, process and machine (stream algorithm `blocks-v1`).

Errors are RFC 9457 `application/problem+json`. Request bodies are UTF-8 JSON (RFC 8259),
at most 32 levels deep and 65 536 items per array or object; every string must be text (no
lone surrogates, no control characters). Every GET route also answers HEAD. A request head
or body that does not arrive in time (`WEIGHTINIT_HEADER_TIMEOUT_S`,
`WEIGHTINIT_BODY_TIMEOUT_S`) gets a 408 and the connection is closed.

Requests that generate values are admitted per process: small requests (cost up to
`WEIGHTINIT_SMALL_REQUEST_COST`) and large ones have separate slots
(`WEIGHTINIT_MAX_CONCURRENT_JOBS`) and threads; a request that finds its lane's queue full
(`WEIGHTINIT_MAX_QUEUED_JOBS`) or cannot start within `WEIGHTINIT_QUEUE_TIMEOUT_S` (default
10 s), or arrives while the server drains, gets `503` with `Retry-After`. The defaults admit
a 70-billion-element model's stream."""

TAGS = [
    {"name": "weights", "description": "One layer's tensors"},
    {"name": "models", "description": "Many named layers in one response"},
    {"name": "digests", "description": "sha256 of tensors and blocks, without the tensors"},
    {"name": "audit", "description": "Init manifests, and checking a model's tensors against one"},
    {
        "name": "diagnostics",
        "description": "Signal propagation through an initialised chain: statistics, "
        "mean-field predictions, muP's coordinate check, plots",
    },
    {"name": "registry", "description": "Schemes, gains, recipes and architectures"},
    {"name": "health", "description": "Liveness, readiness, index"},
]


class WeightinitAPI(FastAPI):
    """FastAPI whose OpenAPI document declares the security schemes and the responses of the
    HTTP edge on every operation (:func:`declare_edge`), and gives every error as
    problem+json only (FastAPI adds application/json and, for 422, its own
    HTTPValidationError schema)."""

    def openapi(self) -> dict[str, Any]:
        if self.openapi_schema is None:
            spec = super().openapi()
            declare_security(spec)
            declare_edge(spec)
            problem = {"$ref": "#/components/schemas/Problem"}
            for operations in spec.get("paths", {}).values():
                for operation in operations.values():
                    for status, response in operation.get("responses", {}).items():
                        if status.startswith(("4", "5")):
                            response["content"] = {problems.PROBLEM_JSON: {"schema": problem}}
            for name in ("HTTPValidationError", "ValidationError"):
                spec.get("components", {}).get("schemas", {}).pop(name, None)
            self.openapi_schema = spec
        return self.openapi_schema


SECURITY_SCHEMES = {
    "bearerAuth": {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key (WEIGHTINIT_API_KEYS), as 'Authorization: Bearer <key>'.",
    },
    "apiKeyHeader": {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "The same API key, as 'X-API-Key: <key>'.",
    },
}


def declare_security(spec: dict[str, Any]) -> None:
    """Keys are optional (the operator decides): either scheme, or none ({}); the health
    operations never need one."""
    spec.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES
    spec["security"] = [{}, {"bearerAuth": []}, {"apiKeyHeader": []}]
    for path, operations in spec.get("paths", {}).items():
        for operation in operations.values():
            if path in OPEN_PATHS:
                operation["security"] = []


def _header(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "required": True, "schema": schema}


RETRY_AFTER = {
    "Retry-After": _header("Seconds to wait before retrying", {"type": "integer", "minimum": 1})
}
WWW_AUTHENTICATE = {"WWW-Authenticate": _header("Bearer", {"type": "string"})}
# The responses the HTTP edge gives before (or instead of) an operation's own: (status,
# description, headers, where): on "all" operations, on the "guarded" ones (all but health
# and readiness: keys and rate limits), or on those that "declare" it themselves (generation
# and readiness answer 503: overloaded or draining). The edge's description replaces a
# route's own, except for the statuses in KEEP_OWN, whose routes say more.
EDGE: tuple[tuple[int, str, dict[str, Any], str], ...] = (
    (
        400,
        "Malformed request: not valid HTTP/1.1, or both Content-Length and Transfer-Encoding "
        "(the server answers and closes the connection); or a body that is not UTF-8 JSON, "
        "is empty, nests deeper than 32 levels or holds over 65 536 items in one array or "
        "object",
        {},
        "all",
    ),
    (
        408,
        "The request head or body did not arrive in time (WEIGHTINIT_HEADER_TIMEOUT_S, "
        "WEIGHTINIT_BODY_TIMEOUT_S: a body shorter than its Content-Length); the connection is "
        "closed",
        {},
        "all",
    ),
    (413, "The body is over WEIGHTINIT_MAX_BODY_BYTES; the connection is closed", {}, "all"),
    (401, "No valid API key (only when the service has API keys)", WWW_AUTHENTICATE, "guarded"),
    (429, "Rate limit reached (WEIGHTINIT_RATE_LIMIT); wait Retry-After", RETRY_AFTER, "guarded"),
    (503, "Overloaded or draining; wait Retry-After", RETRY_AFTER, "declare"),
)
KEEP_OWN = frozenset({"413", "503"})  # a route's 413 names its other limits too


def declare_edge(spec: dict[str, Any]) -> None:
    """Every operation lists the edge's responses (:data:`EDGE`), in this one place."""
    for path, operations in spec.get("paths", {}).items():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            for status, description, headers, where in EDGE:
                key = str(status)
                if (where == "guarded" and path in OPEN_PATHS) or (
                    where == "declare" and key not in responses
                ):
                    continue
                response = responses.setdefault(key, {"description": description})
                if key not in KEEP_OWN:
                    response["description"] = description
                if headers:
                    response["headers"] = copy.deepcopy(headers)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the application; settings default to the environment (WEIGHTINIT_*)."""
    settings = settings or Settings.from_env()
    # Each admission lane has its own threads (app.jobs.admission): small jobs never queue
    # behind an expensive job's pieces.
    pools: dict[LaneName, GenerationPool] = {
        "small": metrics.MeteredPool(settings.threads),
        "large": metrics.MeteredPool(settings.threads),
    }
    admission = Admission(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        for pool in pools.values():
            pool.open()
        admission.draining = False
        restore_signals = drain_on_signals(admission)
        try:
            yield
        finally:
            admission.draining = True
            restore_signals()
            for pool in pools.values():
                pool.shutdown()
            metrics.process_exited()

    app = WeightinitAPI(
        lifespan=lifespan,
        title="weightinit",
        version=__version__,
        description=DESCRIPTION,
        openapi_tags=TAGS,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.pool = pools["large"]
    app.state.pools = pools
    app.state.admission = admission
    problems.install(app)
    app.add_middleware(ResponseCache, max_bytes=settings.cache_bytes)
    app.add_middleware(JsonGuard)  # inside RequestLimits: the body is already bounded
    app.add_middleware(
        RequestLimits,
        max_body_bytes=settings.max_body_bytes,
        body_timeout_s=settings.body_timeout_s,
    )
    app.add_middleware(HeadAsGet, routes_of=app)
    # Outermost last: ids, logs and metrics see everything; CORS answers preflights before
    # the keys are asked for (browsers send none on a preflight).
    app.add_middleware(
        Gate, keys=settings.api_keys, rate=settings.rate_limit, burst=settings.rate_burst
    )
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, **cors_options(settings.cors_origins))
    routes = metrics.RouteTable()
    app.add_middleware(Observability, routes=routes)
    install_json_logging()
    routers = (
        weights.router,
        models.router,
        digests.router,
        audit.router,
        diagnostics.router,
        registry.router,
        health.router,
        playground.router,
    )
    for router in routers:
        app.include_router(router)
    app.mount("/docs-static", StaticFiles(directory=swagger_ui_path), name="docs-static")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="weightinit - API docs",
            swagger_js_url="/docs-static/swagger-ui-bundle.js",
            swagger_css_url="/docs-static/swagger-ui.css",
            swagger_favicon_url="/docs-static/favicon-32x32.png",
        )

    @app.get("/metrics", include_in_schema=False)
    async def metrics_text() -> Response:
        return Response(metrics.exposition(), media_type=metrics.CONTENT_TYPE)

    routes.load([*app.routes, *(route for router in routers for route in router.routes)])
    app.state.routes = routes  # a 405's Allow (app/api/problems.py)
    return app


def cors_options(origins: tuple[str, ...]) -> dict[str, Any]:
    """CORSMiddleware for ``origins``: the methods, headers and exposed headers the API uses."""
    return {
        "allow_origins": list(origins),
        "allow_methods": ["GET", "HEAD", "POST", "OPTIONS"],
        "allow_headers": [
            "Authorization",
            "X-API-Key",
            "Content-Type",
            "Accept",
            "Range",
            "If-None-Match",
            "If-Range",
            "X-Request-ID",
        ],
        "expose_headers": [
            "X-Request-ID",
            "Retry-After",
            "ETag",
            "Content-Disposition",
            "Content-Range",
            "X-Weightinit-Sha256",
            "X-Weightinit-Cache",
            "X-Weightinit-Full-Shape",
            "X-Weightinit-Slice",
            "X-Weightinit-Role",
            "X-Weightinit-Scheme",
            "X-Weightinit-Tensors",
            "X-Weightinit-Exactness",
            "Accept-Ranges",
        ],
        "max_age": 600,
    }


def _app_from_env() -> FastAPI:
    """The application for ``uvicorn app.main:app``: a bad setting stops the process with
    one message naming every bad variable, not a traceback."""
    try:
        return create_app()
    except SettingsError as exc:
        raise SystemExit(f"weightinit: {exc}") from None


app = _app_from_env()
