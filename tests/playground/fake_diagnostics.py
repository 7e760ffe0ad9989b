"""TEMPORARY (until POST /v1/diagnostics lands on main): the app with a stand-in
/v1/diagnostics that answers with made-up results of the contract's shape."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from starlette.responses import JSONResponse, Response

from app.api.settings import Settings
from app.encoders.plots import render_diagnostics_plot
from app.main import create_app
from tests.encoders import diagnostics_results
from tests.encoders.diagnostics_results import run, zeros_run
from tests.live_server import free_port

FACTORS = {"random": 0.01, "zeros": 0.0}


def fake_result(body: dict[str, Any]) -> dict[str, Any]:
    depth = len(body["mlp"]["sizes"]) - 1 if "mlp" in body else len(body["layers"])
    schemes = body.get("compare") or [body.get("scheme") or "he_normal"]
    runs = []
    for scheme in schemes:
        name = scheme if isinstance(scheme, str) else scheme["name"]
        runs.append(
            zeros_run(depth) if name == "zeros" else run(name, FACTORS.get(name, 0.9), depth)
        )
    return {
        "seed": body.get("seed", 0),
        "batch": body.get("batch", 128),
        "dtype": "float32",
        "runs": runs,
        "coordinate_check": diagnostics_results.result(3, coordinate_check=True)["coordinate_check"]
        if body.get("widths")
        else None,
    }


def app_with_fake_diagnostics(settings: Settings | None = None) -> FastAPI:
    app = create_app(settings or Settings())

    @app.post("/v1/diagnostics")
    async def diagnostics(request: Request, format: str = "json") -> Response:
        result = fake_result(await request.json())
        if format == "json":
            return JSONResponse(result)
        return Response(render_diagnostics_plot(result, "svg"), media_type="image/svg+xml")

    return app


@contextmanager
def serve_fake(env: dict[str, str] | None = None) -> Iterator[tuple[str, int]]:
    """uvicorn in a thread serving :func:`app_with_fake_diagnostics`; (URL, 0)."""
    keys = tuple((env or {}).get("WEIGHTINIT_API_KEYS", "").split(",")) if env else ()
    settings = Settings(api_keys=tuple(k for k in keys if k))
    port = free_port()
    config = uvicorn.Config(
        app_with_fake_diagnostics(settings), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", 0
    finally:
        server.should_exit = True
        thread.join(10)
