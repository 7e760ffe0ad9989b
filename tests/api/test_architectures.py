"""POST /v1/models with "architecture": names and shapes against the transformers/torchvision
fixtures (tools/make_architecture_fixtures.py), roles, Conv1D fans, tied embeddings, fused
shards and the 422s."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import safetensors.numpy

from app.core.architectures import build_architecture
from app.core.types import Role

from .conftest import ApiClient

FIXTURES = sorted((Path(__file__).parent.parent / "fixtures" / "architectures").glob("*.json"))
CASES = [
    (path.stem, cls, shapes)
    for path in FIXTURES
    for cls, shapes in json.loads(path.read_text())["classes"].items()
]
GPT2 = {"n_layer": 2, "n_embd": 32, "n_head": 4, "vocab_size": 100, "n_positions": 64}


def _fixture(stem: str) -> dict[str, Any]:
    return json.loads((FIXTURES[0].parent / f"{stem}.json").read_text())  # type: ignore[no-any-return]


def _json(api: ApiClient, body: dict[str, Any]) -> dict[str, Any]:
    response = api.post("/v1/models", json={"seed": 1, **body})
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def _tensors(payload: dict[str, Any]) -> dict[str, dict[str, Any]]:
    tensors = payload["tensors"]
    if isinstance(tensors, list):
        return {t["name"]: t for t in tensors}
    return tensors  # type: ignore[no-any-return]


def test_every_fixture_has_two_sizes_per_family_and_names_its_versions() -> None:
    families = [json.loads(p.read_text())["family"] for p in FIXTURES]
    assert sorted(set(families)) == ["bert", "gpt2", "llama", "resnet", "t5", "vit"]
    assert all(families.count(f) == 2 for f in set(families))
    for path in FIXTURES:
        versions = json.loads(path.read_text())["versions"]
        assert versions.get("transformers", "").startswith("5.18.0") or versions.get(
            "torchvision", ""
        ).startswith("0.29.1")


@pytest.mark.parametrize(("stem", "cls", "shapes"), CASES, ids=[f"{s}-{c}" for s, c, _ in CASES])
def test_names_and_shapes_equal_the_library(
    client: ApiClient, stem: str, cls: str, shapes: dict[str, list[int]]
) -> None:
    fixture = _fixture(stem)
    body = {"architecture": fixture["family"], "config": fixture["config"], "class": cls}
    response = client.post("/v1/models.safetensors", json={"seed": 1, **body})
    assert response.status_code == 200, response.text
    got = {k: list(v.shape) for k, v in safetensors.numpy.load(response.content).items()}
    assert got == shapes


def test_roles_of_known_tensors(client: ApiClient) -> None:
    tensors = _tensors(_json(client, {"architecture": "gpt2", "config": GPT2}))
    roles = {name: t["role"] for name, t in tensors.items()}
    assert roles["transformer.wte.weight"] == "embedding"
    assert roles["transformer.wpe.weight"] == "position_embedding"
    assert roles["transformer.h.1.attn.c_attn.weight"] == "attention_qkv"
    assert roles["transformer.h.1.attn.c_proj.weight"] == "attention_output"
    assert roles["transformer.h.0.mlp.c_fc.weight"] == "mlp_in"
    assert roles["transformer.h.0.mlp.c_proj.weight"] == "mlp_out"
    assert roles["transformer.h.0.mlp.c_proj.bias"] == "bias"
    assert roles["transformer.ln_f.weight"] == "norm_scale"
    assert roles["transformer.ln_f.bias"] == "norm_shift"
    # a ResNet is too large for a JSON body: its roles from the core, its blocks too
    tensors_, info = build_architecture("resnet", {"layers": [1, 2, 1, 1]})
    resnet = {t.spec.name: t for t in tensors_}
    assert resnet["bn1.running_mean"].spec.role is Role.RUNNING_STAT
    assert resnet["bn1.num_batches_tracked"].spec.role is Role.COUNTER
    assert resnet["fc.weight"].spec.role is Role.READOUT
    assert (resnet["layer2.1.conv2.weight"].block, resnet["layer2.1.conv2.weight"].stack) == (
        2,
        "layer2",
    )
    assert info.num_layers == 5


def test_gpt2_conv1d_fans_are_in_then_out_and_defaults_follow_init_weights(
    client: ApiClient,
) -> None:
    body = {"architecture": "gpt2", "config": GPT2, "role_schemes": {"mlp_in": "he_normal"}}
    c_fc = _tensors(_json(client, body))["transformer.h.0.mlp.c_fc.weight"]
    assert c_fc["std"] == math.sqrt(2 / 32)  # fan_in = in = 32, not the torch rule's 128
    tensors = _tensors(_json(client, {"architecture": "gpt2", "config": GPT2}))
    assert c_fc["shape"] == [32, 128]
    assert (c_fc["fan_in"], c_fc["fan_out"]) == (32, 128)
    c_proj = tensors["transformer.h.0.mlp.c_proj.weight"]
    assert c_proj["scheme"]["std"] == 0.02 / math.sqrt(2 * 2)
    assert tensors["transformer.h.0.attn.c_attn.weight"]["scheme"]["std"] == 0.02
    assert tensors["transformer.h.0.attn.c_attn.bias"]["scheme"]["name"] == "zeros"
    # the request's scheme comes before the family's default
    tensors = _tensors(
        _json(client, {"architecture": "gpt2", "config": GPT2, "scheme": "glorot_uniform"})
    )
    assert tensors["transformer.h.0.mlp.c_proj.weight"]["scheme"]["name"] == "glorot_uniform"
    assert tensors["transformer.ln_f.weight"]["scheme"]["name"] == "torch.default"


def test_tied_embeddings_appear_once(client: ApiClient) -> None:
    tied = _tensors(_json(client, {"architecture": "gpt2", "config": GPT2}))
    assert "lm_head.weight" not in tied
    untied = _tensors(
        _json(client, {"architecture": "gpt2", "config": {**GPT2, "tie_word_embeddings": False}})
    )
    assert untied["lm_head.weight"]["shape"] == [100, 32]
    assert untied["lm_head.weight"]["role"] == "readout"


def test_bert_padding_row_is_zero(client: ApiClient) -> None:
    body = {
        "seed": 3,
        "architecture": "bert",
        "config": {
            "hidden_size": 8,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "intermediate_size": 16,
            "vocab_size": 10,
            "max_position_embeddings": 4,
        },
    }
    response = client.post("/v1/models.safetensors", json=body)
    words = safetensors.numpy.load(response.content)["embeddings.word_embeddings.weight"]
    assert not words[0].any() and words[1:].all()


@pytest.mark.parametrize("count", [2, 4])
def test_fused_shards_equal_cutting_the_whole_tensor(client: ApiClient, count: int) -> None:
    body: dict[str, Any] = {"seed": 5, "architecture": "gpt2", "config": GPT2}
    whole = safetensors.numpy.load(client.post("/v1/models.safetensors", json=body).content)
    dims = {"*.c_attn.weight": {"dim": 1, "fused": 3}, "*.c_attn.bias": {"dim": 0, "fused": 3}}
    for index in range(count):
        shard = {"index": index, "count": count, "dims": dims}
        response = client.post("/v1/models.safetensors", json={**body, "shard": shard})
        assert response.status_code == 200, response.text
        rank = safetensors.numpy.load(response.content)
        for name, dim in (
            ("transformer.h.1.attn.c_attn.weight", 1),
            ("transformer.h.0.attn.c_attn.bias", 0),
        ):
            parts = np.split(whole[name], 3, axis=dim)
            expected = np.concatenate(
                [np.array_split(p, count, axis=dim)[index] for p in parts], axis=dim
            )
            assert rank[name].tobytes() == expected.tobytes()
        assert rank["transformer.wte.weight"].tobytes() == whole["transformer.wte.weight"].tobytes()
    # the JSON body reads the same elements
    shard = {"index": 1, "count": 2, "dims": dims}
    tensors = _tensors(_json(client, {**body, "shard": shard}))
    values = np.asarray(tensors["transformer.h.0.attn.c_attn.weight"]["data"], dtype=np.float32)
    parts = np.split(whole["transformer.h.0.attn.c_attn.weight"], 3, axis=1)
    assert (
        values.tobytes()
        == np.concatenate([np.split(p, 2, axis=1)[1] for p in parts], axis=1).tobytes()
    )


def _problem(client: ApiClient, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/v1/models", json={"seed": 1, **body})
    assert response.status_code == 422, response.text
    return response.json()  # type: ignore[no-any-return]


def test_a_plain_split_of_a_fused_tensor_is_refused_naming_the_option(client: ApiClient) -> None:
    shard = {"index": 0, "count": 2, "dims": {"*.c_attn.weight": 1}}
    problem = _problem(client, {"architecture": "gpt2", "config": GPT2, "shard": shard})
    assert '"fused": 3' in problem["detail"], problem
    # along the other dimension it is an ordinary row split
    shard = {"index": 0, "count": 2, "dims": {"*.c_attn.weight": 0}}
    _json(client, {"architecture": "gpt2", "config": GPT2, "shard": shard})


def test_unknown_architecture_config_field_and_class_are_422s(client: ApiClient) -> None:
    problem = _problem(client, {"architecture": "gtp2", "config": {}})
    assert "gpt2" in json.dumps(problem)
    problem = _problem(client, {"architecture": "gpt2", "config": {"n_layers": 2}})
    assert "Did you mean 'n_layer'?" in problem["detail"], problem
    problem = _problem(
        client, {"architecture": "llama", "config": {}, "class": "LlamaForCausalLMM"}
    )
    assert "Did you mean 'LlamaForCausalLM'?" in problem["detail"], problem
    problem = _problem(client, {"architecture": "gpt2", "config": {"n_embd": 30, "n_head": 4}})
    assert "divisible" in problem["detail"]
    problem = _problem(client, {"architecture": "gpt2", "mlp": {"sizes": [2, 3]}})
    assert "exactly one" in problem["detail"]
    problem = _problem(client, {"architecture": "gpt2", "layout": "keras"})
    assert "layout 'torch'" in problem["detail"]


def test_ignored_hf_fields_are_accepted(client: ApiClient) -> None:
    config = {**GPT2, "layer_norm_epsilon": 1e-5, "model_type": "gpt2", "resid_pdrop": 0.1}
    _json(client, {"architecture": "gpt2", "config": config})


# ---- recipes read the architecture's values ----------------------------------------------------

GPT2_DEEP = {"n_layer": 4, "n_embd": 32, "n_head": 4, "vocab_size": 100, "n_positions": 16}


def _stds(client: ApiClient, body: dict[str, Any]) -> dict[str, tuple[str | None, float]]:
    return {n: (t.get("rule"), t["std"]) for n, t in _tensors(_json(client, body)).items()}


def test_a_recipe_takes_depth_and_width_from_the_config(client: ApiClient) -> None:
    body = {"architecture": "gpt2", "config": GPT2_DEEP, "recipe": "gpt2", "seed": 0}
    stds = _stds(client, body)
    residual = 0.02 / math.sqrt(2 * GPT2_DEEP["n_layer"])
    for name in ("transformer.h.3.attn.c_proj.weight", "transformer.h.0.mlp.c_proj.weight"):
        assert stds[name] == ("r/sqrt(2*n_layer)", pytest.approx(residual, rel=1e-15))
    assert stds["transformer.h.0.attn.c_attn.weight"][1] == 0.02
    # the recipe's own parameters win over the config
    body["recipe"] = {"name": "gpt2", "n_layer": 50}
    stds = _stds(client, body)
    assert stds["transformer.h.3.attn.c_proj.weight"][1] == pytest.approx(0.002, rel=1e-15)


def test_t5s_recipe_reads_d_kv_heads_and_d_ff(client: ApiClient) -> None:
    config = {
        "d_model": 32,
        "d_kv": 8,
        "d_ff": 64,
        "num_layers": 2,
        "num_heads": 4,
        "vocab_size": 64,
    }
    stds = _stds(client, {"architecture": "t5", "config": config, "recipe": "t5", "seed": 0})
    block = "encoder.block.0.layer"
    exact = pytest.approx  # the service rounds each formula once; these round twice
    assert stds[f"{block}.0.SelfAttention.q.weight"][1] == exact(1 / math.sqrt(32 * 8), rel=1e-15)
    assert stds[f"{block}.0.SelfAttention.o.weight"][1] == exact(1 / math.sqrt(4 * 8), rel=1e-15)
    assert stds[f"{block}.1.DenseReluDense.wo.weight"][1] == exact(1 / math.sqrt(64), rel=1e-15)


def test_a_classifiers_own_head_is_not_tied_to_the_embedding(client: ApiClient) -> None:
    """GPT2ForSequenceClassification's score is its own matrix even with the config's
    tie_word_embeddings true (only an LM head is tied), so a recipe gives it the head's rule."""
    body = {
        "architecture": "gpt2",
        "config": GPT2,
        "class": "GPT2ForSequenceClassification",
        "recipe": "olmo.full_megatron",
        "seed": 0,
    }
    payload = _json(client, body)
    assert payload["recipe"]["tie_word_embeddings"] is False
    score = _tensors(payload)["score.weight"]
    assert score["rule"] == "ff_out: 1/sqrt(d)"  # truncated at 3 std: the scheme's std
    assert score["scheme"]["std"] == pytest.approx(1 / math.sqrt(32), rel=1e-15)
    lm = client.post("/v1/models", json={**body, "class": "GPT2LMHeadModel"})
    assert lm.status_code == 200  # the tied head is not returned: the embedding rule only
    assert "lm_head.weight" not in {t["name"] for t in lm.json()["tensors"]}


def test_hf_default_recipe_and_the_family_defaults_give_the_same_bytes(
    client: ApiClient,
) -> None:
    """Two independent readings of transformers' GPT-2 _init_weights agree byte for byte."""
    body = {"architecture": "gpt2", "config": GPT2_DEEP, "seed": 3}
    plain = client.post("/v1/models", params={"format": "safetensors"}, json=body)
    recipe = client.post(
        "/v1/models", params={"format": "safetensors"}, json={**body, "recipe": "hf.default"}
    )
    assert plain.status_code == recipe.status_code == 200
    ours, theirs = safetensors.numpy.load(plain.content), safetensors.numpy.load(recipe.content)
    assert ours.keys() == theirs.keys()
    assert all(np.array_equal(ours[k], theirs[k]) for k in ours)


def test_the_readme_table_names_every_class_field_and_default() -> None:
    """The README's family table is written by hand (its notes explain defaults such as
    n_inner's 4·n_embd): every class, config field and default of the registry is in it."""
    from app.core.architectures import ARCHITECTURES

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    table = readme[readme.index("| family | default class |") :].split("\n\n")[0]
    rows = {line.split("|")[1].strip(): line for line in table.splitlines()}
    for name, arch in ARCHITECTURES.items():
        row = rows[f"`{name}`"]
        for cls in arch.classes:
            assert f"`{cls}`" in row, (name, cls)
        for field, spec in arch.fields.items():
            default = spec.default
            shown = (
                "null" if default is None
                else str(default).lower() if isinstance(default, bool)
                else f'"{default}"' if isinstance(default, str)
                else str(list(default)) if isinstance(default, tuple)
                else str(default)
            )  # fmt: skip
            assert f"`{field}` {shown}" in row, (name, field, shown)
