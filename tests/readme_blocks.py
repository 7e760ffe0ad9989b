"""Run the READMEs' code blocks against a live server, with the tools of a chosen venv.

The READMEs document the service at ``http://127.0.0.1:8000``; :func:`run_block` runs a block
with that URL replaced by a live server's, ``WEIGHTINIT_URL`` set to it and ``bin_dir``
(``weightinit``, ``python``) first on ``PATH``, in ``cwd``:

* `` ```sh `` blocks with ``bash -e -o pipefail``;
* `` ```py `` blocks (and the SDK README's `` ```python `` blocks) with ``bin_dir``'s python.

When a block states its output (``# -> line``, or ``// -> line`` in js), its stdout must be
exactly those lines, in order (:func:`claimed_output`). tests/test_readme_examples.py runs the
README's examples with the development venv; tests/clients/test_client_install.py runs the
client's with a venv that has only the client.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC_URL = "http://127.0.0.1:8000"
SECTIONS = (
    r"Use it from [^\n]*|The HTTP API|Reproduce PyTorch and JAX initial weights|Recipes"
    r"|Why initialization matters"
)
SECTION = re.compile(rf"^## ({SECTIONS})\n(.*?)(?=^## |\Z)", re.S | re.M)
FENCE = re.compile(r"^```(sh|py|js)\n(.*?)^```", re.S | re.M)
SDK_FENCE = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
EXPECT = {"sh": "# -> ", "py": "# -> ", "js": "// -> "}


def examples(readme: str) -> list[tuple[str, str, str]]:
    """``(section #n (lang), lang, code)`` of every sh/py/js block in the README's "Use it
    from ...", "The HTTP API", "Reproduce PyTorch and JAX initial weights" and "Recipes"
    sections."""
    found = []
    for title, body in SECTION.findall(readme):
        for index, (lang, code) in enumerate(FENCE.findall(body), start=1):
            found.append((f"{title} #{index} ({lang})", lang, code))
    return found


def sdk_examples() -> list[str]:
    """The `` ```python `` blocks of clients/python/README.md, in order."""
    return SDK_FENCE.findall((ROOT / "clients" / "python" / "README.md").read_text())


def claimed_output(lang: str, code: str) -> list[str]:
    """The lines a block says it prints (``# -> ...``), in order."""
    marker = EXPECT[lang]
    return [
        line.strip()[len(marker) :] for line in code.splitlines() if line.strip().startswith(marker)
    ]


def block_env(server: str, bin_dir: Path, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """``base`` (default: this process's environment) without WEIGHTINIT_* settings, with
    ``WEIGHTINIT_URL`` set to ``server`` and ``bin_dir`` first on ``PATH``."""
    source = os.environ if base is None else base
    env = {k: v for k, v in source.items() if not k.startswith("WEIGHTINIT_")}
    env["WEIGHTINIT_URL"] = server
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    return env


def run_block(
    lang: str,
    code: str,
    *,
    server: str,
    cwd: Path,
    bin_dir: Path,
    base_env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run one sh or py block (see the module docstring); its completed process (text)."""
    code = code.replace(DOC_URL, server)
    if lang == "sh":
        args = ["bash", "-e", "-o", "pipefail", "-c", code]
    elif lang == "py":
        script = cwd / "example.py"
        script.write_text(code)
        args = [str(bin_dir / "python"), str(script)]
    else:
        raise ValueError(f"run_block runs sh and py blocks, not {lang!r}")
    return subprocess.run(
        args,
        cwd=cwd,
        env=block_env(server, bin_dir, base_env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def assert_ran_as_claimed(lang: str, code: str, result: subprocess.CompletedProcess[str]) -> None:
    """Exit 0, and exactly the claimed lines on stdout when the block claims any."""
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    expected = claimed_output(lang, code)
    if expected:
        assert result.stdout.splitlines() == expected, result.stderr
