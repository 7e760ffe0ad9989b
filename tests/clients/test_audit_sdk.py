"""The SDK's audit: statistics of a safetensors file read chunk by chunk, Client.audit and
audit_file against a live service, and ``weightinit audit`` (--local, in process)."""

from __future__ import annotations

import asyncio
import inspect
import json
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from weightinit_client import AsyncClient, Client, cli
from weightinit_client import audit as sdk_audit
from weightinit_client._core import parse_safetensors

BODY = {
    "layers": [
        {"name": "fc", "layer": {"kind": "dense", "in_features": 300, "out_features": 200}},
        {
            "name": "tn",
            "layer": {"kind": "tensor", "shape": [128, 64]},
            "scheme": {"name": "truncated_normal", "std": 0.05},
        },
        {"name": "ln", "layer": {"kind": "layer_norm", "normalized_shape": 200}},
    ],
    "scheme": "glorot_uniform",
    "dtype": "bfloat16",
    "seed": 2,
}


def test_file_stats_match_numpy_in_small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(0)
    array = rng.normal(3.0, 0.01, 10_001).astype(np.float32)
    monkeypatch.setattr(sdk_audit, "CHUNK_ELEMENTS", 1000)
    stats = sdk_audit.tensor_stats(array)
    exact = array.astype(np.float64)
    assert stats["mean"] == pytest.approx(exact.mean(), rel=1e-15)
    assert stats["std"] == pytest.approx(exact.std(), rel=1e-12)
    assert (stats["min"], stats["max"], stats["numel"]) == (exact.min(), exact.max(), 10_001)


def test_audit_file_on_a_file_the_service_wrote(server: str, tmp_path: Path) -> None:
    path = tmp_path / "model.safetensors"
    with Client(server) as wi:
        content, _ = wi.request_bytes("models", BODY, "safetensors")
        assert b"weightinit.manifest" not in content  # opt-in
        wi.download(path, BODY, op="models", format="safetensors", manifest=True)
        report = wi.audit_file(path)
        assert report["summary"]["passed"], report
        assert {t["law"] for t in report["tensors"]} >= {"uniform", "truncated_normal"}
        assert wi.audit_file(path, request=BODY) == report
        state = parse_safetensors(path.read_bytes())
        state["fc.weight"] = state["fc.weight"].astype(np.float32) * 2
        planted = wi.audit(BODY, state)
        assert [t["name"] for t in planted["tensors"] if t["verdict"] != "ok"] == ["fc.weight"]


def test_the_async_client_audits_as_the_sync_client_does(server: str, tmp_path: Path) -> None:
    path = tmp_path / "model.safetensors"

    async def run() -> tuple[dict[str, Any], ...]:
        async with AsyncClient(server) as wi:
            await wi.download(path, BODY, op="models", format="safetensors", manifest=True)
            from_manifest = await wi.audit_file(path)
            from_request = await wi.audit_file(path, request=BODY, z=8)
            state = parse_safetensors(path.read_bytes())
            state["fc.weight"] = state["fc.weight"].astype(np.float32) * 2
            planted = await wi.audit(BODY, state)
            manifest = httpx.post(f"{server}/v1/models/manifest", json=BODY).json()
            against_manifest = await wi.audit(manifest, state)
            return from_manifest, from_request, planted, against_manifest

    from_manifest, from_request, planted, against_manifest = asyncio.run(run())
    with Client(server) as sync:
        assert from_manifest == sync.audit_file(path)
        assert from_request == sync.audit_file(path, request=BODY, z=8)
    assert from_manifest["summary"]["passed"] and from_request["z"] == 8
    for report in (planted, against_manifest):
        assert [t["name"] for t in report["tensors"] if t["verdict"] != "ok"] == ["fc.weight"]
    assert planted["tensors"] == against_manifest["tensors"]


def test_the_async_audit_helpers_take_the_sync_ones_arguments() -> None:
    for name in ("audit", "audit_stats", "audit_file", "download"):
        sync, aio = getattr(Client, name), getattr(AsyncClient, name)
        assert inspect.iscoroutinefunction(aio), name
        assert inspect.signature(sync).parameters.keys() == inspect.signature(aio).parameters.keys()


def test_audit_file_without_a_manifest_asks_for_the_request(server: str, tmp_path: Path) -> None:
    path = tmp_path / "plain.safetensors"
    with Client(server) as wi:
        wi.download(path, BODY, op="models", format="safetensors")
        with pytest.raises(ValueError, match="request="):
            wi.audit_file(path)

    async def run() -> None:
        async with AsyncClient(server) as wi:
            await wi.audit_file(path)

    with pytest.raises(ValueError, match="request="):
        asyncio.run(run())


def test_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "model.safetensors"
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(BODY))
    assert cli.main(["model", str(spec), "-o", str(path), "--local"]) == 0
    assert cli.main(["audit", str(path), "--local"]) == 2  # no manifest in a default file
    assert "--request" in capsys.readouterr().err
    assert cli.main(["audit", str(path), "--local", "--request", str(spec)]) == 0
    assert "audit passed" in capsys.readouterr().out
    wrong = dict(BODY, scheme="he_normal")
    spec.write_text(json.dumps(wrong))
    assert cli.main(["audit", str(path), "--local", "--request", str(spec)]) == 3
    out = capsys.readouterr().out
    assert "deviates" in out and "audit FAILED" in out
