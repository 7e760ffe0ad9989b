"""POST /v1/audit, the init manifest (POST /v1/{models,weights}/manifest, ?manifest=true).

Correct models are the service's own weights (several schemes, dtypes, a uniform, a truncated
normal and constants); deviations are planted in them by hand. Statistics are computed with
the SDK's float64 chunked reader (weightinit_client.audit), as a client would.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest
from weightinit_client._core import parse_safetensors
from weightinit_client.audit import state_stats, tensor_stats

from app.api.settings import Settings

from .conftest import ApiClient

LAYERS = [
    {"name": "fc1", "layer": {"kind": "dense", "in_features": 300, "out_features": 200}},
    {
        "name": "fc2",
        "layer": {"kind": "dense", "in_features": 200, "out_features": 100},
        "scheme": "glorot_uniform",
    },
    {
        "name": "tn",
        "layer": {"kind": "tensor", "shape": [256, 128]},
        "scheme": {"name": "truncated_normal", "std": 0.05},
    },
    {"name": "bn", "layer": {"kind": "batch_norm", "num_features": 100}},
    {"name": "rnn", "layer": {"kind": "lstm", "input_size": 20, "hidden_size": 30}},
    {"name": "eye", "layer": {"kind": "tensor", "shape": [16, 16]}, "scheme": "eye"},
]
MODEL: dict[str, Any] = {"layers": LAYERS, "scheme": "he_normal", "seed": 5}
L = 6
D = 48


def gpt2_tensors(residual_std: float) -> dict[str, Any]:
    """A GPT-2-shaped shape map whose c_proj weights take ``residual_std``."""
    tensors: dict[str, Any] = {"wte.weight": [500, D], "wpe.weight": [64, D]}
    for i in range(L):
        tensors |= {
            f"h.{i}.ln_1.weight": [D],
            f"h.{i}.ln_1.bias": [D],
            f"h.{i}.attn.c_attn.weight": [D, 3 * D],
            f"h.{i}.attn.c_attn.bias": [3 * D],
            f"h.{i}.attn.c_proj.weight": {
                "shape": [D, D],
                "scheme": {"name": "normal", "std": residual_std},
            },
            f"h.{i}.attn.c_proj.bias": [D],
            f"h.{i}.mlp.c_fc.weight": [D, 4 * D],
            f"h.{i}.mlp.c_proj.weight": {
                "shape": [4 * D, D],
                "scheme": {"name": "normal", "std": residual_std},
            },
        }
    return tensors


def gpt2(residual_std: float) -> dict[str, Any]:
    return {
        "tensors": gpt2_tensors(residual_std),
        "scheme": {"name": "normal", "std": 0.02},
        "bias_scheme": "zeros",
        "seed": 7,
    }


SCALED = 0.02 / math.sqrt(2 * L)
EPS = {"float64": 2.0**-52, "float32": 2.0**-23, "float16": 2.0**-10, "bfloat16": 2.0**-7}


@pytest.fixture(scope="module")
def api() -> Any:
    client = ApiClient()
    yield client
    client.close()


def download(api: ApiClient, body: dict[str, Any], query: str = "") -> bytes:
    response = api.post(f"/v1/models?format=safetensors{query}", json=body)
    assert response.status_code == 200, response.text
    return response.content


def arrays(api: ApiClient, body: dict[str, Any]) -> dict[str, Any]:
    return parse_safetensors(download(api, body))


def audit(api: ApiClient, payload: dict[str, Any]) -> dict[str, Any]:
    response = api.post("/v1/audit", json=payload)
    assert response.status_code == 200, response.text
    report: dict[str, Any] = response.json()
    return report


def verdicts(report: dict[str, Any]) -> dict[str, str]:
    return {t["name"]: t["verdict"] for t in report["tensors"]}


def header_metadata(content: bytes) -> dict[str, str]:
    size = int.from_bytes(content[:8], "little")
    metadata: dict[str, str] = json.loads(content[8 : 8 + size])["__metadata__"]
    return metadata


# ---- a correct model passes --------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "bfloat16"])
def test_a_correct_model_passes(api: ApiClient, dtype: str) -> None:
    body = {**MODEL, "dtype": dtype}
    state = arrays(api, body)
    report = audit(api, {"request": body, "tensors": state_stats(state)})
    assert report["summary"]["passed"], [t for t in report["tensors"] if t["verdict"] != "ok"]
    laws = {t["law"] for t in report["tensors"]}
    assert {"normal", "uniform", "truncated_normal", "constant", "identity"} <= laws
    assert set(verdicts(report).values()) == {"ok"}
    assert report["summary"]["ok"] == len(state)
    std_check = next(c for c in report["tensors"][0]["checks"] if c["statistic"] == "std")
    n = 200 * 300
    expected = math.sqrt(2 / 300)
    assert std_check["tolerance"] >= 6 * expected * math.sqrt(2 / (4 * n))  # z*sigma*sqrt((k-1)/4n)
    rounding = 2 * EPS[dtype] * expected  # the values were rounded once to the dtype
    assert std_check["tolerance"] == pytest.approx(
        6 * expected * math.sqrt(2 / (4 * n)) + rounding, rel=1e-3
    )


def test_a_correct_gpt2_passes_and_its_manifest_round_trips(api: ApiClient) -> None:
    body = gpt2(SCALED)
    content = download(api, body, "&manifest=true")
    manifest = json.loads(header_metadata(content)["weightinit.manifest"])
    planned = api.post("/v1/models/manifest", json=body).json()
    assert manifest == planned
    stats = state_stats(parse_safetensors(content))
    by_manifest = audit(api, {"manifest": manifest, "tensors": stats})
    by_request = audit(api, {"request": body, "tensors": stats})
    assert by_manifest == by_request
    assert by_manifest["summary"]["passed"]


# ---- deviations are caught ---------------------------------------------------------------------


def test_a_missing_scaled_residual_is_flagged(api: ApiClient) -> None:
    """GPT-2's c_proj should be N(0, (0.02/√(2L))²); an init that forgot the scaling has 0.02."""
    unscaled = state_stats(arrays(api, gpt2(0.02)))
    report = audit(api, {"request": gpt2(SCALED), "tensors": unscaled})
    bad = {n for n, v in verdicts(report).items() if v != "ok"}
    assert bad == {f"h.{i}.{m}.c_proj.weight" for i in range(L) for m in ("attn", "mlp")}
    first = next(t for t in report["tensors"] if t["name"] == "h.0.attn.c_proj.weight")
    std = next(c for c in first["checks"] if c["statistic"] == "std")
    assert not std["passed"]
    assert std["expected"] == pytest.approx(SCALED)
    assert std["observed"] == pytest.approx(0.02, rel=0.05)
    assert "3.4" in first["message"]  # 0.02 / (0.02/√12) = √12 ≈ 3.46 times too wide
    assert report["summary"] == {
        "tensors": len(unscaled),
        "ok": len(unscaled) - 2 * L,
        "deviates": 2 * L,
        "missing": 0,
        "unexpected": 0,
        "shape_mismatch": 0,
        "unchecked": 0,
        "passed": False,
        "violated_rules": [],
    }


def test_a_manifest_rule_is_named_when_violated(api: ApiClient) -> None:
    manifest = api.post("/v1/models/manifest", json=gpt2(SCALED)).json()
    for entry in manifest["tensors"]:  # what a recipe's manifest carries
        entry["rule"] = "gpt2.residual" if "c_proj.weight" in entry["name"] else "gpt2.base"
    report = audit(api, {"manifest": manifest, "tensors": state_stats(arrays(api, gpt2(0.02)))})
    assert report["summary"]["violated_rules"] == ["gpt2.residual"]
    flagged = [t for t in report["tensors"] if t["verdict"] == "deviates"]
    assert {t["violated_rule"] for t in flagged} == {"gpt2.residual"}
    assert all("violated_rule" not in t for t in report["tensors"] if t["verdict"] == "ok")


def test_one_role_with_the_wrong_std(api: ApiClient) -> None:
    state = arrays(api, MODEL)
    state["fc1.weight"] = state["fc1.weight"] * np.float32(1.1)  # 10 % too wide
    report = audit(api, {"request": MODEL, "tensors": state_stats(state)})
    assert {n for n, v in verdicts(report).items() if v != "ok"} == {"fc1.weight"}


def test_a_normal_where_a_uniform_belongs_breaks_its_bounds(api: ApiClient) -> None:
    state = arrays(api, MODEL)
    bound = math.sqrt(6 / 300)
    rng = np.random.default_rng(0)
    state["fc2.weight"] = rng.normal(0, bound / math.sqrt(3), (100, 200)).astype(np.float32)
    report = audit(api, {"request": MODEL, "tensors": state_stats(state)})
    fc2 = next(t for t in report["tensors"] if t["name"] == "fc2.weight")
    failed = {c["statistic"] for c in fc2["checks"] if not c["passed"]}
    assert fc2["verdict"] == "deviates"
    assert {"min", "max"} <= failed  # the std alone matches


def test_a_constant_must_have_std_zero(api: ApiClient) -> None:
    state = arrays(api, MODEL)
    state["bn.weight"] = state["bn.weight"] + np.float32(1e-4) * np.arange(100, dtype=np.float32)
    report = audit(api, {"request": MODEL, "tensors": state_stats(state)})
    bn = next(t for t in report["tensors"] if t["name"] == "bn.weight")
    assert bn["verdict"] == "deviates"
    std = next(c for c in bn["checks"] if c["statistic"] == "std")
    assert std["expected"] == 0.0 and std["tolerance"] < 1e-5


def test_missing_unexpected_and_shape_mismatch(api: ApiClient) -> None:
    state = arrays(api, MODEL)
    del state["rnn.bias_hh_l0"]
    state["extra.weight"] = np.zeros(3, np.float32)
    state["fc1.weight"] = state["fc1.weight"].T
    report = audit(api, {"request": MODEL, "tensors": state_stats(state)})
    got = verdicts(report)
    assert got["rnn.bias_hh_l0"] == "missing"
    assert got["extra.weight"] == "unexpected"
    assert got["fc1.weight"] == "shape_mismatch"
    assert list(got)[-1] == "extra.weight"  # unexpected ones come last
    summary = report["summary"]
    assert (summary["missing"], summary["unexpected"], summary["shape_mismatch"]) == (1, 1, 1)
    assert not summary["passed"]


def test_a_weights_request_and_the_z_option(api: ApiClient) -> None:
    body = {"layer": {"kind": "dense", "in_features": 64, "out_features": 32}, "seed": 1}
    response = api.post("/v1/weights?format=safetensors", json=body)
    stats = state_stats(parse_safetensors(response.content))
    report = audit(api, {"request": body, "tensors": stats, "z": 3})
    assert report["z"] == 3 and report["summary"]["passed"]


# ---- the manifest is opt-in ------------------------------------------------------------------


def test_default_bodies_are_unchanged(api: ApiClient) -> None:
    plain = api.post("/v1/models?format=safetensors", json=MODEL)
    off = api.post("/v1/models?format=safetensors&manifest=false", json=MODEL)
    on = api.post("/v1/models?format=safetensors&manifest=true", json=MODEL)
    assert plain.content == off.content and plain.headers["etag"] == off.headers["etag"]
    assert "weightinit.manifest" not in header_metadata(plain.content)
    assert on.headers["etag"] != plain.headers["etag"]
    assert parse_safetensors(on.content).keys() == parse_safetensors(plain.content).keys()
    for name, array in parse_safetensors(on.content).items():
        assert array.tobytes() == parse_safetensors(plain.content)[name].tobytes()


def test_json_bodies_carry_the_manifest_at_the_end(api: ApiClient) -> None:
    plain = api.post("/v1/models?format=json", json=MODEL).json()
    on = api.post("/v1/models?format=json&manifest=true", json=MODEL).json()
    assert "manifest" not in plain
    assert on.pop("manifest") == api.post("/v1/models/manifest", json=MODEL).json()
    assert on == plain


def test_npz_and_npy_refuse_the_manifest(api: ApiClient) -> None:
    for url in ("/v1/models?format=npz&manifest=true", "/v1/models.npz?manifest=true"):
        response = api.post(url, json=MODEL, headers={"accept": "application/octet-stream"})
        assert response.status_code == 422
        assert "safetensors" in response.json()["detail"]
    got = api.get("/v1/weights/he_normal?shape=4,4&seed=1&format=npy&manifest=true")
    assert got.status_code == 422


def test_the_get_shortcut_and_weights_manifest(api: ApiClient) -> None:
    got = api.get("/v1/weights/uniform?shape=8,8&seed=1&format=safetensors&manifest=true")
    entry = json.loads(header_metadata(got.content)["weightinit.manifest"])["tensors"][0]
    assert entry["law"] == "uniform" and entry["kurtosis"] == 1.8
    body = {"layer": {"kind": "dense", "in_features": 4, "out_features": 2}, "seed": 1}
    one = api.post("/v1/weights/manifest?tensor=bias", json=body).json()
    assert [t["name"] for t in one["tensors"]] == ["bias"]
    assert api.get("/v1/weights/manifest?shape=2&seed=1").status_code == 405


def test_manifest_entries_state_the_law(api: ApiClient) -> None:
    manifest = api.post("/v1/models/manifest", json=MODEL).json()
    entries = {t["name"]: t for t in manifest["tensors"]}
    tn = entries["tn.weight"]
    assert tn["law"] == "truncated_normal" and tn["truncation"] == [-0.1, 0.1]
    assert 1.8 < tn["kurtosis"] < 3  # a normal cut at ±2 sigma is lighter-tailed
    assert entries["fc2.weight"]["low"] == -entries["fc2.weight"]["high"]
    assert entries["bn.running_mean"]["std"] == 0.0
    assert entries["bn.num_batches_tracked"]["law"] == "counter"
    assert entries["bn.num_batches_tracked"]["std"] == 0.0
    dirac = {"layer": {"kind": "conv1d", "in_channels": 2, "out_channels": 2, "kernel_size": 3}}
    got = api.post("/v1/weights/manifest", json={**dirac, "scheme": "dirac", "seed": 1}).json()
    assert got["tensors"][0]["law"] == "dirac" and got["tensors"][0]["std"] is None
    assert "rule" not in tn


# ---- refusals ----------------------------------------------------------------------------------


def problem(api: ApiClient, payload: Any, status: int = 422) -> dict[str, Any]:
    response = api.post("/v1/audit", json=payload)
    assert response.status_code == status, response.text
    document: dict[str, Any] = response.json()
    return document


def test_unknown_fields_name_the_nearest(api: ApiClient) -> None:
    assert "Did you mean 'tensors'" in problem(api, {"request": MODEL, "tensorz": {}})["detail"]
    inner = problem(api, {"request": {**MODEL, "schem": "he"}, "tensors": {}})
    assert inner["errors"][0]["field"] == "request.schem"
    assert "Did you mean 'scheme'" in inner["detail"]
    stats = {"w": {"shape": [2], "dtype": "float32", "numel": 2, "mean": 0, "sdt": 1}}
    assert "Did you mean 'std'" in problem(api, {"request": MODEL, "tensors": stats})["detail"]


def test_request_or_manifest_and_consistent_stats(api: ApiClient) -> None:
    manifest = api.post("/v1/models/manifest", json=MODEL).json()
    assert "exactly one" in problem(api, {"tensors": {}})["detail"]
    both = {"request": MODEL, "manifest": manifest, "tensors": {}}
    assert "exactly one" in problem(api, both)["detail"]
    wrong = {"w": {"shape": [2, 3], "dtype": "float32", "numel": 5}}
    assert "numel" in problem(api, {"request": MODEL, "tensors": wrong})["errors"][0]["field"]
    bare = {"w": {"shape": [2], "dtype": "float32", "numel": 2}}
    assert "std" in problem(api, {"request": MODEL, "tensors": bare})["detail"]
    core = problem(api, {"request": {**MODEL, "scheme": "he_nrmal"}, "tensors": {}})
    assert core["errors"][0]["field"].startswith("request.")


def test_the_number_of_tensors_is_limited() -> None:
    small = ApiClient(Settings(max_layers=3))
    try:
        stats = {f"t{i}": tensor_stats(np.zeros(2, np.float32)) for i in range(4)}
        body = {"layer": {"kind": "tensor", "shape": [2]}, "seed": 1}
        response = small.post("/v1/audit", json={"request": body, "tensors": stats})
        assert response.status_code == 413
        assert response.json()["limit"] == "WEIGHTINIT_MAX_LAYERS"
    finally:
        small.close()


def test_the_gpt2_recipe_flags_an_unscaled_residual_by_its_rule(api: ApiClient) -> None:
    """The issue's case end to end: a request with the gpt2 recipe is the reference, the
    weights come from an init that forgot c_proj's 1/√(2·n_layer)."""
    plain = {name: spec if isinstance(spec, list) else spec["shape"]
             for name, spec in gpt2_tensors(0.02).items()}  # fmt: skip
    reference = {"tensors": plain, "recipe": {"name": "gpt2", "n_layer": L}, "seed": 7}
    assert audit(api, {"request": reference, "tensors": state_stats(arrays(api, reference))})[
        "summary"
    ]["passed"]
    report = audit(api, {"request": reference, "tensors": state_stats(arrays(api, gpt2(0.02)))})
    flagged = {t["name"]: t["violated_rule"] for t in report["tensors"] if t["verdict"] != "ok"}
    assert set(flagged) == {f"h.{i}.{m}.c_proj.weight" for i in range(L) for m in ("attn", "mlp")}
    assert set(flagged.values()) == {"r/sqrt(2*n_layer)"}
    assert report["summary"]["violated_rules"] == ["r/sqrt(2*n_layer)"]
