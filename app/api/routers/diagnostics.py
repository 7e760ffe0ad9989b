"""POST /v1/diagnostics: a chain of initialised layers pushed forward and backward on a seeded
probe batch, per layer statistics beside the mean-field prediction (README, "Why
initialization matters"); as JSON, or plotted as SVG or PNG (``?format=`` or ``Accept``;
app/encoders/plots.py)."""

from __future__ import annotations

import threading
from typing import Annotated, Any, Literal

import anyio
from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import JSONResponse, Response

from app.core.cancel import checkpoint, stoppable
from app.encoders.plots import render_diagnostics_plot
from app.jobs.diagnostics import diagnostics_job, run_diagnostics
from app.jobs.diagnostics_requests import DiagnosticsRequest

from ..deps import json_body, known_query, off_loop, settings_of
from ..disconnect import unless_disconnected
from ..negotiation import PLOT_MEDIA, choose_plot
from ..respond import admit_cost, problems
from ..schemas import DiagnosticsResponse

router = APIRouter(prefix="/v1", tags=["diagnostics"])

# Cost units (app.jobs.limits) per floating-point operation, for the admission lane only.
FLOPS_PER_COST_UNIT = 16

DIAGNOSTICS_DESCRIPTION = (
    "Initialise a chain (the `mlp` shorthand with activations, or named `layers` each with "
    "its activation) exactly as POST /v1/models would for the same fields and seed, push a "
    "seeded probe batch forward (standard normal inputs, token ids for an embedding) and a "
    "standard-normal upstream gradient backward, in float64 numpy, and report per layer: "
    "pre-activation std, activation mean, std and squared mean, the fraction of dead units "
    "(f' = 0 on every sample), the saturated fraction (tanh, sigmoid...), the std of "
    "dL/d(pre-activation), the weight's empirical std beside its scheme's, a symmetry flag "
    "(every unit identical: zero or constant init), a weight histogram, and for dense and conv "
    "layers the mean-field prediction (variance recursion with the activation's Gaussian "
    "moments) with the tolerance the empirical value must meet. `architecture` (gpt2, llama, "
    "bert, vit) "
    "runs a residual network by config instead: its forward pass on seeded token ids, the "
    "backward pass from the final hidden state, each sublayer's statistics and, per block, "
    "Brock et al.'s residual-stream statistics (`blocks`). `compare` runs several "
    "schemes; `widths` adds muP's coordinate check. Limits: WEIGHTINIT_MAX_DIAGNOSTICS_FLOPS "
    "and WEIGHTINIT_MAX_DIAGNOSTICS_BYTES, checked before any work (413)."
)


PlotFormatQ = Annotated[
    Literal["json", "svg", "png"] | None,
    Query(
        description="json (the document), svg or png (its plot: activation and gradient std "
        "per depth, one line per run, log scale, all-zero series marked; with a coordinate "
        "check, l1 per width); wins over Accept. Default json"
    ),
]
PLOT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The diagnostics document, or its plot (byte-identical for the same "
        "request on one machine)",
        "content": {
            PLOT_MEDIA["json"]: {"schema": {"$ref": "#/components/schemas/DiagnosticsResponse"}},
            PLOT_MEDIA["svg"]: {"schema": {"type": "string"}},
            PLOT_MEDIA["png"]: {"schema": {"type": "string", "format": "binary"}},
        },
    }
}


@router.post(
    "/diagnostics",
    operation_id="diagnose",
    summary="Signal propagation through an initialised chain: statistics, predictions, "
    "coordinate check",
    description=DIAGNOSTICS_DESCRIPTION,
    response_model=DiagnosticsResponse,
    responses={**PLOT_RESPONSES, **problems(400, 406, 413, 415, 422, 503)},
    dependencies=[Depends(json_body), Depends(known_query())],
)
async def diagnose(
    request: Request, body: DiagnosticsRequest, format: PlotFormatQ = None
) -> Response:
    fmt = choose_plot(format, request.headers.get("accept"))
    settings = settings_of(request)
    job = await off_loop(lambda: diagnostics_job(body, settings))
    ticket, _ = await admit_cost(request, job.flops // FLOPS_PER_COST_UNIT, job.memory)
    stop = threading.Event()

    def work() -> dict[str, Any] | bytes:
        with stoppable(stop):
            document = run_diagnostics(job, checkpoint)
        if fmt == "json":
            return document
        return render_diagnostics_plot(document, "svg" if fmt == "svg" else "png")

    try:
        document = await unless_disconnected(
            request, lambda: anyio.to_thread.run_sync(work, abandon_on_cancel=True)
        )
    finally:
        stop.set()  # a client that went away stops the work at its next checkpoint
        ticket.release()
    if isinstance(document, bytes):
        filename = f"diagnostics.{fmt}"
        headers = {"Content-Disposition": f'inline; filename="{filename}"'}
        return Response(document, media_type=PLOT_MEDIA[fmt], headers=headers)
    return JSONResponse(document)
