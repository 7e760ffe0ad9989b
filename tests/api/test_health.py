from __future__ import annotations

import asyncio

import httpx

from app import __version__
from app.main import app, create_app


async def _get(path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        return await client.get(path)


def test_healthz_ok() -> None:
    response = asyncio.run(_get("/healthz"))
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_openapi_metadata() -> None:
    spec = create_app().openapi()
    assert spec["info"]["title"] == "weightinit"
    assert spec["info"]["version"] == __version__
    operation = spec["paths"]["/healthz"]["get"]
    assert operation["operationId"] == "getHealth"
    assert operation["tags"] == ["health"]
