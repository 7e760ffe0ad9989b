"""The ASGI application: ``uvicorn app.main:app``."""

from __future__ import annotations

from fastapi import FastAPI

from app import __version__


def create_app() -> FastAPI:
    """Build the weightinit FastAPI application."""
    application = FastAPI(title="weightinit", version=__version__)

    @application.get("/healthz", operation_id="getHealth", tags=["health"])
    def get_health() -> dict[str, str]:
        """Liveness probe: the process is up and serving."""
        return {"status": "ok"}

    return application


app = create_app()
