"""Limits and cost: a 70-billion-element model is admitted by default, shards cost their share."""

from __future__ import annotations

import pytest

from app.api.settings import Settings
from app.core.errors import LimitExceededError
from app.jobs.body import build_body
from app.jobs.job import Selection, model_job, weights_job
from app.jobs.limits import usable_cpus
from app.jobs.requests import ModelRequest, WeightsRequest

# 80 decoder blocks of a 70B-class model (hidden 8192, MLP 28672, grouped KV 1024) + embeddings
HIDDEN, MLP, KV, VOCAB = 8192, 28672, 1024, 128256
BLOCK = [
    ("q_proj", HIDDEN, HIDDEN),
    ("k_proj", HIDDEN, KV),
    ("v_proj", HIDDEN, KV),
    ("o_proj", HIDDEN, HIDDEN),
    ("gate_proj", HIDDEN, MLP),
    ("up_proj", HIDDEN, MLP),
    ("down_proj", MLP, HIDDEN),
]


def llama70b(**extra: object) -> ModelRequest:
    layers = [
        {
            "name": "embed",
            "layer": {"kind": "embedding", "num_embeddings": VOCAB, "embedding_dim": HIDDEN},
        }
    ]
    for i in range(80):
        for name, n_in, n_out in BLOCK:
            layers.append(
                {
                    "name": f"layers.{i}.{name}",
                    "layer": {
                        "kind": "dense",
                        "in_features": n_in,
                        "out_features": n_out,
                        "bias": False,
                    },
                }
            )
    body = {"seed": 1, "dtype": "bfloat16", "scheme": "normal", "layers": layers, **extra}
    return ModelRequest.model_validate(body)


def test_a_70b_model_is_admitted_with_default_settings() -> None:
    settings = Settings(max_layers=1000)
    job = model_job(llama70b(), settings, Selection("safetensors"))
    elements = sum(o.numel for o in job.outputs)
    assert elements > 69e9
    assert job.cost() < settings.max_request_cost
    assert build_body(job).size > 2 * elements  # bfloat16 bytes + the header, known up front


def test_one_rank_of_a_row_sharded_70b_model_costs_about_its_share() -> None:
    # FSDP-style: every weight split along dim 0 (rows are contiguous, so a rank generates
    # only its rows' blocks). Column shards (dim 1) need every block of the tensor: a
    # row-major block holds a piece of every column, and the cost says so.
    settings = Settings()
    whole = model_job(llama70b(), settings, Selection("safetensors")).cost()
    plan = {"index": 3, "count": 8, "dims": {"*.weight": 0}}
    rank = model_job(llama70b(shard=plan), settings, Selection("safetensors")).cost()
    assert 1 / 8 < rank / whole < 0.13


def test_over_the_cost_limit_is_refused_before_any_work() -> None:
    request = WeightsRequest.model_validate(
        {
            "layer": {"kind": "tensor", "shape": [1 << 20, 1 << 10]},
            "scheme": "truncated_normal",
            "seed": 1,
        }
    )
    with pytest.raises(LimitExceededError) as info:
        weights_job(request, Settings(max_request_cost=1 << 30), Selection("npy"))
    assert info.value.limit_name == "WEIGHTINIT_MAX_REQUEST_COST"
    sliced = request.model_copy(update={"slice": "0:1024"})
    weights_job(sliced, Settings(max_request_cost=1 << 30), Selection("npy"))  # its share fits


def test_usable_cpus_are_the_affinity_capped_by_the_cgroup_quota(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from app.jobs import limits

    monkeypatch.setattr(limits.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    monkeypatch.setattr(limits, "_cgroup_cpus", lambda: None)
    assert usable_cpus() == 4
    monkeypatch.setattr(limits, "_cgroup_cpus", lambda: 2)  # cpu.max "200000 100000"
    assert usable_cpus() == 2
    monkeypatch.setattr(limits, "_cgroup_cpus", lambda: 8)  # a quota above the affinity
    assert usable_cpus() == 4


def test_workers_is_still_read_with_a_deprecation_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WEIGHTINIT_THREADS", raising=False)
    monkeypatch.setenv("WEIGHTINIT_WORKERS", "3")
    with pytest.warns(DeprecationWarning, match="WEIGHTINIT_THREADS"):
        assert Settings.from_env().threads == 3
    monkeypatch.setenv("WEIGHTINIT_THREADS", "5")
    assert Settings.from_env().threads == 5
