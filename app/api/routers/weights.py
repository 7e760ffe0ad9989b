"""POST /v1/weights (and its per-format twins) and the GET curl shortcut."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.responses import Response

from app.core.errors import InvalidParameterError, UnknownNameError
from app.core.schemes import ParamKind, all_names, get_scheme

from ..deps import json_body, settings_of
from ..negotiation import MEDIA, OCTET, choose, require_octet
from ..problems import ProblemError
from ..respond import BINARY_RESPONSES, FORMATS_ALL, json_and_binary_responses, respond
from ..schemas import Encoding, FormatName, JsonLayout, WeightsRequest
from ..service import weights_job

router = APIRouter(prefix="/v1", tags=["weights"])

FormatQ = Annotated[
    FormatName | None, Query(description="json, npy, npz or safetensors; wins over Accept")
]
TensorQ = Annotated[str | None, Query(description="only this tensor (npy: default the first)")]
LayoutQ = Annotated[
    JsonLayout, Query(description="JSON data as a flat row-major list or nested lists")
]
EncodingQ = Annotated[
    Encoding, Query(description="JSON data as numbers or base64 of the raw bytes")
]


@router.post(
    "/weights",
    operation_id="generateWeights",
    summary="Initialise one layer's tensors",
    responses=json_and_binary_responses(FORMATS_ALL),
    dependencies=[Depends(json_body)],
)
async def generate_weights(
    request: Request,
    body: WeightsRequest,
    format: FormatQ = None,
    tensor: TensorQ = None,
    json_layout: LayoutQ = "flat",
    encoding: EncodingQ = "numbers",
) -> Response:
    fmt = choose(format, request.headers.get("accept"), allowed=FORMATS_ALL, octet="npy")
    job = weights_job(body, settings_of(request))
    return await respond(request, job, fmt, tensor, json_layout, encoding, media=MEDIA[fmt])


def _binary_route(fmt: str) -> Any:
    async def route(request: Request, body: WeightsRequest, tensor: TensorQ = None) -> Response:
        require_octet(request.headers.get("accept"))
        job = weights_job(body, settings_of(request))
        return await respond(request, job, fmt, tensor, "flat", "numbers", media=OCTET)

    return route


for _fmt, _op in (
    ("npy", "generateWeightsNpy"),
    ("npz", "generateWeightsNpz"),
    ("safetensors", "generateWeightsSafetensors"),
):
    router.add_api_route(
        f"/weights.{_fmt}",
        _binary_route(_fmt),
        methods=["POST"],
        operation_id=_op,
        summary=f"Initialise one layer's tensors as .{_fmt}",
        responses=BINARY_RESPONSES,
        response_class=Response,
        dependencies=[Depends(json_body)],
    )

_RESERVED = {
    "shape",
    "seed",
    "dtype",
    "layout",
    "algorithm",
    "fan_in",
    "fan_out",
    "in_axes",
    "out_axes",
    "batch_axes",
    "format",
    "tensor",
    "json_layout",
    "encoding",
}


def _ints(text: str, field: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part.strip() != ""]
    except ValueError:
        raise InvalidParameterError(
            f"{field} must be comma-separated integers, e.g. 256,784; got {text!r}.", field=field
        ) from None


def _scheme_params(name: str, query: dict[str, str]) -> dict[str, object]:
    scheme = get_scheme(name)
    kinds = {p.name: p.kind for p in scheme.params}
    params: dict[str, object] = {}
    for key, text in query.items():
        if key in _RESERVED:
            continue
        kind = kinds.get(key)
        if kind is None:
            params[key] = text  # the core names it as an unknown parameter
        elif kind is ParamKind.NUMBER:
            try:
                params[key] = float(text)
            except ValueError:
                raise InvalidParameterError(
                    f"{key} must be a number, got {text!r}.", field=f"scheme.{key}"
                ) from None
        elif kind is ParamKind.INTEGER:
            try:
                params[key] = int(text)
            except ValueError:
                raise InvalidParameterError(
                    f"{key} must be an integer, got {text!r}.", field=f"scheme.{key}"
                ) from None
        else:
            params[key] = text
    return params


@router.get(
    "/weights/{scheme}",
    operation_id="getWeights",
    summary="curl shortcut: one raw tensor named 'weight'",
    description="Exactly POST /v1/weights with layer {kind: tensor, shape}. The scheme's own "
    "parameters go in the query string too, e.g. `?shape=256,784&seed=1&gain=2`.",
    responses=json_and_binary_responses(FORMATS_ALL, get=True),
)
async def get_weights(
    request: Request,
    scheme: Annotated[str, Path(description="a scheme name or alias (GET /v1/schemes)")],
    shape: Annotated[
        str,
        Query(
            pattern=r"^\s*$|^[0-9]+(,[0-9]+)*$", description="comma-separated dims, e.g. 256,784"
        ),
    ],
    seed: Annotated[str, Query(pattern=r"^[0-9]{1,20}$", description="0..2**64-1")],
    dtype: Annotated[str, Query(description="float32, float64, float16 or bfloat16")] = "float32",
    layout: Annotated[str, Query(description="torch, keras or jax")] = "torch",
    algorithm: Annotated[str, Query(description="blocks-v1 or numpy-legacy")] = "blocks-v1",
    fan_in: Annotated[float | None, Query(gt=0)] = None,
    fan_out: Annotated[float | None, Query(gt=0)] = None,
    in_axes: Annotated[str | None, Query(pattern=r"^-?[0-9]+(,-?[0-9]+)*$")] = None,
    out_axes: Annotated[str | None, Query(pattern=r"^-?[0-9]+(,-?[0-9]+)*$")] = None,
    format: FormatQ = None,
    json_layout: LayoutQ = "flat",
    encoding: EncodingQ = "numbers",
) -> Response:
    if scheme not in all_names():
        raise ProblemError(404, str(UnknownNameError("scheme", scheme, all_names())))
    query = dict(request.query_params)
    layer: dict[str, Any] = {"kind": "tensor", "shape": _ints(shape, "shape")}
    if fan_in is not None:
        layer["fan_in"] = fan_in
    if fan_out is not None:
        layer["fan_out"] = fan_out
    if in_axes is not None:
        layer["in_axes"] = _ints(in_axes, "in_axes")
    if out_axes is not None:
        layer["out_axes"] = _ints(out_axes, "out_axes")
    params = _scheme_params(scheme, query)
    try:
        body = WeightsRequest.model_validate(
            {
                "layer": layer,
                "scheme": {"name": scheme, **params} if params else scheme,
                "seed": seed,
                "dtype": dtype,
                "layout": layout,
                "algorithm": algorithm,
            }
        )
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from None
    fmt = choose(format, request.headers.get("accept"), allowed=FORMATS_ALL, octet="npy")
    return await respond(
        request,
        weights_job(body, settings_of(request)),
        fmt,
        None,
        json_layout,
        encoding,
        media=MEDIA[fmt],
        get=True,
    )
