"""Sync :class:`Client` and async :class:`AsyncClient` for the weightinit HTTP API."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import math
import os
import re
import sys
import threading
import time
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Literal, Self

import httpx

from ._core import (
    DEFAULT_URL,
    RETRY_STATUSES,
    Arrays,
    BinaryFormat,
    SchemeSpec,
    WeightinitError,
    common,
    model_body,
    parse,
    retry_delay,
    seed_value,
)
from .audit import audit_body, safetensors_stats, state_stats

Op = Literal["weights", "models"]
_FILENAME = re.compile(r'filename="([^"]+)\.npy"')
CHUNK = 1 << 16


def weights_body(
    layer: Mapping[str, Any],
    *,
    seed: int | str,
    scheme: SchemeSpec = None,
    bias_scheme: SchemeSpec = None,
    dtype: str = "float32",
    layout: str = "torch",
    algorithm: str = "blocks-v1",
    slice: str | None = None,
    shard: Mapping[str, int] | Sequence[int] | None = None,
) -> dict[str, Any]:
    """The JSON body of POST /v1/weights (``slice`` "0:1024, 2048:" or ``shard``
    {"dim": 0, "index": 3, "count": 8}: only that part of the returned tensor)."""
    body = common(
        seed,
        scheme=scheme,
        bias_scheme=bias_scheme,
        dtype=dtype,
        layout=layout,
        algorithm=algorithm,
    )
    extra: dict[str, Any] = {"slice": slice} if slice is not None else {}
    if isinstance(shard, Mapping):
        extra["shard"] = dict(shard)
    elif shard is not None:  # (dim, index, count), as download_tensor takes it
        extra["shard"] = dict(zip(("dim", "index", "count"), shard, strict=True))
    return {"layer": dict(layer), **body, **extra}


def models_body(
    *,
    seed: int | str,
    layers: Sequence[Mapping[str, Any]] | None = None,
    mlp: list[int] | Mapping[str, Any] | None = None,
    scheme: SchemeSpec = None,
    bias_scheme: SchemeSpec = None,
    dtype: str = "float32",
    layout: str = "torch",
    algorithm: str = "blocks-v1",
    shard: Mapping[str, Any] | None = None,
    tensors: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON body of POST /v1/models (exactly one of ``layers``, ``mlp`` or ``tensors``, a
    shape map {name: shape} such as {k: v.shape for k, v in model.state_dict().items()});
    ``shard`` is a tensor-parallel plan {"index": i, "count": n, "dims": {"*.q_proj.weight":
    0, ...}}."""
    options = common(
        seed,
        scheme=scheme,
        bias_scheme=bias_scheme,
        dtype=dtype,
        layout=layout,
        algorithm=algorithm,
    )
    body = model_body(layers, mlp, options, tensors)
    if shard is not None:
        body["shard"] = dict(shard)
    return body


class Progress:
    """A one-line progress bar on a terminal; silent when the stream is not a TTY."""

    def __init__(self, total: int | None, stream: IO[str] | None = None, width: int = 30) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = bool(getattr(self.stream, "isatty", lambda: False)())
        self.total = total
        self.done = 0
        self.width = width
        self._last = 0.0

    def update(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        if self.enabled and now - self._last >= 0.1:
            self._last = now
            self._draw()

    def _draw(self) -> None:
        mb = self.done / 1e6
        if self.total:
            frac = min(self.done / self.total, 1.0)
            bar = "#" * int(frac * self.width)
            line = f"\r[{bar:<{self.width}}] {frac:4.0%} {mb:.1f}/{self.total / 1e6:.1f} MB"
        else:
            line = f"\r{mb:.1f} MB"
        self.stream.write(line)
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self._draw()
            self.stream.write("\n")
            self.stream.flush()


def _check(response: httpx.Response, content: bytes) -> None:
    if response.status_code >= 400:
        raise WeightinitError.from_response(response.status_code, response.headers, content)


def _npy_name(response: httpx.Response) -> str:
    match = _FILENAME.search(response.headers.get("content-disposition", ""))
    return match.group(1) if match else "weight"


def _unreachable(exc: httpx.HTTPError, url: str) -> WeightinitError:
    if isinstance(exc, httpx.RemoteProtocolError):  # closed before Content-Length was reached
        return WeightinitError(
            0,
            "incomplete response",
            f"{url}: the server closed the connection before the end of the body ({exc}); "
            "nothing was kept: retry, or check the server's log",
        )
    kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "unreachable"
    return WeightinitError(0, f"service {kind}", f"{url}: {exc or type(exc).__name__}")


class _Settings:
    def __init__(
        self,
        url: str | None,
        timeout: float,
        retries: int,
        backoff: float,
        max_delay: float,
        *,
        api_key: str | None = None,
    ) -> None:
        self.url = (url or os.environ.get("WEIGHTINIT_URL") or DEFAULT_URL).rstrip("/")
        self.api_key = api_key if api_key is not None else os.environ.get("WEIGHTINIT_API_KEY")
        self.timeout = httpx.Timeout(timeout)
        self.retries = max(0, retries)
        self.backoff = backoff
        self.max_delay = max_delay

    def delay(self, attempt: int, response: httpx.Response) -> float | None:
        """Seconds to wait before retrying, or None to give up."""
        if response.status_code not in RETRY_STATUSES or attempt >= self.retries:
            return None
        return retry_delay(attempt, response.headers, self.backoff, self.max_delay)

    def headers(self, extra: Mapping[str, str] | None) -> dict[str, str]:
        """``extra`` plus the API key as a Bearer token (an explicit Authorization wins)."""
        sent = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        return {**sent, **(extra or {})}


class Client:
    """Synchronous client. ``retries`` bounds the extra attempts after a 503/429.

    ``api_key`` (default ``$WEIGHTINIT_API_KEY``) is sent as ``Authorization: Bearer <key>``
    to services that have API keys."""

    def __init__(
        self,
        url: str | None = None,
        *,
        timeout: float = 60.0,
        retries: int = 4,
        backoff: float = 0.5,
        max_delay: float = 30.0,
        headers: Mapping[str, str] | None = None,
        api_key: str | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._s = _Settings(url, timeout, retries, backoff, max_delay, api_key=api_key)
        self._sleep = sleep
        self._http = httpx.Client(
            base_url=self._s.url,
            timeout=self._s.timeout,
            headers=self._s.headers(headers),
            transport=transport,
        )

    @property
    def url(self) -> str:
        return self._s.url

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ---- transport -----------------------------------------------------------------------

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        attempt = 0
        while True:
            try:
                response = self._http.request(method, path, **kwargs)
            except httpx.HTTPError as exc:
                raise _unreachable(exc, self.url) from exc
            delay = self._s.delay(attempt, response)
            if delay is None:
                _check(response, response.content)
                return response
            self._sleep(delay)
            attempt += 1

    def request_bytes(
        self, op: Op, body: Mapping[str, Any], format: str, tensor: str | None = None
    ) -> tuple[bytes, httpx.Response]:
        """The raw response body of POST /v1/{op}?format=... (any format, json included)."""
        params = {"format": format} | ({"tensor": tensor} if tensor else {})
        response = self._send("POST", f"/v1/{op}", json=dict(body), params=params)
        return response.content, response

    # ---- API -----------------------------------------------------------------------------

    def weights(
        self,
        layer: Mapping[str, Any],
        *,
        seed: int | str,
        scheme: SchemeSpec = None,
        bias_scheme: SchemeSpec = None,
        dtype: str = "float32",
        layout: str = "torch",
        algorithm: str = "blocks-v1",
        format: BinaryFormat = "npz",
        tensor: str | None = None,
        slice: str | None = None,
        shard: Mapping[str, int] | Sequence[int] | None = None,
    ) -> Arrays:
        """One layer's tensors by name (``npy`` returns one tensor: ``tensor``, required when
        the layer has several; ``slice``/``shard`` return only that part of one tensor)."""
        body = weights_body(
            layer,
            seed=seed,
            scheme=scheme,
            bias_scheme=bias_scheme,
            dtype=dtype,
            layout=layout,
            algorithm=algorithm,
            slice=slice,
            shard=shard,
        )
        content, response = self.request_bytes("weights", body, format, tensor)
        return parse(format, content, _npy_name(response))

    def model(
        self,
        layers: Sequence[Mapping[str, Any]] | None = None,
        *,
        seed: int | str,
        mlp: list[int] | Mapping[str, Any] | None = None,
        scheme: SchemeSpec = None,
        bias_scheme: SchemeSpec = None,
        dtype: str = "float32",
        layout: str = "torch",
        algorithm: str = "blocks-v1",
        format: Literal["npz", "safetensors"] = "safetensors",
        shard: Mapping[str, Any] | None = None,
        tensors: Mapping[str, Any] | None = None,
    ) -> Arrays:
        """Every tensor of many named layers (``layers``), the ``mlp`` shorthand, or a shape map
        (``tensors``: {name: shape}, e.g. {k: v.shape for k, v in model.state_dict().items()},
        tensors named as in the map, roles inferred from the names)."""
        body = models_body(
            seed=seed,
            layers=layers,
            mlp=mlp,
            scheme=scheme,
            bias_scheme=bias_scheme,
            dtype=dtype,
            layout=layout,
            algorithm=algorithm,
            shard=shard,
            tensors=tensors,
        )
        content, _ = self.request_bytes("models", body, format)
        return parse(format, content)

    def schemes(self) -> list[dict[str, Any]]:
        """The registry: every scheme with aliases, parameters, formula and reference."""
        schemes: list[dict[str, Any]] = self._send("GET", "/v1/schemes").json()["schemes"]
        return schemes

    def scheme(self, name: str) -> dict[str, Any]:
        """One scheme (an alias gives its canonical scheme)."""
        scheme: dict[str, Any] = self._send("GET", f"/v1/schemes/{name}").json()
        return scheme

    def download(
        self,
        path: str | os.PathLike[str],
        body: Mapping[str, Any],
        *,
        op: Op = "weights",
        format: str = "npz",
        progress: IO[str] | None = None,
        manifest: bool = False,
    ) -> int:
        """Stream POST /v1/{op}?format=... to ``path``; the number of bytes written.

        A progress bar goes to ``progress`` (default stderr) when that is a terminal.
        ``manifest=True`` (safetensors or json) puts the init manifest in the file, where
        ``audit_file`` reads it back.
        """
        target = Path(path)
        params = {"format": format} | ({"manifest": "true"} if manifest else {})
        attempt = 0
        while True:
            try:
                with self._http.stream(
                    "POST", f"/v1/{op}", json=dict(body), params=params
                ) as response:
                    delay = self._s.delay(attempt, response)
                    if delay is None:
                        if response.status_code >= 400:
                            _check(response, response.read())
                        return write_chunks(
                            target, response.iter_bytes(CHUNK), _total(response), progress
                        )
                    response.read()
            except httpx.HTTPError as exc:
                raise _unreachable(exc, self.url) from exc
            self._sleep(delay)
            attempt += 1

    def digests(
        self,
        body: Mapping[str, Any],
        *,
        op: Op = "weights",
        blocks: bool = True,
        tensor: str | None = None,
    ) -> dict[str, Any]:
        """POST /v1/{op}/digests: the sha256 of every tensor (and block), without the tensors."""
        params = {"blocks": "true" if blocks else "false"} | ({"tensor": tensor} if tensor else {})
        result: dict[str, Any] = self._send(
            "POST", f"/v1/{op}/digests", json=dict(body), params=params
        ).json()
        return result

    def audit(
        self,
        expected: Mapping[str, Any],
        state: Mapping[str, Any],
        *,
        z: float | None = None,
    ) -> dict[str, Any]:
        """POST /v1/audit: check ``state`` ({name: array}, e.g. a torch state_dict converted
        to numpy) against ``expected``, a /v1/weights or /v1/models body or an init manifest.
        Statistics are computed here (float64, chunk by chunk); the report comes back."""
        return self.audit_stats(audit_body(expected, state_stats(state), z))

    def audit_stats(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """POST /v1/audit with a ready body ({"request" | "manifest": ..., "tensors": stats})."""
        report: dict[str, Any] = self._send("POST", "/v1/audit", json=dict(body)).json()
        return report

    def diagnose(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """POST /v1/diagnostics: per-layer signal-propagation statistics of a chain (``mlp``
        with activations, or ``layers`` each with its activation) under its scheme, or each
        scheme of ``compare``, beside the mean-field prediction; ``widths`` adds muP's
        coordinate check."""
        document: dict[str, Any] = self._send("POST", "/v1/diagnostics", json=dict(body)).json()
        return document

    def diagnose_plot(self, body: Mapping[str, Any], *, format: str = "svg") -> bytes:
        """POST /v1/diagnostics?format=svg|png: the same diagnostics as a plot."""
        response = self._send("POST", "/v1/diagnostics", params={"format": format}, json=dict(body))
        return response.content

    def audit_file(
        self,
        path: str | os.PathLike[str],
        *,
        request: Mapping[str, Any] | None = None,
        z: float | None = None,
    ) -> dict[str, Any]:
        """POST /v1/audit for a safetensors file, read chunk by chunk: against ``request``
        when given, else against the init manifest in the file's ``__metadata__``."""
        manifest, stats = safetensors_stats(path)
        return self.audit_stats(audit_body(_expected(path, request, manifest), stats, z))

    def download_tensor(
        self,
        path: str | os.PathLike[str],
        scheme: str,
        shape: Sequence[int],
        *,
        seed: int | str,
        parallel: int = 4,
        verify: bool = False,
        progress: IO[str] | None = None,
        **query: Any,
    ) -> int:
        """GET /v1/weights/{scheme} to ``path`` in ``parallel`` ranged pieces (HTTP Range).

        The pieces are written at their offsets and equal, stitched, the single-request bytes.
        ``query`` takes the shortcut's other fields (dtype, layout, format, slice, shard as a
        (dim, index, count) tuple, params). With ``verify`` the tensor's bytes are checked
        against POST /v1/weights/digests and a mismatch raises :class:`WeightinitError`.
        """
        url = f"/v1/weights/{scheme}"
        params = shortcut_params(shape, seed=seed, **query)
        if params["format"] == "json":
            raise ValueError("download_tensor needs a binary format (npy, npz or safetensors)")
        if verify and params["format"] != "npy":
            raise ValueError("verify=True checks .npy downloads: use format='npy'")
        size = self._head_size(url, params)
        target = Path(path)
        partial = target.with_name(target.name + ".part")
        bar = Progress(size, progress)
        fetch = functools.partial(
            self._fetch_range, url=url, params=params, bar=bar, lock=threading.Lock()
        )
        try:
            with partial.open("wb") as out:
                out.truncate(size)
                with ThreadPoolExecutor(max(1, parallel)) as pool:
                    spans = _pieces(size, parallel)
                    list(pool.map(fetch, spans, [out.fileno()] * len(spans)))
            if verify:
                self._verify(partial, scheme, shape, seed, query)
            partial.replace(target)
        finally:
            partial.unlink(missing_ok=True)
            bar.close()
        return size

    def _head_size(self, url: str, params: Mapping[str, str]) -> int:
        """The body's Content-Length, from HEAD."""
        try:
            head = self._http.request("HEAD", url, params=params)
        except httpx.HTTPError as exc:
            raise _unreachable(exc, self.url) from exc
        if head.status_code >= 400:  # a HEAD answer has no body: ask again for the problem
            self._send("GET", url, params=params)
        size = _total(head)
        if size is None:
            raise WeightinitError(0, "no size", "the server sent no Content-Length for HEAD")
        return size

    def _fetch_range(
        self,
        span: tuple[int, int],
        fd: int,
        *,
        url: str,
        params: Mapping[str, str],
        bar: Progress,
        lock: threading.Lock,
    ) -> None:
        """GET bytes [start, stop) of ``url`` into ``fd`` at their offset."""
        start, stop = span
        headers = {"Range": f"bytes={start}-{stop - 1}"}
        try:
            with self._http.stream("GET", url, params=params, headers=headers) as response:
                if response.status_code != 206:
                    _check(response, response.read())
                    raise WeightinitError(
                        response.status_code, "no range", f"bytes {start}-{stop - 1} not served"
                    )
                offset = start
                for chunk in response.iter_bytes(CHUNK * 16):
                    os.pwrite(fd, chunk, offset)
                    offset += len(chunk)
                    with lock:
                        bar.update(len(chunk))
        except httpx.HTTPError as exc:  # e.g. the server closed before the range's end
            raise _unreachable(exc, self.url) from exc
        if offset != stop:
            raise WeightinitError(0, "short range", f"bytes {start}-{stop - 1}: got {offset}")

    def _verify(
        self,
        path: Path,
        scheme: str,
        shape: Sequence[int],
        seed: int | str,
        query: Mapping[str, Any],
    ) -> None:
        body: dict[str, Any] = {
            "layer": {"kind": "tensor", "shape": list(shape)},
            "scheme": {"name": scheme, **dict(query.get("params") or {})},
            "seed": seed_value(seed),
            "dtype": query.get("dtype", "float32"),
            "layout": query.get("layout", "torch"),
        }
        if query.get("slice") is not None:
            body["slice"] = query["slice"]
        if query.get("shard") is not None:
            dim, index, count = query["shard"]
            body["shard"] = {"dim": dim, "index": index, "count": count}
        (tensor,) = self.digests(body, blocks=False)["tensors"]
        itemsize = {"float64": 8, "float32": 4, "float16": 2, "bfloat16": 2}[tensor["dtype"]]
        data_bytes = math.prod(tensor["shape"]) * itemsize
        if query.get("format", "npy") != "npy":
            raise WeightinitError(0, "cannot verify", "verify=True needs format npy")
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            handle.seek(path.stat().st_size - data_bytes)
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        if digest.hexdigest() != tensor["sha256"]:
            raise WeightinitError(
                0, "digest mismatch", f"{path}: sha256 {digest.hexdigest()} != {tensor['sha256']}"
            )


def _expected(
    path: str | os.PathLike[str],
    request: Mapping[str, Any] | None,
    manifest: Mapping[str, Any] | None,
) -> Mapping[str, Any]:
    """What a file is audited against: ``request`` when given, else the file's manifest."""
    expected = request if request is not None else manifest
    if expected is None:
        raise ValueError(
            f"{path}: no init manifest in its __metadata__ (download it with "
            "manifest=true), so give the request it was made from: request={...}"
        )
    return expected


def shortcut_params(
    shape: Sequence[int],
    *,
    seed: int | str,
    dtype: str = "float32",
    layout: str = "torch",
    format: str = "npy",
    slice: str | None = None,
    shard: tuple[int, int, int] | None = None,
    params: Mapping[str, Any] | None = None,
) -> dict[str, str]:
    """The query of GET /v1/weights/{scheme} (the curl shortcut: one raw tensor)."""
    query = {
        "shape": ",".join(str(int(d)) for d in shape),
        "seed": str(int(seed)),
        "dtype": dtype,
        "layout": layout,
        "format": format,
    }
    if slice is not None:
        query["slice"] = slice
    if shard is not None:
        query["shard"] = ",".join(str(int(v)) for v in shard)
    for key, value in (params or {}).items():
        query[key] = str(value)
    return query


def _pieces(size: int, parallel: int) -> list[tuple[int, int]]:
    step = max(1 << 20, -(-size // max(1, parallel)))
    return [(start, min(start + step, size)) for start in range(0, size, step)]


def _total(response: httpx.Response) -> int | None:
    raw = response.headers.get("content-length")
    return int(raw) if raw and raw.isdigit() else None


@contextlib.contextmanager
def _atomic_file(
    target: Path, total: int | None, stream: IO[str] | None
) -> Iterator[Callable[[bytes], None]]:
    """A ``write(chunk)`` into ``<target>.part`` with a progress bar on ``stream`` (when it is
    a terminal); the part file replaces ``target`` only if the block completes."""
    bar = Progress(total, stream)
    partial = target.with_name(target.name + ".part")
    try:
        with partial.open("wb") as out:

            def write(chunk: bytes) -> None:
                out.write(chunk)
                bar.update(len(chunk))

            yield write
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
        bar.close()


def write_chunks(
    target: Path, chunks: Iterable[bytes], total: int | None, stream: IO[str] | None = None
) -> int:
    """Write ``chunks`` to ``target`` atomically (via ``<target>.part``) with a progress bar
    on ``stream`` when it is a terminal; the number of bytes written."""
    written = 0
    with _atomic_file(target, total, stream) as write:
        for chunk in chunks:
            write(chunk)
            written += len(chunk)
    return written


async def _write_async_chunks(
    target: Path, chunks: AsyncIterator[bytes], total: int | None, stream: IO[str] | None
) -> int:
    """:func:`write_chunks` for chunks that arrive asynchronously."""
    written = 0
    with _atomic_file(target, total, stream) as write:
        async for chunk in chunks:
            write(chunk)
            written += len(chunk)
    return written


class AsyncClient:
    """Asynchronous twin of :class:`Client` (same methods, awaited)."""

    def __init__(
        self,
        url: str | None = None,
        *,
        timeout: float = 60.0,
        retries: int = 4,
        backoff: float = 0.5,
        max_delay: float = 30.0,
        headers: Mapping[str, str] | None = None,
        api_key: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._s = _Settings(url, timeout, retries, backoff, max_delay, api_key=api_key)
        self._sleep = sleep
        self._http = httpx.AsyncClient(
            base_url=self._s.url,
            timeout=self._s.timeout,
            headers=self._s.headers(headers),
            transport=transport,
        )

    @property
    def url(self) -> str:
        return self._s.url

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        attempt = 0
        while True:
            try:
                response = await self._http.request(method, path, **kwargs)
            except httpx.HTTPError as exc:
                raise _unreachable(exc, self.url) from exc
            delay = self._s.delay(attempt, response)
            if delay is None:
                _check(response, response.content)
                return response
            await self._sleep(delay)
            attempt += 1

    async def request_bytes(
        self, op: Op, body: Mapping[str, Any], format: str, tensor: str | None = None
    ) -> tuple[bytes, httpx.Response]:
        params = {"format": format} | ({"tensor": tensor} if tensor else {})
        response = await self._send("POST", f"/v1/{op}", json=dict(body), params=params)
        return response.content, response

    async def weights(
        self,
        layer: Mapping[str, Any],
        *,
        seed: int | str,
        scheme: SchemeSpec = None,
        bias_scheme: SchemeSpec = None,
        dtype: str = "float32",
        layout: str = "torch",
        algorithm: str = "blocks-v1",
        format: BinaryFormat = "npz",
        tensor: str | None = None,
        slice: str | None = None,
        shard: Mapping[str, int] | Sequence[int] | None = None,
    ) -> Arrays:
        body = weights_body(
            layer,
            seed=seed,
            scheme=scheme,
            bias_scheme=bias_scheme,
            dtype=dtype,
            layout=layout,
            algorithm=algorithm,
            slice=slice,
            shard=shard,
        )
        content, response = await self.request_bytes("weights", body, format, tensor)
        return parse(format, content, _npy_name(response))

    async def model(
        self,
        layers: Sequence[Mapping[str, Any]] | None = None,
        *,
        seed: int | str,
        mlp: list[int] | Mapping[str, Any] | None = None,
        scheme: SchemeSpec = None,
        bias_scheme: SchemeSpec = None,
        dtype: str = "float32",
        layout: str = "torch",
        algorithm: str = "blocks-v1",
        format: Literal["npz", "safetensors"] = "safetensors",
        shard: Mapping[str, Any] | None = None,
        tensors: Mapping[str, Any] | None = None,
    ) -> Arrays:
        body = models_body(
            seed=seed,
            layers=layers,
            mlp=mlp,
            scheme=scheme,
            bias_scheme=bias_scheme,
            dtype=dtype,
            layout=layout,
            algorithm=algorithm,
            shard=shard,
            tensors=tensors,
        )
        content, _ = await self.request_bytes("models", body, format)
        return parse(format, content)

    async def diagnose(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """See :meth:`Client.diagnose`."""
        response = await self._send("POST", "/v1/diagnostics", json=dict(body))
        document: dict[str, Any] = response.json()
        return document

    async def diagnose_plot(self, body: Mapping[str, Any], *, format: str = "svg") -> bytes:
        """See :meth:`Client.diagnose_plot`."""
        response = await self._send(
            "POST", "/v1/diagnostics", params={"format": format}, json=dict(body)
        )
        return response.content

    async def schemes(self) -> list[dict[str, Any]]:
        schemes: list[dict[str, Any]] = (await self._send("GET", "/v1/schemes")).json()["schemes"]
        return schemes

    async def scheme(self, name: str) -> dict[str, Any]:
        scheme: dict[str, Any] = (await self._send("GET", f"/v1/schemes/{name}")).json()
        return scheme

    async def download(
        self,
        path: str | os.PathLike[str],
        body: Mapping[str, Any],
        *,
        op: Op = "weights",
        format: str = "npz",
        progress: IO[str] | None = None,
        manifest: bool = False,
    ) -> int:
        target = Path(path)
        params = {"format": format} | ({"manifest": "true"} if manifest else {})
        attempt = 0
        while True:
            try:
                async with self._http.stream(
                    "POST", f"/v1/{op}", json=dict(body), params=params
                ) as response:
                    delay = self._s.delay(attempt, response)
                    if delay is None:
                        if response.status_code >= 400:
                            _check(response, await response.aread())
                        return await _write_async_chunks(
                            target, response.aiter_bytes(CHUNK), _total(response), progress
                        )
                    await response.aread()
            except httpx.HTTPError as exc:
                raise _unreachable(exc, self.url) from exc
            await self._sleep(delay)
            attempt += 1

    async def audit(
        self,
        expected: Mapping[str, Any],
        state: Mapping[str, Any],
        *,
        z: float | None = None,
    ) -> dict[str, Any]:
        """POST /v1/audit for ``state`` ({name: array}) against ``expected`` (a request body
        or an init manifest); the statistics are computed in a worker thread."""
        stats = await asyncio.to_thread(state_stats, state)
        return await self.audit_stats(audit_body(expected, stats, z))

    async def audit_stats(self, body: Mapping[str, Any]) -> dict[str, Any]:
        report: dict[str, Any] = (await self._send("POST", "/v1/audit", json=dict(body))).json()
        return report

    async def audit_file(
        self,
        path: str | os.PathLike[str],
        *,
        request: Mapping[str, Any] | None = None,
        z: float | None = None,
    ) -> dict[str, Any]:
        """POST /v1/audit for a safetensors file (read chunk by chunk in a worker thread)."""
        manifest, stats = await asyncio.to_thread(safetensors_stats, path)
        return await self.audit_stats(audit_body(_expected(path, request, manifest), stats, z))
