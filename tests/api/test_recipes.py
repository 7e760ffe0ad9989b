"""Recipes on small role-tagged models, tensor by tensor, against their cited formulas.

Every expected std is computed here from the formula (mpmath at 50 digits, rounded once), not
from app.core.recipes; sampled tensors are checked within 6 standard errors of the sample
std (sigma/sqrt(2n) for a normal sample of n values), and scalars the response returns
(alpha, beta, muP's multipliers) must equal the correctly rounded float64 of the formula.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import mpmath
import numpy as np
import pytest

from .conftest import ApiClient, load_npz, load_safetensors, problem, safetensors_header

D, FF, VOCAB, POS, L = 32, 128, 200, 16, 3


def exact(expression: Callable[[Any], Any]) -> float:
    with mpmath.workdps(50):
        return float(expression(mpmath))


def gpt2_map(n_layer: int = L, head: bool = False) -> dict[str, list[int]]:
    """GPT2LMHeadModel's names and Conv1D (in, out) shapes."""
    tensors = {"transformer.wte.weight": [VOCAB, D], "transformer.wpe.weight": [POS, D]}
    for i in range(n_layer):
        p = f"transformer.h.{i}."
        tensors |= {
            p + "ln_1.weight": [D],
            p + "ln_1.bias": [D],
            p + "attn.c_attn.weight": [D, 3 * D],
            p + "attn.c_attn.bias": [3 * D],
            p + "attn.c_proj.weight": [D, D],
            p + "attn.c_proj.bias": [D],
            p + "mlp.c_fc.weight": [D, FF],
            p + "mlp.c_proj.weight": [FF, D],
        }
    if head:
        tensors["lm_head.weight"] = [VOCAB, D]
    return tensors


def llama_map(n_layer: int = L) -> dict[str, list[int]]:
    """LlamaForCausalLM's names, nn.Linear (out, in) shapes (fan_in is the second dimension)."""
    tensors = {"model.embed_tokens.weight": [VOCAB, D]}
    for i in range(n_layer):
        p = f"model.layers.{i}."
        tensors |= {
            p + "self_attn.q_proj.weight": [D, D],
            p + "self_attn.o_proj.weight": [D, D],
            p + "mlp.up_proj.weight": [FF, D],
            p + "mlp.down_proj.weight": [D, FF],
            p + "input_layernorm.weight": [D],
        }
    return tensors


def run(client: ApiClient, tensors: dict[str, Any], recipe: Any, **extra: Any) -> dict[str, Any]:
    body = {"seed": 7, "tensors": tensors, "recipe": recipe, **extra}
    meta = client.post("/v1/models?format=json&encoding=base64", json=body)
    assert meta.status_code == 200, meta.text
    arrays = client.post("/v1/models?format=npz", json=body)
    assert arrays.status_code == 200, arrays.text
    values = load_npz(arrays.content)
    doc: dict[str, Any] = meta.json()
    doc["arrays"] = values
    doc["by_name"] = {t["name"]: t for t in doc["tensors"]}
    return doc


def check_normal(doc: dict[str, Any], name: str, std: float, rule: str | None = None) -> None:
    entry = doc["by_name"][name]
    assert entry["scheme"] == {"name": "normal", "mean": 0.0, "std": std}, name
    if rule is not None:
        assert entry["rule"] == rule
    sample = doc["arrays"][name].astype(np.float64)
    tolerance = 6 * std / math.sqrt(2 * sample.size)
    assert abs(sample.std() - std) < tolerance, (name, sample.std(), std)


def assert_sample_std(array: np.ndarray[Any, Any], std: float, name: str) -> None:
    sample = array.astype(np.float64)
    assert abs(sample.std() - std) < 6 * std / math.sqrt(2 * sample.size), (name, sample.std())


def test_gpt2_scales_residual_outputs_by_sqrt_2_n_layer(client: ApiClient) -> None:
    doc = run(client, gpt2_map(), {"name": "gpt2", "n_layer": L})
    scaled = exact(lambda mp: mp.mpf(0.02) / mp.sqrt(2 * L))
    for name, entry in doc["by_name"].items():
        if name.endswith("c_proj.weight"):
            check_normal(doc, name, scaled, "r/sqrt(2*n_layer)")
        elif entry["role"] in ("embedding", "position_embedding", "attention_qkv", "mlp_in"):
            check_normal(doc, name, 0.02)
        elif entry["role"] in ("bias", "norm_shift"):
            assert not doc["arrays"][name].any() and "rule" in entry
        else:
            assert entry["role"] == "norm_scale" and (doc["arrays"][name] == 1).all()
    assert doc["recipe"]["name"] == "gpt2" and doc["recipe"]["n_layer"] == L


def test_megatron_scaled_init_method_normal(client: ApiClient) -> None:
    recipe = {"name": "megatron", "n_layer": L, "initializer_range": 0.006, "multiplier": 1.0}
    doc = run(client, gpt2_map(), recipe)
    check_normal(doc, "transformer.h.1.mlp.c_fc.weight", 0.006)
    scaled = exact(lambda mp: mp.mpf(0.006) / mp.sqrt(1 * L))
    check_normal(doc, "transformer.h.1.mlp.c_proj.weight", scaled)
    check_normal(doc, "transformer.h.2.attn.c_proj.weight", scaled)


def test_gpt_neox_small_init_and_wang_init(client: ApiClient) -> None:
    small = exact(lambda mp: mp.sqrt(mp.mpf(2) / (5 * D)))
    wang = exact(lambda mp: mp.mpf(2) / L / mp.sqrt(D))
    doc = run(client, gpt2_map(), {"name": "wang_init", "n_layer": L, "d_model": D})
    check_normal(doc, "transformer.h.0.attn.c_attn.weight", small, "small_init: sqrt(2/(5d))")
    check_normal(doc, "transformer.wte.weight", small)
    check_normal(doc, "transformer.h.0.attn.c_proj.weight", wang, "wang_init: 2/(L*sqrt(d))")
    check_normal(doc, "transformer.h.2.mlp.c_proj.weight", wang)
    doc = run(client, gpt2_map(), {"name": "small_init", "d_model": D})
    check_normal(doc, "transformer.h.2.mlp.c_proj.weight", small)


def test_olmo_mitchell_depends_on_the_block_index(client: ApiClient) -> None:
    doc = run(client, llama_map(), {"name": "olmo.mitchell", "d_model": D})
    for i in range(L):
        attn = doc["by_name"][f"model.layers.{i}.self_attn.o_proj.weight"]["scheme"]
        ff = doc["by_name"][f"model.layers.{i}.mlp.down_proj.weight"]["scheme"]
        assert attn["std"] == exact(lambda mp, i=i: 1 / mp.sqrt(2 * D * (i + 1)))
        assert ff["std"] == exact(lambda mp, i=i: 1 / mp.sqrt(2 * FF * (i + 1)))  # in_features
        assert (attn["a"], attn["b"], attn["bounds"]) == (-3.0, 3.0, "std")
        sample = doc["arrays"][f"model.layers.{i}.self_attn.o_proj.weight"]
        assert np.abs(sample).max() <= 3 * attn["std"] * (1 + 1e-6)
    qkv = doc["by_name"]["model.layers.0.self_attn.q_proj.weight"]["scheme"]
    assert qkv["std"] == exact(lambda mp: 1 / mp.sqrt(D))


def test_olmo_full_megatron_head_needs_untied_embeddings(client: ApiClient) -> None:
    recipe: dict[str, Any] = {"name": "olmo.full_megatron", "n_layer": L, "d_model": D}
    refused = client.post(
        "/v1/models", json={"seed": 1, "tensors": gpt2_map(head=True), "recipe": recipe}
    )
    assert refused.status_code == 422
    found = problem(refused)
    assert found["errors"][0]["field"] == "recipe.tie_word_embeddings"
    assert "lm_head.weight" in found["detail"]
    doc = run(client, gpt2_map(head=True), {**recipe, "tie_word_embeddings": False})
    head = doc["by_name"]["lm_head.weight"]["scheme"]
    assert head["std"] == exact(lambda mp: 1 / mp.sqrt(D))
    out = doc["by_name"]["transformer.h.0.mlp.c_proj.weight"]["scheme"]
    assert out["std"] == exact(lambda mp: mp.mpf(0.02) / mp.sqrt(2 * L))


def t5_map() -> dict[str, list[int]]:
    h, kv = 4, 16
    p = "encoder.block.0.layer."
    return {
        "shared.weight": [VOCAB, D],
        p + "0.SelfAttention.q.weight": [h * kv, D],
        p + "0.SelfAttention.k.weight": [h * kv, D],
        p + "0.SelfAttention.v.weight": [h * kv, D],
        p + "0.SelfAttention.o.weight": [D, h * kv],
        p + "0.layer_norm.weight": [D],
        p + "1.DenseReluDense.wi.weight": [FF, D],
        p + "1.DenseReluDense.wo.weight": [D, FF],
    }


def test_t5_mesh_tensorflow_factors(client: ApiClient) -> None:
    f, h, kv = 0.5, 4, 16
    recipe = {"name": "t5", "d_model": D, "n_heads": h, "d_kv": kv, "d_ff": FF}
    doc = run(client, t5_map(), {**recipe, "initializer_factor": f})
    p = "encoder.block.0.layer."
    expected = {
        p + "0.SelfAttention.q.weight": exact(lambda mp: mp.mpf(f) / mp.sqrt(D * kv)),
        p + "0.SelfAttention.k.weight": exact(lambda mp: mp.mpf(f) / mp.sqrt(D)),
        p + "0.SelfAttention.v.weight": exact(lambda mp: mp.mpf(f) / mp.sqrt(D)),
        p + "0.SelfAttention.o.weight": exact(lambda mp: mp.mpf(f) / mp.sqrt(h * kv)),
        p + "1.DenseReluDense.wi.weight": exact(lambda mp: mp.mpf(f) / mp.sqrt(D)),
        p + "1.DenseReluDense.wo.weight": exact(lambda mp: mp.mpf(f) / mp.sqrt(FF)),
        "shared.weight": f,
    }
    for name, std in expected.items():
        check_normal(doc, name, std)
    assert (doc["arrays"][p + "0.layer_norm.weight"] == f).all()


def test_deepnet_alpha_beta_are_correctly_rounded(client: ApiClient) -> None:
    n = 6
    tensors = {
        f"layers.{i}.{part}": shape
        for i in range(2)
        for part, shape in {
            "self_attn.q_proj.weight": [D, D],
            "self_attn.v_proj.weight": [D, D],
            "self_attn.out_proj.weight": [D, D],
            "self_attn.out_proj.bias": [D],
            "fc1.weight": [FF, D],
            "fc2.weight": [D, FF],
        }.items()
    }
    doc = run(client, tensors, {"name": "deepnet", "n_layer": n})
    alpha = exact(lambda mp: mp.power(2 * n, mp.mpf(1) / 4))
    beta = exact(lambda mp: mp.power(8 * n, mp.mpf(-1) / 4))
    assert doc["recipe"]["alpha"] == alpha and doc["recipe"]["beta"] == beta
    out = doc["by_name"]["layers.0.self_attn.out_proj.weight"]
    assert out["scheme"] == {"name": "glorot_uniform", "gain": beta}
    bound = exact(lambda mp: mp.mpf(beta) / mp.sqrt(FF))
    assert doc["by_name"]["layers.1.fc2.weight"]["scheme"] == {
        "name": "uniform",
        "low": -bound,
        "high": bound,
    }
    assert np.abs(doc["arrays"]["layers.1.fc2.weight"]).max() <= bound


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_mup_multipliers_and_lr_scales(client: ApiClient, optimizer: str) -> None:
    base = 8
    recipe = {
        "name": "mup",
        "d_model": D,
        "base_config": {"d_model": base},
        "optimizer": optimizer,
        "tie_word_embeddings": False,
    }
    doc = run(client, gpt2_map(head=True), recipe)
    m = exact(lambda mp: mp.mpf(D) / base)
    assert doc["recipe"]["width_mult"] == m
    assert doc["recipe"]["multipliers"]["readout"] == exact(lambda mp: 1 / (mp.mpf(D) / base))
    hidden = "transformer.h.0.attn.c_attn.weight"
    check_normal(doc, hidden, exact(lambda mp: mp.mpf(0.02) / mp.sqrt(mp.mpf(D) / base)))
    lr = doc["recipe"]["lr_scales"]
    if optimizer == "adam":
        assert (
            lr[hidden] == exact(lambda mp: mp.mpf(base) / D) and lr["transformer.wte.weight"] == 1
        )
    else:
        assert lr[hidden] == 1 and lr["transformer.wte.weight"] == m
    assert doc["recipe"]["init_multipliers"][hidden] == exact(lambda mp: mp.sqrt(mp.mpf(base) / D))


def test_hf_default_vit_truncates_at_absolute_two(client: ApiClient) -> None:
    tensors = {
        "embeddings.position_embeddings": [1, 5, D],
        "encoder.layer.0.attention.attention.query.weight": [D, D],
        "encoder.layer.0.output.dense.weight": [D, FF],
    }
    doc = run(client, tensors, {"name": "hf.default", "family": "vit"})
    pos = doc["by_name"]["embeddings.position_embeddings"]["scheme"]
    assert pos == {
        "name": "truncated_normal",
        "mean": 0.0,
        "std": 0.02,
        "a": -2.0,
        "b": 2.0,
        "bounds": "absolute",
    }
    check_normal(doc, "encoder.layer.0.output.dense.weight", 0.02, "r")


@pytest.mark.parametrize(
    ("recipe", "field", "says"),
    [
        ("gtp2", "recipe", "Did you mean 'gpt2'?"),
        ({"name": "gpt2", "n_layers": 2}, "recipe.n_layers", "Did you mean 'n_layer'?"),
        ({"name": "gpt2"}, "recipe.n_layer", '{"name": "gpt2", "n_layer": ...}'),
        ({"name": "mup", "d_model": 8, "base_config": {"d_model": 4}}, "recipe.optimizer", "adam"),
        ({"name": "hf.default", "family": "gtp2"}, "recipe.family", "Did you mean 'gpt2'?"),
    ],
)
def test_refusals_name_the_field_and_the_fix(
    client: ApiClient, recipe: Any, field: str, says: str
) -> None:
    response = client.post("/v1/models", json={"seed": 1, "tensors": gpt2_map(1), "recipe": recipe})
    assert response.status_code == 422
    found = problem(response)
    assert found["errors"][0]["field"] == field and says in found["detail"], found


def test_a_role_without_a_rule_and_a_request_wide_scheme_are_refused(client: ApiClient) -> None:
    tensors = {"encoder.block.0.layer.0.SelfAttention.qkv.weight": [3 * D, D]}
    recipe = {"name": "t5", "d_model": D, "n_heads": 4, "d_kv": 8, "d_ff": FF}
    response = client.post("/v1/models", json={"seed": 1, "tensors": tensors, "recipe": recipe})
    assert response.status_code == 422
    assert "role_schemes.attention_qkv" in problem(response)["detail"]
    body = {
        "seed": 1,
        "tensors": tensors,
        "recipe": recipe,
        "role_schemes": {"attention_qkv": "zeros"},
    }
    assert client.post("/v1/models", json=body).status_code == 200
    both = {"seed": 1, "tensors": gpt2_map(1), "recipe": "gpt2", "scheme": "he_normal"}
    response = client.post("/v1/models", json=both)
    assert response.status_code == 422 and problem(response)["errors"][0]["field"] == "scheme"


def safetensors_run(
    client: ApiClient, body: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Arrays, the recipe report and the manifest entries of a safetensors?manifest=true."""
    response = client.post("/v1/models?format=safetensors&manifest=true", json=body)
    assert response.status_code == 200, response.text
    metadata = safetensors_header(response.content)["__metadata__"]
    entries = {t["name"]: t for t in json.loads(metadata["weightinit.manifest"])["tensors"]}
    return load_safetensors(response.content), json.loads(metadata["recipe"]), entries


@pytest.mark.parametrize(("block", "m"), [("basic", 2), ("bottleneck", 3)])
def test_fixup_on_torchvision_resnet(client: ApiClient, block: str, m: int) -> None:
    layers = [1, 2, 1, 1]
    body = {
        "seed": 3,
        "architecture": "resnet",
        "config": {"layers": layers, "block": block, "num_classes": 10},
        "recipe": "fixup",
    }
    arrays, report, entries = safetensors_run(client, body)
    big_l = sum(layers)
    assert report["branch_multiplier"] == exact(lambda mp: mp.power(big_l, -1 / mp.mpf(2 * m - 2)))
    scalars = {f"bias{i}{ab}": 0.0 for i in range(1, m + 1) for ab in "ab"} | {"scale": 1.0}
    assert report["scalars"] == {"model": {"bias1": 0.0, "bias2": 0.0}, "per_block": scalars}
    assert "no BatchNorm" in report["forward"] and report["block"] == block
    checked = 0
    for name, entry in entries.items():
        array = arrays[name]
        shape = array.shape
        if ".conv" in name and name.startswith("layer"):
            i = int(name.split(".conv")[1][0])
            if i == m:
                assert entry["scheme"] == {"name": "zeros"} and not array.any(), name
                continue
            # hongyi-zhang/Fixup: std = sqrt(2 / (shape[0] * prod(shape[2:]))) * L ** (-1/(2m-2))
            c_out_k2 = shape[0] * math.prod(shape[2:])
            std = exact(
                lambda mp, n=c_out_k2: (
                    mp.sqrt(mp.mpf(2) / n) * mp.power(big_l, -1 / mp.mpf(2 * m - 2))
                )
            )
            assert entry["scheme"] == {"name": "normal", "mean": 0.0, "std": std}, name
            assert_sample_std(array, std, name)
            checked += 1
        elif "downsample.0" in name:
            std = exact(lambda mp, s=shape: mp.sqrt(mp.mpf(2) / (s[0] * math.prod(s[2:]))))
            assert entry["scheme"] == {"name": "normal", "mean": 0.0, "std": std}, name
            assert_sample_std(array, std, name)
        elif name == "conv1.weight":  # the stem keeps nn.Conv2d's default
            bound = exact(lambda mp: 1 / mp.sqrt(3 * 7 * 7))
            assert entry["scheme"] == {"name": "uniform", "low": -bound, "high": bound}
        elif name.startswith("fc."):
            assert not array.any() and entry["rule"] in ("fc.weight = 0", "bias = 0")
        elif entry["role"] in ("norm_scale", "norm_shift"):
            assert "removed by Fixup" in entry["rule"], name
            assert (array == (1 if entry["role"] == "norm_scale" else 0)).all(), name
    assert checked == big_l * (m - 1)


def tfixup_map(n_enc: int, n_dec: int) -> dict[str, list[int]]:
    """A fairseq transformer's names (nn.Linear (out, in) shapes), LayerNorms included."""
    tensors = {
        "encoder.embed_tokens.weight": [VOCAB, D],
        "decoder.embed_tokens.weight": [VOCAB, D],
        "decoder.output_projection.weight": [VOCAB, D],
    }
    attention = {
        "q_proj.weight": [D, D],
        "k_proj.weight": [D, D],
        "v_proj.weight": [D, D],
        "out_proj.weight": [D, D],
        "out_proj.bias": [D],
    }
    ffn = {"fc1.weight": [FF, D], "fc1.bias": [FF], "fc2.weight": [D, FF]}
    norm = {"final_layer_norm.weight": [D], "final_layer_norm.bias": [D]}
    for stack, n in (("encoder", n_enc), ("decoder", n_dec)):
        for i in range(n):
            p = f"{stack}.layers.{i}."
            tensors |= {p + "self_attn." + k: v for k, v in attention.items()}
            if stack == "decoder":
                tensors |= {p + "encoder_attn." + k: v for k, v in attention.items()}
            tensors |= {p + k: v for k, v in (ffn | norm).items()}
    return tensors


def check_t_fixup_tensor(
    doc: dict[str, Any], name: str, stacks: dict[str, tuple[int, float]]
) -> None:
    """One tensor of the T-Fixup model against fairseq's base times the stack's scale."""
    entry, array = doc["by_name"][name], doc["arrays"][name]
    n, scale = stacks[name.split(".")[0]]
    module = name.split(".")[-2]
    if module in ("q_proj", "k_proj") and name.endswith("weight"):
        gain = exact(lambda mp: 1 / mp.sqrt(2))
        assert entry["scheme"] == {"name": "glorot_uniform", "gain": gain}, name
    elif module in ("v_proj", "out_proj", "fc1", "fc2") and name.endswith("weight"):
        # fairseq xavier_uniform (gain 1/sqrt 2 for v_proj) times sqrt 2 times the scale
        assert entry["scheme"] == {"name": "glorot_uniform", "gain": scale}, name
        fans = sum(array.shape)
        assert_sample_std(array, exact(lambda mp: scale * mp.sqrt(mp.mpf(2) / fans)), name)
    elif name.endswith("embed_tokens.weight"):
        std = exact(lambda mp: mp.power(D, mp.mpf(-1) / 2) * mp.power(9 * n, mp.mpf(-1) / 4))
        assert entry["scheme"] == {"name": "normal", "mean": 0.0, "std": std}, name
        assert not array[1].any()  # fairseq's padding row
        assert_sample_std(array, std, name)
    elif entry["role"] == "readout":
        check_normal(doc, name, exact(lambda mp: 1 / mp.sqrt(D)), "embed_out: N(0, 1/d)")
    elif entry["role"] in ("norm_scale", "norm_shift"):
        assert "removed by T-Fixup" in entry["rule"], name
    else:
        assert entry["role"] == "bias" and not array.any(), name


def test_t_fixup_encoder_decoder(client: ApiClient) -> None:
    n_enc, n_dec = 6, 4
    tensors: dict[str, Any] = tfixup_map(n_enc, n_dec)
    head = "decoder.output_projection.weight"
    tensors[head] = {"shape": tensors[head], "role": "readout"}
    recipe = {
        "name": "t_fixup",
        "n_layer": n_enc,
        "decoder_layers": n_dec,
        "d_model": D,
        "tie_word_embeddings": False,
    }
    doc = run(client, tensors, recipe)
    enc = exact(lambda mp: mp.mpf("0.67") * mp.power(n_enc, mp.mpf(-1) / 4))
    dec = exact(lambda mp: mp.power(9 * n_dec, mp.mpf(-1) / 4))
    assert doc["recipe"]["encoder_scale"] == enc and doc["recipe"]["decoder_scale"] == dec
    assert "removes LayerNorm" in doc["recipe"]["forward"]
    for name in doc["by_name"]:
        check_t_fixup_tensor(doc, name, {"encoder": (n_enc, enc), "decoder": (n_dec, dec)})
    tied = {**recipe, "tie_word_embeddings": True}
    response = client.post("/v1/models", json={"seed": 1, "tensors": tensors, "recipe": tied})
    assert response.status_code == 422
    assert problem(response)["errors"][0]["field"] == "recipe.tie_word_embeddings"


def test_fixup_and_t_fixup_refuse_what_they_have_no_rule_for(client: ApiClient) -> None:
    fused = {"h.0.attn.c_attn.weight": [D, 3 * D]}
    body = {"seed": 1, "tensors": fused, "recipe": {"name": "t_fixup", "n_layer": 2, "d_model": D}}
    response = client.post("/v1/models", json=body)
    assert response.status_code == 422 and "give them apart" in problem(response)["detail"]
    body = {"seed": 1, "tensors": gpt2_map(1), "recipe": {"name": "fixup", "n_layer": 2}}
    response = client.post("/v1/models", json=body)
    assert response.status_code == 422 and "role_schemes" in problem(response)["detail"]
    body = {
        "seed": 1,
        "tensors": {"layer1.0.conv1.weight": [8, 8, 3, 3]},
        "recipe": {"name": "fixup", "n_layer": 2},
    }
    response = client.post("/v1/models", json=body)
    assert response.status_code == 422 and problem(response)["errors"][0]["field"] == "recipe.block"


def test_the_etag_covers_the_recipe(client: ApiClient) -> None:
    def etag(n_layer: int) -> str:
        body = {"seed": 1, "tensors": gpt2_map(1), "recipe": {"name": "gpt2", "n_layer": n_layer}}
        return client.post("/v1/models?format=npz", json=body).headers["etag"]

    assert etag(1) != etag(2)


def test_digests_carry_each_rule_and_the_recipe(client: ApiClient) -> None:
    body = {"seed": 1, "tensors": gpt2_map(1), "recipe": {"name": "gpt2", "n_layer": 2}}
    digests = client.post("/v1/models/digests?blocks=false", json=body)
    full = client.post("/v1/models?format=json&encoding=base64", json=body)
    assert digests.status_code == full.status_code == 200
    assert digests.json()["recipe"] == full.json()["recipe"]
    rules = {t["name"]: t.get("rule") for t in digests.json()["tensors"]}
    assert rules == {t["name"]: t.get("rule") for t in full.json()["tensors"]}
    assert rules["transformer.h.0.attn.c_proj.weight"] == "r/sqrt(2*n_layer)"
    plain = client.post("/v1/models/digests", json={"seed": 1, "tensors": gpt2_map(1)}).json()
    assert "recipe" not in plain and all("rule" not in t for t in plain["tensors"])
