"""The playground in a real headless browser: Debian's Chromium (``/usr/bin/chromium``,
``make test`` installs it when missing) driven by Playwright (``executable_path``: Playwright
cannot download its own browsers here) against a service on 127.0.0.1.

The page loads with no console error and no blocked resource (it fetches nothing but its own
origin), runs the default comparison and shows the service's SVG, the histograms and the
table; a changed scheme gives a new plot with the new series; the curl command it shows
returns the same SVG bytes; a service with API keys answers the page 401 (shown readably)
until the key field is filled.

Without Chromium the module skips, except under ``CI=true``, where it fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.live_server import serve_process

CHROMIUM = Path("/usr/bin/chromium")
# The flags this machine kind needs (its closed network refuses Chromium's own connections).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
API_KEY = "playground-key-0123456789"
TIMEOUT_MS = 60_000
DEPTH = 6
WIDTH = 32


def _need_chromium() -> None:
    if CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK):
        return
    message = f"{CHROMIUM} is missing: `make test` installs it (apt-get install chromium)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def browser_context(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One Chromium for the module, with a fresh profile directory."""
    _need_chromium()
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            timeout=TIMEOUT_MS,
        )
        context.set_default_timeout(TIMEOUT_MS)
        try:
            yield context
        finally:
            context.close()


@pytest.fixture(scope="module")
def service() -> Iterator[str]:
    with serve_process() as (url, _):
        yield url


@pytest.fixture(scope="module")
def keyed_service() -> Iterator[str]:
    with serve_process(env={"WEIGHTINIT_API_KEYS": API_KEY}) as (url, _):
        yield url


def gid(label: str) -> str:
    """A run label as the plot's series ids spell it (app/encoders/plots.py)."""
    return "_".join(label.split())


class Page:
    """The playground in one tab; the console errors it logs."""

    def __init__(self, context: Any, url: str) -> None:
        self.page = context.new_page()
        self.errors: list[str] = []
        self.svg = b""
        self.result: dict[str, Any] | None = None
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.goto(f"{url}/playground")
        self.page.wait_for_selector("body[data-state=ready]")

    def set_model(self, preset: str, depth: int, width: int, batch: int) -> None:
        self.page.select_option("#preset", preset)
        self.page.fill("#depth", str(depth))
        self.page.fill("#width", str(width))
        self.page.fill("#batch", str(batch))

    def run(self) -> str:
        """Click Run; the state it ends in (done or failed). Keeps what the service sent: the
        SVG and the JSON result (None unless both were 200)."""
        with (
            self.page.expect_response(lambda r: "format=svg" in r.url) as svg,
            self.page.expect_response(lambda r: "format=json" in r.url) as result,
        ):
            self.page.click("#run")
        self.svg = svg.value.body()
        ok = svg.value.status == 200 and result.value.status == 200
        self.result = result.value.json() if ok else None
        self.page.wait_for_selector("body[data-state=done], body[data-state=failed]")
        return str(self.page.get_attribute("body", "data-state"))

    def labels(self) -> dict[str, str]:
        """scheme name -> the run's label, from the last JSON result."""
        assert self.result is not None
        return {run["scheme"]["name"]: run["label"] for run in self.result["runs"]}

    def series(self) -> set[str]:
        return set((self.page.get_attribute("#plot", "data-series") or "").split())

    def close(self) -> None:
        self.page.close()


def test_run_shows_plot_histograms_and_table_then_a_scheme_change_updates_them(
    browser_context: Any, service: str, tmp_path: Path
) -> None:
    tab = Page(browser_context, service)
    page = tab.page
    tab.set_model("mlp", DEPTH, WIDTH, 32)
    assert tab.run() == "done", page.inner_text("#error")

    first = tab.series()
    labels = tab.labels()
    assert set(labels) == {"zeros", "random", "glorot_uniform", "he_normal"}
    for label in labels.values():
        assert f"activation-std:{gid(label)}" in first
        assert f"gradient-std:{gid(label)}" in first
    assert page.evaluate("plot.complete && plot.naturalWidth > 0")  # the SVG decoded
    first_src = page.get_attribute("#plot", "src")
    assert page.locator("#stats tbody tr").count() == 4 * DEPTH
    assert page.locator("#histograms figure.histogram").count() == DEPTH
    assert page.locator("#histograms figure.histogram svg rect.bar").count() > 0
    zeros_rows = page.locator(f"#stats tbody tr[data-run='{labels['zeros']}']")
    assert zeros_rows.count() == DEPTH
    assert "symmetric" in zeros_rows.first.inner_text()

    page.uncheck("#scheme-zeros")
    page.check("#scheme-orthogonal")
    assert tab.run() == "done", page.inner_text("#error")
    second = tab.series()
    new_labels = tab.labels()
    assert set(new_labels) == {"orthogonal", "random", "glorot_uniform", "he_normal"}
    assert f"activation-std:{gid(new_labels['orthogonal'])}" in second
    assert f"activation-std:{gid(labels['zeros'])}" not in second
    assert second != first
    assert page.get_attribute("#plot", "src") != first_src
    assert page.locator(f"#stats tbody tr[data-run='{labels['zeros']}']").count() == 0
    assert page.locator(f"#stats tbody tr[data-run='{new_labels['orthogonal']}']").count() == DEPTH

    # The curl command the page shows returns the very SVG it shows.
    curl = page.input_value("#curl")
    assert "orthogonal" in curl and "--json" in curl
    out = tmp_path / "diagnostics.svg"
    command = curl.replace("-o diagnostics.svg", f"-o {out}")
    subprocess.run(["bash", "-c", command], check=True, timeout=120, cwd=tmp_path)
    assert out.read_bytes() == tab.svg
    assert tab.errors == []
    tab.close()


@pytest.mark.parametrize("preset", ["cnn", "transformer", "gpt2"])
def test_the_other_presets_run(browser_context: Any, service: str, preset: str) -> None:
    tab = Page(browser_context, service)
    tab.set_model(preset, 2, 8, 4)
    tab.page.uncheck("#scheme-random")
    tab.page.uncheck("#scheme-glorot_uniform")
    assert tab.run() == "done", tab.page.inner_text("#error")
    labels = tab.labels()
    assert set(labels) == {"zeros", "he_normal"}
    assert {f"activation-std:{gid(label)}" for label in labels.values()} <= tab.series()
    if preset == "gpt2":  # a residual network: the stream's variance per block too
        assert {f"residual-variance:{gid(label)}" for label in labels.values()} <= tab.series()
    assert tab.page.locator("#stats tbody tr").count() > 0
    assert tab.errors == []
    tab.close()


def test_a_coordinate_check_adds_its_panel(browser_context: Any, service: str) -> None:
    tab = Page(browser_context, service)
    page = tab.page
    tab.set_model("mlp", 3, 8, 8)
    page.fill("#widths", "16, 32")
    curl = page.input_value("#curl")
    assert '"widths":[16,32]' in curl
    assert '"scheme":"zeros"' in curl and '"compare"' not in curl  # the first scheme only
    assert tab.run() == "done", page.inner_text("#error")
    assert tab.result is not None and tab.result["coordinate_check"] is not None
    assert any(s.startswith("coord-l1:") for s in tab.series())
    assert "coordinate check" in page.inner_text("#status")
    page.select_option("#preset", "cnn")  # no coordinate check for a CNN
    assert '"widths"' not in page.input_value("#curl")
    assert tab.errors == []
    tab.close()


def test_a_service_with_keys_is_a_readable_401_until_the_key_is_given(
    browser_context: Any, keyed_service: str
) -> None:
    tab = Page(browser_context, keyed_service)  # the page itself needs no key
    page = tab.page
    tab.set_model("mlp", 3, 8, 4)
    assert tab.run() == "failed"
    error = page.inner_text("#error")
    assert "401 Unauthorized" in error
    assert "API key" in error
    assert "X-API-Key" not in page.input_value("#curl")

    page.fill("#api-key", API_KEY)
    assert tab.run() == "done", page.inner_text("#error")
    assert page.is_hidden("#error")
    curl = page.input_value("#curl")
    assert '-H "X-API-Key: $WEIGHTINIT_API_KEY"' in curl
    assert API_KEY not in curl  # the key itself stays out of the copied command
    # a 401 is logged by Chromium as a failed resource: the only console errors allowed
    assert all("401" in error for error in tab.errors), tab.errors
    tab.close()


def test_chromium_is_the_debian_one() -> None:
    _need_chromium()
    version = subprocess.run(
        [str(CHROMIUM), "--version"], capture_output=True, text=True, timeout=60, check=True
    )
    assert "Chromium" in version.stdout
    assert shutil.which("chromium") is not None
