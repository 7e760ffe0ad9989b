"""Parallel ranged downloads (SDK and CLI) equal the single request; verification catches lies."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import httpx
import numpy as np
import pytest
from weightinit_client import Client, WeightinitError

from tests.live_server import clean_env

from .conftest import CLI_MODULE, ROOT

SHAPE = (1500, 1100)  # 6.3 MiB of float32: several ranged pieces of at least 1 MiB


def single(server: str, **extra: str) -> bytes:
    params = {"shape": "1500,1100", "seed": "12", "format": "npy", **extra}
    return httpx.get(f"{server}/v1/weights/he_normal", params=params, timeout=60).content


@pytest.mark.parametrize("parallel", [1, 3, 8])
def test_sdk_parallel_download_equals_the_single_request(
    server: str, tmp_path: Path, parallel: int
) -> None:
    target = tmp_path / "w.npy"
    with Client(server) as client:
        size = client.download_tensor(
            target, "he_normal", SHAPE, seed=12, parallel=parallel, verify=True
        )
    assert target.read_bytes() == single(server) and size == target.stat().st_size
    assert not (tmp_path / "w.npy.part").exists()


def test_sdk_parallel_download_of_a_shard(server: str, tmp_path: Path) -> None:
    target = tmp_path / "s.npy"
    with Client(server) as client:
        client.download_tensor(
            target, "he_normal", SHAPE, seed=12, parallel=4, shard=(1, 2, 3), verify=True
        )
    whole = np.load(tmp_path.joinpath("s.npy"))
    assert whole.shape == (1500, 366)
    assert target.read_bytes() == single(server, shard="1,2,3")


def test_verification_rejects_bytes_that_are_not_the_tensor(
    server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Client(server) as client:
        real = client.digests
        monkeypatch.setattr(
            client,
            "digests",
            lambda body, **kw: {
                "tensors": [{**real(body, **kw)["tensors"][0], "sha256": "0" * 64}]
            },
        )
        with pytest.raises(WeightinitError, match="digest mismatch"):
            client.download_tensor(tmp_path / "x.npy", "he_normal", SHAPE, seed=12, verify=True)
    assert not (tmp_path / "x.npy").exists()


def test_cli_parallel_get_equals_the_single_request(server: str, tmp_path: Path) -> None:
    out = tmp_path / "cli.npy"
    command = [*CLI_MODULE, "get", "he_normal", "--shape", "1500,1100"]
    command += ["--seed", "12", "--url", server, "--parallel", "4", "--verify", "-o", str(out)]
    done = subprocess.run(command, cwd=ROOT, env=clean_env(), capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    assert hashlib.sha256(out.read_bytes()).digest() == hashlib.sha256(single(server)).digest()


def test_a_refused_download_raises_with_the_servers_problem(server: str, tmp_path: Path) -> None:
    with Client(server) as client, pytest.raises(WeightinitError) as info:
        client.download_tensor(tmp_path / "b.npy", "normal", [64, 64], seed=1, dtype="bfloat16")
    assert info.value.status == 422 and info.value.errors[0]["field"] == "dtype"
    assert "bfloat16" in info.value.detail


def test_weights_take_a_shard_as_a_tuple_too(server: str) -> None:
    with Client(server) as client:
        as_tuple = client.weights(
            {"kind": "tensor", "shape": [8, 8]}, seed=1, format="npy", shard=(0, 1, 2)
        )
        as_dict = client.weights(
            {"kind": "tensor", "shape": [8, 8]},
            seed=1,
            format="npy",
            shard={"dim": 0, "index": 1, "count": 2},
        )
    assert as_tuple["weight"].tobytes() == as_dict["weight"].tobytes()


@pytest.mark.parametrize(
    "extra",
    [
        ["--verify"],
        ["--verify", "--local", "-o", "x.npy"],
        ["--parallel", "2", "--format", "json", "-o", "x.json"],
    ],
)
def test_cli_refuses_verify_and_parallel_where_they_cannot_work(
    server: str, tmp_path: Path, extra: list[str]
) -> None:
    command = [*CLI_MODULE, "get", "he_normal", "--shape", "8,8", "--seed", "1"]
    done = subprocess.run(
        [*command, "--url", server, *extra],
        cwd=tmp_path,
        env={**clean_env(), "PYTHONPATH": str(ROOT)},
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 2 and b"--" in done.stderr, done.stderr
