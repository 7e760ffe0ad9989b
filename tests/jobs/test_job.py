"""Shard plans: shell-style patterns, first match wins, unmatched tensors whole, many patterns."""

from __future__ import annotations

from app.api.settings import Settings
from app.jobs.job import Selection, model_job
from app.jobs.requests import ModelRequest

DENSE = {"kind": "dense", "in_features": 16, "out_features": 32}


def shapes(dims: dict[str, int]) -> dict[str, tuple[int, ...]]:
    request = ModelRequest.model_validate(
        {
            "seed": 1,
            "layers": [{"name": n, "layer": DENSE} for n in ("attn.q_proj", "mlp.up", "head")],
            "shard": {"index": 1, "count": 4, "dims": dims},
        }
    )
    job = model_job(request, Settings(), Selection("safetensors"))
    return {o.name: o.shape for o in job.outputs}


def test_the_first_matching_pattern_wins_and_unmatched_tensors_come_whole() -> None:
    got = shapes({"*.q_proj.weight": 1, "*.weight": 0, "mlp.*": 0})
    assert got["attn.q_proj.weight"] == (32, 4)  # the first pattern, not "*.weight"
    assert got["mlp.up.weight"] == (8, 16) and got["head.weight"] == (8, 16)
    assert got["mlp.up.bias"] == (8,)  # "mlp.*" matches the bias
    assert got["attn.q_proj.bias"] == (32,) and got["head.bias"] == (32,)  # unmatched: whole


def test_patterns_with_several_stars_and_classes() -> None:
    got = shapes({"a*n.*_pr?j.w*": 0, "[hm]*.bias": 0})
    assert got["attn.q_proj.weight"] == (8, 16)
    assert got["head.bias"] == (8,) and got["mlp.up.bias"] == (8,)
    assert got["head.weight"] == (32, 16)


def test_a_thousand_patterns_cost_one_match_per_tensor() -> None:
    names = [f"block{i}.proj" for i in range(1000)]
    request = ModelRequest.model_validate(
        {
            "seed": 1,
            "layers": [{"name": n, "layer": DENSE} for n in names],
            "shard": {"index": 0, "count": 2, "dims": {f"{n}.*": 0 for n in names}},
        }
    )
    job = model_job(request, Settings(), Selection("safetensors"))
    assert all(o.shape in ((16, 16), (16,)) for o in job.outputs)


def test_a_pattern_that_matches_no_tensor_is_refused() -> None:
    import pytest

    from app.core.errors import InvalidParameterError

    with pytest.raises(InvalidParameterError, match="matches no tensor") as info:
        shapes({"*.qproj.weight": 0})
    assert info.value.field == "shard.dims"
    with pytest.raises(InvalidParameterError, match="matches no tensor"):
        shapes({"*.weight": 0, "head.weight": 1})  # shadowed by the first pattern
