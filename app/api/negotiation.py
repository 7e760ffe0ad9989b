"""Output format from ``?format=`` (wins) or the ``Accept`` header."""

from __future__ import annotations

from fastapi import Request

from app.core.errors import InvalidParameterError

from .problems import ProblemError

MEDIA = {
    "json": "application/json",
    "npy": "application/x-npy",
    "npz": "application/x-npz",
    "safetensors": "application/vnd.safetensors",
}
OCTET = "application/octet-stream"
# POST /v1/diagnostics: the result as JSON, or its plot (app/encoders/plots.py).
PLOT_MEDIA = {"json": "application/json", "svg": "image/svg+xml", "png": "image/png"}


def _ranges(accept: str) -> list[tuple[float, str]]:
    out: list[tuple[float, str]] = []
    for part in accept.split(","):
        fields = [f.strip() for f in part.split(";")]
        media = fields[0].lower()
        if not media:
            continue
        q = 1.0
        for param in fields[1:]:
            if param.startswith("q="):
                try:
                    q = float(param[2:])
                except ValueError:
                    q = 0.0
        if q > 0:
            out.append((q, media))
    return sorted(out, key=lambda item: -item[0])


def choose(fmt: str | None, accept: str | None, *, allowed: tuple[str, ...], octet: str) -> str:
    """The format to send; 406 when the Accept header admits none of ``allowed``."""
    if fmt is not None:
        return fmt
    if not accept or not accept.strip():
        return "json"
    for _, media in _ranges(accept):
        if media in ("*/*", "application/*", "application/json", "application/problem+json"):
            return "json"
        if media == OCTET:
            return octet
        for name in allowed:
            if MEDIA[name] == media:
                return name
    offered = ", ".join([*(MEDIA[n] for n in allowed), OCTET])
    raise ProblemError(
        406, f"None of the Accept header's types can be produced; offered: {offered}."
    )


def choose_plot(fmt: str | None, accept: str | None) -> str:
    """json, svg or png: ``?format=`` wins, else the Accept header's first acceptable type
    (``image/*`` is svg); 406 when it admits none of them."""
    if fmt is not None:
        return fmt
    if not accept or not accept.strip():
        return "json"
    for _, media in _ranges(accept):
        if media in ("*/*", "application/*", "application/json", "application/problem+json"):
            return "json"
        if media == "image/*":
            return "svg"
        for name, plot_media in PLOT_MEDIA.items():
            if media == plot_media:
                return name
    offered = ", ".join(PLOT_MEDIA.values())
    raise ProblemError(
        406, f"None of the Accept header's types can be produced; offered: {offered}."
    )


def require_octet(accept: str | None) -> None:
    """Per-format operations send application/octet-stream only."""
    if not accept or not accept.strip():
        return
    if any(m in ("*/*", "application/*", OCTET) for _, m in _ranges(accept)):
        return
    raise ProblemError(406, f"This operation sends {OCTET} only.")


def refuse_other_format(request: Request, fmt: str) -> None:
    """A per-format operation (``/v1/weights.npy``) sends its own format: a ``format`` query
    parameter naming another one is a 422, not silently ignored."""
    asked = request.query_params.get("format")
    if asked is not None and asked != fmt:
        path = request.url.path.rsplit(".", 1)[0]
        raise InvalidParameterError(
            f"This operation sends .{fmt} only; format={asked!r} contradicts the path. Drop "
            f"'format', or POST {path}?format={asked} instead.",
            field="format",
        )
