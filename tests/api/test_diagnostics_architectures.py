"""POST /v1/diagnostics with ``architecture`` (gpt2, llama): the weights POST /v1/models returns,
what the document states, the refusals (unsupported families, forward-changing recipes, cost
before any work), determinism, and the famous effect of GPT-2's scaled residual projections.
The numerics are tested against a reference in tests/core/diagnostics/test_residual.py."""

from __future__ import annotations

import math
import time
from typing import Any

import pytest

from app.api.settings import Settings
from tests.encoders.plot_helpers import groups, legend_text, marker_positions, png_size, svg_tree

from .conftest import ApiClient, assert_refused

GPT2 = {
    "architecture": "gpt2",
    "config": {"n_layer": 2, "n_embd": 16, "n_head": 2, "vocab_size": 50, "n_positions": 32},
    "seed": 4,
    "batch": 4,
    "input_shape": [8],
}
LLAMA = {
    "architecture": "llama",
    "config": {
        "num_hidden_layers": 2,
        "hidden_size": 16,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "intermediate_size": 24,
        "vocab_size": 50,
    },
    "seed": 4,
    "batch": 4,
    "input_shape": [8],
}
BERT = {
    "architecture": "bert",
    "config": {
        "num_hidden_layers": 2,
        "hidden_size": 16,
        "num_attention_heads": 2,
        "intermediate_size": 32,
        "vocab_size": 50,
        "max_position_embeddings": 16,
    },
    "seed": 4,
    "batch": 4,
    "input_shape": [8],
}
VIT = {
    "architecture": "vit",
    "config": {
        "num_hidden_layers": 2,
        "hidden_size": 16,
        "num_attention_heads": 2,
        "intermediate_size": 32,
        "image_size": 8,
        "patch_size": 4,
    },
    "seed": 4,
    "batch": 3,
}
MODEL_FIELDS = ("architecture", "config", "class", "seed", "scheme", "recipe")


def post(client: ApiClient, body: dict[str, Any]) -> Any:
    return client.post("/v1/diagnostics", json=body)


def models_sha(client: ApiClient, body: dict[str, Any]) -> list[dict[str, str]]:
    fields = {k: v for k, v in body.items() if k in MODEL_FIELDS}
    response = client.post("/v1/models", params={"format": "json"}, json=fields)
    assert response.status_code == 200, response.text
    return [{"name": t["name"], "sha256": t["sha256"]} for t in response.json()["tensors"]]


@pytest.mark.parametrize(
    "body",
    [
        GPT2,
        LLAMA,
        BERT,
        {**GPT2, "class": "GPT2Model", "recipe": "gpt2"},
        {**BERT, "class": "BertForMaskedLM", "scheme": "glorot_uniform"},
        VIT,
        {**VIT, "class": "ViTForImageClassification"},
    ],
    ids=["gpt2", "llama", "bert", "gpt2-model-recipe", "bert-mlm-scheme", "vit", "vit-cls"],
)
def test_runs_use_the_weights_v1_models_returns(client: ApiClient, body: dict[str, Any]) -> None:
    started = time.perf_counter()
    response = post(client, body)
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, response.text
    assert elapsed < 1.0  # a tiny config: a few ms of numpy
    (run,) = response.json()["runs"]
    assert run["tensors"] == models_sha(client, body)


def test_gpt2_document_names_every_sublayer_and_block(client: ApiClient) -> None:
    document = post(client, GPT2).json()
    assert document["input_shape"] == [8] and "token ids" in document["input"]
    assert "final hidden state" in document["upstream"] and "LM head" in document["upstream"]
    model = document["model"]
    assert model["architecture"] == "gpt2" and model["class"] == "GPT2LMHeadModel"
    assert model["config"]["n_layer"] == 2 and "gelu_new" in model["forward"]
    (run,) = document["runs"]
    assert run["label"] == "gpt2 default (_init_weights)"
    names = [(layer["name"], layer["block"]) for layer in run["layers"]]
    p = "transformer.h.1."
    assert names[0] == ("transformer.wte+wpe", None)
    assert names[-1] == ("transformer.ln_f", None)
    assert [n for n, b in names if b == 1] == [
        p + "ln_1",
        p + "attn.c_attn[q]",
        p + "attn.c_attn[k]",
        p + "attn.c_attn[v]",
        p + "attn.c_proj",
        p + "ln_2",
        p + "mlp.c_fc",
        p + "mlp.c_proj",
    ]
    assert [layer["depth"] for layer in run["layers"]] == list(range(1, len(names) + 1))
    assert all(layer["predicted"] is None for layer in run["layers"])
    fc = next(layer for layer in run["layers"] if layer["name"] == p + "mlp.c_fc")
    assert fc["activation"] == "gelu_tanh" and fc["fan_in"] == 16
    proj = next(layer for layer in run["layers"] if layer["name"] == p + "attn.c_proj")
    # GPT-2's _init_weights: c_proj N(0, (0.02 / sqrt(2 n_layer))^2)
    assert math.isclose(proj["weight_std_theory"], 0.02 / math.sqrt(4))
    blocks = run["blocks"]
    assert [b["index"] for b in blocks] == [0, 1]
    assert [b["name"] for b in blocks] == ["transformer.h.0", "transformer.h.1"]
    for b in blocks:
        assert b["variance"] > 0 and b["squared_mean"] >= 0
        assert b["attention_variance"] > 0 and b["mlp_variance"] > 0 and b["gradient_std"] > 0


def test_llama_document_reports_gate_up_down_and_rms_norms(client: ApiClient) -> None:
    (run,) = post(client, LLAMA).json()["runs"]
    p = "model.layers.0."
    block0 = [layer for layer in run["layers"] if layer["block"] == 0]
    assert [(x["name"], x["kind"], x["activation"]) for x in block0] == [
        (p + "input_layernorm", "rms_norm", "linear"),
        (p + "self_attn.q_proj", "dense", "linear"),
        (p + "self_attn.k_proj", "dense", "linear"),
        (p + "self_attn.v_proj", "dense", "linear"),
        (p + "self_attn.o_proj", "dense", "linear"),
        (p + "post_attention_layernorm", "rms_norm", "linear"),
        (p + "mlp.gate_proj", "dense", "silu"),
        (p + "mlp.up_proj", "dense", "linear"),
        (p + "mlp.down_proj", "dense", "linear"),
    ]
    assert run["layers"][-1]["name"] == "model.norm" and len(run["blocks"]) == 2


def test_bert_document_is_post_ln_without_a_final_norm(client: ApiClient) -> None:
    document = post(client, {**BERT, "class": "BertForMaskedLM"}).json()
    assert "Post-LN" in document["model"]["forward"]
    (run,) = document["runs"]
    p = "bert.encoder.layer.1."
    names = [(x["name"], x["block"]) for x in run["layers"]]
    assert names[:2] == [
        ("bert.embeddings.word_embeddings+position_embeddings+token_type_embeddings[0]", None),
        ("bert.embeddings.LayerNorm", None),
    ]
    assert [n for n, b in names if b == 1] == [
        p + "attention.self.query",
        p + "attention.self.key",
        p + "attention.self.value",
        p + "attention.output.dense",
        p + "attention.output.LayerNorm",
        p + "intermediate.dense",
        p + "output.dense",
        p + "output.LayerNorm",
    ]
    assert names[-1] == (p + "output.LayerNorm", 1)  # no final norm: the last block's
    # Post-LN: the stream at each block's output is a LayerNorm's output (scale 1, shift 0),
    # so its average channel variance is near 1 whatever the init (not exactly: a row has
    # unit variance across channels, the statistic is per channel across rows)
    for block in run["blocks"]:
        assert 0.5 < block["variance"] < 1.5, block
    intermediate = next(x for x in run["layers"] if x["name"] == p + "intermediate.dense")
    assert intermediate["activation"] == "gelu"


def test_vit_document_embeds_standard_normal_images(client: ApiClient) -> None:
    document = post(client, {**VIT, "class": "ViTForImageClassification"}).json()
    assert document["input_shape"] == [3, 8, 8]  # num_channels x image_size x image_size
    assert "standard normal" in document["input"]
    assert document["model"]["positions"] == 5  # 2 x 2 patches and the cls token
    (run,) = document["runs"]
    p = "vit.encoder.layer.0."
    names = [(x["name"], x["block"]) for x in run["layers"]]
    assert names[0] == (
        "vit.embeddings.cls_token+patch_embeddings.projection+position_embeddings",
        None,
    )
    assert names[-1] == ("vit.layernorm", None)
    assert [n for n, b in names if b == 0] == [
        p + "layernorm_before",
        p + "attention.attention.query",
        p + "attention.attention.key",
        p + "attention.attention.value",
        p + "attention.output.dense",
        p + "layernorm_after",
        p + "intermediate.dense",
        p + "output.dense",
    ]
    assert len(run["blocks"]) == 2


def test_same_request_same_bytes(client: ApiClient) -> None:
    body = {**LLAMA, "compare": ["he_normal", {"name": "normal", "std": 0.02}]}
    first, second = post(client, body), post(client, body)
    assert first.status_code == 200, first.text
    assert first.content == second.content
    assert [r["label"] for r in first.json()["runs"]] == ["he_normal", "normal(std=0.02)"]


def test_mup_changes_the_attention_scale_only(client: ApiClient) -> None:
    """muP at its base width (width_mult 1) draws Llama's tensors exactly as the family
    default does (every sha256 equal), so the two runs differ only by the forward pass muP
    changes: the q, k, v projections' forward statistics are identical, the attention output
    is not (scores q k^T / head_dim instead of / sqrt(head_dim)); gradients differ everywhere
    below the first attention."""
    recipe = {"name": "mup", "optimizer": "adam", "base_config": {"d_model": 16}}
    mup = post(client, {**LLAMA, "recipe": recipe})
    default = post(client, LLAMA)
    assert mup.status_code == 200, mup.text
    assert "q k^T / head_dim" in mup.json()["model"]["recipes_applied"]
    run, base = mup.json()["runs"][0], default.json()["runs"][0]
    assert run["recipe"]["width_mult"] == 1.0
    assert run["tensors"] == base["tensors"]
    same = {x["name"]: x for x in base["layers"]}
    p = "model.layers.0."
    for name in ("input_layernorm", "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"):
        row = next(x for x in run["layers"] if x["name"] == p + name)
        assert {**row, "gradient_std": None} == {**same[p + name], "gradient_std": None}
    o_mup = next(x for x in run["layers"] if x["name"] == p + "self_attn.o_proj")
    assert o_mup["activation_std"] != same[p + "self_attn.o_proj"]["activation_std"]


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({**GPT2, "architecture": "t5"}, "architecture", "gpt2, llama, bert, vit"),
        ({**GPT2, "architecture": "resnet"}, "architecture", "gpt2, llama"),
        ({**GPT2, "architecture": "nonsense"}, "architecture", "gpt2, llama"),
        ({**GPT2, "recipe": {"name": "deepnet"}}, "recipe", "Post-LN"),
        ({**GPT2, "recipe": {"name": "t_fixup"}}, "recipe", "forward"),
        ({**GPT2, "mlp": {"sizes": [4, 4]}}, "mlp", "without 'mlp'"),
        ({**GPT2, "input_shape": [64]}, "input_shape", "n_positions"),
        ({**GPT2, "input_shape": [4, 16]}, "input_shape", "[positions]"),
        ({**GPT2, "config": {"n_layer": 1, "bogus": 1}}, "config", "bogus"),
        (
            {**GPT2, "config": {**GPT2["config"], "activation_function": "relu"}},  # type: ignore[dict-item]
            "config.activation_function",
            "gelu_new",
        ),
        (
            {**LLAMA, "config": {**LLAMA["config"], "rope_scaling": {"rope_type": "linear"}}},  # type: ignore[dict-item]
            "config.rope_scaling",
            "default",
        ),
        (
            {**BERT, "config": {**BERT["config"], "position_embedding_type": "relative_key"}},  # type: ignore[dict-item]
            "config.position_embedding_type",
            "absolute",
        ),
        ({**BERT, "input_shape": [32]}, "input_shape", "max_position_embeddings"),
        ({**VIT, "input_shape": [3, 16, 16]}, "input_shape", "[3, 8, 8]"),
        ({**GPT2, "layout": "keras"}, "layout", "torch"),
        ({**GPT2, "widths": [8, 16]}, "widths", "mlp"),
        ({**GPT2, "learning_rate": 0.1}, "learning_rate", "coordinate check"),
        ({"mlp": {"sizes": [4, 4]}, "config": {}, "seed": 0}, "config", "'architecture'"),
        ({"mlp": {"sizes": [4, 4]}, "class": "GPT2Model", "seed": 0}, "class", "'architecture'"),
    ],
    ids=[
        "t5",
        "resnet",
        "unknown",
        "deepnet",
        "t_fixup",
        "with-mlp",
        "too-many-positions",
        "input-shape-rank",
        "unknown-config",
        "activation",
        "rope-scaling",
        "bert-relative-positions",
        "bert-too-many-positions",
        "vit-image-size",
        "layout",
        "widths",
        "coordinate-field",
        "config-without-architecture",
        "class-without-architecture",
    ],
)
def test_refusals_name_the_field(
    client: ApiClient, body: dict[str, Any], field: str, words: str
) -> None:
    assert_refused(post(client, body), field, words)


def test_cost_of_a_big_config_is_refused_before_any_work(client: ApiClient) -> None:
    """GPT-2 XL's shape at 1024 positions: refused from the config alone (no tensor drawn)."""
    body = {
        "architecture": "gpt2",
        "config": {"n_layer": 48, "n_embd": 1600, "n_head": 25},
        "input_shape": [1024],
        "batch": 64,
        "seed": 0,
    }
    started = time.perf_counter()
    response = post(client, body)
    assert response.status_code == 413, response.text
    assert "WEIGHTINIT_MAX_DIAGNOSTICS_FLOPS" in response.json()["detail"]
    assert time.perf_counter() - started < 1.0


def test_memory_of_long_sequences_is_refused_before_any_work() -> None:
    client = ApiClient(Settings(max_diagnostics_bytes=1 << 20))
    try:
        response = post(client, {**GPT2, "batch": 64})
        assert response.status_code == 413, response.text
        assert "WEIGHTINIT_MAX_DIAGNOSTICS_BYTES" in response.json()["detail"]
    finally:
        client.close()


DEEP = {
    "architecture": "gpt2",
    "config": {"n_layer": 24, "n_embd": 64, "n_head": 4, "vocab_size": 128, "n_positions": 64},
    "batch": 4,
    "input_shape": [16],
    "seed": 0,
}


def test_scaled_residual_projections_keep_a_deep_gpt2s_stream_small(client: ApiClient) -> None:
    """GPT-2's c_proj init N(0, (0.02/sqrt(2L))^2) against N(0, 0.02^2) for every weight.

    Pre-LN blocks normalise their input, so each branch adds a variance set by its weights
    alone: with c_proj 1/sqrt(2L) = 1/sqrt(48) smaller, block 0's attention branch (same
    input, the same draws scaled) has exactly 48 times less variance (float32 weights: to
    1e-4), its MLP branch about 48 times (its input already differs by the attention branch:
    measured 44.7-46.9 over seeds 0-3).
    At init the branches are nearly uncorrelated with the stream, so the stream's variance
    grows additively: v_L ~ v_0 + L s (plain) against v_0 + L s / (2L) (scaled); with the
    embeddings' v_0 = 2 * 0.02^2 and s ~ 6e-4 per block at this width that is a ratio near
    (8e-4 + 24 * 6e-4) / (8e-4 + 3e-4) ~ 14. Measured 13.5 (seed 0; 13.5-16.1 over seeds
    0-3) at batch 4, 16 positions; pinned to [8, 25]."""
    default = post(client, DEEP)
    plain = post(client, {**DEEP, "scheme": {"name": "normal", "std": 0.02}})
    recipe = post(client, {**DEEP, "recipe": "gpt2"})
    for response in (default, plain, recipe):
        assert response.status_code == 200, response.text
    scaled_blocks = default.json()["runs"][0]["blocks"]
    plain_blocks = plain.json()["runs"][0]["blocks"]
    assert recipe.json()["runs"][0]["blocks"] == scaled_blocks  # hf default = recipe gpt2
    ratio = plain_blocks[0]["attention_variance"] / scaled_blocks[0]["attention_variance"]
    assert math.isclose(ratio, 48.0, rel_tol=1e-4), ratio
    ratio = plain_blocks[0]["mlp_variance"] / scaled_blocks[0]["mlp_variance"]
    assert math.isclose(ratio, 48.0, rel_tol=0.2), ratio
    ratio = plain_blocks[-1]["variance"] / scaled_blocks[-1]["variance"]
    assert 8.0 < ratio < 25.0, ratio
    scaled_growth = scaled_blocks[-1]["variance"] / scaled_blocks[0]["variance"]
    plain_growth = plain_blocks[-1]["variance"] / plain_blocks[0]["variance"]
    assert scaled_growth < 2.0 < 6.0 < plain_growth, (scaled_growth, plain_growth)


def test_the_plot_adds_the_residual_stream_per_block(client: ApiClient) -> None:
    """One more panel: the residual stream's average channel variance per block, a line per
    run (log y), each block where the axis puts it; plain N(0, 0.02^2) above GPT-2's scaled
    c_proj at the last block, as in the JSON."""
    body = {**DEEP, "config": {**DEEP["config"], "n_layer": 6}, "input_shape": [8]}  # type: ignore[dict-item]
    body["compare"] = [{"name": "normal", "std": 0.02}, {"name": "normal", "std": 0.002}]
    document = post(client, body).json()
    response = client.post("/v1/diagnostics", json=body, params={"format": "svg"})
    assert response.status_code == 200, response.text
    root = svg_tree(response.content)
    ids = groups(root)
    for run in document["runs"]:
        gid = "residual-variance:" + "_".join(run["label"].split())
        points = marker_positions(ids[gid])
        assert [x for x, _ in points] == sorted(x for x, _ in points) and len(points) == 6
        assert legend_text(root, gid) == run["label"]
        assert "activation-std:" + "_".join(run["label"].split()) in ids  # the chain's panels
    big, small = (
        marker_positions(ids["residual-variance:" + "_".join(r["label"].split())])[-1][1]
        for r in document["runs"]
    )
    assert big < small  # SVG y grows downwards: the larger variance is drawn higher
    png = client.post("/v1/diagnostics", json=body, params={"format": "png"})
    assert png_size(png.content) == (1500, 420)  # three panels of 500 x 420
