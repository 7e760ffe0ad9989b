"""Limits and cost: a 70-billion-element model is admitted by default, shards cost their share."""

from __future__ import annotations

import subprocess
import sys

import pytest

from app.api.settings import Settings, SettingsError
from app.core.errors import LimitExceededError
from app.jobs.body import build_body
from app.jobs.job import Selection, model_job, weights_job
from app.jobs.limits import usable_cpus
from app.jobs.requests import ModelRequest, WeightsRequest
from tests.live_server import ROOT, clean_env

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


def test_every_bad_setting_is_named_in_one_start_up_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEIGHTINIT_MAX_CONCURRENT_JOBS", "1")  # at least 2: one per lane
    monkeypatch.setenv("WEIGHTINIT_QUEUE_TIMEOUT_S", "soon")
    monkeypatch.setenv("WEIGHTINIT_MAX_ELEMENTS", "-3")
    monkeypatch.setenv("WEIGHTINIT_MAX_BUFFERED_BYTES", "1073741824")  # a good one
    with pytest.raises(SettingsError) as info:
        Settings.from_env()
    message = str(info.value)
    assert "WEIGHTINIT_MAX_CONCURRENT_JOBS must be an integer >= 2, got '1'" in message
    assert "WEIGHTINIT_QUEUE_TIMEOUT_S must be an integer >= 0, got 'soon'" in message
    assert "WEIGHTINIT_MAX_ELEMENTS must be a positive integer, got '-3'" in message
    assert "BUFFERED" not in message


def test_a_bad_setting_stops_the_server_with_a_message_not_a_traceback() -> None:
    env = {**clean_env(), "WEIGHTINIT_MAX_QUEUED_JOBS": "many", "WEIGHTINIT_THREADS": "0"}
    child = subprocess.run(
        [sys.executable, "-m", "uvicorn", "app.main:app", "--port", "0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert child.returncode != 0
    assert "WEIGHTINIT_MAX_QUEUED_JOBS must be an integer >= 0, got 'many'" in child.stderr
    assert "WEIGHTINIT_THREADS must be a positive integer, got '0'" in child.stderr
    assert "Traceback" not in child.stderr


def test_each_layer_of_a_recurrent_stack_counts_toward_the_layer_limit() -> None:
    # 12 KB of deep stacks used to plan (on the event loop) hundreds of thousands of tensors
    stack = {"kind": "lstm", "input_size": 8, "hidden_size": 8, "num_layers": 600}
    body = {"seed": 1, "layers": [{"name": f"l{i}", "layer": stack} for i in range(2)]}
    with pytest.raises(LimitExceededError) as info:
        model_job(ModelRequest.model_validate(body), Settings(), Selection("safetensors"))
    assert info.value.limit_name == "WEIGHTINIT_MAX_LAYERS"
    assert info.value.requested == 1200
    one = {"seed": 1, "layers": body["layers"][:1]}
    model_job(ModelRequest.model_validate(one), Settings(), Selection("safetensors"))


def _weights_cost(layer: dict[str, object], scheme: str, selection: Selection) -> int:
    body = {"layer": layer, "scheme": scheme, "seed": 1}
    return weights_job(WeightsRequest.model_validate(body), Settings(), selection).cost()


def test_the_cost_weighs_the_qr_as_measured_and_json_text() -> None:
    n = 2048
    square = {"kind": "tensor", "shape": [n, n]}
    orthogonal = _weights_cost(square, "orthogonal", Selection("npy"))
    assert orthogonal == n**3 // 4 + 2 * n * n + 65536  # about 6 s of one core
    normal = _weights_cost(square, "normal", Selection("npy"))
    assert normal == 2 * n * n + 65536
    mega = {"kind": "tensor", "shape": [1024, 1024]}
    binary = _weights_cost(mega, "normal", Selection("npy"))
    text = _weights_cost(mega, "normal", Selection("json"))
    base64 = _weights_cost(mega, "normal", Selection("json", encoding="base64"))
    assert text - binary == 40 * 1024 * 1024 and base64 - binary == 8 * 1024 * 1024
    # 1M numbers as JSON text take ~0.1-0.3 s (measured): no longer a small request
    assert text > Settings().small_request_cost > binary


def test_bad_text_and_number_settings_are_named_with_the_integer_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WEIGHTINIT_THREADS", "0")
    monkeypatch.setenv("WEIGHTINIT_RATE_LIMIT", "fast")
    monkeypatch.setenv("WEIGHTINIT_CORS_ORIGINS", "ftp://example.com")
    with pytest.raises(SettingsError) as info:
        Settings.from_env()
    for name in ("WEIGHTINIT_THREADS", "WEIGHTINIT_RATE_LIMIT", "WEIGHTINIT_CORS_ORIGINS"):
        assert name in str(info.value)
