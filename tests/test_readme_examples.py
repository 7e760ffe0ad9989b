"""Every example in the README's HTTP API and "Use it from ..." sections runs on a live server.

The README documents the service at ``http://127.0.0.1:8000``; each block runs with that URL
replaced by a uvicorn started here on a free port, in its own temporary directory:

* `` ```sh `` blocks with ``bash -e -o pipefail``, with the venv's ``bin`` (``weightinit``,
  ``python``) first on ``PATH``; ``curl`` must be installed;
* `` ```py `` blocks (the Python SDK) with the venv's Python;
* `` ```js `` blocks (ES modules importing ``./clients/typescript/dist/...``) with node, after
  building the TypeScript SDK as tests/clients/test_typescript_sdk.py does.

Each must exit 0. When a block states its output (``# -> line`` in sh/py, ``// -> line`` in
js), its stdout must be exactly those lines, in order.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

# The TypeScript SDK's bootstrap (npm ci when needed, then tsc) and its module-scoped uvicorn
# fixture (127.0.0.1, a free port, WEIGHTINIT_* cleared, always terminated).
from tests.clients.test_typescript_sdk import NODE, NPM, _bootstrap, server

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
DOC_URL = "http://127.0.0.1:8000"
VENV_BIN = Path(sys.executable).parent
SECTION = re.compile(r"^## (Use it from [^\n]*|The HTTP API)\n(.*?)(?=^## |\Z)", re.S | re.M)
FENCE = re.compile(r"^```(sh|py|js)\n(.*?)^```", re.S | re.M)
EXPECT = {"sh": "# -> ", "py": "# -> ", "js": "// -> "}


def _examples() -> list[tuple[str, str, str]]:
    found = []
    for title, body in SECTION.findall(README):
        for index, (lang, code) in enumerate(FENCE.findall(body), start=1):
            found.append((f"{title} #{index} ({lang})", lang, code))
    return found


EXAMPLES = _examples()

__all__ = ["server"]  # a fixture: one uvicorn for the whole module


@pytest.fixture(scope="module")
def typescript_sdk() -> None:
    if NODE is None or NPM is None:
        pytest.skip("node and npm are needed to run the TypeScript examples")
    _bootstrap()


def test_the_readme_has_an_example_for_every_client() -> None:
    titles = {name.split(" #")[0] for name, _, _ in EXAMPLES}
    assert titles == {
        "Use it from curl",
        "Use it from Python",
        "Use it from TypeScript",
        "Use it from the command line",
        "The HTTP API",
    }
    assert "## Scaling out" in README
    assert "(deploy/README.md)" in README.split("## Scaling out", 1)[1]


@pytest.mark.parametrize(("lang", "code"), [e[1:] for e in EXAMPLES], ids=[e[0] for e in EXAMPLES])
def test_readme_example_runs_and_prints_what_it_claims(
    lang: str, code: str, server: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    code = code.replace(DOC_URL, server)
    env = {k: v for k, v in os.environ.items() if not k.startswith("WEIGHTINIT_")}
    env["WEIGHTINIT_URL"] = server
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    if lang == "sh":
        if shutil.which("curl") is None and "curl " in code:
            pytest.skip("curl is not installed")
        args = ["bash", "-e", "-o", "pipefail", "-c", code]
    elif lang == "py":
        script = tmp_path / "example.py"
        script.write_text(code)
        args = [sys.executable, str(script)]
    else:
        request.getfixturevalue("typescript_sdk")
        assert NODE is not None
        code = code.replace('"./clients/typescript/', f'"{ROOT.as_uri()}/clients/typescript/')
        script = tmp_path / "example.mjs"
        script.write_text(code)
        args = [NODE, str(script)]
    result = subprocess.run(
        args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    marker = EXPECT[lang]
    expected = [
        line.strip()[len(marker) :] for line in code.splitlines() if line.strip().startswith(marker)
    ]
    if expected:
        assert result.stdout.splitlines() == expected, result.stderr
