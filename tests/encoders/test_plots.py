"""Diagnostics plots: SVG that is valid XML with one named group per series, PNG that
decodes at the fixed size, byte-identical renders, and all-zero series kept and marked."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import matplotlib
import matplotlib.image
import pytest

from app.encoders.plots import PANEL_HEIGHT_IN, PANEL_WIDTH_IN, PNG_DPI, render_diagnostics_plot

from .diagnostics_results import result
from .plot_helpers import SVG, groups, legend_text, marker_positions, png_size, svg_tree

DEPTH = 6
LABELS = ("zeros", "random", "he_normal", "exploding")


@pytest.fixture(scope="module")
def svg_root() -> ET.Element:
    """The SVG of :func:`result` (six layers, no coordinate check), rendered once."""
    return svg_tree(render_diagnostics_plot(result(DEPTH), "svg"))


def test_svg_is_xml_with_a_named_group_per_series_and_panel(svg_root: ET.Element) -> None:
    ids = groups(svg_root)
    for label in LABELS:
        for panel in ("activation-std", "gradient-std"):
            assert f"{panel}:{label}" in ids
            assert f"legend:{panel}:{label}" in ids
    assert not any(i.startswith("coord-l1:") for i in ids)
    assert not any(i.startswith("residual-variance:") for i in ids)  # a chain has no blocks


def test_a_line_has_a_marker_per_layer_at_increasing_depths(svg_root: ET.Element) -> None:
    points = marker_positions(groups(svg_root)["activation-std:he_normal"])
    assert len(points) == DEPTH
    xs = [x for x, _ in points]
    assert xs == sorted(xs) and len(set(xs)) == DEPTH
    assert len({round(y, 3) for _, y in points}) == 1  # std 1 at every depth: a flat line


def test_all_zero_series_is_kept_as_a_marked_row_at_the_bottom(svg_root: ET.Element) -> None:
    ids = groups(svg_root)
    zeros = marker_positions(ids["activation-std:zeros"])
    assert len(zeros) == DEPTH  # not dropped: a marker per layer
    assert len({round(y, 3) for _, y in zeros}) == 1  # one row
    others = [
        y
        for label in ("random", "he_normal")
        for _, y in marker_positions(ids[f"activation-std:{label}"])
    ]
    assert zeros[0][1] > max(others)  # below every positive value (SVG y grows downwards)
    assert legend_text(svg_root, "activation-std:zeros") == "zeros (all zero)"
    assert legend_text(svg_root, "activation-std:he_normal") == "he_normal"


def test_partly_zero_series_keeps_its_line_and_marks_the_zeros(svg_root: ET.Element) -> None:
    ids = groups(svg_root)
    assert len(marker_positions(ids["gradient-std:zeros"])) == 1  # the last layer's gradient
    assert len(marker_positions(ids["gradient-std:zeros:zero"])) == DEPTH - 1
    assert legend_text(svg_root, "gradient-std:zeros") == f"zeros (zero at {DEPTH - 1} of {DEPTH})"


def test_overflowed_values_are_marked_on_a_row_at_the_top(svg_root: ET.Element) -> None:
    ids = groups(svg_root)
    over = marker_positions(ids["activation-std:exploding:overflow"])
    assert len(over) == DEPTH - DEPTH // 2
    line = marker_positions(ids["activation-std:exploding"])
    assert over[0][1] < min(y for _, y in line)
    assert legend_text(svg_root, "activation-std:exploding") == (
        f"exploding (overflow at {DEPTH - DEPTH // 2} of {DEPTH})"
    )


def test_predictions_are_dotted_series_of_their_own(svg_root: ET.Element) -> None:
    ids = groups(svg_root)
    assert "activation-std:he_normal:predicted" in ids
    assert "activation-std:zeros:predicted" not in ids  # the zeros run has no prediction


def test_coordinate_check_adds_a_panel_per_layer_last_step_and_step_zero() -> None:
    ids = groups(svg_tree(render_diagnostics_plot(result(DEPTH, coordinate_check=True), "svg")))
    for layer in ("W1", "W2", "W3"):
        assert f"coord-l1:{layer}:step2" in ids
        assert f"coord-l1:{layer}:step0" in ids
        assert f"legend:coord-l1:{layer}:step2" in ids
        assert f"legend:coord-l1:{layer}:step0" not in ids  # dashed, named by the title
        assert len(marker_positions(ids[f"coord-l1:{layer}:step2"])) == 3  # three widths


def test_a_coordinate_check_alone_is_one_panel() -> None:
    body = result(DEPTH, coordinate_check=True)
    body["runs"] = []
    data = render_diagnostics_plot(body, "svg")
    ids = groups(svg_tree(data))
    assert "coord-l1:W1:step2" in ids
    assert not any(i.startswith(("activation-std:", "gradient-std:")) for i in ids)
    png = render_diagnostics_plot(body, "png")
    assert png_size(png) == (round(PANEL_WIDTH_IN * PNG_DPI), round(PANEL_HEIGHT_IN * PNG_DPI))


def test_the_title_names_depth_activations_seed_batch_and_dtype(svg_root: ET.Element) -> None:
    title = svg_root.find(f"{SVG}title")
    assert title is not None
    assert title.text == (
        f"Signal propagation at initialisation: {DEPTH} layers, relu · seed 0 · batch 128 · float32"
    )


@pytest.mark.parametrize(("check", "panels"), [(False, 2), (True, 3)])
def test_png_decodes_at_the_fixed_size(check: bool, panels: int) -> None:
    data = render_diagnostics_plot(result(DEPTH, coordinate_check=check), "png")
    width, height = png_size(data)
    assert (width, height) == (
        round(PANEL_WIDTH_IN * panels * PNG_DPI),
        round(PANEL_HEIGHT_IN * PNG_DPI),
    )
    pixels = matplotlib.image.imread(io.BytesIO(data), format="png")
    assert pixels.shape[:2] == (height, width)
    assert pixels.min() < 0.5  # something is drawn on the white background


def test_png_metadata_has_no_date_and_no_version() -> None:
    data = render_diagnostics_plot(result(DEPTH), "png")
    assert b"tIME" not in data
    assert b"Matplotlib" not in data
    assert b"Date" not in data


def test_svg_has_no_date() -> None:
    data = render_diagnostics_plot(result(DEPTH), "svg")
    assert b"<dc:date>" not in data


@pytest.mark.parametrize("fmt", ["svg", "png"])
@pytest.mark.parametrize("check", [False, True])
def test_renders_are_byte_identical(fmt: Any, check: bool) -> None:
    body = result(DEPTH, coordinate_check=check)
    assert render_diagnostics_plot(body, fmt) == render_diagnostics_plot(body, fmt)


@pytest.mark.parametrize("fmt", ["svg", "png"])
def test_concurrent_renders_equal_a_lone_one(fmt: Any) -> None:
    bodies = [result(depth) for depth in (3, 4, 5, 6)]
    alone = [render_diagnostics_plot(body, fmt) for body in bodies]
    with ThreadPoolExecutor(max_workers=4) as pool:
        together = list(pool.map(lambda body: render_diagnostics_plot(body, fmt), bodies))
    assert together == alone


def test_global_rc_params_are_left_as_they_were() -> None:
    before = dict(matplotlib.rcParams)
    render_diagnostics_plot(result(DEPTH), "svg")
    assert dict(matplotlib.rcParams) == before


def test_a_changed_global_style_does_not_change_the_bytes() -> None:
    body = result(DEPTH)
    plain = render_diagnostics_plot(body, "svg")
    with matplotlib.rc_context({"lines.linewidth": 7.0, "font.size": 20.0, "svg.hashsalt": "x"}):
        styled = render_diagnostics_plot(body, "svg")
    assert styled == plain


def test_repeated_labels_get_distinct_ids() -> None:
    body = result(DEPTH)
    body["runs"] = [body["runs"][2], body["runs"][2]]
    ids = groups(svg_tree(render_diagnostics_plot(body, "svg")))
    assert {"activation-std:he_normal", "activation-std:he_normal_#2"} <= set(ids)


def test_label_whitespace_becomes_underscores_in_ids() -> None:
    body = result(DEPTH)
    body["runs"][1]["label"] = "random (scale 0.01)"
    ids = groups(svg_tree(render_diagnostics_plot(body, "svg")))
    assert "activation-std:random_(scale_0.01)" in ids


def test_unknown_format_and_empty_result_are_refused() -> None:
    with pytest.raises(ValueError, match="svg' or 'png"):
        render_diagnostics_plot(result(DEPTH), "pdf")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="without runs or a coordinate check"):
        render_diagnostics_plot({"runs": [], "coordinate_check": None}, "svg")
