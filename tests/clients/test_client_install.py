"""The client alone: ``pip install ./clients/python`` into a clean venv, then the READMEs.

One venv per module, made with this interpreter's ``venv`` module (no packages but pip's own)
in a temporary directory; ``pip install`` gets the client from a copy of clients/python (so
that setuptools' build/ and egg-info stay out of the repository) and numpy and httpx from the
configured index, unconstrained as a user's install would be. In that venv:

* the distribution is ``weightinit-client``, needs numpy and httpx only, installs the package
  ``weightinit_client`` and the ``weightinit`` script, and there is no ``app`` to import;
* the Python examples (README "Use it from Python", every block of clients/python/README.md)
  and the command-line examples (README "Use it from the command line") run against a server
  started from this (the development) venv, except the one block that uses ``--local``,
  which must fail with the message naming the server package.

The clean venv's processes run in a temporary directory with no PYTHONPATH, so nothing of the
repository can be imported by accident.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.conftest import expected_layer
from tests.readme_blocks import (
    assert_ran_as_claimed,
    claimed_output,
    examples,
    run_block,
    sdk_examples,
)

from .conftest import ROOT

pytestmark = pytest.mark.slow  # a venv and a pip install: about 10 s with a warm wheel cache

CLIENT = ROOT / "clients" / "python"
PIP_TIMEOUT = 600
README_SECTIONS = ("Use it from Python", "Use it from the command line")
CLIENT_EXAMPLES = [
    e for e in examples((ROOT / "README.md").read_text()) if e[0].startswith(README_SECTIONS)
]
SERVER_PACKAGE_MESSAGE = "--local needs the weightinit server package"


def isolated_env() -> dict[str, str]:
    """This environment without what would let the clean venv see the repository or .venv."""
    drop = {"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV", "PYTHONSAFEPATH"}
    return {k: v for k, v in os.environ.items() if k not in drop}


@pytest.fixture(scope="module")
def client_venv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh venv with only ``pip install ./clients/python`` (and what it pulls in); its bin."""
    base = tmp_path_factory.mktemp("client-install")
    source = base / "python"
    shutil.copytree(
        CLIENT, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__")
    )
    venv = base / "venv"
    env = isolated_env()
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, env=env, timeout=120)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check", "--no-input"]
    done = subprocess.run(
        [*pip, "install", "-q", str(source)],
        cwd=base,
        env=env,
        capture_output=True,
        text=True,
        timeout=PIP_TIMEOUT,
    )
    assert done.returncode == 0, f"pip install ./clients/python failed:\n{done.stderr}"
    yield venv / "bin"


def in_venv(bin_dir: Path, code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(bin_dir / "python"), "-c", code],
        cwd=cwd,
        env=isolated_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )


INSPECT = r"""
import importlib.metadata as md, importlib.util, json, sys
SERVER = "weightinit"  # the server's distribution
import weightinit_client.cli
lazy = sorted(m for m in ("numpy", "httpx", "app", "pydantic") if m in sys.modules)
from weightinit_client import *  # every public name resolves
dist = md.distribution("weightinit-client")
tops = sorted({f.parts[0] for f in dist.files if f.suffix == ".py"})
print(json.dumps({
    "module": weightinit_client.__file__,
    "lazy": lazy,
    "requires": dist.requires,
    "version": dist.version,
    "tops": tops,
    "scripts": [(e.name, e.value) for e in dist.entry_points if e.group == "console_scripts"],
    "app": importlib.util.find_spec("app") is not None,
    "server": [d.metadata["Name"] for d in md.distributions() if d.metadata["Name"] == SERVER],
}))
"""


def test_the_client_installs_alone(client_venv: Path, tmp_path: Path) -> None:
    done = in_venv(client_venv, INSPECT, tmp_path)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert Path(found["module"]).is_relative_to(client_venv.parent)  # site-packages, no repo
    assert found["lazy"] == []  # the CLI module loads neither the SDK's dependencies nor app
    assert found["requires"] == ["numpy", "httpx"]
    server = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert found["version"] == server
    assert found["tops"] == ["weightinit_client"]
    assert found["scripts"] == [["weightinit", "weightinit_client.cli:main"]]
    assert found["app"] is False and found["server"] == []
    assert (client_venv / "weightinit").is_file()
    assert (Path(found["module"]).parent / "py.typed").is_file()


def test_help_and_local_without_the_server_package(client_venv: Path, tmp_path: Path) -> None:
    env = isolated_env()
    weightinit = str(client_venv / "weightinit")
    shown = subprocess.run([weightinit, "get", "--help"], env=env, capture_output=True, timeout=60)
    assert shown.returncode == 0 and b"--local" in shown.stdout
    for args in (["schemes"], ["get", "he_normal", "--shape", "2,3", "--seed", "1", "-o", "w.npy"]):
        local = subprocess.run(
            [weightinit, *args, "--local"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert local.returncode == 2, local.stderr
        assert local.stdout == ""
        (line,) = local.stderr.splitlines()
        assert line.startswith(f"weightinit: error: {SERVER_PACKAGE_MESSAGE}")
        assert "'weightinit' distribution" in line and "--url" in line
    assert not (tmp_path / "w.npy").exists()


def test_the_readme_checks_these_sections() -> None:
    titles = [name.split(" #")[0] for name, _, _ in CLIENT_EXAMPLES]
    assert set(titles) == set(README_SECTIONS)
    local = [code for _, _, code in CLIENT_EXAMPLES if "--local" in code]
    assert len(local) == 1, "one README block shows --local (it needs the server package)"


@pytest.mark.parametrize(
    ("lang", "code"), [e[1:] for e in CLIENT_EXAMPLES], ids=[e[0] for e in CLIENT_EXAMPLES]
)
def test_readme_examples_run_with_the_client_alone(
    client_venv: Path, server: str, tmp_path: Path, lang: str, code: str
) -> None:
    result = run_block(
        lang, code, server=server, cwd=tmp_path, bin_dir=client_venv, base_env=isolated_env()
    )
    if "--local" not in code:
        assert_ran_as_claimed(lang, code, result)
        return
    assert result.returncode == 2, result.stderr  # the CLI's exit code, through bash -e
    assert SERVER_PACKAGE_MESSAGE in result.stderr
    assert result.stdout == ""  # it stopped at --local, before the block's claimed output
    assert claimed_output(lang, code)


# What the SDK README's blocks made, for the checks below (printed as JSON by the venv).
SDK_SUMMARY = r"""
import hashlib as _h, json as _j
def _array(a):
    return {"shape": list(a.shape), "dtype": str(a.dtype), "writeable": a.flags.writeable,
            "sha256": _h.sha256(a.tobytes()).hexdigest()}
print(_j.dumps({
    "w": {k: _array(v) for k, v in w.items()},
    "bf": {k: _array(v) for k, v in bf.items()},
    "m": {k: _array(v) for k, v in m.items()},
    "q": _array(q),
    "rank": {k: _array(v) for k, v in rank.items()},
    "arrays": {k: _array(v) for k, v in arrays.items()},
    "size": size,
}))
"""


def test_sdk_readme_runs_with_the_client_alone(
    client_venv: Path, server: str, tmp_path: Path
) -> None:
    blocks = sdk_examples()
    assert len(blocks) == 3
    result = run_block(
        "py",
        "\n".join([*blocks, SDK_SUMMARY]),
        server=server,
        cwd=tmp_path,
        bin_dir=client_venv,
        base_env=isolated_env(),
    )
    assert result.returncode == 0, result.stderr
    made = json.loads(result.stdout)
    everything = [
        *made["w"].values(),
        *made["bf"].values(),
        *made["m"].values(),
        made["q"],
        *made["rank"].values(),
        *made["arrays"].values(),
    ]
    assert all(a["writeable"] for a in everything)
    assert made["w"]["weight"]["shape"] == [256, 784]
    assert sorted(made["m"]) == ["W1", "W2", "b1", "b2"]
    assert made["q"]["shape"] == [1024, 1024]
    assert made["rank"]["attn.q_proj.weight"]["shape"] == [512, 1024]
    assert list(made["arrays"]) == ["conv1.weight", "conv1.bias", "fc.weight", "fc.bias"]
    # bfloat16 without ml_dtypes: uint16 arrays holding exactly the service's bits.
    dense = {"kind": "dense", "in_features": 784, "out_features": 256}
    expected = expected_layer(dense, seed=42, scheme="he_normal", dtype="bfloat16")
    assert sorted(made["bf"]) == sorted(expected)
    for name, array in expected.items():
        assert made["bf"][name]["dtype"] == "uint16"
        assert made["bf"][name]["sha256"] == hashlib.sha256(array.tobytes()).hexdigest()
    weight = expected_layer(dense, seed=42, scheme="he_normal")["weight"]
    assert made["w"]["weight"]["sha256"] == hashlib.sha256(weight.tobytes()).hexdigest()
    # download_tensor(..., verify=True) checked emb.npy against the service's digests.
    assert made["size"] == (tmp_path / "emb.npy").stat().st_size == 8192 * 1024 * 4 + 128
