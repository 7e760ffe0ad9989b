"""The ``weightinit`` command line: --local and remote give the same bytes; errors and help."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from app.encoders import encode_npy
from tests.api.conftest import expected_layer, load_safetensors
from tests.live_server import clean_env, serve_process

from .conftest import CLI_MODULE, ROOT, VENV_BIN

SCRIPT = VENV_BIN / "weightinit"
SPEC = {
    "seed": 31,
    "scheme": "glorot_uniform",
    "bias_scheme": "zeros",
    "layers": [
        {
            "name": "conv",
            "layer": {"kind": "conv1d", "in_channels": 2, "out_channels": 4, "kernel_size": 3},
        },
        {
            "name": "fc",
            "layer": {"kind": "dense", "in_features": 8, "out_features": 3},
            "scheme": {"name": "he_normal", "mode": "fan_out"},
        },
    ],
}


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    """The installed console script (python -m weightinit_client.cli when it is missing)."""
    command = [str(SCRIPT)] if SCRIPT.exists() else list(CLI_MODULE)
    return subprocess.run(
        [*command, *args], cwd=ROOT, env=env or clean_env(), capture_output=True, timeout=60
    )


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def one_error_line(result: subprocess.CompletedProcess[bytes]) -> str:
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1, result.stderr.decode()
    assert "error" in lines[0]
    assert result.stdout == b""
    return lines[0]


@pytest.mark.parametrize(
    "args",
    [(), ("schemes",), ("get",), ("model",)],
    ids=["top", "schemes", "get", "model"],
)
def test_help_for_every_command(args: tuple[str, ...]) -> None:
    result = run(*args, "--help")
    assert result.returncode == 0, result.stderr
    out = result.stdout.decode()
    assert out.startswith("usage: weightinit")
    if args:
        assert "--local" in out and "--url" in out


def test_module_entry_point_works() -> None:
    result = subprocess.run(
        [*CLI_MODULE, "get", "--help"],
        cwd=ROOT,
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 0 and b"--shape" in result.stdout


@pytest.mark.parametrize("suffix", ["npy", "safetensors", "json", "npz"])
def test_get_local_and_remote_give_one_sha256(server: str, tmp_path: Path, suffix: str) -> None:
    args = ["get", "he_normal", "--shape", "16,24", "--seed", "1", "--param", "mode=fan_out"]
    local, remote = tmp_path / f"local.{suffix}", tmp_path / f"remote.{suffix}"
    assert run(*args, "--local", "-o", str(local)).returncode == 0
    done = run(*args, "--url", server, "-o", str(remote))
    assert done.returncode == 0, done.stderr
    assert sha(local) == sha(remote)
    if suffix == "npy":
        expected = expected_layer(
            {"kind": "tensor", "shape": [16, 24]},
            seed=1,
            scheme={"name": "he_normal", "mode": "fan_out"},
        )["weight"]
        assert local.read_bytes() == encode_npy(expected)


def test_get_options_and_stdout_and_env_url(server: str, tmp_path: Path) -> None:
    args = [
        "get",
        "orthogonal",
        "--shape",
        "8,8",
        "--seed",
        str(2**64 - 1),
        "--dtype",
        "float64",
        "--layout",
        "keras",
        "--format",
        "npy",
    ]
    local = run(*args, "--local")
    env = {**clean_env(), "WEIGHTINIT_URL": server}
    remote = run(*args, env=env)
    assert local.returncode == remote.returncode == 0, remote.stderr
    assert local.stdout == remote.stdout
    expected = expected_layer(
        {"kind": "tensor", "shape": [8, 8]},
        seed=2**64 - 1,
        scheme="orthogonal",
        dtype="float64",
        layout="keras",
    )
    assert local.stdout == encode_npy(expected["weight"])
    bf16 = [*args[:-2], "--dtype", "bfloat16", "-o"]
    assert run(*bf16, str(tmp_path / "a.safetensors"), "--local").returncode == 0
    assert run(*bf16, str(tmp_path / "b.safetensors"), "--url", server).returncode == 0
    assert sha(tmp_path / "a.safetensors") == sha(tmp_path / "b.safetensors")


@pytest.mark.parametrize("suffix", ["safetensors", "npz", "json"])
def test_model_local_and_remote_give_one_sha256(server: str, tmp_path: Path, suffix: str) -> None:
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(SPEC))
    local, remote = tmp_path / f"local.{suffix}", tmp_path / f"remote.{suffix}"
    assert run("model", str(spec), "--local", "-o", str(local)).returncode == 0
    done = run("model", str(spec), "--url", server, "-o", str(remote))
    assert done.returncode == 0, done.stderr
    assert sha(local) == sha(remote)
    if suffix == "safetensors":
        arrays = load_safetensors(local.read_bytes())
        expected = expected_layer(
            SPEC["layers"][0]["layer"],
            seed=31,
            scheme="glorot_uniform",
            bias_scheme="zeros",
            prefix="conv.",
        )
        for name, array in expected.items():
            assert np.ascontiguousarray(arrays[name]).tobytes() == array.tobytes()


def test_schemes_local_and_remote_agree(server: str) -> None:
    local = run("schemes", "--local", "--json")
    remote = run("schemes", "--url", server, "--json")
    assert local.returncode == remote.returncode == 0
    assert json.loads(local.stdout) == json.loads(remote.stdout)
    table = run("schemes", "--local").stdout.decode()
    assert "he_normal" in table and "orthogonal" in table


def test_refused_requests_exit_1_with_one_line(server: str, tmp_path: Path) -> None:
    args = ["get", "he_nrmal", "--shape", "4,4", "--seed", "1", "-o", str(tmp_path / "x.npy")]
    for where in (["--local"], ["--url", server]):
        result = run(*args, *where)
        assert result.returncode == 1
        assert "he_normal" in one_error_line(result)  # the hint names the nearest scheme
    assert not (tmp_path / "x.npy").exists()
    bf16 = ["get", "zeros", "--shape", "2", "--seed", "1", "--dtype", "bfloat16", "--format", "npy"]
    for where in (["--local"], ["--url", server]):
        result = run(*bf16, *where)
        assert result.returncode == 1
        assert "bfloat16" in one_error_line(result)
    spec = tmp_path / "bad.json"
    spec.write_text(json.dumps({"seed": 1, "mlp": {"sizes": [2, 2]}, "layers": []}))
    for where in (["--local"], ["--url", server]):
        result = run("model", str(spec), *where, "-o", str(tmp_path / "m.npz"))
        assert result.returncode == 1
        one_error_line(result)


def test_unreachable_service_exits_1() -> None:
    result = run("schemes", "--url", "http://127.0.0.1:9", "--timeout", "2")
    assert result.returncode == 1
    assert "unreachable" in one_error_line(result)


@pytest.mark.parametrize(
    "args",
    [
        ("get", "he_normal", "--shape", "4,x", "--seed", "1"),
        ("get", "he_normal", "--seed", "1"),
        ("get", "he_normal", "--shape", "4", "--seed", "-3"),
        ("get", "he_normal", "--shape", "4", "--seed", "1", "--param", "novalue"),
        ("get", "he_normal", "--shape", "4", "--seed", "1", "-o", "w.txt"),
        ("model", "/nonexistent/spec.json", "--local"),
        ("model", str(ROOT / "README.md"), "--local"),
        ("frobnicate",),
        (),
    ],
)
def test_usage_errors_exit_2_with_one_line(args: tuple[str, ...]) -> None:
    result = run(*args)
    assert result.returncode == 2
    one_error_line(result)


def test_the_api_key_comes_from_the_option_or_the_environment() -> None:
    key = "cli-key-0123456789"
    with serve_process({"WEIGHTINIT_API_KEYS": key}) as (url, _):
        missing = run("schemes", "--url", url, "--json")
        wrong = run("schemes", "--url", url, "--json", "--api-key", "not-the-key")
        given = run("schemes", "--url", url, "--json", "--api-key", key)
        from_env = run(
            "schemes", "--url", url, "--json", env={**clean_env(), "WEIGHTINIT_API_KEY": key}
        )
    for refused in (missing, wrong):
        assert refused.returncode == 1
        line = one_error_line(refused)
        assert "401" in line and key not in line
    assert given.returncode == 0 and json.loads(given.stdout)
    assert from_env.returncode == 0 and from_env.stdout == given.stdout
