"""POST /v1/weights (and its per-format twins) and the GET curl shortcut."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.convertors import Convertor, register_url_convertor
from starlette.responses import Response

from app.core.errors import InvalidParameterError, UnknownNameError, nearest_name
from app.core.schemes import ParamKind, all_names, get_scheme
from app.core.types import Algorithm, DType, Layout
from app.jobs.job import Selection, weights_job
from app.jobs.requests import (
    MAX_SHARDS,
    SHARD_DESCRIPTION,
    SLICE_DESCRIPTION,
    SLICE_SCHEMA,
    Shard,
    decimal_up_to,
)
from app.jobs.scheme_schema import names_alone

from ..deps import json_body, known_query, off_loop, settings_of
from ..negotiation import MEDIA, OCTET, choose, refuse_other_format, require_octet
from ..problems import ProblemError
from ..respond import (
    BINARY_RESPONSES,
    FORMATS_ALL,
    json_and_binary_responses,
    problems,
    respond,
)
from ..schemas import Encoding, FormatName, JsonLayout, WeightsRequest
from .models import ManifestQ


class SchemeConvertor(Convertor[str]):
    """A path segment that names a scheme, never another route's literal segment: GET
    /v1/weights/digests (and /manifest) is a 405 (that path is POST only), not the shortcut
    for a scheme called 'digests'."""

    regex = "(?!(?:digests|manifest)$)[^/]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("scheme", SchemeConvertor())

router = APIRouter(prefix="/v1", tags=["weights"])

FormatQ = Annotated[
    FormatName | None, Query(description="json, npy, npz or safetensors; wins over Accept")
]
TensorQ = Annotated[
    str | None,
    Query(description="only this tensor (npy of a layer with several tensors needs it)"),
]
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
    dependencies=[Depends(json_body), Depends(known_query())],
)
async def generate_weights(
    request: Request,
    body: WeightsRequest,
    *,
    format: FormatQ = None,
    tensor: TensorQ = None,
    json_layout: LayoutQ = "flat",
    encoding: EncodingQ = "numbers",
    manifest: ManifestQ = False,
) -> Response:
    fmt = choose(format, request.headers.get("accept"), allowed=FORMATS_ALL, octet="npy")
    selection = Selection(fmt, tensor, json_layout, encoding, manifest)
    settings = settings_of(request)
    job = await off_loop(lambda: weights_job(body, settings, selection))
    return await respond(request, job, media=MEDIA[fmt])


def _binary_route(fmt: Any) -> Any:
    async def route(
        request: Request, body: WeightsRequest, tensor: TensorQ = None, manifest: ManifestQ = False
    ) -> Response:
        require_octet(request.headers.get("accept"))
        refuse_other_format(request, fmt)
        settings = settings_of(request)
        selection = Selection(fmt, tensor, manifest=manifest)
        job = await off_loop(lambda: weights_job(body, settings, selection))
        return await respond(request, job, media=OCTET)

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
        # a format query parameter is refused by refuse_other_format when it contradicts
        dependencies=[Depends(json_body), Depends(known_query("format"))],
    )


def _ints(text: str, field: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part.strip() != ""]
    except ValueError:
        raise InvalidParameterError(
            f"{field} must be comma-separated integers, e.g. 256,784; got {text!r}.", field=field
        ) from None


def _check_key(name: str, key: str, kinds: dict[str, ParamKind]) -> None:
    """A query key that is neither the route's nor the scheme's: named as the nearest of
    either (``formt`` is the route's ``format``, ``gian`` the scheme's ``gain``)."""
    if key == "name":
        raise InvalidParameterError(
            f"The scheme is the path's {name!r}: a 'name' query parameter cannot replace "
            "it; remove it (or ask GET /v1/weights/<scheme> for another scheme).",
            field="name",
        )
    route = {f.name for f in fields(ShortcutQuery)}
    if nearest_name(key, [*route, *kinds]) not in kinds:
        raise UnknownNameError(
            "query parameter",
            key,
            [*route, *kinds],
            field=key,
            context=f"(neither a query parameter of GET /v1/weights/{{scheme}} nor a parameter "
            f"of scheme {name!r})",
        )


def _scheme_params(name: str, query: dict[str, str]) -> dict[str, object]:
    scheme = get_scheme(name)
    kinds = {p.name: p.kind for p in scheme.params}
    route = {f.name for f in fields(ShortcutQuery)}
    params: dict[str, object] = {}
    for key, text in query.items():
        if key in route:
            continue
        if key not in kinds:
            _check_key(name, key, kinds)
        kind = kinds.get(key)
        if kind is None:
            params[key] = text  # the core names it as an unknown parameter of the scheme
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


def _shard(text: str) -> Shard:
    parts = _ints(text, "shard")
    if len(parts) != 3:
        raise InvalidParameterError(
            f"shard must be DIM,INDEX,COUNT, e.g. shard=0,3,8; got {text!r}.", field="shard"
        )
    dim, index, count = parts
    if not 1 <= count <= MAX_SHARDS or not 0 <= index < count:
        raise InvalidParameterError(
            f"shard {text!r}: COUNT must be 1..{MAX_SHARDS} and INDEX in 0..COUNT-1.",
            field="shard",
        )
    return Shard(dim=dim, index=index, count=count)


def _shortcut_body(
    scheme: str, query: dict[str, str], shape: str, fields: dict[str, Any]
) -> WeightsRequest:
    """The POST body a GET shortcut stands for (validated by the same model)."""
    if scheme not in all_names():
        raise ProblemError(404, str(UnknownNameError("scheme", scheme, all_names())))
    layer: dict[str, Any] = {"kind": "tensor", "shape": _ints(shape, "shape")}
    for key in ("fan_in", "fan_out"):
        if fields[key] is not None:
            layer[key] = fields[key]
    for key in ("in_axes", "out_axes"):
        if fields[key] is not None:
            layer[key] = _ints(fields[key], key)
    params = _scheme_params(scheme, query)
    body: dict[str, Any] = {
        "layer": layer,
        "scheme": {"name": scheme, **params} if params else scheme,
        "seed": fields["seed"],
        "dtype": fields["dtype"],
        "layout": fields["layout"],
        "algorithm": fields["algorithm"],
    }
    if fields["slice"] is not None:
        body["slice"] = fields["slice"]
    if fields["shard"] is not None:
        body["shard"] = _shard(fields["shard"]).model_dump()
    try:
        return WeightsRequest.model_validate(body)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from None


ShapeQ = Annotated[
    str,
    Query(
        # up to 8 positive dims (the body's layer.shape), or nothing for a scalar
        pattern=r"^\s*$|^0*[1-9][0-9]*(,0*[1-9][0-9]*){0,7}$",
        description="comma-separated dims, e.g. 256,784 (at most 8, each at least 1)",
    ),
]
SeedQ = Annotated[str, Query(pattern=r"^[0-9]{1,20}$", description="0..2**64-1")]
# Validated as text by the body model (a 422 naming the nearest value); the schema lists the
# values, so that a schema-valid query is accepted.
DTypeQ = Annotated[
    str,
    Query(
        description="float32, float64, float16 or bfloat16",
        json_schema_extra={"enum": [d.value for d in DType]},
    ),
]
LayoutNameQ = Annotated[
    str,
    Query(description="torch, keras or jax", json_schema_extra={"enum": [x.value for x in Layout]}),
]
AlgorithmQ = Annotated[
    str,
    Query(
        description="blocks-v1, numpy-legacy, torch-cpu or jax-threefry",
        json_schema_extra={"enum": [a.value for a in Algorithm]},
    ),
]
FanQ = Annotated[float | None, Query(gt=0)]
AxesQ = Annotated[str | None, Query(pattern=r"^-?[0-9]+(,-?[0-9]+){0,7}$")]  # 1 to 8 axes
SliceQ = Annotated[
    str | None,
    Query(max_length=400, description=SLICE_DESCRIPTION, json_schema_extra=SLICE_SCHEMA),
]
ShardQ = Annotated[
    str | None,
    Query(
        pattern=rf"^-?[0-9]+,[0-9]+,{decimal_up_to(MAX_SHARDS)}$",  # COUNT 1..MAX_SHARDS
        description="DIM,INDEX,COUNT, e.g. 0,3,8. " + SHARD_DESCRIPTION,
    ),
]
# Any name is looked up (an unknown one is a 404 with the nearest name); the schema lists the
# ones that need no parameter, as a bare scheme name in a body (parameters go in the query).
SchemePath = Annotated[
    str,
    Path(
        description="a scheme name or alias (GET /v1/schemes)",
        json_schema_extra={"enum": names_alone()},
    ),
]
SHORTCUT_DESCRIPTION = (
    "Exactly POST /v1/weights with layer {kind: tensor, shape}. The scheme's own parameters "
    "go in the query string too, e.g. `?shape=256,784&seed=1&gain=2`. Binary formats answer "
    "`Range: bytes=a-b` (also `a-` and `-n`) with 206 and `Content-Range`, generating only "
    "the blocks that cover the range; `slice` and `shard` cut the tensor itself."
)


async def _shortcut(
    request: Request, scheme: str, shape: str, fields: dict[str, Any], *, head: bool
) -> Response:
    body = _shortcut_body(scheme, dict(request.query_params), shape, fields)
    fmt = choose(fields["format"], request.headers.get("accept"), allowed=FORMATS_ALL, octet="npy")
    selection = Selection(fmt, None, fields["json_layout"], fields["encoding"], fields["manifest"])
    settings = settings_of(request)
    job = await off_loop(lambda: weights_job(body, settings, selection))
    return await respond(request, job, media=MEDIA[fmt], get=True, head=head)


@dataclass
class ShortcutQuery:
    """The GET shortcut's query string (shared by GET and HEAD)."""

    shape: ShapeQ
    seed: SeedQ
    dtype: DTypeQ = "float32"
    layout: LayoutNameQ = "torch"
    algorithm: AlgorithmQ = "blocks-v1"
    fan_in: FanQ = None
    fan_out: FanQ = None
    in_axes: AxesQ = None
    out_axes: AxesQ = None
    slice: SliceQ = None
    shard: ShardQ = None
    format: FormatQ = None
    json_layout: LayoutQ = "flat"
    encoding: EncodingQ = "numbers"
    manifest: ManifestQ = False


Shortcut = Annotated[ShortcutQuery, Depends()]


@router.get(
    "/weights/{scheme:scheme}",
    operation_id="getWeights",
    summary="curl shortcut: one raw tensor named 'weight'",
    description=SHORTCUT_DESCRIPTION,
    responses=json_and_binary_responses(FORMATS_ALL, get=True),
)
async def get_weights(request: Request, scheme: SchemePath, query: Shortcut) -> Response:
    return await _shortcut(request, scheme, query.shape, asdict(query), head=False)


@router.head(
    "/weights/{scheme:scheme}",
    operation_id="headWeights",
    summary="The GET shortcut's headers only (Content-Length, ETag, Content-Range)",
    responses={
        200: {"description": "The headers of the GET response"},
        206: {"description": "The headers of the GET response to this Range"},
        304: {"description": "Not modified (a matching If-None-Match)"},
        **problems(404, 406, 413, 416, 422),
    },
    response_class=Response,
)
async def head_weights(request: Request, scheme: SchemePath, query: Shortcut) -> Response:
    return await _shortcut(request, scheme, query.shape, asdict(query), head=True)
