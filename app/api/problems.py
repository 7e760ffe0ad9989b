"""RFC 9457 problem+json: the one place that turns errors into HTTP responses.

Every 4xx the service sends is ``application/problem+json`` with ``type``, ``title``,
``status``, ``detail``, ``instance`` and ``request_id``; validation problems add
``errors: [{"field": "layer.in_features", "message": ...}]`` and limit problems add
``limit``, ``value`` and ``requested``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from app.core.errors import LimitExceededError, UnknownNameError, WeightInitError
from app.jobs.audit_requests import AuditRequest
from app.jobs.diagnostics_requests import DiagnosticsRequest
from app.jobs.requests import ModelRequest, WeightsRequest

from .messages import validation_errors
from .metrics import record_rejection

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://weightinit.dev/problems/"

TITLES = {
    400: "Malformed request",
    401: "Unauthorized",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    408: "Request timeout",
    413: "Request too large",
    415: "Unsupported media type",
    416: "Range not satisfiable",
    422: "Invalid request",
    429: "Too many requests",
    500: "Internal error",
    503: "Service unavailable",
}
SLUGS = {
    400: "malformed-request",
    401: "unauthorized",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    408: "request-timeout",
    413: "too-large",
    415: "unsupported-media-type",
    416: "range-not-satisfiable",
    422: "validation",
    429: "rate-limited",
    500: "internal",
    503: "unavailable",
}


class ProblemError(Exception):
    """Raised by routes for a problem that is not a core error (404, 406, 415, 413...)."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        errors: Sequence[dict[str, str]] = (),
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = list(errors)
        self.extra = extra or {}
        self.headers = headers or {}


class ClientGone(Exception):
    """The client disconnected before its response started (app/api/disconnect.py)."""


class NothingSent(Response):
    """The answer to a client that has gone: nothing at all (uvicorn sends nothing either
    once a client has disconnected), so the access log records 499."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        return None


def problem_response(
    request: Request | None,
    status: int,
    detail: str,
    *,
    errors: Sequence[dict[str, str]] = (),
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body: dict[str, Any] = {
        "type": TYPE_BASE + SLUGS.get(status, "error"),
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if request is not None:
        body["instance"] = request.url.path
        request_id = getattr(request.state, "request_id", None)
        if request_id:
            body["request_id"] = request_id
    if errors:
        body["errors"] = list(errors)
    body.update(extra or {})
    return Response(json.dumps(body), status_code=status, media_type=PROBLEM_JSON, headers=headers)


def problem_document(status: int, detail: str, instance: str, request_id: str) -> bytes:
    """A problem+json body for responses written outside the application (the server's own
    408s and 400s, app/server.py; the body limit's 413, app/api/middleware.py)."""
    body = {
        "type": TYPE_BASE + SLUGS.get(status, "error"),
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "instance": instance,
        "request_id": request_id,
    }
    return json.dumps(body).encode()


def _root_model(request: Request) -> type[BaseModel]:
    """The body model of the route (for the fields an unknown one could have been)."""
    if request.url.path.startswith("/v1/audit"):
        return AuditRequest
    if request.url.path.startswith("/v1/diagnostics"):
        return DiagnosticsRequest
    return ModelRequest if request.url.path.startswith("/v1/models") else WeightsRequest


_AUDITED: dict[str, type[BaseModel]] = {"weights": WeightsRequest, "models": ModelRequest}


def _listed(request: Request, errors: Sequence[Any]) -> list[dict[str, str]]:
    """The errors in words; an audit's ``request`` errors are worded by the body model they
    are of (its nearest field names), under ``request.``."""
    root = _root_model(request)
    if root is not AuditRequest:
        return validation_errors(errors, root)
    inner: dict[str, list[Any]] = {}
    rest = []
    for err in errors:
        loc = tuple(err.get("loc", ()))
        if loc[:2] == ("body", "request") and len(loc) > 2 and loc[2] in _AUDITED:
            inner.setdefault(str(loc[2]), []).append({**err, "loc": ("body", *loc[3:])})
        else:
            rest.append(err)
    listed = validation_errors(rest, root)
    for tag, errs in inner.items():
        for entry in validation_errors(errs, _AUDITED[tag]):
            field = entry["field"]
            listed.append({**entry, "field": "request" if field == "body" else f"request.{field}"})
    return listed


async def _on_validation(request: Request, exc: RequestValidationError) -> Response:
    errors = exc.errors()
    if any(err.get("type") == "json_invalid" for err in errors):
        where = next(err for err in errors if err.get("type") == "json_invalid")
        reason = where.get("ctx", {}).get("error", "invalid JSON")
        return problem_response(request, 400, f"The body is not valid JSON: {reason}.")
    listed = _listed(request, errors)
    detail = "; ".join(_named(e["field"], e["message"]) for e in listed[:3])
    return problem_response(request, 422, detail, errors=listed)


def _named(field: str, message: str) -> str:
    """'field: message', unless the message starts with the field's name already."""
    return message if message.startswith(field + " ") else f"{field}: {message}"


async def _on_limit(request: Request, exc: LimitExceededError) -> Response:
    record_rejection("too_large")
    extra = {"limit": exc.limit_name, "value": exc.limit, "requested": exc.requested}
    return problem_response(request, 413, exc.message, extra=extra)


async def _on_core_error(request: Request, exc: WeightInitError) -> Response:
    field = exc.field or "body"
    extra: dict[str, Any] = {}
    if isinstance(exc, UnknownNameError) and exc.suggestion:
        extra["suggestion"] = exc.suggestion
    return problem_response(
        request,
        422,
        exc.message,
        errors=[{"field": field, "message": exc.message}],
        extra=extra,
    )


async def _on_problem(request: Request, exc: ProblemError) -> Response:
    return problem_response(
        request, exc.status, exc.detail, errors=exc.errors, extra=exc.extra, headers=exc.headers
    )


async def _on_http(request: Request, exc: StarletteHTTPException) -> Response:
    detail = exc.detail if isinstance(exc.detail, str) else TITLES.get(exc.status_code, "")
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"No route {request.method} {request.url.path}; see GET / for the index."
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        detail = f"{request.method} is not allowed on {request.url.path}."
        routes = getattr(request.app.state, "routes", None)
        allowed = routes.allowed_methods(request.scope) if routes is not None else []
        if allowed:  # Starlette names only the first matching route's methods
            headers["Allow"] = ", ".join(allowed)
    return problem_response(request, exc.status_code, detail, headers=headers)


async def _on_client_gone(request: Request, exc: ClientGone) -> Response:
    return NothingSent()


async def _on_unexpected(request: Request, exc: Exception) -> Response:  # pragma: no cover
    return problem_response(request, 500, "An unexpected error occurred.")


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into problem+json."""
    app.exception_handler(RequestValidationError)(_on_validation)
    app.exception_handler(LimitExceededError)(_on_limit)
    app.exception_handler(WeightInitError)(_on_core_error)
    app.exception_handler(ProblemError)(_on_problem)
    app.exception_handler(StarletteHTTPException)(_on_http)
    app.exception_handler(ClientGone)(_on_client_gone)
    app.exception_handler(Exception)(_on_unexpected)
