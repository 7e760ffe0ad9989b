"""Signal-propagation plots of a diagnostics result (``POST /v1/diagnostics?format=svg|png``).

:func:`render_diagnostics_plot` draws the JSON result of a diagnostics run (the dict the
endpoint returns as JSON) as one figure:

* **activation std vs depth** and **gradient std vs depth** (std of dL/d(pre-activation)): one
  line per run (its ``label``), log y, the analytic prediction (``predicted``) dotted in the
  same colour where the result has one;
* with ``blocks`` in a run (an architecture's residual blocks), a panel of the residual
  stream's average channel variance per block (Brock et al. 2021's signal propagation
  plot), one line per run, log y;
* with ``coordinate_check``, a last panel: muP's coordinate check (microsoft/mup
  ``coord_check.py``), l1 = mean |activation| vs width, one line per layer at the last step
  and dashed at step 0, log-log.

Nothing is dropped on a log axis: a value that is 0 (or ``null`` without ``overflow``) is
drawn as a marker on a row at the bottom of the axes, a ``null`` that overflowed on a row at
the top; a series that is entirely on the bottom row says ``(all zero)`` in its legend label
(``(overflow)`` on the top row), a series partly there says how many points are.

Every series is a group the SVG names by its ``gid``: ``activation-std:<label>``,
``gradient-std:<label>``, ``residual-variance:<label>``, ``coord-l1:<layer>:step<k>``; the
rows of a partly zero or overflowing series add ``:zero`` / ``:overflow``, the dotted
predictions ``:predicted``, and each legend entry's text ``legend:<series gid>``.
``<label>`` is the run's label with whitespace as ``_``.

Deterministic: the same result gives the same bytes on one machine. The figure is built with
matplotlib's object API (no pyplot, no global figure manager; the Agg canvas, so no display),
under matplotlib's built-in defaults (``style.context("default")``: a user's matplotlibrc
changes nothing) and :data:`RC`, with a fixed size and dpi, the SVG's ids salted by a fixed
``svg.hashsalt`` and no date in either format's metadata. The style context sets the global
``rcParams`` for the duration of a render, so renders take :data:`_RENDER_LOCK` in turn: two
threads never see each other's (or a half-restored) style.
"""

from __future__ import annotations

import io
import math
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import matplotlib.style
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator
from matplotlib.transforms import blended_transform_factory

PlotFormat = Literal["svg", "png"]

MEDIA_TYPE_SVG = "image/svg+xml"
MEDIA_TYPE_PNG = "image/png"
PLOT_MEDIA_TYPES: Mapping[str, str] = {"svg": MEDIA_TYPE_SVG, "png": MEDIA_TYPE_PNG}
"""Plot format -> media type of the response body."""

PANEL_WIDTH_IN = 5.0
PANEL_HEIGHT_IN = 4.2
PNG_DPI = 100  # 500 x 420 pixels per panel
SVG_HASH_SALT = "weightinit-diagnostics"
RC: Mapping[str, Any] = {
    "svg.hashsalt": SVG_HASH_SALT,
    "svg.fonttype": "path",  # glyphs as paths: the same picture whatever fonts a viewer has
    "font.family": ["DejaVu Sans"],  # ships with matplotlib: no machine's fonts are used
    "font.size": 9.0,
    "legend.fontsize": 7.5,
    "axes.titlesize": 10.0,
    "path.simplify": False,  # every point is drawn where the data says
}
COLORS = (
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#ff7f0e",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)  # matplotlib's tab10, reordered so that the first two runs are blue and red
LINE_STYLES = ("-", "--", "-.", ":")  # after the tenth run, the colours repeat in these
ZERO_ROW = 0.035  # axes fraction of the row for values that are 0 (no place on a log axis)
OVERFLOW_ROW = 0.965  # ... and of the row for values that overflowed (null + overflow)
DATA_BAND = (0.1, 0.9)  # the axes fraction the positive values span, clear of both rows
ZERO_MARKER = "v"
OVERFLOW_MARKER = "^"

_RENDER_LOCK = threading.Lock()


@dataclass(frozen=True)
class Series:
    """One line: its points (x, value or None) and what None means at each point."""

    gid: str
    label: str
    x: tuple[float, ...]
    values: tuple[float | None, ...]
    overflow: tuple[bool, ...]
    in_legend: bool = True

    def positive(self) -> list[float]:
        return [v for v in self.values if v is not None and v > 0]

    def zero_at(self) -> list[float]:
        """x of the values that are 0 (or null without overflow): the bottom row."""
        return [
            x
            for x, v, o in zip(self.x, self.values, self.overflow, strict=True)
            if (v is None and not o) or (v is not None and v <= 0)
        ]

    def overflow_at(self) -> list[float]:
        """x of the null values that overflowed: the top row."""
        return [
            x for x, v, o in zip(self.x, self.values, self.overflow, strict=True) if v is None and o
        ]

    def legend_label(self) -> str:
        """The label with what the rows hold: ``(all zero)``, ``(zero at 3 of 20)``..."""
        if not self.in_legend:
            return "_nolegend_"
        n = len(self.values)
        zero, over = len(self.zero_at()), len(self.overflow_at())
        if n and zero == n:
            return f"{self.label} (all zero)"
        if n and over == n:
            return f"{self.label} (overflow)"
        notes = []
        if zero:
            notes.append(f"zero at {zero} of {n}")
        if over:
            notes.append(f"overflow at {over} of {n}")
        return f"{self.label} ({', '.join(notes)})" if notes else self.label


def render_diagnostics_plot(result: Mapping[str, Any], fmt: PlotFormat) -> bytes:
    """The figure of a diagnostics ``result`` (the endpoint's JSON body) as SVG or PNG bytes.

    ``result`` has ``runs`` (each with ``label`` and ``layers``, each layer with ``depth``,
    ``activation_std``, ``gradient_std`` and optionally ``predicted`` and ``overflow``) and/or
    a ``coordinate_check`` (``rows`` of ``width``, ``step``, ``layer``, ``l1``); the other
    fields of the design's result (``seed``, ``batch``, ``dtype`` or ``model.dtype``) go into
    the title when present. Raises ``ValueError`` for another ``fmt``, or a result with
    neither runs nor a coordinate check.
    """
    if fmt not in PLOT_MEDIA_TYPES:
        raise ValueError(f"plot format must be 'svg' or 'png', not {fmt!r}")
    runs = list(result.get("runs") or [])
    check = result.get("coordinate_check") or None
    if not runs and not check:
        raise ValueError(
            "a diagnostics result without runs or a coordinate check has nothing to plot"
        )
    with _RENDER_LOCK, matplotlib.style.context(["default", dict(RC)]):
        figure = _figure(result, runs, check)
        buffer = io.BytesIO()
        if fmt == "svg":
            metadata: dict[str, Any] = {"Date": None, "Title": _title(result, runs)}
            figure.savefig(buffer, format="svg", metadata=metadata)
        else:
            metadata = {"Software": None, "Title": "weightinit diagnostics"}
            figure.savefig(buffer, format="png", dpi=PNG_DPI, metadata=metadata)
    return buffer.getvalue()


def _figure(
    result: Mapping[str, Any],
    runs: Sequence[Mapping[str, Any]],
    check: Mapping[str, Any] | None,
) -> Figure:
    """Two panels per the runs (when any), the residual blocks' (when a run has them), then
    the coordinate check's (when any)."""
    blocks = any(run.get("blocks") for run in runs)
    panels = (2 if runs else 0) + (1 if blocks else 0) + (1 if check else 0)
    figure = Figure(
        figsize=(PANEL_WIDTH_IN * panels, PANEL_HEIGHT_IN), dpi=PNG_DPI, layout="constrained"
    )
    FigureCanvasAgg(figure)  # text extents for the layout; savefig picks the format's canvas
    axes = list(figure.subplots(1, panels, squeeze=False)[0])
    if runs:
        labels = _unique([str(run.get("label") or _scheme_name(run)) for run in runs])
        for ax, key, title, ylabel in (
            (axes.pop(0), "activation", "Activations", "std of activations (log)"),
            (axes.pop(0), "gradient", "Gradients", "std of dL/d(pre-activation) (log)"),
        ):
            measured, predicted = _depth_series(runs, labels, key)
            _draw_panel(ax, measured, predicted)
            ax.set_title(f"{title}: std vs depth")
            ax.set_xlabel("depth (layer)")
            ax.set_ylabel(ylabel)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if blocks:
            _draw_blocks(axes.pop(0), _block_series(runs, labels))
    if check:
        _draw_coordinate_check(axes.pop(0), check)
    figure.suptitle(_title(result, runs))
    return figure


def _title(result: Mapping[str, Any], runs: Sequence[Mapping[str, Any]]) -> str:
    parts = []
    model = result.get("model")
    if runs and isinstance(model, Mapping) and model.get("architecture"):
        parts.append(f"{model['architecture']}, {len(runs[0].get('blocks') or [])} blocks")
    if runs:
        layers = list(runs[0].get("layers") or [])
        activations = _unique_in_order(str(layer.get("activation", "")) for layer in layers)
        parts.append(
            f"{len(layers)} layers" + (f", {'/'.join(activations)}" if activations else "")
        )
    dtype = result.get("dtype") or (model.get("dtype") if isinstance(model, Mapping) else None)
    for name, value in (("seed", result.get("seed")), ("batch", result.get("batch")), ("", dtype)):
        if value is not None:
            parts.append(f"{name} {value}".strip())
    what = "Signal propagation at initialisation" if runs else "muP coordinate check"
    return f"{what}: " + " · ".join(parts)


def _scheme_name(run: Mapping[str, Any]) -> str:
    scheme = run.get("scheme")
    if isinstance(scheme, Mapping):
        return str(scheme.get("name", "run"))
    return str(scheme or "run")


def _unique(labels: Sequence[str]) -> list[str]:
    """``labels`` with a `` #2``, `` #3``... on repeats (a gid names one group)."""
    seen: dict[str, int] = {}
    out = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        out.append(label if seen[label] == 1 else f"{label} #{seen[label]}")
    return out


def _unique_in_order(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(item for item in items if item))


def _number(value: Any) -> float | None:
    """A finite float, or None (null, or anything non-finite)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _gid(*parts: str) -> str:
    return ":".join("_".join(part.split()) for part in parts)


def _depth_series(
    runs: Sequence[Mapping[str, Any]], labels: Sequence[str], key: str
) -> tuple[list[Series], list[Series]]:
    """Per run: the measured ``<key>_std`` by depth and the prediction's (when any)."""
    panel = f"{key}-std"
    measured, predicted = [], []
    for run, label in zip(runs, labels, strict=True):
        layers = list(run.get("layers") or [])
        x = tuple(float(layer.get("depth", i + 1)) for i, layer in enumerate(layers))
        values = tuple(_number(layer.get(f"{key}_std")) for layer in layers)
        overflow = tuple(bool(layer.get("overflow")) for layer in layers)
        measured.append(Series(_gid(panel, label), label, x, values, overflow))
        guesses = [layer.get("predicted") or {} for layer in layers]
        theory = tuple(_number(guess.get(f"{key}_std")) for guess in guesses)
        if any(v is not None and v > 0 for v in theory):
            no_overflow = (False,) * len(theory)
            gid = _gid(panel, label, "predicted")
            predicted.append(Series(gid, label, x, theory, no_overflow))
    return measured, predicted


def _block_series(runs: Sequence[Mapping[str, Any]], labels: Sequence[str]) -> list[Series]:
    """Per run (in run order, so colours match the other panels): the residual stream's
    average channel variance by block; a run without blocks gives an empty series."""
    out = []
    for run, label in zip(runs, labels, strict=True):
        blocks = [b for b in run.get("blocks") or [] if isinstance(b, Mapping)]
        x = tuple(float(b.get("index", i)) for i, b in enumerate(blocks))
        values = tuple(_number(b.get("variance")) for b in blocks)
        overflow = tuple(b.get("variance") is None for b in blocks)  # null: not finite
        out.append(Series(_gid("residual-variance", label), label, x, values, overflow))
    return out


def _draw_blocks(ax: Axes, series: Sequence[Series]) -> None:
    ax.set_yscale("log")
    _set_log_limits(ax, [v for s in series for v in s.positive()])
    for index, line in enumerate(series):
        if line.x:
            _draw_series(ax, line, *_style(index))
    ax.set_title("Residual stream: variance per block")
    ax.set_xlabel("block")
    ax.set_ylabel("average channel variance (log)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    _finish(ax, [s for s in series if s.x], predicted_note=False)


def _style(index: int) -> tuple[str, str]:
    return COLORS[index % len(COLORS)], LINE_STYLES[(index // len(COLORS)) % len(LINE_STYLES)]


def _draw_panel(ax: Axes, measured: Sequence[Series], predicted: Sequence[Series]) -> None:
    ax.set_yscale("log")
    positive = [v for s in [*measured, *predicted] for v in s.positive()]
    _set_log_limits(ax, positive)
    by_label = {s.label: s for s in predicted}
    for index, series in enumerate(measured):
        color, linestyle = _style(index)
        _draw_series(ax, series, color, linestyle)
        guess = by_label.get(series.label)
        if guess is not None:
            values = [v if v is not None and v > 0 else math.nan for v in guess.values]
            (line,) = ax.plot(guess.x, values, color=color, linestyle=":", linewidth=1.0)
            line.set_gid(guess.gid)
    _finish(ax, measured, predicted_note=bool(predicted))


def _set_log_limits(ax: Axes, positive: Sequence[float]) -> None:
    """Limits that put the positive values inside :data:`DATA_BAND` of the axes height."""
    if not positive:
        ax.set_ylim(0.1, 10.0)
        return
    low, high = math.log10(min(positive)), math.log10(max(positive))
    span = max(high - low, 1.0)  # at least a decade, so a flat line sits mid-axes
    middle = (low + high) / 2
    low, high = middle - span / 2, middle + span / 2
    band_low, band_high = DATA_BAND
    axis_span = span / (band_high - band_low)
    bottom = low - band_low * axis_span
    ax.set_ylim(10.0**bottom, 10.0 ** (bottom + axis_span))


def _draw_series(ax: Axes, series: Series, color: str, linestyle: str) -> None:
    """The line through the positive values, and rows for the zeros and the overflows; the
    first drawn of them carries the series' gid and its legend label."""
    labelled = False
    if series.positive():
        values = [v if v is not None and v > 0 else math.nan for v in series.values]
        (line,) = ax.plot(
            series.x,
            values,
            color=color,
            linestyle=linestyle,
            marker="o",
            markersize=3.0,
            linewidth=1.5,
            label=series.legend_label(),
        )
        line.set_gid(series.gid)
        labelled = True
    rows = (
        (series.zero_at(), ZERO_ROW, ZERO_MARKER, "zero"),
        (series.overflow_at(), OVERFLOW_ROW, OVERFLOW_MARKER, "overflow"),
    )
    transform = blended_transform_factory(ax.transData, ax.transAxes)
    for xs, row, marker, suffix in rows:
        if not xs:
            continue
        (marks,) = ax.plot(
            xs,
            [row] * len(xs),
            transform=transform,
            color=color,
            linestyle=linestyle if not labelled else "none",
            linewidth=1.0,
            marker=marker,
            markersize=5.0,
            clip_on=False,
            label="_nolegend_" if labelled else series.legend_label(),
        )
        marks.set_gid(series.gid if not labelled else _gid(series.gid, suffix))
        labelled = True


def _finish(ax: Axes, series: Sequence[Series], *, predicted_note: bool) -> None:
    """The row labels, the grid and the legend (its texts named after their series)."""
    if any(s.zero_at() for s in series):
        _row_note(ax, ZERO_ROW, "= 0")
    if any(s.overflow_at() for s in series):
        _row_note(ax, OVERFLOW_ROW, "overflow")
    ax.grid(True, which="major", color="0.9", linewidth=0.6)
    handles, texts = ax.get_legend_handles_labels()
    if predicted_note:
        handles.append(Line2D([], [], color="0.3", linestyle=":", linewidth=1.0))
        texts.append("prediction (mean field)")
    legend = ax.legend(handles, texts, loc="best")
    for handle, text in zip(handles, legend.get_texts(), strict=True):
        gid = handle.get_gid()
        if gid:
            text.set_gid(f"legend:{gid}")


def _row_note(ax: Axes, row: float, text: str) -> None:
    ax.text(
        1.0,
        row,
        f" {text}",
        transform=ax.transAxes,
        ha="left",
        va="center",
        fontsize=7.0,
        color="0.35",
        clip_on=False,
    )


def _draw_coordinate_check(ax: Axes, check: Mapping[str, Any]) -> None:
    """l1 vs width per layer: the last step solid, step 0 dashed (when it is not the last)."""
    rows = [row for row in check.get("rows") or [] if isinstance(row, Mapping)]
    steps = sorted({int(row.get("step", 0)) for row in rows})
    last = steps[-1] if steps else 0
    layers = _unique_in_order(str(row.get("layer", "")) for row in rows)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    series: list[tuple[int, Series, str]] = []
    for index, layer in enumerate(layers):
        for step, linestyle in ((last, "-"), (0, "--")):
            if step == last and linestyle == "--":
                continue
            if step not in steps:
                continue
            points = sorted(
                (float(row.get("width", 0)), _number(row.get("l1")))
                for row in rows
                if str(row.get("layer", "")) == layer and int(row.get("step", 0)) == step
            )
            x = tuple(p[0] for p in points)
            values = tuple(p[1] for p in points)
            gid = _gid("coord-l1", layer, f"step{step}")
            # step 0 is the reference: dashed, out of the legend (the title says so)
            line = Series(gid, layer, x, values, (False,) * len(x), in_legend=linestyle == "-")
            series.append((index, line, linestyle))
    _set_log_limits(ax, [v for _, s, _ in series for v in s.positive()])
    for index, line, linestyle in series:
        _draw_series(ax, line, COLORS[index % len(COLORS)], linestyle)
    ax.set_title(f"Coordinate check: step {last} (dashed: step 0)")
    ax.set_xlabel("width (log2)")
    ax.set_ylabel("l1 = mean |activation| (log)")
    widths = sorted({s.x[i] for _, s, _ in series for i in range(len(s.x))})
    if widths:
        ax.set_xticks(widths, [f"{w:g}" for w in widths])
    _finish(ax, [s for _, s, _ in series], predicted_note=False)
