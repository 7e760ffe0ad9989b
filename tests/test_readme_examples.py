"""Every example in the README's HTTP API and "Use it from ..." sections runs on a live server.

The README documents the service at ``http://127.0.0.1:8000``; each block runs with that URL
replaced by a uvicorn started here on a free port, in its own temporary directory
(tests/readme_blocks.py, which tests/clients/test_client_install.py shares):

* `` ```sh `` blocks with ``bash -e -o pipefail``, with the venv's ``bin`` (``weightinit``,
  ``python``) first on ``PATH``; ``curl`` must be installed;
* `` ```py `` blocks (the Python SDK) with the venv's Python;
* `` ```js `` blocks (ES modules importing ``./clients/typescript/dist/...``) with node, after
  building the TypeScript SDK as tests/clients/test_typescript_sdk.py does.

Each must exit 0. When a block states its output (``# -> line`` in sh/py, ``// -> line`` in
js), its stdout must be exactly those lines, in order.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

# The TypeScript SDK's bootstrap (npm ci when needed, then tsc) and its module-scoped uvicorn
# fixture (127.0.0.1, a free port, WEIGHTINIT_* cleared, always terminated).
from tests.clients.test_typescript_sdk import NODE, NPM, _bootstrap, server
from tests.readme_blocks import (
    DOC_URL,
    ROOT,
    assert_ran_as_claimed,
    block_env,
    examples,
    run_block,
)

README = (ROOT / "README.md").read_text()
VENV_BIN = Path(sys.executable).parent
EXAMPLES = examples(README)

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
        "Reproduce PyTorch and JAX initial weights",
        "Recipes",
        "Why initialization matters",
    }
    assert "## Scaling out" in README
    assert "(deploy/README.md)" in README.split("## Scaling out", 1)[1]


@pytest.mark.parametrize(("lang", "code"), [e[1:] for e in EXAMPLES], ids=[e[0] for e in EXAMPLES])
def test_readme_example_runs_and_prints_what_it_claims(
    lang: str, code: str, server: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if lang == "sh" and shutil.which("curl") is None and "curl " in code:
        pytest.skip("curl is not installed")
    if lang in ("sh", "py"):
        result = run_block(lang, code, server=server, cwd=tmp_path, bin_dir=VENV_BIN)
    else:
        request.getfixturevalue("typescript_sdk")
        assert NODE is not None
        code = code.replace(DOC_URL, server)
        code = code.replace('"./clients/typescript/', f'"{ROOT.as_uri()}/clients/typescript/')
        script = tmp_path / "example.mjs"
        script.write_text(code)
        result = subprocess.run(
            [NODE, str(script)],
            cwd=tmp_path,
            env=block_env(server, VENV_BIN),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert_ran_as_claimed(lang, code, result)
