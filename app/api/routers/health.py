"""GET /healthz, /readyz and the index GET /."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from app import __version__
from app.core.generate import generate_tensor
from app.core.laws import NormalLaw
from app.core.plans import TensorPlan
from app.core.types import DType

from ..deps import admission_of
from ..problems import ProblemError
from ..respond import problems
from ..schemas import Health

router = APIRouter(tags=["health"])


@router.get("/healthz", operation_id="getHealth", summary="Liveness", response_model=Health)
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    operation_id="getReadiness",
    summary="Readiness: the core can generate and the process is not draining",
    description="503 once the process drains (SIGTERM): in-flight responses finish, new "
    "generation is refused. Never waits for generation.",
    response_model=Health,
    responses={
        503: {
            **problems(503)[503],
            "description": "Draining (SIGTERM): take this replica out of rotation",
        }
    },
)
async def readyz(request: Request) -> dict[str, str]:
    if admission_of(request).draining:
        raise ProblemError(
            503, "The server is shutting down (draining).", headers={"Retry-After": "1"}
        )
    generate_tensor(TensorPlan("readyz", (4,), DType.FLOAT32, NormalLaw(0.0, 1.0)), 0)
    return {"status": "ready"}


@router.get("/", operation_id="getIndex", summary="A short index with links")
async def index() -> dict[str, Any]:
    return {
        "service": "weightinit",
        "version": __version__,
        "links": {
            "weights": "/v1/weights",
            "weights_get": "/v1/weights/{scheme}?shape=256,784&seed=1",
            "models": "/v1/models",
            "schemes": "/v1/schemes",
            "gains": "/v1/gains",
            "recipes": "/v1/recipes",
            "architectures": "/v1/architectures",
            "audit": "/v1/audit",
            "diagnostics": "/v1/diagnostics",
            "openapi": "/openapi.json",
            "docs": "/docs",
            "playground": "/playground",
            "health": "/healthz",
            "ready": "/readyz",
        },
    }
