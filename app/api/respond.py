"""Shared response assembly: ETags, buffering or streaming a job's body, byte ranges.

Which responses are built whole and which are streamed (README, "Streaming"):

* a body of at most ``WEIGHTINIT_BUFFER_BYTES`` (default 8 MiB; for JSON, an estimate of
  24 bytes per number) is generated whole on the pool before the first byte is sent, and
  binary ones carry ``X-Weightinit-Sha256`` (``name=sha256,...`` of each tensor's bytes) when
  that list fits in :data:`MAX_SHA_HEADER` bytes (about 40 tensors), and a binary body of
  one tensor its ``X-Weightinit-Role`` and ``X-Weightinit-Scheme`` (compact JSON) and, for a
  framework-exact algorithm, ``X-Weightinit-Exactness`` (``exact`` or ``approximate; max_ulp=n``);
* every binary body (npy, npz, safetensors; buffered or streamed) carries
  ``X-Weightinit-Tensors``, each tensor's role and resolved scheme as compact JSON
  (``{"name": ["role", {scheme}], ...}``), when that fits in :data:`MAX_TENSORS_HEADER`
  bytes (about 80 tensors); the digests operations state them for any body;
* a larger body is streamed piece by piece (``Content-Length`` exact for binary formats,
  chunked for JSON) with no sha256 header: POST /v1/weights/digests (or /v1/models/digests)
  gives every digest without the download. Should generation fail after the first byte, the
  connection is closed before ``Content-Length`` is reached, so no client can take a
  truncated body for a whole one.

Generation is admitted first (:mod:`app.jobs.admission`): past the process's slots, queue or
memory bound the answer is a quick 503 with ``Retry-After``; HEAD, 304 and errors found while
planning never wait for a slot.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Awaitable, Iterable
from typing import Any

from fastapi import Request
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from app.api.metrics import CANCELLATIONS, QUEUED_JOBS, record_rejection
from app.core.cancel import stoppable
from app.jobs.admission import Overloaded, Ticket, memory_estimate
from app.jobs.body import Body, build_body, json_size_estimate
from app.jobs.exactness import EXACTNESS_HEADER, exactness, exactness_header
from app.jobs.job import Job
from app.jobs.pool import GenerationPool, Piece

from .deps import admission_of, off_loop, pool_of, settings_of
from .disconnect import unless_disconnected, until_disconnected
from .negotiation import MEDIA, OCTET
from .problems import PROBLEM_JSON, ClientGone, ProblemError
from .ranges import parse_range
from .schemas import Problem, WeightsResponse

# Longer digest lists are left out (proxies and clients cap header sizes, often at 8-16 KiB):
# POST /v1/.../digests gives them all.
MAX_SHA_HEADER = 4096
# Both lists together stay under h11's 16 KiB default limit on a response head (httpx, the SDK).
MAX_TENSORS_HEADER = 6144
OFF_LOOP_OUTPUTS = 32  # bodies of more tensors are planned in a worker thread
FORMATS_ALL = ("json", "npy", "npz", "safetensors")
FORMATS_MODEL = ("json", "npz", "safetensors")
_BINARY_SCHEMA = {"type": "string", "format": "binary"}
_PROBLEM = {
    "model": Problem,
    "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
}
PROBLEMS: dict[int | str, dict[str, Any]] = {
    status: {"description": desc, **_PROBLEM}
    for status, desc in (
        (400, "Malformed JSON"),
        (404, "Unknown route or name"),
        (406, "No acceptable format"),
        (
            413,
            "Over a limit: the body's size (WEIGHTINIT_MAX_BODY_BYTES) or what the request "
            "would generate (elements, layers, bytes, cost); the problem's `limit` names it",
        ),
        (415, "Body is not JSON"),
        (416, "Range not satisfiable"),
        (422, "Validation failed"),
        (
            503,
            "Overloaded or shutting down: every generation slot of the request's lane is busy "
            "and its queue is full, no slot became free within WEIGHTINIT_QUEUE_TIMEOUT_S, or "
            "the server is draining. Retry after the Retry-After header's seconds (README, "
            "Operations)",
        ),
    )
}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The documented problem+json responses for ``statuses``."""
    return {status: PROBLEMS[status] for status in statuses}


def json_and_binary_responses(
    formats: tuple[str, ...], *, get: bool = False
) -> dict[int | str, dict[str, Any]]:
    content: dict[str, Any] = {
        "application/json": {"schema": {"$ref": "#/components/schemas/WeightsResponse"}}
    }
    for name in formats:
        if name != "json":
            content[MEDIA[name]] = {"schema": _BINARY_SCHEMA}
    ok: dict[int | str, dict[str, Any]] = {
        200: {"model": WeightsResponse, "description": "The tensors", "content": content}
    }
    if get:
        return {
            **ok,
            206: {
                "description": "One byte range (Range: bytes=a-b, a- or -n) of a binary body, "
                "with Content-Range; the media type is the 200 response's"
            },
            304: {"description": "Not modified (a matching If-None-Match)"},
            **problems(404, 406, 413, 416, 422, 503),
        }
    return {**ok, **problems(400, 406, 413, 415, 422, 503)}


BINARY_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The file", "content": {OCTET: {"schema": _BINARY_SCHEMA}}},
    **problems(400, 406, 413, 415, 422, 503),
}

_FILENAMES = {"npz": "{op}.npz", "safetensors": "{op}.safetensors"}


async def _then_release(ticket: Ticket | None, sending: Awaitable[None]) -> None:
    """Send a response, then give its admission back, however the sending ends."""
    try:
        await sending
    finally:
        if ticket is not None:
            ticket.release()


class _AdmittedResponse(Response):
    """A body built whole: its admission's bytes are released once it is sent (or not)."""

    ticket: Ticket | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await _then_release(self.ticket, super().__call__(scope, receive, send))


class _AdmittedStream(StreamingResponse):
    """A streamed body: released when the stream ends, even if it never started."""

    ticket: Ticket | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await _then_release(self.ticket, super().__call__(scope, receive, send))


async def admit(request: Request, job: Job, nbytes: int) -> tuple[Ticket, GenerationPool]:
    """A generation slot for ``job`` in its lane and that lane's threads, or a 503. A request
    that has to wait leaves the queue as soon as its client disconnects (ClientGone)."""
    return await admit_cost(request, job.cost(), nbytes)


async def admit_cost(request: Request, cost: int, nbytes: int) -> tuple[Ticket, GenerationPool]:
    """A slot in the lane of ``cost`` units (small or large), holding ``nbytes``; see
    :func:`admit`."""
    admission = admission_of(request)
    lane = admission.lane_for(cost)
    ticket = admission.admit_now(lane, nbytes)  # no waiting: nothing to race
    if ticket is not None:
        return ticket, pool_of(request, lane)
    try:
        with QUEUED_JOBS.track_inprogress():
            ticket = await unless_disconnected(request, lambda: admission.admit(lane, nbytes))
    except ClientGone:
        CANCELLATIONS.inc()
        raise
    except Overloaded as exc:
        record_rejection("overloaded")
        headers = {"Retry-After": str(exc.retry_after)}
        if exc.reason == "draining":
            headers["Connection"] = "close"
        raise ProblemError(503, exc.detail, extra={"reason": exc.reason}, headers=headers) from None
    return ticket, pool_of(request, lane)


def _streamed(
    pool: GenerationPool,
    ticket: Ticket,
    pieces: Iterable[Piece],
    *,
    status: int,
    headers: dict[str, str],
    media: str,
) -> Response:
    response = _AdmittedStream(
        pool.stream(pieces, ticket), status, headers=headers, media_type=media
    )
    response.ticket = ticket
    return response


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """If-None-Match uses the weak comparison (RFC 9110 §13.1.2): W/"x" matches "x"."""
    if not if_none_match:
        return False
    tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
    return "*" in tags or etag in tags


def _buffered(job: Job, body: Body, limit: int) -> bool:
    size = json_size_estimate(job) if body.size is None else body.size
    return size <= limit


def _whole(pool: GenerationPool, body: Body, stop: threading.Event) -> tuple[bytes, str]:
    pieces = list(body.pieces())
    if len(pieces) <= 3:  # a small body: handing pieces to the pool costs more than it saves
        with stoppable(stop, pool.closing):  # a long piece stops at its next checkpoint
            content = b"".join(piece() for piece in pieces)
    else:
        content = b"".join(pool.iterate(pieces, stop))
    return content, body.sha_header(content) if body.size is not None else ""


def _headers(job: Job, etag: str, get: bool) -> dict[str, str]:
    headers = {"ETag": etag, "Vary": "Accept"}  # the format may come from Accept
    if job.fmt == "json":
        return headers
    if job.fmt == "npy":  # exactly one output (the job refuses a layer without tensors)
        name = f"{job.outputs[0].name}.npy"
    else:
        name = _FILENAMES[job.fmt].format(op=job.op)
    headers["Content-Disposition"] = f'attachment; filename="{name}"'
    if get:  # Range is served on GET (and HEAD) only; POST callers use slice
        headers["Accept-Ranges"] = "bytes"
    if len(job.outputs) == 1:  # one tensor: its role and resolved scheme (JSON states them)
        plan = job.outputs[0].plan
        headers["X-Weightinit-Role"] = plan.role.value
        headers["X-Weightinit-Scheme"] = json.dumps(
            plan.scheme or {}, separators=(",", ":"), sort_keys=True
        )
        exact = exactness_header(exactness(job, plan))
        if exact is not None:  # a framework-exact algorithm (torch-cpu, jax-threefry)
            headers[EXACTNESS_HEADER] = exact
    manifest = tensors_header(job)
    if len(manifest) <= MAX_TENSORS_HEADER:
        headers["X-Weightinit-Tensors"] = manifest
    if len(job.outputs) == 1 and job.outputs[0].partial:
        output = job.outputs[0]
        headers["X-Weightinit-Full-Shape"] = ",".join(map(str, output.plan.shape))
        headers["X-Weightinit-Slice"] = output.region.text()
    return headers


def tensors_header(job: Job) -> str:
    """``{"name": ["role", {resolved scheme}], ...}`` for every tensor of the body, in order;
    a framework-exact algorithm adds each tensor's exactness (``"exact"`` or ``"approximate;
    max_ulp=n"``) as a third item."""
    manifest: dict[str, list[object]] = {}
    for output in job.outputs:
        item: list[object] = [output.plan.role.value, output.plan.scheme or {}]
        exact = exactness_header(exactness(job, output.plan))
        manifest[output.name] = item if exact is None else [*item, exact]
    return json.dumps(manifest, separators=(",", ":"), ensure_ascii=True)


def _requested_span(request: Request, body: Body, etag: str) -> tuple[int, int] | None:
    """The byte range a GET asks for: Range, unless If-Range names another version."""
    if body.size is None:  # JSON: no ranges (its length is known only once it is written)
        return None
    if_range = request.headers.get("if-range")
    if if_range is not None and if_range.strip() != etag:
        return None
    return parse_range(request.headers.get("range"), body.size)


async def _partial(
    request: Request,
    job: Job,
    body: Body,
    span: tuple[int, int],
    headers: dict[str, str],
    *,
    media: str,
    head: bool,
) -> Response:
    """The 206 response to a satisfiable Range (its headers only, for HEAD)."""
    assert body.size is not None
    start, stop = span
    headers["Content-Range"] = f"bytes {start}-{stop - 1}/{body.size}"
    headers["Content-Length"] = str(stop - start)
    if head:
        return Response(status_code=206, headers=headers, media_type=media)
    ticket, pool = await admit(request, job, _estimate(request, job, body, whole=False))
    return _streamed(
        pool, ticket, body.pieces(start, stop), status=206, headers=headers, media=media
    )


def _estimate(request: Request, job: Job, body: Body, *, whole: bool) -> int:
    size = json_size_estimate(job) if body.size is None else body.size
    return memory_estimate(job, size, whole=whole, ahead=pool_of(request).ahead)


def _head(body: Body, headers: dict[str, str], media: str) -> Response:
    """HEAD of a 200: the headers, with Content-Length when it is known before writing."""
    response = Response(status_code=200, headers=headers, media_type=media)
    if body.size is None:  # a JSON body's length is known only once it is written
        del response.headers["content-length"]
    else:
        response.headers["content-length"] = str(body.size)
    return response


async def _whole_response(
    request: Request, job: Job, body: Body, headers: dict[str, str], media: str
) -> Response:
    """A body built whole before its first byte (with its sha256 header when it fits)."""
    ticket, pool = await admit(request, job, _estimate(request, job, body, whole=True))
    try:
        content, sha = await until_disconnected(request, lambda stop: _whole(pool, body, stop))
    except BaseException:
        ticket.release()
        raise
    ticket.pause()  # generated: the slot is free, the bytes are held until sent
    if sha and len(sha) <= MAX_SHA_HEADER:
        headers["X-Weightinit-Sha256"] = sha
    response = _AdmittedResponse(content, media_type=media, headers=headers)
    response.ticket = ticket
    return response


async def respond(
    request: Request, job: Job, *, media: str, get: bool = False, head: bool = False
) -> Response:
    """The response to ``job``: 304, 206 (GET with Range), or 200 buffered or streamed."""
    settings = settings_of(request)
    etag = job.etag()
    if get and etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers={"ETag": etag})
    headers = _headers(job, etag, get)
    if len(job.outputs) > OFF_LOOP_OUTPUTS:
        body = await off_loop(lambda: build_body(job))
    else:
        body = build_body(job)
    span = _requested_span(request, body, etag) if get else None
    if span is not None:
        return await _partial(request, job, body, span, headers, media=media, head=head)
    if head:
        return _head(body, headers, media)
    if _buffered(job, body, settings.buffer_bytes):
        return await _whole_response(request, job, body, headers, media)
    if body.size is not None:
        headers["Content-Length"] = str(body.size)
    ticket, pool = await admit(request, job, _estimate(request, job, body, whole=False))
    return _streamed(pool, ticket, body.pieces(), status=200, headers=headers, media=media)
